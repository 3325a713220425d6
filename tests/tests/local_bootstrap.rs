//! The foundation end to end on the local substrate: lab-up → bootstrap → one common
//! configuration everywhere and every pod in rotation → a killed pod comes back
//! unconfigured and out of rotation → bootstrap heals it → lab-down leaves nothing.

use e2e::{TestLab, process_alive};
use lab::substrate::{PodInfo, Role, Substrate};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// Fresh connection per request, as the service balances connections, not requests.
fn client() -> reqwest::Client {
    lab::egeria::fresh_connection_client(Duration::from_secs(10))
}

/// Which pod answered each of `n` requests sent through the connector service.
async fn spread(service_url: &str, n: usize) -> BTreeMap<String, usize> {
    let client = client();
    let url = format!(
        "{service_url}/open-metadata/platform-services/users/myuser/server-platform/servers/active"
    );
    let mut seen = BTreeMap::new();
    for _ in 0..n {
        let response = client.get(&url).send().await.expect("service answers");
        let pod = response.headers()["x-lab-pod"]
            .to_str()
            .unwrap()
            .to_string();
        *seen.entry(pod).or_default() += 1;
    }
    seen
}

async fn configuration(pod: &PodInfo) -> Result<serde_json::Value, String> {
    let url = format!(
        "{}/open-metadata/admin-services/users/myuser/servers/crux/configuration",
        pod.platform_url()
    );
    let response = client().get(url).send().await.map_err(|e| e.to_string())?;
    let body: serde_json::Value = response.json().await.map_err(|e| e.to_string())?;
    assert_eq!(body["relatedHTTPCode"], 200, "{body}");
    Ok(body["omagserverConfig"].clone())
}

fn metadata_collection_id(config: &serde_json::Value) -> Option<&str> {
    config
        .pointer("/repositoryServicesConfig/localRepositoryConfig/metadataCollectionId")
        .and_then(|v| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replaced_pod_is_kept_out_of_rotation_until_bootstrap_heals_it() {
    let lab = TestLab::new("127.81");
    lab.up(&["--replicas", "3"]).assert_ok();
    let state = lab.state().expect("lab-up records its state");
    let (substrate, control_plane_pid) = lab.local_substrate();

    // A second lab-up must refuse, and leave the first lab alone.
    lab.up(&["--replicas", "3"]).assert_fails_with("already up");
    assert!(process_alive(control_plane_pid));

    lab.xtask(&["bootstrap"]).assert_ok();
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(lab.latest_run().join("bootstrap.json")).unwrap(),
    )
    .unwrap();
    let shared_id = report["metadata_collection_id"]
        .as_str()
        .unwrap()
        .to_string();
    let pods = report["pods"].as_array().unwrap();
    assert_eq!(pods.len(), 3);
    for pod in pods {
        assert_eq!(pod["ready"], true, "{pod}");
        assert_eq!(pod["started"], true, "{pod}");
        // The platform's own word on what it is: here the stand-in, never Egeria.
        assert_eq!(
            pod["platform_origin"], "egeria-ha-lab stand-in platform (a test fixture, not Egeria)",
            "{pod}"
        );
    }

    // Every pod answers, through its own address, with the one common configuration.
    let list = substrate.list_pods().await.unwrap();
    let connectors: Vec<PodInfo> = list.with_role(Role::Connector).cloned().collect();
    for pod in &connectors {
        assert!(pod.ready, "{} not in rotation", pod.name);
        let config = configuration(pod).await.unwrap();
        assert_eq!(
            metadata_collection_id(&config),
            Some(shared_id.as_str()),
            "{}",
            pod.name
        );
    }
    let seen = spread(&state.endpoints.connector_service_url, 30).await;
    assert_eq!(seen.len(), 3, "the service reached only {seen:?}");

    // Kill one pod: it comes back under the same name, as a new pod, unconfigured and
    // out of rotation.
    let victim = connectors[1].clone();
    substrate.kill_pod(&victim.name).await.unwrap();
    let started = Instant::now();
    let mut current = list;
    let replacement = loop {
        current = substrate
            .watch_pods(current.generation, Duration::from_secs(5))
            .await
            .unwrap();
        let pod = current.get(&victim.name).unwrap();
        if pod.uid != victim.uid && pod.phase == lab::substrate::PodPhase::Running {
            break pod.clone();
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{} was not replaced",
            victim.name
        );
    };
    assert_eq!(replacement.address, victim.address);
    assert_eq!(replacement.restarts, victim.restarts + 1);
    assert!(!replacement.ready);
    let config = lab::wait::poll_until(
        "the replacement platform",
        Duration::from_secs(20),
        || async { configuration(&replacement).await },
    )
    .await
    .unwrap();
    assert_eq!(
        metadata_collection_id(&config),
        None,
        "the replacement kept its predecessor's configuration"
    );
    let seen = spread(&state.endpoints.connector_service_url, 30).await;
    assert!(
        !seen.contains_key(&victim.name),
        "unready pod got traffic: {seen:?}"
    );
    assert_eq!(seen.values().sum::<usize>(), 30);

    let status = lab.xtask(&["status"]);
    status.assert_ok();
    let row = status
        .stdout
        .lines()
        .find(|l| l.starts_with(&victim.name))
        .unwrap();
    assert!(
        row.trim_end().ends_with("no"),
        "status shows the replacement ready: {row}"
    );

    // A repeated bootstrap reuses the common configuration and heals the pod.
    lab.xtask(&["bootstrap"]).assert_ok();
    let healed = substrate.list_pods().await.unwrap();
    assert!(healed.get(&victim.name).unwrap().ready);
    let config = configuration(healed.get(&victim.name).unwrap())
        .await
        .unwrap();
    assert_eq!(metadata_collection_id(&config), Some(shared_id.as_str()));
    let seen = spread(&state.endpoints.connector_service_url, 30).await;
    assert_eq!(seen.len(), 3, "the healed pod gets no traffic: {seen:?}");

    // lab-down ends every process the lab started; a second one has nothing to do.
    let pids: Vec<u32> = healed.pods.iter().filter_map(|p| p.pid).collect();
    assert_eq!(pids.len(), 7);
    lab.xtask(&["lab-down"]).assert_ok();
    assert!(!process_alive(control_plane_pid));
    for pid in pids {
        assert!(!process_alive(pid), "pid {pid} outlived lab-down");
    }
    let again = lab.xtask(&["lab-down"]);
    again.assert_ok();
    assert!(
        again.stdout.contains("nothing was running"),
        "{}",
        again.stdout
    );
}
