//! The stand-in held to the real contract: the calls the lab makes, answered by the
//! stand-in, compared with real Egeria 4.0's answers to the same calls, recorded in
//! `tests/data/real-egeria/` (its README lists each call). A drift between the two fails
//! here, not in a user's run.

use serde_json::Value;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const USER: &str = "garygeeke";
const ADDRESS: &str = "127.90.0.1:9443";

fn recorded(file: &str) -> String {
    let path = e2e::workspace_root()
        .join("tests/data/real-egeria")
        .join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn recorded_json(file: &str) -> Value {
    serde_json::from_str(&recorded(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// A stand-in platform of its own, ended when dropped.
struct StandIn(Child);

impl StandIn {
    fn start() -> Self {
        let binary: PathBuf = e2e::bin_dir().join("egeria-standin");
        let child = Command::new(binary)
            .args(["--pod", "lab-contract", "--listen", ADDRESS])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting the stand-in");
        let started = std::time::Instant::now();
        while std::net::TcpStream::connect(ADDRESS).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the stand-in did not listen on {ADDRESS} within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Self(child)
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn client() -> reqwest::Client {
    e2e::lab_endpoint_client()
}

async fn call(method: &str, path: &str, body: Option<Value>) -> (u16, String) {
    let url = format!("https://{ADDRESS}{path}");
    let request = match method {
        "GET" => client().get(&url),
        "POST" => client().post(&url),
        "DELETE" => client().delete(&url),
        other => panic!("{other}"),
    };
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    (response.status().as_u16(), response.text().await.unwrap())
}

fn admin(server: &str, rest: &str) -> String {
    format!("/open-metadata/admin-services/users/{USER}/servers/{server}/{rest}")
}

fn platform(rest: &str) -> String {
    format!("/open-metadata/platform-services/users/{USER}/server-platform/{rest}")
}

/// The stand-in's answer has the real answer's shape: the same envelope class, the same
/// `relatedHTTPCode` and message id, no field the real one lacks, and every field the
/// lab reads from the real one.
#[track_caller]
fn assert_same_shape(file: &str, stand_in: &str, read_by_lab: &[&str]) {
    let real = recorded_json(file);
    let ours: Value = serde_json::from_str(stand_in)
        .unwrap_or_else(|e| panic!("{file}: the stand-in's answer is not JSON ({e}): {stand_in}"));
    for key in ["class", "relatedHTTPCode", "exceptionErrorMessageId"] {
        assert_eq!(
            ours.get(key),
            real.get(key),
            "{file}: `{key}` differs\n  real: {real}\n  stand-in: {ours}"
        );
    }
    let keys = |v: &Value| -> Vec<String> {
        v.as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    };
    let real_keys = keys(&real);
    for key in keys(&ours) {
        assert!(
            real_keys.contains(&key),
            "{file}: the stand-in answers `{key}`, which real Egeria does not\n  real: {real}\n  stand-in: {ours}"
        );
    }
    for key in read_by_lab {
        assert!(
            real.get(*key).is_some(),
            "{file}: real Egeria lacks `{key}`"
        );
        assert!(
            ours.get(*key).is_some(),
            "{file}: the stand-in lacks `{key}`: {ours}"
        );
    }
}

#[tokio::test]
async fn the_stand_in_answers_the_labs_calls_as_real_egeria_does() {
    let _stand_in = StandIn::start();

    // The platform: its origin is text, and the stand-in never claims to be Egeria.
    let (status, origin) = call("GET", &platform("origin"), None).await;
    assert_eq!(status, 200);
    assert!(recorded("origin.txt").starts_with("Egeria OMAG Server Platform (version "));
    assert!(
        !origin.starts_with('{') && origin.contains("not Egeria"),
        "{origin}"
    );

    let (_, none_active) = call("GET", &platform("servers/active"), None).await;
    assert_same_shape("servers-active-empty.json", &none_active, &[]);

    // An unknown server's configuration is a default document, not an error.
    let (_, unknown) = call("GET", &admin("nosuch", "configuration"), None).await;
    assert_same_shape(
        "configuration-unknown-server.json",
        &unknown,
        &["omagserverConfig"],
    );
    let unknown: Value = serde_json::from_str(&unknown).unwrap();
    let real_unknown = recorded_json("configuration-unknown-server.json");
    for key in ["localServerName", "localServerURL", "maxPageSize"] {
        assert_eq!(
            unknown["omagserverConfig"][key], real_unknown["omagserverConfig"][key],
            "default document's {key}"
        );
    }

    // Building a configuration: every step answers a VoidResponse.
    let (_, void) = call(
        "POST",
        &admin("crux", &format!("server-url-root?url=https://{ADDRESS}")),
        None,
    )
    .await;
    assert_same_shape("admin-void-ok.json", &void, &[]);
    for rest in [
        "server-type?typeName=Crux",
        "organization-name?name=egeria-ha-lab",
        "cohorts/coco",
    ] {
        let (_, void) = call("POST", &admin("crux", rest), None).await;
        assert_same_shape("admin-void-ok.json", &void, &[]);
    }
    let (_, void) = call(
        "POST",
        &admin("crux", "event-bus?topicURLRoot=egeria"),
        Some(recorded_json("event-bus.request.json")),
    )
    .await;
    assert_same_shape("admin-void-ok.json", &void, &[]);
    let (_, configured) = call("GET", &admin("crux", "configuration"), None).await;
    assert_same_shape(
        "configuration-crux.json",
        &configured,
        &["omagserverConfig"],
    );
    let configured: Value = serde_json::from_str(&configured).unwrap();
    let real_configured = recorded_json("configuration-crux.json");
    for pointer in [
        "/omagserverConfig/localServerName",
        "/omagserverConfig/localServerType",
        "/omagserverConfig/organizationName",
        "/omagserverConfig/localServerURL",
    ] {
        assert!(
            real_configured.pointer(pointer).is_some(),
            "real lacks {pointer}"
        );
        assert!(
            configured.pointer(pointer).is_some(),
            "the stand-in lacks {pointer}: {configured}"
        );
    }
    let cohort = |document: &Value| {
        document
            .pointer("/omagserverConfig/repositoryServicesConfig/cohortConfigList/0/cohortName")
            .cloned()
    };
    assert_eq!(cohort(&configured), cohort(&real_configured));

    // A connection whose provider the platform does not have is refused at once.
    let (_, refused) = call(
        "POST",
        &admin(
            "badcrux",
            "local-repository/mode/plugin-repository/connection",
        ),
        Some(recorded_json("set-connection-bad-provider.request.json")),
    )
    .await;
    assert_same_shape(
        "set-connection-bad-provider.json",
        &refused,
        &["exceptionErrorMessage", "exceptionUserAction"],
    );
    // A server with nothing configured cannot start; one not running cannot stop.
    let (_, no_services) = call("POST", &admin("badcrux", "instance"), None).await;
    assert_same_shape(
        "instance-no-services.json",
        &no_services,
        &["exceptionErrorMessage", "exceptionUserAction"],
    );
    let (_, not_running) = call("DELETE", &admin("crux", "instance"), None).await;
    assert_same_shape(
        "instance-delete-not-running.json",
        &not_running,
        &["exceptionErrorMessage"],
    );

    // Services of a server that is not running answer an error envelope, not a 404 page.
    let (_, no_server) = call(
        "GET",
        &format!("/servers/nosuch/open-metadata/repository-services/users/{USER}/metadata-highway/local-registration"),
        None,
    ).await;
    assert_same_shape(
        "repository-unknown-server.json",
        &no_server,
        &["exceptionErrorMessage"],
    );
    let (_, no_pts) = call(
        "GET",
        &format!("/servers/nosuch/open-metadata/conformance-suite/users/{USER}/status/workbenches/performance-workbench"),
        None,
    ).await;
    assert_same_shape(
        "conformance-unknown-server.json",
        &no_pts,
        &["exceptionErrorMessage"],
    );
}
