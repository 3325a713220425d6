use super::mock::{MockApi, PODS, PodSpec, Seen, failure, list, ok, text, watch_events};
use super::*;
use crate::substrate::{PodPhase, Role};
use http::Method;
use serde_json::{Value, json};

pub(super) fn endpoints() -> Endpoints {
    Endpoints {
        connector_service_url: "https://lab-crux.ns.svc.cluster.local:9443".to_string(),
        golden_store_bootstrap: "lab-kafka-0.lab-kafka-headless.ns.svc.cluster.local:9092"
            .to_string(),
    }
}

pub(super) fn substrate(api: &MockApi) -> KubeSubstrate {
    KubeSubstrate::new(api.client.clone(), "ns", "lab", endpoints())
}

fn pod(name: &str, uid: &str) -> Value {
    PodSpec {
        name,
        uid,
        component: "connector",
        phase: "Running",
        serving: Some("False"),
        restarts: &[0],
    }
    .json()
}

fn is_list(seen: &Seen, path: &str) -> bool {
    seen.method == Method::GET && seen.path == path && !seen.is_watch()
}

#[tokio::test]
async fn list_pods_maps_roles_ordinals_readiness_and_restarts() {
    let mut deleted = PodSpec {
        name: "lab-crux-2",
        uid: "u-c2",
        component: "connector",
        phase: "Running",
        serving: Some("True"),
        restarts: &[0],
    }
    .json();
    deleted["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:01:00Z");
    let items = vec![
        PodSpec {
            name: "lab-pts-5d8f6b7c9-x2x9k",
            uid: "u-pts",
            component: "pts",
            phase: "Running",
            serving: None,
            restarts: &[],
        }
        .json(),
        PodSpec {
            name: "lab-crux-1",
            uid: "u-c1",
            component: "connector",
            phase: "Pending",
            serving: Some("False"),
            restarts: &[],
        }
        .json(),
        PodSpec {
            name: "lab-crux-0",
            uid: "u-c0",
            component: "connector",
            phase: "Running",
            serving: Some("True"),
            restarts: &[1, 2],
        }
        .json(),
        deleted,
        PodSpec {
            name: "lab-kafka-1",
            uid: "u-k1",
            component: "golden-store",
            phase: "Running",
            serving: None,
            restarts: &[3],
        }
        .json(),
        PodSpec {
            name: "lab-runner-7f9c-abcde",
            uid: "u-r",
            component: "runner",
            phase: "Running",
            serving: None,
            restarts: &[],
        }
        .json(),
    ];
    let api = MockApi::new(Box::new(move |seen| {
        is_list(seen, PODS).then(|| ok(list("Pod", "4711", items.clone())))
    }));

    let pods = substrate(&api).list_pods().await.unwrap();

    assert_eq!(pods.generation, 4711);
    let summary: Vec<_> = pods
        .pods
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.role,
                p.ordinal,
                p.phase,
                p.ready,
                p.restarts,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("lab-crux-0", Role::Connector, 0, PodPhase::Running, true, 3),
            (
                "lab-crux-1",
                Role::Connector,
                1,
                PodPhase::Restarting,
                false,
                0
            ),
            (
                "lab-crux-2",
                Role::Connector,
                2,
                PodPhase::Terminated,
                true,
                0
            ),
            (
                "lab-kafka-1",
                Role::GoldenStore,
                1,
                PodPhase::Running,
                true,
                3
            ),
            (
                "lab-pts-5d8f6b7c9-x2x9k",
                Role::Pts,
                0,
                PodPhase::Running,
                true,
                0
            ),
        ]
    );
    let crux0 = pods.get("lab-crux-0").unwrap();
    assert_eq!(crux0.uid, "u-c0");
    assert_eq!(crux0.pid, None);
    assert_eq!(
        crux0.address,
        "lab-crux-0.lab-crux-headless.ns.svc.cluster.local:9443"
    );
    assert_eq!(
        pods.get("lab-kafka-1").unwrap().address,
        "lab-kafka-1.lab-kafka-headless.ns.svc.cluster.local:9092"
    );
    assert_eq!(
        pods.with_role(Role::Pts).next().unwrap().address,
        "lab-pts.ns.svc.cluster.local:9443"
    );
    let query = &api.seen()[0].query;
    assert!(
        query.contains("labelSelector=app.kubernetes.io%2Finstance%3Dlab"),
        "{query}"
    );
}

#[tokio::test]
async fn set_ready_patches_the_status_gate_with_the_uid() {
    let api = MockApi::new(Box::new(|seen| {
        let path = format!("{PODS}/lab-crux-0");
        match (&seen.method, seen.path.as_str()) {
            (&Method::GET, p) if p == path => Some(ok(pod("lab-crux-0", "u1"))),
            (&Method::PATCH, p) if p == format!("{path}/status") => {
                Some(ok(pod("lab-crux-0", "u1")))
            }
            _ => None,
        }
    }));

    substrate(&api)
        .set_ready("lab-crux-0", "u1", true)
        .await
        .unwrap();

    let patch = api.seen().pop().unwrap();
    assert_eq!(patch.method, Method::PATCH);
    assert_eq!(patch.content_type, "application/strategic-merge-patch+json");
    assert_eq!(patch.body["metadata"]["uid"], "u1");
    let conditions = patch.body["status"]["conditions"].as_array().unwrap();
    assert_eq!(conditions.len(), 1);
    assert_eq!(conditions[0]["type"], "egeria-ha-lab/serving");
    assert_eq!(conditions[0]["status"], "True");
    // The gate was False: it changes now, not at the old transition time.
    let since = conditions[0]["lastTransitionTime"].as_str().unwrap();
    assert_ne!(since, "2026-01-01T00:00:00Z");
}

#[tokio::test]
async fn set_ready_refuses_a_replaced_pod_without_patching() {
    let api = MockApi::new(Box::new(|seen| {
        (seen.method == Method::GET).then(|| ok(pod("lab-crux-0", "u2")))
    }));

    let error = substrate(&api)
        .set_ready("lab-crux-0", "u1", true)
        .await
        .unwrap_err();

    assert!(matches!(error, SubstrateError::Refused { .. }), "{error:?}");
    let message = error.to_string();
    assert!(
        message.contains("mark pod lab-crux-0 ready")
            && message.contains("uid u2")
            && message.contains("uid u1"),
        "{message}"
    );
    assert!(api.seen().iter().all(|seen| seen.method == Method::GET));
}

#[tokio::test]
async fn kill_has_no_grace_period_and_delete_the_normal_one() {
    let api = MockApi::new(Box::new(|seen| {
        (seen.method == Method::DELETE).then(|| ok(pod("lab-crux-1", "u1")))
    }));
    let substrate = substrate(&api);

    substrate.kill_pod("lab-crux-1").await.unwrap();
    substrate.delete_pod("lab-crux-1").await.unwrap();

    let seen = api.seen();
    assert_eq!(seen[0].path, format!("{PODS}/lab-crux-1"));
    assert_eq!(seen[0].body["gracePeriodSeconds"], 0);
    assert_eq!(seen[1].path, format!("{PODS}/lab-crux-1"));
    assert!(
        seen[1].body.get("gracePeriodSeconds").is_none(),
        "{:?}",
        seen[1].body
    );
}

#[tokio::test]
async fn api_errors_name_the_pod_and_the_action() {
    let api = MockApi::new(Box::new(|seen| {
        Some(match seen.method {
            Method::DELETE => failure(
                403,
                "Forbidden",
                "pods \"lab-crux-1\" is forbidden: User \"system:serviceaccount:ns:x\" cannot delete resource \"pods\"",
            ),
            _ => failure(404, "NotFound", "pods \"lab-crux-9\" not found"),
        })
    }));
    let substrate = substrate(&api);

    let forbidden = substrate.kill_pod("lab-crux-1").await.unwrap_err();
    let message = forbidden.to_string();
    assert!(
        message.contains("kill pod lab-crux-1") && message.contains("403 Forbidden"),
        "{message}"
    );

    let missing = substrate
        .set_ready("lab-crux-9", "u1", false)
        .await
        .unwrap_err();
    assert!(
        matches!(&missing, SubstrateError::UnknownPod(pod) if pod == "lab-crux-9"),
        "{missing:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn watch_pods_returns_at_once_when_a_pod_is_replaced() {
    let replaced = pod("lab-crux-0", "u2");
    let api = MockApi::new(Box::new(move |seen| {
        if seen.is_watch() {
            Some(watch_events(&[
                json!({ "type": "ADDED", "object": replaced.clone() }),
            ]))
        } else {
            Some(ok(list("Pod", "101", vec![replaced.clone()])))
        }
    }));
    let started = tokio::time::Instant::now();

    let pods = substrate(&api)
        .watch_pods(100, Duration::from_secs(60))
        .await
        .unwrap();

    assert!(started.elapsed() < Duration::from_secs(1));
    assert_eq!(pods.generation, 101);
    assert_eq!(pods.get("lab-crux-0").unwrap().uid, "u2");
    let watch = &api.seen()[0];
    assert!(
        watch.is_watch() && watch.query.contains("resourceVersion=100"),
        "{}",
        watch.query
    );
}

#[tokio::test(start_paused = true)]
async fn watch_pods_without_a_change_answers_at_its_timeout() {
    let api = MockApi::new(Box::new(|seen| {
        (!seen.is_watch()).then(|| ok(list("Pod", "100", vec![pod("lab-crux-0", "u1")])))
    }));
    let started = tokio::time::Instant::now();

    let pods = substrate(&api)
        .watch_pods(100, Duration::from_secs(30))
        .await
        .unwrap();

    assert_eq!(started.elapsed().as_secs(), 30);
    assert_eq!(pods.generation, 100);
}

#[tokio::test(start_paused = true)]
async fn a_silent_api_server_ends_at_the_deadline_with_a_clear_error() {
    let api = MockApi::new(Box::new(|_| None));
    let started = tokio::time::Instant::now();

    let error = substrate(&api).list_pods().await.unwrap_err();

    assert_eq!(started.elapsed(), CALL_TIMEOUT);
    assert!(matches!(error, SubstrateError::Unreachable { .. }));
    let message = error.to_string();
    assert!(
        message.contains("list pods: no answer within 10s") && message.contains("namespace ns"),
        "{message}"
    );
}

#[tokio::test]
async fn opaque_resource_versions_still_give_growing_generations() {
    let api = MockApi::new(Box::new(|_| None));
    let substrate = substrate(&api);
    assert_eq!(substrate.resource_version(7), Some("7".to_string()));

    let first = substrate.generation("abc");
    assert_eq!(substrate.generation("abc"), first);
    let second = substrate.generation("xyz");
    assert!(second > first);
    assert_eq!(substrate.resource_version(second), Some("xyz".to_string()));
    assert_eq!(substrate.resource_version(first), None);
}

fn kubeconfig_text(contexts: &[&str]) -> String {
    let contexts: Vec<Value> = contexts
        .iter()
        .map(|name| json!({ "name": name, "context": { "cluster": "kind", "user": "kind" } }))
        .collect();
    let yaml = json!({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{ "name": "kind", "cluster": { "server": "https://127.0.0.1:1" } }],
        "users": [{ "name": "kind", "user": { "token": "t" } }],
        "contexts": contexts,
        "current-context": contexts.first().map(|c| c["name"].clone()),
    });
    // JSON is YAML.
    yaml.to_string()
}

fn kubeconfig(contexts: &[&str]) -> Kubeconfig {
    Kubeconfig::from_yaml(&kubeconfig_text(contexts)).unwrap()
}

#[test]
fn the_context_is_named_or_the_only_one() {
    assert_eq!(
        choose_context(&kubeconfig(&["kind-lab"]), None).unwrap(),
        "kind-lab"
    );
    let several = kubeconfig(&["kind-lab", "prod"]);
    assert_eq!(
        choose_context(&several, Some("kind-lab")).unwrap(),
        "kind-lab"
    );
    let ambiguous = choose_context(&several, None).unwrap_err();
    assert!(ambiguous.contains("kind-lab, prod"), "{ambiguous}");
    let unknown = choose_context(&several, Some("staging")).unwrap_err();
    assert!(unknown.contains("\"staging\""), "{unknown}");
}

#[tokio::test]
async fn a_client_builds_from_the_given_kubeconfig_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kubeconfig");
    std::fs::write(&path, kubeconfig_text(&["kind-lab"])).unwrap();

    let client = client_from_kubeconfig(Some(&path), None).await.unwrap();
    assert_eq!(client.default_namespace(), "default");

    let Err(missing) = client_from_kubeconfig(Some(&dir.path().join("none")), None).await else {
        panic!("a missing kubeconfig gave a client");
    };
    assert!(missing.to_string().contains("none"), "{missing}");
}

fn stateful_set(name: &str, component: &str, replicas: i32, status: Value) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {
            "name": name, "namespace": "ns", "generation": 1,
            "labels": { "app.kubernetes.io/instance": "lab", "app.kubernetes.io/component": component },
        },
        "spec": {
            "replicas": replicas, "podManagementPolicy": "Parallel", "serviceName": name,
            "selector": { "matchLabels": { "app.kubernetes.io/component": component } },
            "template": { "metadata": {}, "spec": { "containers": [] } },
        },
        "status": status,
    })
}

fn deployment(name: &str, ready: i32) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {
            "name": name, "namespace": "ns", "generation": 2,
            "labels": { "app.kubernetes.io/instance": "lab" },
        },
        "spec": {
            "replicas": 1,
            "selector": { "matchLabels": { "app.kubernetes.io/instance": "lab" } },
            "template": { "metadata": {}, "spec": { "containers": [] } },
        },
        "status": { "observedGeneration": 2, "replicas": 1, "updatedReplicas": 1, "readyReplicas": ready },
    })
}

/// Lists answered with the given objects; watches left open with no event.
fn cluster(sets: Vec<Value>, deployments: Vec<Value>, pods: Vec<Value>) -> MockApi {
    MockApi::new(Box::new(move |seen| {
        if seen.is_watch() {
            return None;
        }
        Some(ok(match seen.path.as_str() {
            "/apis/apps/v1/namespaces/ns/statefulsets" => list("StatefulSet", "5", sets.clone()),
            "/apis/apps/v1/namespaces/ns/deployments" => {
                list("Deployment", "5", deployments.clone())
            }
            PODS => list("Pod", "5", pods.clone()),
            other => panic!("unexpected request for {other}"),
        }))
    }))
}

#[tokio::test(start_paused = true)]
async fn workloads_are_ready_though_the_connector_gate_is_not() {
    // The connector pods are Running but not Ready: the gate waits for the runner.
    let api = cluster(
        vec![
            stateful_set(
                "lab-crux",
                "connector",
                2,
                json!({ "observedGeneration": 1, "replicas": 2, "currentReplicas": 2, "updatedReplicas": 2, "readyReplicas": 0 }),
            ),
            stateful_set(
                "lab-kafka",
                "golden-store",
                1,
                json!({ "observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 1 }),
            ),
        ],
        vec![deployment("lab-pts", 1), deployment("lab-runner", 1)],
        vec![pod("lab-crux-0", "u0"), pod("lab-crux-1", "u1")],
    );
    let started = tokio::time::Instant::now();

    wait_for_workloads(api.client.clone(), "ns", "lab", Duration::from_secs(60))
        .await
        .unwrap();

    assert!(started.elapsed() < Duration::from_secs(1));
    let seen = api.seen();
    assert!(
        seen.iter().all(|s| s
            .query
            .contains("labelSelector=app.kubernetes.io%2Finstance%3Dlab")),
        "{seen:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn workloads_not_ready_at_the_deadline_are_named_with_why() {
    let mut pulling = PodSpec {
        name: "lab-kafka-0",
        uid: "u-k0",
        component: "golden-store",
        phase: "Pending",
        serving: None,
        restarts: &[],
    }
    .json();
    pulling["status"]["containerStatuses"] = json!([{
        "name": "kafka", "image": "img", "imageID": "", "ready": false, "restartCount": 0,
        "started": false, "state": { "waiting": { "reason": "ContainerCreating" } },
    }]);
    let api = cluster(
        vec![
            stateful_set(
                "lab-crux",
                "connector",
                2,
                json!({ "observedGeneration": 1, "replicas": 1, "currentReplicas": 1, "updatedReplicas": 1 }),
            ),
            stateful_set(
                "lab-kafka",
                "golden-store",
                1,
                json!({ "observedGeneration": 1, "replicas": 1, "updatedReplicas": 1, "readyReplicas": 0 }),
            ),
        ],
        vec![deployment("lab-pts", 1)],
        vec![pod("lab-crux-0", "u0"), pulling],
    );
    let started = tokio::time::Instant::now();

    let error = wait_for_workloads(api.client.clone(), "ns", "lab", Duration::from_secs(30))
        .await
        .unwrap_err();

    assert_eq!(started.elapsed().as_secs(), 30);
    let KubeError::NotReady { pending, .. } = &error else {
        panic!("{error:?}");
    };
    assert_eq!(
        pending,
        &[
            "StatefulSet lab-crux: 1 of 2 replicas created, 1 running with started containers",
            "StatefulSet lab-kafka: 0 of 1 replicas ready (lab-kafka-0 Pending: kafka ContainerCreating)",
        ]
    );
    let message = error.to_string();
    assert!(
        message.starts_with(
            "the workloads of release lab in namespace ns were not ready within 30s: StatefulSet lab-crux"
        ),
        "{message}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_image_the_cluster_cannot_pull_fails_the_wait_at_once_naming_pod_image_and_error() {
    let image = "registry.example.com/team/runner:0.1.0";
    let mut runner = PodSpec {
        name: "lab-runner-7d9f",
        uid: "u-r",
        component: "runner",
        phase: "Pending",
        serving: None,
        restarts: &[],
    }
    .json();
    runner["status"]["containerStatuses"] = json!([{
        "name": "runner", "image": image, "imageID": "", "ready": false, "restartCount": 0,
        "started": false, "state": { "waiting": { "reason": "ImagePullBackOff",
            "message": format!("Back-off pulling image \"{image}\"") } },
    }]);
    let pull_error = format!(
        "Failed to pull image \"{image}\": rpc error: code = NotFound desc = manifest unknown"
    );
    let event = json!({
        "metadata": { "name": "e1", "namespace": "ns" },
        "involvedObject": { "kind": "Pod", "name": "lab-runner-7d9f" },
        "type": "Warning", "reason": "Failed", "message": pull_error,
    });
    let api = MockApi::new(Box::new(move |seen| {
        if seen.is_watch() {
            return None;
        }
        Some(ok(match seen.path.as_str() {
            "/apis/apps/v1/namespaces/ns/statefulsets" => list("StatefulSet", "5", vec![]),
            "/apis/apps/v1/namespaces/ns/deployments" => {
                list("Deployment", "5", vec![deployment("lab-runner", 0)])
            }
            PODS => list("Pod", "5", vec![runner.clone()]),
            "/api/v1/namespaces/ns/events" => list("Event", "5", vec![event.clone()]),
            other => panic!("unexpected request for {other}"),
        }))
    }));
    let started = tokio::time::Instant::now();

    let error = wait_for_workloads(api.client.clone(), "ns", "lab", Duration::from_secs(600))
        .await
        .unwrap_err();

    assert!(
        started.elapsed() < Duration::from_secs(1),
        "waited for the deadline"
    );
    assert_eq!(
        error.to_string(),
        format!("pod lab-runner-7d9f cannot pull its image {image}: {pull_error}")
    );
    let asked = api.seen();
    let events = asked.iter().find(|s| s.path.ends_with("/events")).unwrap();
    assert!(
        events
            .query
            .contains("fieldSelector=involvedObject.name%3Dlab-runner-7d9f%2Creason%3DFailed"),
        "{events:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_silent_api_server_fails_the_workload_wait_at_the_deadline() {
    let api = MockApi::new(Box::new(|_| None));

    let error = wait_for_workloads(api.client.clone(), "ns", "lab", Duration::from_secs(20))
        .await
        .unwrap_err();

    let message = error.to_string();
    assert!(
        message.contains("within 20s")
            && message.contains("StatefulSets not listed yet")
            && message.contains("pods not listed yet"),
        "{message}"
    );
}

#[tokio::test]
async fn diagnostics_hold_pod_status_events_and_logs() {
    let api = MockApi::new(Box::new(|seen| {
        Some(match seen.path.as_str() {
            PODS => ok(list("Pod", "5", vec![pod("lab-crux-0", "u0")])),
            "/api/v1/namespaces/ns/events" => ok(list(
                "Event",
                "5",
                vec![json!({
                    "metadata": { "name": "e1", "namespace": "ns" },
                    "involvedObject": { "kind": "Pod", "name": "lab-crux-0" },
                    "type": "Warning", "reason": "BackOff", "message": "Back-off restarting",
                    "lastTimestamp": "2026-01-01T00:00:00Z",
                })],
            )),
            "/api/v1/namespaces/ns/pods/lab-crux-0/log" if seen.query.contains("previous=true") => {
                failure(
                    400,
                    "BadRequest",
                    "previous terminated container \"c0\" not found",
                )
            }
            "/api/v1/namespaces/ns/pods/lab-crux-0/log" => text("platform started\n"),
            other => panic!("unexpected request for {other}"),
        })
    }));
    let dir = tempfile::tempdir().unwrap();

    let out = dump_diagnostics(api.client.clone(), "ns", "lab", dir.path())
        .await
        .unwrap();

    assert_eq!(out, dir.path().join("diagnostics"));
    let pods: Value =
        serde_json::from_slice(&std::fs::read(out.join("pods.json")).unwrap()).unwrap();
    assert_eq!(pods[0]["status"]["phase"], "Running");
    let events = std::fs::read_to_string(out.join("events.txt")).unwrap();
    assert_eq!(
        events,
        "2026-01-01T00:00:00Z Warning BackOff Pod/lab-crux-0: Back-off restarting\n"
    );
    let log = std::fs::read_to_string(out.join("logs/lab-crux-0.c0.log")).unwrap();
    assert_eq!(log, "platform started\n");
    assert!(!out.join("logs/lab-crux-0.c0.previous.log").exists());
}
