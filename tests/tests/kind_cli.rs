//! The kind substrate's command-line glue against fake `docker`, `kind` and `helm`
//! executables that record their arguments: the command sequence of lab-up and lab-down,
//! idempotence, a failing step named in the error, and never deleting a cluster the lab
//! did not create. (No cluster can run here; the kube side is tested against a mock API.)

use e2e::{Run, TestLab};
use std::path::PathBuf;

/// One fake for all three tools: logs `<tool> <args>` and answers what the lab asks.
const FAKE: &str = r#"#!/usr/bin/env bash
tool=$(basename "$0")
echo "$tool $*" >> "$FAKE_LOG"
case "$tool $1 $2" in
  "docker info "*) echo 28.2.2 ;;
  "kind version"*) echo "kind v0.29.0 go1.24 linux/amd64" ;;
  "helm version"*) echo "v3.18.0" ;;
  "kind get clusters") [ -n "$FAKE_CLUSTER_EXISTS" ] && echo egeria-ha-lab ;;
  "kind get kubeconfig") cat "$FAKE_KUBECONFIG_TEXT" ;;
  "kind create cluster")
    while [ $# -gt 0 ]; do [ "$1" = --kubeconfig ] && cp "$FAKE_KUBECONFIG_TEXT" "$2"; shift; done ;;
  "docker build "*) [ "$FAKE_FAIL" = build ] && { echo "build broke" >&2; exit 1; } ;;
  "helm template "*)
    printf 'kind: Pod\nspec:\n  containers:\n    - image: "odpi/egeria:3.0"\n    - image: apache/kafka:3.9.1\n' ;;
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

    fn run(&self, lab: &TestLab, args: &[&str], env: &[(&str, &str)]) -> Run {
        let path = format!(
            "{}:{}",
            self.dir.path().display(),
            std::env::var("PATH").unwrap()
        );
        let mut command = lab.command(args);
        command
            .env("PATH", path)
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

#[test]
fn lab_up_creates_builds_loads_installs_in_order_and_lab_down_deletes_what_it_created() {
    let lab = TestLab::new("127.95");
    let fakes = Fakes::new();
    let up = fakes.run(&lab, UP, &[]);
    // The fake API server never answers: the wait is the step that fails, and says so.
    up.assert_fails_with("waiting for the workloads");
    let log = fakes.log();
    let order = [
        "kind get clusters",
        "kind create cluster --name egeria-ha-lab --config",
        "docker build --tag egeria-ha-lab/runner:",
        "helm template lab charts/ec-ha-crux --values charts/ec-ha-crux/values-laptop-16g.yaml --set crux.replicas=3",
        "helm upgrade --install --namespace egeria-ha-lab --create-namespace --kubeconfig",
    ];
    let positions: Vec<usize> = order.iter().map(|p| position(&log, p)).collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "out of order: {log:#?}"
    );
    for image in ["odpi/egeria:3.0", "apache/kafka:3.9.1"] {
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
        .run(&lab, UP, &[])
        .assert_fails_with("waiting for the workloads");
    fakes
        .run(&lab, &["lab-down", "--keep-cluster"], &[])
        .assert_ok();
    assert!(!fakes.log().iter().any(|l| l.starts_with("kind delete")));
    // The cluster the lab created is still there: a second lab-up reuses it.
    let before = fakes.log().len();
    fakes
        .run(&lab, UP, &[("FAKE_CLUSTER_EXISTS", "1")])
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
    let up = fakes.run(&lab, UP, &[("FAKE_CLUSTER_EXISTS", "1")]);
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
            &[UP, &["--adopt-cluster"]].concat(),
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
    let up = fakes.run(&lab, UP, &[("FAKE_FAIL", "build")]);
    up.assert_fails_with("step \"building the runner image\" failed");
    assert!(!fakes.log().iter().any(|l| l.starts_with("helm upgrade")));
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
