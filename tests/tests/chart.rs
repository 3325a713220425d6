//! The Helm chart `charts/ec-ha-crux`, checked without a cluster: `helm lint`, and
//! `helm template` output parsed into typed Kubernetes objects (k8s-openapi) with no field
//! lost on the way — a field the typed object drops is one Kubernetes would not know — plus
//! the facts the lab relies on (names, replica counts, readiness gate, RBAC, images, Kafka
//! replication, the runner's `lab.json`).
//!
//! Runs the helm the lab pins (from its cache, fetched on first use), or `$HELM`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{
    Affinity, ConfigMap, Container, PodSpec, ResourceRequirements, Service, ServiceAccount,
};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding};
use k8s_openapi::serde::Deserialize;
use k8s_openapi::serde::de::DeserializeOwned;
use k8s_openapi::{Resource, serde::Serialize};
use serde_json::{Value, json};

const RELEASE: &str = "lab";

/// Stands in for the connector jar's sha1 so that the chart renders at all (the chart ships no
/// checksum: see its README). It is NOT the jar's checksum, and is only ever rendered here.
const PLACEHOLDER_SHA1: &str = "0123456789abcdef0123456789abcdef01234567";
const PLACEHOLDER_SHA256: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

const PRESETS: [&str; 3] = [
    "values-laptop-16g.yaml",
    "values-ci-render.yaml",
    "values-cluster.yaml",
];

fn chart_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../charts/ec-ha-crux")
        .canonicalize()
        .expect("charts/ec-ha-crux exists")
}

/// The helm binary: `$HELM` when set, else the helm the lab pins, from its cache (fetched
/// there on first use: no root, no manual step). A helm that cannot be had fails the test
/// (never skips it), saying how to fill the cache.
fn helm() -> PathBuf {
    static HELM: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    HELM.get_or_init(|| {
        if let Some(helm) = std::env::var_os("HELM").filter(|h| !h.is_empty()) {
            let helm = PathBuf::from(helm);
            assert!(helm.is_file(), "HELM={} is not a file", helm.display());
            return helm;
        }
        let pinned = async {
            let cache = lab::artifacts::cache::Cache::from_env()?;
            anyhow::Ok(lab::artifacts::tools::helm(&cache).await?)
        };
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime")
            .block_on(pinned)
            .unwrap_or_else(|error| {
                panic!(
                    "helm is missing: {error:#}\n  fill the cache with `cargo xtask artifacts fetch`, \
                     or set HELM to a helm 3 binary"
                )
            })
    })
    .clone()
}

struct HelmRun {
    success: bool,
    stdout: String,
    stderr: String,
}

fn run_helm(args: &[&str]) -> HelmRun {
    let output = Command::new(helm()).args(args).output().expect("helm runs");
    HelmRun {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// `helm template lab charts/ec-ha-crux <extra>`, with the placeholder checksum unless
/// `extra` sets one.
fn template(extra: &[&str]) -> HelmRun {
    let chart = chart_dir();
    let checksum = format!("crux.connector.checksum.value={PLACEHOLDER_SHA1}");
    let mut args = vec!["template", RELEASE, chart.to_str().expect("UTF-8 path")];
    if !extra
        .iter()
        .any(|arg| arg.starts_with("crux.connector.checksum.value="))
    {
        args.extend(["--set", &checksum]);
    }
    args.extend_from_slice(extra);
    run_helm(&args)
}

fn preset(name: &str) -> String {
    chart_dir()
        .join(name)
        .to_str()
        .expect("UTF-8 path")
        .to_owned()
}

/// The objects of one successful `helm template`, each already checked to be a known kind
/// whose every field survives a round trip through its k8s-openapi type.
struct Rendered {
    docs: Vec<Value>,
}

impl Rendered {
    #[track_caller]
    fn new(extra: &[&str]) -> Self {
        let run = template(extra);
        assert!(
            run.success,
            "helm template {extra:?} failed:\n{}",
            run.stderr
        );
        let mut docs = Vec::new();
        for document in serde_norway::Deserializer::from_str(&run.stdout) {
            let doc = Value::deserialize(document).expect("helm template prints valid YAML");
            // A document holding only a comment parses as null.
            if !doc.is_null() {
                docs.push(doc);
            }
        }
        assert!(!docs.is_empty(), "helm template {extra:?} rendered nothing");
        for doc in &docs {
            if let Err(problem) = check_typed(doc) {
                panic!("helm template {extra:?}: {problem}");
            }
        }
        Self { docs }
    }

    /// `(kind, name)` of every object.
    fn objects(&self) -> BTreeSet<(String, String)> {
        self.docs
            .iter()
            .map(|doc| (str_at(doc, "/kind"), str_at(doc, "/metadata/name")))
            .collect()
    }

    fn find<T: Resource + DeserializeOwned>(&self, name: &str) -> Option<T> {
        self.docs
            .iter()
            .find(|doc| doc["kind"] == T::KIND && doc["metadata"]["name"] == name)
            .map(|doc| serde_json::from_value(doc.clone()).expect("checked by check_typed"))
    }

    #[track_caller]
    fn get<T: Resource + DeserializeOwned>(&self, name: &str) -> T {
        self.find(name)
            .unwrap_or_else(|| panic!("no {} named {name} rendered", T::KIND))
    }

    /// Every pod template's spec, named by its workload.
    fn pod_specs(&self) -> Vec<(String, PodSpec)> {
        let mut specs = Vec::new();
        for doc in &self.docs {
            let name = str_at(doc, "/metadata/name");
            let spec = match doc["kind"].as_str() {
                Some("StatefulSet") => self.get::<StatefulSet>(&name).spec.unwrap().template.spec,
                Some("Deployment") => self.get::<Deployment>(&name).spec.unwrap().template.spec,
                _ => continue,
            };
            specs.push((name, spec.expect("pod template has a spec")));
        }
        specs
    }

    /// The pod template's spec of one workload.
    #[track_caller]
    fn pod(&self, workload: &str) -> PodSpec {
        self.pod_specs()
            .into_iter()
            .find(|(name, _)| name == workload)
            .unwrap_or_else(|| panic!("no workload {workload} rendered"))
            .1
    }

    /// The runner's `lab.json`, parsed.
    fn lab_json(&self) -> Value {
        let config_map = self.get::<ConfigMap>(&format!("{RELEASE}-lab"));
        let text = &config_map.data.expect("ConfigMap has data")["lab.json"];
        serde_json::from_str(text).expect("lab.json is JSON")
    }
}

fn str_at(doc: &Value, pointer: &str) -> String {
    doc.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} missing in {doc}"))
        .to_owned()
}

/// Parses `doc` as the k8s-openapi type its `kind` names, and fails naming every field the
/// typed object lost (an unknown field, a misspelling, a wrong level of nesting) or changed.
fn check_typed(doc: &Value) -> Result<(), String> {
    let kind = doc["kind"].as_str().unwrap_or("<no kind>");
    let name = doc["metadata"]["name"].as_str().unwrap_or("<no name>");
    let round_trip = match kind {
        "StatefulSet" => round_trip::<StatefulSet>(doc),
        "Deployment" => round_trip::<Deployment>(doc),
        "Service" => round_trip::<Service>(doc),
        "ConfigMap" => round_trip::<ConfigMap>(doc),
        "ServiceAccount" => round_trip::<ServiceAccount>(doc),
        "Role" => round_trip::<Role>(doc),
        "RoleBinding" => round_trip::<RoleBinding>(doc),
        "PodDisruptionBudget" => round_trip::<PodDisruptionBudget>(doc),
        other => {
            return Err(format!(
                "{name}: kind {other} is not one this chart should render"
            ));
        }
    }
    .map_err(|e| format!("{kind} {name} does not parse as its k8s-openapi type: {e}"))?;
    let mut lost = Vec::new();
    compare(&without_nulls(doc), &round_trip, String::new(), &mut lost);
    if lost.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{kind} {name} has unknown or mistyped fields: {}",
            lost.join(", ")
        ))
    }
}

fn round_trip<T: DeserializeOwned + Serialize>(doc: &Value) -> Result<Value, serde_json::Error> {
    let typed: T = serde_json::from_value(doc.clone())?;
    serde_json::to_value(&typed)
}

fn without_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), without_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_nulls).collect()),
        other => other.clone(),
    }
}

/// Records in `lost` every path of `original` that `typed` does not hold identically.
fn compare(original: &Value, typed: &Value, path: String, lost: &mut Vec<String>) {
    match (original, typed) {
        (Value::Object(want), Value::Object(have)) => {
            for (key, value) in want {
                let path = format!("{path}.{key}");
                match have.get(key) {
                    Some(kept) => compare(value, kept, path, lost),
                    None => lost.push(path),
                }
            }
        }
        (Value::Array(want), Value::Array(have)) if want.len() == have.len() => {
            for (i, (value, kept)) in want.iter().zip(have).enumerate() {
                compare(value, kept, format!("{path}[{i}]"), lost);
            }
        }
        _ if original == typed => {}
        _ => lost.push(format!("{path} ({original} became {typed})")),
    }
}

fn container<'a>(spec: &'a PodSpec, name: &str) -> &'a Container {
    spec.containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no container {name}"))
}

fn env(container: &Container) -> BTreeMap<String, String> {
    container
        .env
        .iter()
        .flatten()
        .filter_map(|var| Some((var.name.clone(), var.value.clone()?)))
        .collect()
}

fn app_version() -> String {
    let chart: Value = serde_norway::from_str(
        &std::fs::read_to_string(chart_dir().join("Chart.yaml")).expect("Chart.yaml"),
    )
    .expect("Chart.yaml is YAML");
    str_at(&chart, "/appVersion")
}

#[test]
fn lint_is_clean_with_defaults_and_every_preset() {
    let chart = chart_dir();
    let chart = chart.to_str().unwrap();
    let checksum = format!("crux.connector.checksum.value={PLACEHOLDER_SHA1}");
    let presets: Vec<String> = PRESETS.iter().map(|p| preset(p)).collect();
    let mut variants = vec![vec![]];
    variants.extend(presets.iter().map(|p| vec!["-f", p.as_str()]));
    for extra in variants {
        let mut args = vec!["lint", "--strict", chart, "--set", checksum.as_str()];
        args.extend(&extra);
        let run = run_helm(&args);
        let output = format!("{}{}", run.stdout, run.stderr);
        assert!(run.success, "helm lint {extra:?} failed:\n{output}");
        assert!(
            output.contains("1 chart(s) linted, 0 chart(s) failed"),
            "helm lint {extra:?}:\n{output}"
        );
        for noise in ["[WARNING]", "[ERROR]", "[INFO]"] {
            assert!(
                !output.contains(noise),
                "helm lint {extra:?} reports {noise}:\n{output}"
            );
        }
    }
}

#[test]
fn defaults_and_presets_render_only_known_fields() {
    let expected: BTreeSet<(String, String)> = [
        ("ServiceAccount", "lab-runner"),
        ("Role", "lab-runner"),
        ("RoleBinding", "lab-runner"),
        ("ConfigMap", "lab-lab"),
        ("Deployment", "lab-runner"),
        ("Deployment", "lab-pts"),
        ("Service", "lab-pts"),
        ("StatefulSet", "lab-crux"),
        ("Service", "lab-crux"),
        ("Service", "lab-crux-headless"),
        ("StatefulSet", "lab-kafka"),
        ("Service", "lab-kafka"),
        ("Service", "lab-kafka-headless"),
    ]
    .into_iter()
    .map(|(kind, name)| (kind.to_owned(), name.to_owned()))
    .collect();
    assert_eq!(Rendered::new(&[]).objects(), expected);
    for name in PRESETS {
        let path = preset(name);
        let mut expected = expected.clone();
        // Only the cluster preset keeps majorities through drains.
        if name == "values-cluster.yaml" {
            for budget in ["lab-crux", "lab-kafka"] {
                expected.insert(("PodDisruptionBudget".to_owned(), budget.to_owned()));
            }
        }
        assert_eq!(Rendered::new(&["-f", &path]).objects(), expected, "{name}");
    }
}

#[test]
fn unknown_fields_are_caught() {
    // The checker itself: a misspelt field and one at the wrong level are both reported.
    let doc = json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "x", "labels": {"a": "b"}},
        "spec": {"clusterIp": "None", "ports": [{"port": 9443, "targetPort": "https", "nodePortt": 1}]},
        "publishNotReadyAddresses": true
    });
    let problem = check_typed(&doc).unwrap_err();
    for field in [
        ".spec.clusterIp",
        ".spec.ports[0].nodePortt",
        ".publishNotReadyAddresses",
    ] {
        assert!(problem.contains(field), "{problem}");
    }
    assert!(!problem.contains(".metadata.labels"), "{problem}");
}

#[test]
fn every_object_carries_the_recommended_labels() {
    let rendered = Rendered::new(&[]);
    let app_version = app_version();
    let check = |what: &str, labels: &Value| {
        assert_eq!(labels["app.kubernetes.io/name"], "ec-ha-crux", "{what}");
        assert_eq!(labels["app.kubernetes.io/instance"], RELEASE, "{what}");
        assert_eq!(
            labels["app.kubernetes.io/version"],
            app_version.as_str(),
            "{what}"
        );
        assert_eq!(labels["app.kubernetes.io/managed-by"], "Helm", "{what}");
        assert_eq!(
            labels["app.kubernetes.io/part-of"], "egeria-ha-lab",
            "{what}"
        );
        let component = labels["app.kubernetes.io/component"].as_str().unwrap_or("");
        assert!(
            ["connector", "golden-store", "pts", "runner"].contains(&component),
            "{what}: component {component:?}"
        );
    };
    for doc in &rendered.docs {
        let what = format!("{} {}", doc["kind"], doc["metadata"]["name"]);
        check(&what, &doc["metadata"]["labels"]);
        if let Some(template_labels) = doc.pointer("/spec/template/metadata/labels") {
            check(&format!("{what} pod template"), template_labels);
        }
    }
    // The runner finds pods by instance + component: each workload's selector must use both.
    for (workload, component) in [
        ("lab-crux", "connector"),
        ("lab-kafka", "golden-store"),
        ("lab-pts", "pts"),
        ("lab-runner", "runner"),
    ] {
        let doc = rendered
            .docs
            .iter()
            .find(|d| {
                d["metadata"]["name"] == workload
                    && ["StatefulSet", "Deployment"].contains(&d["kind"].as_str().unwrap())
            })
            .unwrap();
        let selector = &doc["spec"]["selector"]["matchLabels"];
        assert_eq!(selector["app.kubernetes.io/instance"], RELEASE);
        assert_eq!(selector["app.kubernetes.io/component"], component);
    }
}

#[test]
fn connector_pods_sit_behind_a_headless_and_a_load_balancing_service() {
    let rendered = Rendered::new(&[]);
    let crux = rendered.get::<StatefulSet>("lab-crux");
    let spec = crux.spec.unwrap();
    assert_eq!(spec.replicas, Some(3));
    assert_eq!(spec.pod_management_policy.as_deref(), Some("Parallel"));
    assert_eq!(spec.service_name.as_deref(), Some("lab-crux-headless"));
    let selector = spec.selector.match_labels.unwrap();
    let pod = spec.template.spec.unwrap();

    // "Ready to be configured" (TCP probe) and "ready for work" (the lab's readiness gate).
    let gates = pod.readiness_gates.clone().unwrap_or_default();
    let gate_types: Vec<&str> = gates.iter().map(|g| g.condition_type.as_str()).collect();
    assert_eq!(gate_types, ["egeria-ha-lab/serving"]);
    let platform = container(&pod, "platform");
    assert_eq!(platform.image.as_deref(), Some("odpi/egeria:4.0"));
    let probe = platform
        .readiness_probe
        .as_ref()
        .unwrap()
        .tcp_socket
        .as_ref()
        .unwrap();
    assert_eq!(serde_json::to_value(&probe.port).unwrap(), json!(9443));
    let port = &platform.ports.as_ref().unwrap()[0];
    assert_eq!(
        (port.name.as_deref(), port.container_port),
        (Some("https"), 9443)
    );

    // The connector jar's folder is added to the image's own library folder.
    let loader_path = env(platform)["LOADER_PATH"].clone();
    let entries: Vec<&str> = loader_path.split(',').collect();
    let mount = &platform.volume_mounts.as_ref().unwrap()[0];
    assert_eq!(
        entries,
        ["/deployments/server/lib", mount.mount_path.as_str()]
    );
    let fetch = container(&pod, "fetch-connector");
    assert_eq!(
        fetch.volume_mounts.as_ref().unwrap()[0].mount_path,
        mount.mount_path
    );
    assert!(pod.volumes.as_ref().unwrap()[0].empty_dir.is_some());

    let headless = rendered.get::<Service>("lab-crux-headless").spec.unwrap();
    assert_eq!(headless.cluster_ip.as_deref(), Some("None"));
    assert_eq!(headless.publish_not_ready_addresses, Some(true));
    assert_eq!(headless.selector.as_ref(), Some(&selector));
    let balanced = rendered.get::<Service>("lab-crux").spec.unwrap();
    assert_eq!(balanced.type_.as_deref(), Some("ClusterIP"));
    assert_eq!(balanced.cluster_ip, None);
    // Only ready pods are load-balanced.
    assert_eq!(balanced.publish_not_ready_addresses, None);
    assert_eq!(balanced.selector.as_ref(), Some(&selector));
    let ports: Vec<i32> = balanced.ports.unwrap().iter().map(|p| p.port).collect();
    assert_eq!(ports, [9443]);

    let pts = rendered.pod("lab-pts");
    assert_eq!(
        container(&pts, "platform").image.as_deref(),
        Some("odpi/egeria:4.0")
    );
    let pts_service = rendered.get::<Service>("lab-pts").spec.unwrap();
    assert_eq!(pts_service.ports.unwrap()[0].port, 9443);
}

#[test]
fn replica_count_follows_values() {
    let five = Rendered::new(&["--set", "crux.replicas=5"]);
    assert_eq!(
        five.get::<StatefulSet>("lab-crux").spec.unwrap().replicas,
        Some(5)
    );
    assert_eq!(five.lab_json()["settings"]["replicas"], 5);
    let ci = Rendered::new(&["-f", &preset("values-ci-render.yaml")]);
    assert_eq!(
        ci.get::<StatefulSet>("lab-crux").spec.unwrap().replicas,
        Some(2)
    );
    // Kafka stays at three brokers whatever the connector count.
    assert_eq!(
        five.get::<StatefulSet>("lab-kafka").spec.unwrap().replicas,
        Some(3)
    );
}

#[test]
fn init_containers_verify_the_connector_checksum_from_values() {
    for (algorithm, checksum) in [("sha1", PLACEHOLDER_SHA1), ("sha256", PLACEHOLDER_SHA256)] {
        let rendered = Rendered::new(&[
            "--set",
            &format!("crux.connector.checksum.algorithm={algorithm}"),
            "--set",
            &format!("crux.connector.checksum.value={checksum}"),
            "--set",
            "crux.connector.version=4.2",
        ]);
        for workload in ["lab-crux", "lab-pts"] {
            let (_, pod) = rendered
                .pod_specs()
                .into_iter()
                .find(|(name, _)| name == workload)
                .unwrap();
            let fetch = container(&pod, "fetch-connector");
            let vars = env(fetch);
            assert_eq!(vars["CONNECTOR_CHECKSUM"], checksum, "{workload}");
            assert_eq!(
                vars["CONNECTOR_URL"],
                "https://repo1.maven.org/maven2/org/odpi/egeria/egeria-connector-xtdb/4.2/\
                 egeria-connector-xtdb-4.2-jar-with-dependencies.jar"
            );
            let script = fetch.command.as_ref().unwrap().join(" ");
            assert!(
                script.contains(&format!(
                    "echo \"$CONNECTOR_CHECKSUM  $CONNECTOR_JAR.part\" | {algorithm}sum -c -"
                )),
                "{workload} does not check its download: {script}"
            );
            // Checked before it lands where the platform loads it, and `set -e` stops there.
            let check = script.find(&format!("{algorithm}sum -c")).unwrap();
            assert!(script.contains("set -eu"));
            assert!(script.find("mv \"$CONNECTOR_JAR.part\"").unwrap() > check);
        }
    }
}

#[test]
fn rendering_without_the_connector_checksum_fails_clearly() {
    let run = template(&["--set", "crux.connector.checksum.value="]);
    assert!(!run.success, "rendered without a checksum");
    assert!(
        run.stderr
            .contains("crux.connector.checksum.value is required"),
        "{}",
        run.stderr
    );
    // A sha256-length value for the sha1 algorithm.
    let run = template(&[
        "--set",
        &format!("crux.connector.checksum.value={PLACEHOLDER_SHA256}"),
    ]);
    assert!(!run.success);
    assert!(
        run.stderr
            .contains("must be 40 lowercase hex digits for algorithm sha1"),
        "{}",
        run.stderr
    );
}

#[test]
fn every_image_is_pinned_and_never_pulled_when_loaded() {
    let external = ["--set", "kafka.external.bootstrapServers=ext:9092"];
    let presets: Vec<String> = PRESETS.iter().map(|p| preset(p)).collect();
    let mut variants: Vec<Vec<&str>> = vec![vec![], external.to_vec()];
    variants.extend(presets.iter().map(|p| vec!["-f", p.as_str()]));
    for extra in variants {
        let rendered = Rendered::new(&extra);
        for (workload, pod) in rendered.pod_specs() {
            for c in pod
                .containers
                .iter()
                .chain(pod.init_containers.iter().flatten())
            {
                let image = c.image.as_deref().unwrap_or("");
                let (_, tag) = image
                    .rsplit_once(':')
                    .filter(|(repo, _)| !repo.is_empty())
                    .unwrap_or_else(|| panic!("{workload}/{}: image {image:?} has no tag", c.name));
                assert!(
                    !tag.contains('/'),
                    "{workload}/{}: {image:?} has no tag",
                    c.name
                );
                assert!(
                    !tag.is_empty() && tag != "latest",
                    "{workload}/{}: {image:?}",
                    c.name
                );
                assert_eq!(
                    c.image_pull_policy.as_deref(),
                    Some("IfNotPresent"),
                    "{workload}/{}",
                    c.name
                );
            }
        }
    }
    let rendered = Rendered::new(&[]);
    let runner = rendered.pod("lab-runner");
    assert_eq!(
        container(&runner, "runner").image,
        Some(format!("egeria-ha-lab/runner:{}", app_version()))
    );
    // A moving tag is refused, whichever image it is set on.
    for value in [
        "runner.image.tag",
        "egeria.image.tag",
        "kafka.image.tag",
        "crux.fetchImage.tag",
    ] {
        let run = template(&["--set", &format!("{value}=latest")]);
        assert!(!run.success, "{value}=latest rendered");
        assert!(run.stderr.contains(value), "{value}: {}", run.stderr);
    }
}

#[test]
fn runner_role_is_in_the_release_namespace_with_exactly_its_rules() {
    let rendered = Rendered::new(&["--namespace", "lab-ns"]);
    for doc in &rendered.docs {
        assert_eq!(
            doc["metadata"]["namespace"], "lab-ns",
            "{}",
            doc["metadata"]["name"]
        );
    }
    let role = rendered.get::<Role>("lab-runner");
    assert_eq!(role.metadata.namespace.as_deref(), Some("lab-ns"));
    let rule = |group: &str, resources: &[&str], verbs: &[&str]| PolicyRule {
        api_groups: Some(vec![group.to_owned()]),
        resources: Some(resources.iter().map(|r| (*r).to_owned()).collect()),
        verbs: verbs.iter().map(|v| (*v).to_owned()).collect(),
        ..PolicyRule::default()
    };
    let read = ["get", "list", "watch"];
    assert_eq!(
        role.rules.unwrap(),
        [
            rule("", &["pods", "services", "endpoints"], &read),
            rule("", &["pods/status"], &["patch"]),
            rule("", &["pods"], &["delete"]),
            rule("", &["pods/exec"], &["create"]),
            rule("apps", &["statefulsets", "deployments"], &read),
        ]
    );
    let binding = rendered.get::<RoleBinding>("lab-runner");
    assert_eq!(binding.metadata.namespace.as_deref(), Some("lab-ns"));
    assert_eq!(
        (
            binding.role_ref.kind.as_str(),
            binding.role_ref.name.as_str()
        ),
        ("Role", "lab-runner")
    );
    let subject = &binding.subjects.unwrap()[0];
    assert_eq!(
        (
            subject.kind.as_str(),
            subject.name.as_str(),
            subject.namespace.as_deref()
        ),
        ("ServiceAccount", "lab-runner", Some("lab-ns"))
    );
    let runner = rendered.pod("lab-runner");
    assert_eq!(runner.service_account_name.as_deref(), Some("lab-runner"));
    assert_eq!(rendered.lab_json()["namespace"], "lab-ns");
}

#[test]
fn kafka_is_a_replicated_three_broker_kraft_quorum() {
    let rendered = Rendered::new(&[]);
    let kafka = rendered.get::<StatefulSet>("lab-kafka").spec.unwrap();
    assert_eq!(kafka.replicas, Some(3));
    // Every broker's log folder is a claim of its own that outlives the pod (a killed
    // broker returns as the same voter with its votes) and goes with the release.
    let claims = kafka.volume_claim_templates.clone().unwrap_or_default();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0].metadata.name.as_deref(), Some("data"));
    let claim = claims[0].spec.as_ref().unwrap();
    assert_eq!(claim.access_modes, Some(vec!["ReadWriteOnce".to_string()]));
    assert_eq!(
        claim.resources.as_ref().unwrap().requests.as_ref().unwrap()["storage"].0,
        "1Gi"
    );
    assert_eq!(
        claim.storage_class_name, None,
        "the cluster's default class"
    );
    let chosen = Rendered::new(&["--set", "kafka.persistence.storageClassName=fast-ssd"]);
    let chosen = chosen.get::<StatefulSet>("lab-kafka").spec.unwrap();
    let chosen = chosen.volume_claim_templates.unwrap_or_default();
    assert_eq!(
        chosen[0]
            .spec
            .as_ref()
            .unwrap()
            .storage_class_name
            .as_deref(),
        Some("fast-ssd")
    );
    let retention = kafka
        .persistent_volume_claim_retention_policy
        .clone()
        .unwrap();
    assert_eq!(retention.when_deleted.as_deref(), Some("Delete"));
    let pod_volumes = kafka.template.spec.as_ref().unwrap().volumes.clone();
    assert!(
        pod_volumes
            .unwrap_or_default()
            .iter()
            .all(|v| v.empty_dir.is_none()),
        "no broker data on emptyDir"
    );
    assert_eq!(kafka.service_name.as_deref(), Some("lab-kafka-headless"));
    let pod = kafka.template.spec.unwrap();
    let broker = container(&pod, "kafka");
    assert!(
        broker
            .image
            .as_deref()
            .unwrap()
            .starts_with("apache/kafka:")
    );
    let vars = env(broker);
    for (name, value) in [
        ("KAFKA_DEFAULT_REPLICATION_FACTOR", "3"),
        ("KAFKA_MIN_INSYNC_REPLICAS", "2"),
        ("KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR", "3"),
        ("KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR", "3"),
        ("KAFKA_TRANSACTION_STATE_LOG_MIN_ISR", "2"),
        ("KAFKA_PROCESS_ROLES", "broker,controller"),
        (
            "KAFKA_CONTROLLER_QUORUM_VOTERS",
            "0@lab-kafka-0.lab-kafka-headless.default.svc.cluster.local:9093,\
             1@lab-kafka-1.lab-kafka-headless.default.svc.cluster.local:9093,\
             2@lab-kafka-2.lab-kafka-headless.default.svc.cluster.local:9093",
        ),
    ] {
        assert_eq!(vars.get(name).map(String::as_str), Some(value), "{name}");
    }
    assert_eq!(vars["CLUSTER_ID"].len(), 22, "{}", vars["CLUSTER_ID"]);
    // The node id is the pod's ordinal.
    let node_id = broker
        .env
        .iter()
        .flatten()
        .find(|v| v.name == "KAFKA_NODE_ID")
        .unwrap();
    let field = node_id
        .value_from
        .as_ref()
        .unwrap()
        .field_ref
        .as_ref()
        .unwrap();
    assert_eq!(
        field.field_path,
        "metadata.labels['apps.kubernetes.io/pod-index']"
    );

    let headless = rendered.get::<Service>("lab-kafka-headless").spec.unwrap();
    assert_eq!(headless.cluster_ip.as_deref(), Some("None"));
    assert_eq!(headless.publish_not_ready_addresses, Some(true));
    let bootstrap = rendered.get::<Service>("lab-kafka").spec.unwrap();
    assert_eq!(bootstrap.ports.unwrap()[0].port, 9092);
    assert_eq!(
        rendered.lab_json()["endpoints"]["golden_store_bootstrap"],
        "lab-kafka:9092"
    );
}

#[test]
fn external_kafka_replaces_the_bundled_one() {
    let servers = "kafka-0.shared:9092,kafka-1.shared:9092";
    // `--set` splits on commas unless they are escaped.
    let set = format!(
        "kafka.external.bootstrapServers={}",
        servers.replace(',', "\\,")
    );
    let rendered = Rendered::new(&["--set", &set]);
    let kafka_objects: Vec<_> = rendered
        .objects()
        .into_iter()
        .filter(|(_, name)| name.contains("kafka"))
        .collect();
    assert!(kafka_objects.is_empty(), "{kafka_objects:?}");
    assert!(rendered.find::<StatefulSet>("lab-kafka").is_none());
    assert_eq!(
        rendered.lab_json()["endpoints"]["golden_store_bootstrap"],
        servers
    );
}

#[test]
fn lab_json_holds_the_runner_contract() {
    let rendered = Rendered::new(&[
        "--set",
        "egeria.user=alice",
        "--set",
        "egeria.cohort=ha",
        "--set",
        "egeria.organization=Coco Pharmaceuticals",
    ]);
    let lab = rendered.lab_json();
    let keys = |v: &Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(
        keys(&lab),
        ["endpoints", "namespace", "node_faults", "settings"]
    );
    assert_eq!(lab["namespace"], "default");
    assert_eq!(lab["node_faults"], false);
    assert_eq!(
        keys(&lab["settings"]),
        [
            "cohort",
            "connector_server",
            "organization",
            "pts_server",
            "release",
            "replicas",
            "user"
        ]
    );
    assert_eq!(
        keys(&lab["endpoints"]),
        ["connector_service_url", "golden_store_bootstrap"]
    );
    // The lab's own types read it, and its own rules accept it.
    let settings: lab::settings::LabSettings =
        serde_json::from_value(lab["settings"].clone()).expect("settings parse as LabSettings");
    settings
        .validate()
        .expect("the lab accepts the chart's settings");
    assert_eq!(
        settings,
        lab::settings::LabSettings {
            release: "lab".into(),
            replicas: 3,
            user: "alice".into(),
            cohort: "ha".into(),
            connector_server: "crux".into(),
            pts_server: "pts".into(),
            organization: "Coco Pharmaceuticals".into(),
        }
    );
    let endpoints: lab::substrate::Endpoints =
        serde_json::from_value(lab["endpoints"].clone()).expect("endpoints parse as Endpoints");
    assert_eq!(endpoints.connector_service_url, "https://lab-crux:9443");
    assert_eq!(endpoints.golden_store_bootstrap, "lab-kafka:9092");

    // The runner pod: `lab runner`, lab.json where it looks, a lab folder of its own.
    let pod = rendered.pod("lab-runner");
    let runner = container(&pod, "runner");
    assert_eq!(
        runner.command.as_deref(),
        Some(&["lab".to_owned(), "runner".to_owned()][..])
    );
    assert_eq!(env(runner)["EGERIA_HA_LAB_DIR"], "/var/lib/egeria-ha-lab");
    let mounts: BTreeMap<&str, &str> = runner
        .volume_mounts
        .iter()
        .flatten()
        .map(|m| (m.mount_path.as_str(), m.name.as_str()))
        .collect();
    let volumes = pod.volumes.as_ref().unwrap();
    let volume = |name: &str| volumes.iter().find(|v| v.name == name).unwrap();
    let config = volume(mounts["/etc/egeria-ha-lab"])
        .config_map
        .as_ref()
        .unwrap();
    assert_eq!(config.name, "lab-lab");
    assert_eq!(config.items.as_ref().unwrap()[0].path, "lab.json");
    assert!(volume(mounts["/var/lib/egeria-ha-lab"]).empty_dir.is_some());
}

#[test]
fn values_failing_the_schema_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    for (values, field) in [
        ("crux:\n  replicas: \"three\"\n", "crux.replicas"),
        ("crux:\n  replicas: 0\n", "crux.replicas"),
        ("crux:\n  replicas: 33\n", "crux.replicas"),
        ("crux:\n  replica: 3\n", "replica"),
        ("egeria:\n  cohort: Not_A_Name\n", "egeria.cohort"),
        ("kafka:\n  replicas: 1\n", "kafka.replicas"),
        (
            "kafka:\n  external:\n    bootstrapServers: \"no port\"\n",
            "kafka.external.bootstrapServers",
        ),
    ] {
        let file = dir.path().join("values.yaml");
        std::fs::write(&file, values).unwrap();
        let run = template(&["-f", file.to_str().unwrap()]);
        assert!(!run.success, "values {values:?} rendered");
        assert!(
            run.stderr
                .contains("don't meet the specifications of the schema")
                && run.stderr.contains(field),
            "values {values:?} refused without naming {field}:\n{}",
            run.stderr
        );
    }
}

#[test]
fn release_names_the_lab_cannot_use_are_refused() {
    let chart = chart_dir();
    let checksum = format!("crux.connector.checksum.value={PLACEHOLDER_SHA1}");
    // Names Helm accepts but the lab does not: a leading digit, more than 30 characters.
    for release in ["1lab", "a-release-name-longer-than-thirty"] {
        let run = run_helm(&[
            "template",
            release,
            chart.to_str().unwrap(),
            "--set",
            &checksum,
        ]);
        assert!(!run.success, "release {release} rendered");
        assert!(
            run.stderr.contains("is not one the lab accepts"),
            "{}",
            run.stderr
        );
    }
}

/// `(cpu, memory)` requested and limited.
fn sizing(resources: &ResourceRequirements) -> [(String, String); 2] {
    let pick = |quantities: &Option<
        BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    >| {
        let quantities = quantities.as_ref().expect("set");
        (quantities["cpu"].0.clone(), quantities["memory"].0.clone())
    };
    [pick(&resources.requests), pick(&resources.limits)]
}

fn owned(pairs: [(&str, &str); 2]) -> [(String, String); 2] {
    pairs.map(|(cpu, memory)| (cpu.to_owned(), memory.to_owned()))
}

/// The anti-affinity of a workload's pods: `"required"` or `"preferred"`, and the component
/// it keeps apart.
fn anti_affinity(affinity: &Option<Affinity>) -> (&'static str, String) {
    let anti = affinity
        .as_ref()
        .and_then(|affinity| affinity.pod_anti_affinity.as_ref())
        .expect("pods carry an anti-affinity");
    let (kind, term) = match (
        &anti.required_during_scheduling_ignored_during_execution,
        &anti.preferred_during_scheduling_ignored_during_execution,
    ) {
        (Some(required), None) => ("required", required[0].clone()),
        (None, Some(preferred)) => ("preferred", preferred[0].pod_affinity_term.clone()),
        other => panic!("exactly one kind of anti-affinity expected: {other:?}"),
    };
    assert_eq!(term.topology_key, "kubernetes.io/hostname");
    let labels = term.label_selector.unwrap().match_labels.unwrap();
    (kind, labels["app.kubernetes.io/component"].clone())
}

#[test]
fn the_cluster_preset_sizes_pods_as_upstream_persists_brokers_and_keeps_majorities() {
    let cluster = preset("values-cluster.yaml");
    let rendered = Rendered::new(&["-f", &cluster]);
    let crux = rendered.get::<StatefulSet>("lab-crux").spec.unwrap();
    let crux_pod = crux.template.spec.unwrap();
    assert_eq!(
        sizing(container(&crux_pod, "platform").resources.as_ref().unwrap()),
        owned([("1", "4Gi"), ("2", "8Gi")])
    );
    let pts_pod = rendered.pod("lab-pts");
    assert_eq!(
        sizing(container(&pts_pod, "platform").resources.as_ref().unwrap()),
        owned([("1", "2Gi"), ("2", "4Gi")])
    );
    let kafka = rendered.get::<StatefulSet>("lab-kafka").spec.unwrap();
    let claim = kafka.volume_claim_templates.unwrap()[0]
        .spec
        .clone()
        .unwrap();
    assert_eq!(
        claim.resources.unwrap().requests.unwrap()["storage"].0,
        "10Gi"
    );
    assert_eq!(
        claim.storage_class_name, None,
        "the cluster's default class"
    );
    // A majority of each kept through drains: 2 of 3, and 3 of 5.
    for (replicas, majority) in [("3", 2), ("5", 3)] {
        let scaled = Rendered::new(&[
            "-f",
            &cluster,
            "--set",
            &format!("crux.replicas={replicas}"),
            "--set",
            &format!("kafka.replicas={replicas}"),
        ]);
        for (name, component) in [("lab-crux", "connector"), ("lab-kafka", "golden-store")] {
            let budget = scaled.get::<PodDisruptionBudget>(name).spec.unwrap();
            assert_eq!(
                budget.min_available,
                Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::Int(majority)),
                "{name} with {replicas} replicas"
            );
            let selector = budget.selector.unwrap().match_labels.unwrap();
            assert_eq!(selector["app.kubernetes.io/component"], component);
            assert_eq!(selector["app.kubernetes.io/instance"], RELEASE);
        }
    }
    // No budgets unless asked for (the laptop keeps none: kind's nodes are never drained).
    let laptop = Rendered::new(&["-f", &preset("values-laptop-16g.yaml")]);
    assert!(
        !laptop
            .objects()
            .iter()
            .any(|(kind, _)| kind == "PodDisruptionBudget")
    );
    // With an external Kafka, only the connector pods' budget.
    let external = Rendered::new(&[
        "-f",
        &cluster,
        "--set",
        "kafka.external.bootstrapServers=ext:9092",
    ]);
    assert!(external.find::<PodDisruptionBudget>("lab-kafka").is_none());
    assert!(external.find::<PodDisruptionBudget>("lab-crux").is_some());
}

#[test]
fn anti_affinity_is_preferred_unless_the_lab_makes_it_required() {
    for (extra, expected) in [
        (vec![], "preferred"),
        (
            vec!["--set", "scheduling.antiAffinity=required"],
            "required",
        ),
    ] {
        let rendered = Rendered::new(&extra);
        for (workload, component) in [("lab-crux", "connector"), ("lab-kafka", "golden-store")] {
            let pod = rendered
                .get::<StatefulSet>(workload)
                .spec
                .unwrap()
                .template
                .spec
                .unwrap();
            assert_eq!(
                anti_affinity(&pod.affinity),
                (expected, component.to_owned()),
                "{workload} {extra:?}"
            );
        }
    }
    let run = template(&["--set", "scheduling.antiAffinity=always"]);
    assert!(!run.success);
    assert!(
        run.stderr.contains("scheduling.antiAffinity"),
        "{}",
        run.stderr
    );
}

#[test]
fn node_faults_add_the_handshake_config_map_and_only_its_rule() {
    let rendered = Rendered::new(&["--set", "runner.nodeFaults=true"]);
    let exchange = rendered.get::<ConfigMap>("lab-node-faults");
    assert_eq!(
        exchange.data.unwrap_or_default().len(),
        0,
        "empty until asked"
    );
    assert_eq!(rendered.lab_json()["node_faults"], true);
    let config: lab::runner::RunnerConfig =
        serde_json::from_value(rendered.lab_json()).expect("the runner reads lab.json");
    assert!(config.node_faults);
    let rules = rendered.get::<Role>("lab-runner").rules.unwrap();
    let last = rules.last().unwrap();
    assert_eq!(
        (
            last.resources.clone().unwrap(),
            last.resource_names.clone().unwrap(),
            last.verbs.clone()
        ),
        (
            vec!["configmaps".to_owned()],
            vec!["lab-node-faults".to_owned()],
            vec!["get".to_owned(), "patch".to_owned()]
        )
    );
    // Off by default (and on an existing cluster): no ConfigMap, no rule.
    let default = Rendered::new(&[]);
    assert!(default.find::<ConfigMap>("lab-node-faults").is_none());
    assert_eq!(default.get::<Role>("lab-runner").rules.unwrap().len(), 5);
}

#[test]
fn a_runner_image_from_a_registry_with_a_port_renders() {
    let rendered = Rendered::new(&[
        "--set-string",
        "runner.image.repository=registry.example.com:5000/team/runner",
        "--set-string",
        "runner.image.tag=0.1.0",
    ]);
    let runner = rendered.pod("lab-runner");
    assert_eq!(
        container(&runner, "runner").image.as_deref(),
        Some("registry.example.com:5000/team/runner:0.1.0")
    );
    let run = template(&["--set-string", "runner.image.repository=runner@sha256:abc"]);
    assert!(!run.success, "a digest in the repository rendered");
}

/// The chart and the local real run must run the same Egeria and the same connector: the
/// lab's verdicts on one are taken for the other.
#[test]
fn the_chart_pins_the_egeria_release_and_connector_the_local_real_run_uses() {
    let lock = lab::artifacts::Lock::embedded().unwrap();
    let release = lab::substrate::local::platform::egeria_release(&lock).unwrap();
    let connector = lock
        .published(lab::artifacts::CONNECTOR)
        .expect("the lock names the released connector");
    let values: Value = serde_norway::from_str(
        &std::fs::read_to_string(e2e::workspace_root().join("charts/ec-ha-crux/values.yaml"))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(values["egeria"]["image"]["tag"], json!(release));
    let chart_connector = &values["crux"]["connector"];
    assert_eq!(chart_connector["groupId"], json!(connector.group));
    assert_eq!(chart_connector["artifactId"], json!(connector.artifact));
    assert_eq!(chart_connector["version"], json!(connector.version));
    assert_eq!(
        chart_connector["classifier"].as_str(),
        connector.classifier.as_deref()
    );

    // Every Egeria platform accepts the others' self-signed certificates, as the local
    // platforms do with --strict.ssl=false.
    let rendered = Rendered::new(&[]);
    let crux = rendered.get::<StatefulSet>("lab-crux").spec.unwrap();
    let crux_pod = crux.template.spec.unwrap();
    for pod in [crux_pod, rendered.pod("lab-pts")] {
        assert_eq!(env(container(&pod, "platform"))["STRICT_SSL"], "false");
    }
    // The connection is the runner's, from the lab's one generator: the chart carries
    // none of its own to drift from it.
    let templates = std::fs::read_dir(e2e::workspace_root().join("charts/ec-ha-crux/templates"))
        .unwrap()
        .map(|entry| std::fs::read_to_string(entry.unwrap().path()).unwrap())
        .collect::<String>();
    for connection_key in ["xtdbConfig", "cruxConfig", "connectorProviderClassName"] {
        assert!(
            !templates.contains(connection_key),
            "{connection_key} in the chart's templates"
        );
    }
}

/// The laptop preset leaves a connector pod room for what real pods were measured to use
/// through a PTS run (up to 2.5 GB resident, REAL-EGERIA.md §8), and the PTS platform for
/// its 1.7 GB.
#[test]
fn the_laptop_preset_fits_the_memory_measured_on_real_pods() {
    let rendered = Rendered::new(&["-f", &preset("values-laptop-16g.yaml")]);
    let crux = rendered.get::<StatefulSet>("lab-crux").spec.unwrap();
    let crux_pod = crux.template.spec.unwrap();
    let limit_mib = |pod: &PodSpec| {
        let [_, (_, memory)] = sizing(container(pod, "platform").resources.as_ref().unwrap());
        let mib: u64 = memory
            .trim_end_matches("Mi")
            .parse()
            .unwrap_or_else(|_| memory.trim_end_matches("Gi").parse::<u64>().unwrap() * 1024);
        mib
    };
    assert!(
        limit_mib(&crux_pod) * 1024 * 1024 >= 2_500_000_000,
        "{}",
        limit_mib(&crux_pod)
    );
    assert!(limit_mib(&rendered.pod("lab-pts")) * 1024 * 1024 >= 1_700_000_000);
}
