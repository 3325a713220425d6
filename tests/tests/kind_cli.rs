//! The kind and cluster substrates' command-line glue against fake `docker`, `kind` and
//! `helm` executables that record their arguments: the command sequence of lab-up and
//! lab-down, idempotence, a failing step named in the error, never deleting a cluster the
//! lab did not create, and an existing cluster refused before anything is created. (No
//! cluster can run here; the kube side is tested against a mock API.)

use e2e::{Run, TestLab};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// One fake for all three tools: logs `<tool> <args>` and answers what the lab asks.
const FAKE: &str = r#"#!/usr/bin/env bash
tool=$(basename "$0")
echo "$tool $*" >> "$FAKE_LOG"
case "$tool $1 $2" in
  "docker info "*) case "$*" in *MemTotal*) echo "${FAKE_DOCKER_MEMORY:-17179869184}" ;; *) echo 28.2.2 ;; esac ;;
  "kind version"*) echo "kind ${FAKE_KIND_VERSION:-v0.29.0} go1.24 linux/amd64" ;;
  "helm version"*) echo "v3.18.0" ;;
  "kind get clusters") [ -n "$FAKE_CLUSTER_EXISTS" ] && echo egeria-ha-lab ;;
  "kind get kubeconfig") cat "$FAKE_KUBECONFIG_TEXT" ;;
  "kind create cluster")
    while [ $# -gt 0 ]; do [ "$1" = --kubeconfig ] && cp "$FAKE_KUBECONFIG_TEXT" "$2"; shift; done ;;
  "docker build "*) [ "$FAKE_FAIL" = build ] && { echo "build broke" >&2; exit 1; } ;;
  "helm template "*)
    printf 'kind: Pod\nspec:\n  containers:\n    - image: "odpi/egeria:4.0"\n    - image: apache/kafka:3.9.1\n' ;;
  "kind load docker-image")
    # Docker's containerd store cannot export a multi-platform image whole (kind#3795).
    if [ "$FAKE_FAIL" = multi-platform ] && [ "$3" = apache/kafka:3.9.1 ]; then
      echo 'ERROR: failed to load image: command "docker save -o /tmp/images-tar1/images.tar apache/kafka:3.9.1" failed with error: exit status 1' >&2
      echo 'Command Output: Error response from daemon: unable to create manifests file: NotFound: content digest sha256:3b5e: not found' >&2
      exit 1
    fi ;;
  "docker exec "*) exit 1 ;;
  "docker image "*) exit 1 ;;
esac
exit 0
"#;

/// A kubeconfig whose API server never answers (port 1 on loopback), so the wait step
/// fails fast and names itself.
const KUBECONFIG: &str = "apiVersion: v1
kind: Config
clusters:
- name: kind-egeria-ha-lab
  cluster: {server: 'https://127.0.0.1:1', insecure-skip-tls-verify: true}
contexts:
- name: kind-egeria-ha-lab
  context: {cluster: kind-egeria-ha-lab, user: kind-egeria-ha-lab}
current-context: kind-egeria-ha-lab
users:
- name: kind-egeria-ha-lab
  user: {token: fake}
";

struct Fakes {
    dir: tempfile::TempDir,
}

impl Fakes {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        for tool in ["docker", "kind", "helm"] {
            let path = dir.path().join(tool);
            std::fs::write(&path, FAKE).unwrap();
            let mut permissions = std::fs::metadata(&path).unwrap().permissions();
            std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
            std::fs::set_permissions(&path, permissions).unwrap();
        }
        std::fs::write(dir.path().join("kubeconfig.txt"), KUBECONFIG).unwrap();
        Self { dir }
    }

    fn log(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    }

    fn run(&self, lab: &TestLab, args: &[impl AsRef<str>], env: &[(&str, &str)]) -> Run {
        let args: Vec<&str> = args.iter().map(AsRef::as_ref).collect();
        let path = format!(
            "{}:{}",
            self.dir.path().display(),
            std::env::var("PATH").unwrap()
        );
        let mut command = lab.command(&args);
        command
            .env("PATH", path)
            // The lab runs its pinned helm unless told otherwise: here, the fake.
            .env("EGERIA_HA_LAB_HELM", self.dir.path().join("helm"))
            .env("FAKE_LOG", self.dir.path().join("log"))
            .env(
                "FAKE_KUBECONFIG_TEXT",
                self.dir.path().join("kubeconfig.txt"),
            );
        for (key, value) in env {
            command.env(key, value);
        }
        Run::from_output(command.output().unwrap())
    }
}

fn position(log: &[String], prefix: &str) -> usize {
    log.iter()
        .position(|line| line.starts_with(prefix))
        .unwrap_or_else(|| panic!("no `{prefix}` in {log:#?}"))
}

fn kubeconfig_of(lab: &TestLab) -> PathBuf {
    lab.dir.path().join("kind/kubeconfig")
}

const UP: &[&str] = &["lab-up", "--substrate", "kind", "--ready-timeout", "2s"];
const SHA1: &str = "0123456789abcdef0123456789abcdef01234567";
const JAR_SHA1_PATH: &str = "/maven2/org/odpi/egeria/egeria-connector-xtdb/4.0/egeria-connector-xtdb-4.0-jar-with-dependencies.jar.sha1";

/// A values file that pins the connector's checksum, as a user who has it would write.
fn pinned_values(dir: &Path) -> PathBuf {
    let path = dir.join("pinned.yaml");
    let text = format!("crux:\n  connector:\n    checksum:\n      value: \"{SHA1}\"\n");
    std::fs::write(&path, text).unwrap();
    path
}

/// `lab-up --substrate kind` with the checksum pinned in a values file.
fn up_pinned(fakes: &Fakes) -> Vec<String> {
    let pinned = pinned_values(fakes.dir.path()).display().to_string();
    [UP, &["--values", &pinned]]
        .concat()
        .into_iter()
        .map(str::to_string)
        .collect()
}

/// A Maven repository on loopback answering every request with `status` and `body`;
/// returns its `…/maven2` URL and the paths it was asked for.
fn maven(status: &'static str, body: String) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/maven2", listener.local_addr().unwrap());
    let asked = Arc::new(Mutex::new(Vec::new()));
    let record = asked.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            let mut request = String::new();
            BufReader::new(&stream).read_line(&mut request).unwrap();
            let path = request.split_whitespace().nth(1).unwrap_or_default();
            record.lock().unwrap().push(path.to_string());
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, asked)
}

fn repository_values(dir: &Path, url: &str) -> String {
    let path = dir.join("repository.yaml");
    std::fs::write(
        &path,
        format!("crux:\n  connector:\n    repositoryUrl: {url}\n"),
    )
    .unwrap();
    path.display().to_string()
}

#[test]
fn lab_up_creates_builds_loads_installs_in_order_and_lab_down_deletes_what_it_created() {
    let lab = TestLab::new("127.95");
    let fakes = Fakes::new();
    let up = fakes.run(&lab, &up_pinned(&fakes), &[]);
    // The fake API server never answers: the wait is the step that fails, and says so.
    up.assert_fails_with("waiting for the workloads");
    let log = fakes.log();
    let order = [
        "kind get clusters",
        "kind create cluster --name egeria-ha-lab --config",
        "docker build --tag egeria-ha-lab/runner:",
        "helm template lab charts/ec-ha-crux --values charts/ec-ha-crux/values-laptop-16g.yaml --values ",
        "helm upgrade --install --namespace egeria-ha-lab --kube-context kind-egeria-ha-lab --kubeconfig",
    ];
    let positions: Vec<usize> = order.iter().map(|p| position(&log, p)).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "out of order: {log:#?}"
    );
    for image in ["odpi/egeria:4.0", "apache/kafka:3.9.1"] {
        assert!(
            position(&log, &format!("docker pull {image}"))
                < position(
                    &log,
                    &format!("kind load docker-image {image} --name egeria-ha-lab")
                )
        );
    }
    assert!(
        log.iter()
            .any(|l| l.starts_with("kind load docker-image egeria-ha-lab/runner:")),
        "{log:#?}"
    );
    assert!(
        log.iter()
            .any(|l| l.starts_with("helm upgrade") && l.contains(" --create-namespace ")),
        "{log:#?}"
    );
    // The lab's own kubeconfig, never the user's.
    assert!(
        log.iter()
            .any(|l| l.contains(&format!("--kubeconfig {}", kubeconfig_of(&lab).display())))
    );
    assert!(
        lab.state().is_some(),
        "the state is recorded before the wait, for lab-down"
    );

    let down = fakes.run(&lab, &["lab-down"], &[]);
    down.assert_ok();
    let log = fakes.log();
    assert!(
        position(&log, "helm uninstall lab --namespace egeria-ha-lab")
            < position(&log, "kind delete cluster --name egeria-ha-lab")
    );
    assert!(lab.state().is_none());
}

#[test]
fn an_existing_lab_cluster_is_reused_not_recreated_and_can_be_kept() {
    let lab = TestLab::new("127.95");
    let fakes = Fakes::new();
    fakes
        .run(&lab, &up_pinned(&fakes), &[])
        .assert_fails_with("waiting for the workloads");
    fakes
        .run(&lab, &["lab-down", "--keep-cluster"], &[])
        .assert_ok();
    assert!(!fakes.log().iter().any(|l| l.starts_with("kind delete")));
    // The cluster the lab created is still there: a second lab-up reuses it.
    let before = fakes.log().len();
    fakes
        .run(&lab, &up_pinned(&fakes), &[("FAKE_CLUSTER_EXISTS", "1")])
        .assert_fails_with("waiting for the workloads");
    let second: Vec<String> = fakes.log()[before..].to_vec();
    assert!(
        !second.iter().any(|l| l.starts_with("kind create")),
        "{second:#?}"
    );
    assert!(
        second
            .iter()
            .any(|l| l.starts_with("kind get kubeconfig --name egeria-ha-lab"))
    );
    fakes
        .run(&lab, &["lab-down"], &[("FAKE_CLUSTER_EXISTS", "1")])
        .assert_ok();
    assert!(
        fakes
            .log()
            .iter()
            .any(|l| l.starts_with("kind delete cluster --name egeria-ha-lab"))
    );
}

#[test]
fn a_cluster_the_lab_did_not_create_is_never_touched() {
    let lab = TestLab::new("127.95");
    let fakes = Fakes::new();
    let up = fakes.run(&lab, &up_pinned(&fakes), &[("FAKE_CLUSTER_EXISTS", "1")]);
    up.assert_fails_with("this lab did not create");
    let log = fakes.log();
    for forbidden in ["kind create", "kind delete", "helm upgrade", "docker build"] {
        assert!(
            !log.iter().any(|l| l.starts_with(forbidden)),
            "{forbidden} ran: {log:#?}"
        );
    }
    // Adopted, it is used but never deleted.
    fakes
        .run(
            &lab,
            &[up_pinned(&fakes), vec!["--adopt-cluster".into()]].concat(),
            &[("FAKE_CLUSTER_EXISTS", "1")],
        )
        .assert_fails_with("waiting for the workloads");
    fakes
        .run(&lab, &["lab-down"], &[("FAKE_CLUSTER_EXISTS", "1")])
        .assert_ok();
    assert!(!fakes.log().iter().any(|l| l.starts_with("kind delete")));
}

#[test]
fn a_failing_step_is_named() {
    let lab = TestLab::new("127.95");
    let fakes = Fakes::new();
    let up = fakes.run(&lab, &up_pinned(&fakes), &[("FAKE_FAIL", "build")]);
    up.assert_fails_with("step \"building the runner image\" failed");
    assert!(!fakes.log().iter().any(|l| l.starts_with("helm upgrade")));
}

#[test]
fn a_docker_engine_with_too_little_memory_is_refused_with_both_figures() {
    let fakes = Fakes::new();
    let lab = TestLab::new("127.95");
    // 7.5 GiB, as Docker Desktop's default VM on a 16 GiB Mac might have.
    let up = fakes.run(
        &lab,
        &up_pinned(&fakes),
        &[("FAKE_DOCKER_MEMORY", "8053063680")],
    );
    up.assert_fails_with("the Docker engine has 7.5 GiB of memory; the chosen preset needs 12 GiB");
    let log = fakes.log();
    assert!(
        log.iter()
            .any(|l| l.contains("docker info --format {{.MemTotal}}")),
        "{log:?}"
    );
    for forbidden in ["kind create", "docker build", "helm upgrade"] {
        assert!(!log.iter().any(|l| l.starts_with(forbidden)), "{log:?}");
    }
}

#[test]
fn a_multi_platform_image_refused_by_kind_load_is_saved_for_the_host_platform_and_loaded() {
    let fakes = Fakes::new();
    let lab = TestLab::new("127.95");
    let up = fakes.run(&lab, &up_pinned(&fakes), &[("FAKE_FAIL", "multi-platform")]);
    // The fake cluster's API never answers: the run gets past the images and stops at the
    // wait for the workloads.
    up.assert_fails_with("waiting for the workloads");
    let log = fakes.log();
    let refused = position(
        &log,
        "kind load docker-image apache/kafka:3.9.1 --name egeria-ha-lab",
    );
    let saved = position(&log, "docker save --platform linux/amd64 --output ");
    assert!(log[saved].ends_with(" apache/kafka:3.9.1"), "{log:#?}");
    let loaded = position(&log, "kind load image-archive ");
    assert!(
        log[loaded].ends_with("image.tar --name egeria-ha-lab"),
        "{log:#?}"
    );
    assert!(refused < saved && saved < loaded, "{log:#?}");
    // Images kind loads whole are left alone.
    assert!(
        !log.iter()
            .any(|l| l.starts_with("docker save") && l.ends_with("odpi/egeria:4.0")),
        "{log:#?}"
    );
}

#[test]
fn missing_tools_point_to_the_local_substrate() {
    let lab = TestLab::new("127.95");
    let empty = tempfile::tempdir().unwrap();
    let run = lab.command(UP).env("PATH", empty.path()).output().unwrap();
    let run = Run::from_output(run);
    run.assert_fails_with("--substrate local");
    run.assert_fails_with("docker");
}

#[test]
fn an_unpinned_checksum_is_read_once_from_the_repository_and_recorded() {
    let lab = TestLab::new("127.95");
    let fakes = Fakes::new();
    let published = format!("{SHA1}  egeria-connector-xtdb-4.0-jar-with-dependencies.jar\n");
    let (url, asked) = maven("200 OK", published);
    let values = repository_values(fakes.dir.path(), &url);
    let up = [UP, &["--values", values.as_str()]].concat();

    fakes
        .run(&lab, &up, &[])
        .assert_fails_with("waiting for the workloads");

    assert_eq!(*asked.lock().unwrap(), [JAR_SHA1_PATH]);
    let set = format!("--set-string crux.connector.checksum.value={SHA1}");
    let log = fakes.log();
    for command in ["helm template ", "helm upgrade --install "] {
        let line = &log[position(&log, command)];
        assert!(line.ends_with(&set), "{line}");
    }
    let recorded =
        std::fs::read_to_string(lab.dir.path().join("kind/connector-checksum.json")).unwrap();
    assert!(
        recorded.contains(SHA1) && recorded.contains(JAR_SHA1_PATH),
        "{recorded}"
    );

    // The recorded value is used from then on: the repository is not asked again.
    fakes.run(&lab, &["lab-down"], &[]).assert_ok();
    fakes
        .run(&lab, &up, &[])
        .assert_fails_with("waiting for the workloads");
    assert_eq!(asked.lock().unwrap().len(), 1);
    let installs_with_the_checksum = fakes
        .log()
        .iter()
        .filter(|line| line.starts_with("helm upgrade") && line.ends_with(&set))
        .count();
    assert_eq!(installs_with_the_checksum, 2);
    fakes.run(&lab, &["lab-down"], &[]).assert_ok();
}

#[test]
fn an_unreadable_checksum_stops_lab_up_before_anything_is_created() {
    let lab = TestLab::new("127.95");
    let fakes = Fakes::new();
    for (status, body) in [
        ("404 Not Found", "no such artifact"),
        ("200 OK", "<html>a proxy's login page</html>"),
    ] {
        let (url, _asked) = maven(status, body.to_string());
        let values = repository_values(fakes.dir.path(), &url);

        let up = fakes.run(&lab, &[UP, &["--values", values.as_str()]].concat(), &[]);

        up.assert_fails_with(&format!("{url}/org/odpi/egeria/"));
        up.assert_fails_with("crux.connector.checksum.value");
        let log = fakes.log();
        for forbidden in [
            "kind create",
            "docker build",
            "helm template",
            "helm upgrade",
        ] {
            assert!(
                !log.iter().any(|l| l.starts_with(forbidden)),
                "{forbidden} ran: {log:#?}"
            );
        }
        assert!(lab.state().is_none());
    }
}

/// `lab-up --substrate cluster` with the checksum pinned, and `extra` flags.
fn cluster_up(fakes: &Fakes, extra: &[&str]) -> Vec<String> {
    let pinned = pinned_values(fakes.dir.path()).display().to_string();
    let mut args: Vec<String> = ["lab-up", "--substrate", "cluster", "--values", &pinned]
        .map(str::to_string)
        .to_vec();
    args.extend(extra.iter().map(|s| s.to_string()));
    args
}

/// Neither the cluster nor the host was touched: no tool ran, no run folder, no state.
#[track_caller]
fn nothing_created(fakes: &Fakes, lab: &TestLab) {
    let log = fakes.log();
    for tool in ["helm", "docker", "kind"] {
        assert!(
            !log.iter()
                .any(|l| l.starts_with(&format!("{tool} ")) && !l.starts_with("helm version")),
            "{tool} ran: {log:#?}"
        );
    }
    assert!(lab.state().is_none());
    let runs = lab.dir.path().join("runs");
    let left: Vec<_> = std::fs::read_dir(&runs)
        .map(|entries| entries.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "run folders left: {left:?}");
}

#[test]
fn an_existing_cluster_needs_a_named_context_and_a_runner_image() {
    let lab = TestLab::new("127.95");
    let fakes = Fakes::new();
    fakes
        .run(
            &lab,
            &cluster_up(&fakes, &["--runner-image", "reg.example/runner:1"]),
            &[],
        )
        .assert_fails_with(
            "--substrate cluster needs --context NAME: the lab never uses the current context",
        );
    fakes
        .run(&lab, &cluster_up(&fakes, &["--context", "prod"]), &[])
        .assert_fails_with("--substrate cluster needs --runner-image REPOSITORY:TAG");
    fakes
        .run(
            &lab,
            &cluster_up(
                &fakes,
                &["--context", "prod", "--runner-image", "reg.example/runner"],
            ),
            &[],
        )
        .assert_fails_with("has no tag");
    // The cluster's flags on another substrate are a mistake, not something to ignore.
    fakes
        .run(&lab, &[UP, &["--context", "prod"]].concat(), &[])
        .assert_fails_with("--context is for --substrate cluster");
    nothing_created(&fakes, &lab);
}

#[test]
fn an_unknown_context_or_a_silent_api_server_is_named_and_nothing_is_created() {
    let lab = TestLab::new("127.95");
    let fakes = Fakes::new();
    let kubeconfig = fakes
        .dir
        .path()
        .join("kubeconfig.txt")
        .display()
        .to_string();
    let flags = |context: &'static str| {
        cluster_up(
            &fakes,
            &[
                "--context",
                context,
                "--kubeconfig",
                &kubeconfig,
                "--runner-image",
                "reg.example/runner:1",
            ],
        )
    };
    let unknown = fakes.run(&lab, &flags("prod-eu"), &[]);
    unknown.assert_fails_with("context prod-eu: nothing was created");
    unknown.assert_fails_with("it has no context \"prod-eu\" (it has: kind-egeria-ha-lab)");
    // The kubeconfig's server is port 1 on loopback: nothing answers there.
    let silent = fakes.run(&lab, &flags("kind-egeria-ha-lab"), &[]);
    silent.assert_fails_with(
        "the Kubernetes API server https://127.0.0.1:1/ (context kind-egeria-ha-lab) did not answer",
    );
    silent.assert_fails_with("nothing was created");
    nothing_created(&fakes, &lab);
}

#[test]
fn the_runner_image_is_built_under_the_given_name_and_never_pushed() {
    let lab = TestLab::new("127.95");
    let fakes = Fakes::new();
    let built = fakes.run(
        &lab,
        &[
            "runner-image",
            "--tag",
            "reg.example:5000/team/runner:0.1.0",
        ],
        &[],
    );
    built.assert_ok();
    assert!(
        built
            .stdout
            .contains("docker push reg.example:5000/team/runner:0.1.0"),
        "{}",
        built.stdout
    );
    let log = fakes.log();
    assert_eq!(
        log,
        ["docker build --tag reg.example:5000/team/runner:0.1.0 --file Dockerfile ."]
    );
}

#[test]
fn a_kind_older_than_the_pinned_node_image_needs_is_refused_naming_both_versions() {
    let lab = TestLab::new("127.95");
    let fakes = Fakes::new();
    let old = [("FAKE_KIND_VERSION", "v0.27.0")];
    let up = fakes.run(&lab, &up_pinned(&fakes), &old);
    up.assert_fails_with("kind v0.27.0 go1.24 linux/amd64 is too old, need v0.29.0 or newer for the pinned node image kindest/node:v1.33.1@sha256:");
    assert!(
        !fakes.log().iter().any(|l| l.starts_with("kind create")),
        "{:#?}",
        fakes.log()
    );
    let doctor = fakes.run(&lab, &["doctor", "--substrate", "kind"], &old);
    assert!(!doctor.success);
    assert!(
        doctor.stdout.contains("need v0.29.0 or newer"),
        "{}\n{}",
        doctor.stdout,
        doctor.stderr
    );
    // Which helm lab-up will run, and why that one.
    assert!(
        doctor
            .stdout
            .contains("ok       helm         named by EGERIA_HA_LAB_HELM ("),
        "{}",
        doctor.stdout
    );
}
