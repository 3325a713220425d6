//! The runner's side of a node outage on kind (see [`crate::node_faults`]): it finds the
//! node of the target pod, asks the host through the release's ConfigMap, and waits for
//! the answer with a deadline.

use super::KubeSubstrate;
use crate::node_faults::{
    ANSWER_DEADLINE, Exchange, NodeAction, NodeEvent, Request, config_map_name,
};
use crate::substrate::{NodeStopped, SubstrateError};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::Api;
use kube::api::{ListParams, Patch, PatchParams};
use std::time::Duration;
use tokio::time::Instant;

impl KubeSubstrate {
    fn exchange_api(&self) -> Api<ConfigMap> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    async fn exchange(&self, action: &str) -> Result<Exchange, SubstrateError> {
        let name = config_map_name(&self.release);
        let reading = format!("{action}: reading ConfigMap {name}");
        let config_map = self
            .call(&reading, None, self.exchange_api().get(&name))
            .await?;
        Exchange::from_data(&config_map.data.unwrap_or_default())
            .map_err(|detail| self.refused(action, format!("ConfigMap {name}: {detail}")))
    }

    async fn node_of(&self, pod: &str, action: &str) -> Result<String, SubstrateError> {
        let found = self.call(action, Some(pod), self.pods().get(pod)).await?;
        found
            .spec
            .and_then(|spec| spec.node_name)
            .ok_or_else(|| self.refused(action, format!("pod {pod} is not on a node yet")))
    }

    /// Asks the host to stop or start `node`, and waits for its answer.
    async fn ask_host(&self, action: NodeAction, node: &str) -> Result<(), SubstrateError> {
        let what = format!("{action:?} node {node}").to_lowercase();
        let exchange = self.exchange(&what).await?;
        let id = exchange
            .request
            .map_or(0, |r| r.id)
            .max(exchange.answer.map_or(0, |a| a.id))
            + 1;
        let request = Request {
            id,
            action,
            node: node.to_string(),
        };
        let name = config_map_name(&self.release);
        let patch = Patch::Merge(Exchange::request_patch(&request));
        let params = PatchParams::default();
        let writing = format!("{what}: writing the request into ConfigMap {name}");
        self.call(
            &writing,
            None,
            self.exchange_api().patch(&name, &params, &patch),
        )
        .await?;
        let end = Instant::now() + ANSWER_DEADLINE;
        let mut pause = Duration::from_millis(100);
        loop {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(1));
            if let Some(answer) = self.exchange(&what).await?.answer.filter(|a| a.id == id) {
                return match answer.done {
                    true => Ok(()),
                    false => {
                        Err(self.refused(&what, format!("the host refused: {}", answer.detail)))
                    }
                };
            }
            if Instant::now() >= end {
                return Err(self.refused(
                    &what,
                    format!(
                        "the host did not answer within {} (node outages are carried out by the \
                         `cargo xtask outage` or `lab-run` that started this run, on the host)",
                        humantime::format_duration(ANSWER_DEADLINE)
                    ),
                ));
            }
        }
    }

    pub(super) async fn stop_node_of(&self, pod: &str) -> Result<NodeStopped, SubstrateError> {
        let what = format!("stopping the node of pod {pod}");
        let node = self.node_of(pod, &what).await?;
        // The runner drives the outage: stopping its own node would end the run.
        if let Ok(runner) = std::env::var("HOSTNAME")
            && self.node_of(&runner, &what).await.ok().as_deref() == Some(node.as_str())
        {
            return Err(self.refused(
                &what,
                format!("the runner pod {runner} runs on node {node} too; target a connector pod on another node"),
            ));
        }
        let on_node = ListParams::default()
            .labels(&super::pods::release_selector(&self.release))
            .fields(&format!("spec.nodeName={node}"));
        let listing = format!("{what}: listing the pods on node {node}");
        let pods = self
            .call(&listing, None, self.pods().list(&on_node))
            .await?;
        let pods = pods
            .items
            .into_iter()
            .filter_map(|pod: Pod| pod.metadata.name)
            .collect();
        self.ask_host(NodeAction::Stop, &node).await?;
        Ok(NodeStopped { node, pods })
    }

    pub(super) async fn start_stopped_node(&self, node: &str) -> Result<(), SubstrateError> {
        self.ask_host(NodeAction::Start, node).await
    }

    pub(super) async fn host_node_events(&self) -> Result<Vec<NodeEvent>, SubstrateError> {
        Ok(self.exchange("reading the node events").await?.events)
    }
}

#[cfg(test)]
mod tests {
    use crate::node_faults::{NodeControl, NodeEventKind, serve_host};
    use crate::substrate::Substrate;
    use crate::substrate::kube::KubeSubstrate;
    use crate::substrate::kube::mock::{MockApi, failure, list, ok};
    use http::Method;
    use serde_json::{Value, json};
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    /// The kind nodes' containers, stopped and started by the "host".
    #[derive(Default)]
    struct Containers {
        calls: Mutex<Vec<String>>,
        stopped: Arc<Mutex<Vec<String>>>,
    }

    impl NodeControl for Containers {
        fn stop(&self, node: &str) -> Result<(), String> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("docker stop {node}"));
            self.stopped.lock().unwrap().push(node.to_string());
            Ok(())
        }
        fn start(&self, node: &str) -> Result<(), String> {
            self.calls
                .lock()
                .unwrap()
                .push(format!("docker start {node}"));
            self.stopped.lock().unwrap().retain(|n| n != node);
            Ok(())
        }
    }

    fn pod(name: &str, node: &str) -> Value {
        json!({"metadata": {"name": name, "namespace": "ns", "uid": format!("u-{name}")},
               "spec": {"nodeName": node, "containers": []}})
    }

    /// The API server of a kind cluster: pods on two workers, the handshake ConfigMap
    /// (merge-patched as the API server does), and nodes Ready unless stopped.
    fn kind_cluster(stopped: Arc<Mutex<Vec<String>>>) -> MockApi {
        let pods = [
            pod("lab-crux-0", "kind-worker"),
            pod("lab-crux-1", "kind-worker2"),
            pod("lab-kafka-2", "kind-worker2"),
        ];
        let data: Mutex<BTreeMap<String, String>> = Mutex::default();
        MockApi::new(Box::new(move |seen| {
            let path = seen.path.as_str();
            if path == "/api/v1/namespaces/ns/configmaps/lab-node-faults" {
                let mut data = data.lock().unwrap();
                if seen.method == Method::PATCH {
                    for (key, value) in seen.body["data"].as_object().unwrap() {
                        data.insert(key.clone(), value.as_str().unwrap().to_string());
                    }
                }
                return Some(ok(
                    json!({"metadata": {"name": "lab-node-faults"}, "data": *data}),
                ));
            }
            if let Some(name) = path.strip_prefix("/api/v1/namespaces/ns/pods/") {
                return Some(match pods.iter().find(|p| p["metadata"]["name"] == name) {
                    Some(found) => ok(found.clone()),
                    None => failure(404, "NotFound", "no such pod"),
                });
            }
            if path == "/api/v1/namespaces/ns/pods" {
                let node = (seen.query.split("spec.nodeName%3D").nth(1))
                    .and_then(|rest| rest.split('&').next())
                    .unwrap_or_default();
                let on_node = (pods.iter())
                    .filter(|p| p["spec"]["nodeName"] == node)
                    .cloned()
                    .collect();
                return Some(ok(list("Pod", "1", on_node)));
            }
            if let Some(node) = path.strip_prefix("/api/v1/nodes/") {
                let ready = !stopped.lock().unwrap().iter().any(|n| n == node);
                return Some(ok(
                    json!({"metadata": {"name": node}, "status": {"conditions": [
                    {"type": "Ready", "status": if ready {"True"} else {"Unknown"}}]}}),
                ));
            }
            panic!("unexpected {} {path}", seen.method)
        }))
    }

    /// The "host"'s node containers, the API server, and the runner's substrate on it.
    fn kind_lab() -> (Containers, MockApi, KubeSubstrate) {
        let containers = Containers::default();
        let api = kind_cluster(containers.stopped.clone());
        let substrate = KubeSubstrate::new(
            api.client.clone(),
            "ns",
            "lab",
            crate::substrate::kube::tests::endpoints(),
        )
        .with_node_faults(true);
        (containers, api, substrate)
    }

    #[tokio::test(start_paused = true)]
    async fn the_runner_asks_and_the_host_stops_then_starts_exactly_the_target_pods_node() {
        let (containers, api, substrate) = kind_lab();
        let own = ["kind-worker".to_string(), "kind-worker2".to_string()];
        let (done, finished) = tokio::sync::oneshot::channel::<()>();
        let host = serve_host(api.client.clone(), "ns", "lab", &own, &containers, async {
            finished.await.ok();
        });
        let runner = async {
            let stopped = substrate.stop_node("lab-crux-1").await.unwrap();
            // Long enough for the host to see the node NotReady.
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            substrate.start_node(&stopped.node).await.unwrap();
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            let events = substrate.node_events().await.unwrap();
            done.send(()).unwrap();
            (stopped, events)
        };
        let (served, (stopped, events)) = tokio::join!(host, runner);
        served.unwrap();
        assert_eq!(stopped.node, "kind-worker2");
        assert_eq!(stopped.pods, ["lab-crux-1", "lab-kafka-2"]);
        assert_eq!(
            *containers.calls.lock().unwrap(),
            ["docker stop kind-worker2", "docker start kind-worker2"]
        );
        let kinds: Vec<NodeEventKind> = events.iter().map(|e| e.event).collect();
        assert_eq!(
            kinds,
            [
                NodeEventKind::Stopped,
                NodeEventKind::NotReady,
                NodeEventKind::Started,
                NodeEventKind::Ready
            ]
        );
        assert!(events.iter().all(|e| e.node == "kind-worker2"));
    }

    #[tokio::test(start_paused = true)]
    async fn the_host_refuses_a_node_that_is_not_one_of_its_own() {
        let (containers, api, substrate) = kind_lab();
        let own = ["kind-worker".to_string()];
        let (done, finished) = tokio::sync::oneshot::channel::<()>();
        let host = serve_host(api.client.clone(), "ns", "lab", &own, &containers, async {
            finished.await.ok();
        });
        let runner = async {
            let refused = substrate.stop_node("lab-crux-1").await.unwrap_err();
            done.send(()).unwrap();
            refused
        };
        let (served, refused) = tokio::join!(host, runner);
        served.unwrap();
        let message = refused.to_string();
        assert!(
            message.contains("the host refused: kind-worker2 is not a node of the kind cluster this lab created (kind-worker)"),
            "{message}"
        );
        assert!(containers.calls.lock().unwrap().is_empty());
    }
}
