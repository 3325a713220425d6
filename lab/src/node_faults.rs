//! Node outages on kind. A kind node is a Docker container on the host, out of reach of
//! the runner pod that drives the outage; so the runner asks, and the host acts. They talk
//! through one ConfigMap of the release (`<release>-node-faults`, rendered by the chart
//! only on kind): the runner writes a request, the host stops or starts the node's
//! container and writes its answer, and records when the node went NotReady and Ready
//! again, which the runner puts into `outage.json`.
//!
//! The host stops only nodes of the kind cluster the lab itself created, and each request
//! names the node, so a request can never reach another machine.

use serde::{Deserialize, Serialize};
use std::time::Duration;

const REQUEST_KEY: &str = "request";
const ANSWER_KEY: &str = "answer";
const EVENTS_KEY: &str = "events";
/// How long the runner waits for the host to carry out a request: `docker stop` waits up
/// to 10 s for the node's processes before it kills them.
pub const ANSWER_DEADLINE: Duration = Duration::from_secs(90);

pub fn config_map_name(release: &str) -> String {
    format!("{release}-node-faults")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeAction {
    Stop,
    Start,
}

/// What the runner asks of the host.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    pub id: u64,
    pub action: NodeAction,
    pub node: String,
}

/// The host's answer to the request with the same `id`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub id: u64,
    pub done: bool,
    /// Why it was not done.
    #[serde(default)]
    pub detail: String,
    /// When it was done, in milliseconds since the Unix epoch.
    pub at_ms: u64,
}

/// What happened to a node, as the host saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NodeEventKind {
    Stopped,
    NotReady,
    Started,
    Ready,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeEvent {
    pub node: String,
    pub event: NodeEventKind,
    /// Milliseconds since the Unix epoch.
    pub at_ms: u64,
}

/// The handshake's state, as the ConfigMap's data holds it (each value a JSON document).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exchange {
    pub request: Option<Request>,
    pub answer: Option<Answer>,
    pub events: Vec<NodeEvent>,
}

impl Exchange {
    /// Reads the ConfigMap's data; a value that is not the lab's JSON is an error naming it.
    pub fn from_data(
        data: &std::collections::BTreeMap<String, String>,
    ) -> Result<Exchange, String> {
        fn field<T: serde::de::DeserializeOwned>(
            data: &std::collections::BTreeMap<String, String>,
            key: &str,
        ) -> Result<Option<T>, String> {
            data.get(key)
                .filter(|text| !text.trim().is_empty())
                .map(|text| {
                    serde_json::from_str(text)
                        .map_err(|e| format!("its {key:?} is not the lab's: {e}"))
                })
                .transpose()
        }
        Ok(Exchange {
            request: field(data, REQUEST_KEY)?,
            answer: field(data, ANSWER_KEY)?,
            events: field(data, EVENTS_KEY)?.unwrap_or_default(),
        })
    }

    /// A merge patch writing the request.
    pub fn request_patch(request: &Request) -> serde_json::Value {
        serde_json::json!({ "data": { REQUEST_KEY: serde_json::to_string(request).unwrap_or_default() } })
    }

    /// A merge patch writing the host's side: its answer, if any, and the events.
    pub fn host_patch(&self) -> serde_json::Value {
        let mut data = serde_json::Map::new();
        if let Some(answer) = &self.answer {
            data.insert(
                ANSWER_KEY.into(),
                serde_json::to_string(answer).unwrap_or_default().into(),
            );
        }
        data.insert(
            EVENTS_KEY.into(),
            serde_json::to_string(&self.events)
                .unwrap_or_default()
                .into(),
        );
        serde_json::json!({ "data": data })
    }
}

/// One node outage as `outage.json` reports it: the node, the lab's pods it took down,
/// and when each thing happened, in milliseconds of the outage's timeline.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeOutage {
    pub node: String,
    pub pods: Vec<String>,
    pub stopped_ms: Option<u64>,
    pub not_ready_ms: Option<u64>,
    pub started_ms: Option<u64>,
    pub ready_ms: Option<u64>,
    /// When the last of its pods was back in service.
    pub pods_back_ms: Option<u64>,
    /// From the node's start to the last of its pods back in service.
    pub heal_ms: Option<u64>,
}

impl NodeOutage {
    /// Fills in the host's observations of this node, each put on the outage's timeline
    /// by `on_timeline` (from Unix milliseconds).
    pub fn observe(&mut self, events: &[NodeEvent], on_timeline: impl Fn(u64) -> u64) {
        let at = |kind: NodeEventKind| {
            (events.iter())
                .filter(|event| event.node == self.node && event.event == kind)
                .map(|event| on_timeline(event.at_ms))
                .next_back()
        };
        self.stopped_ms = at(NodeEventKind::Stopped);
        self.not_ready_ms = at(NodeEventKind::NotReady);
        self.started_ms = at(NodeEventKind::Started);
        self.ready_ms = at(NodeEventKind::Ready);
        self.heal_ms = self
            .started_ms
            .zip(self.pods_back_ms)
            .map(|(started, back)| back.saturating_sub(started));
    }
}

/// Stops and starts node containers; on the host, `docker stop` and `docker start`.
pub trait NodeControl {
    fn stop(&self, node: &str) -> Result<(), String>;
    fn start(&self, node: &str) -> Result<(), String>;
}

/// How often the host looks for a request and at the nodes it changed.
const HOST_POLL: Duration = Duration::from_millis(250);

/// The host's side, for as long as `until` has not completed: carries out each new
/// request on one of `own_nodes` (the containers of the kind cluster the lab created) and
/// records when each node it stopped went NotReady and each it started went Ready.
/// Returns at once when the release has no such ConfigMap (its chart has no node outages).
pub async fn serve_host(
    client: kube::Client,
    namespace: &str,
    release: &str,
    own_nodes: &[String],
    control: &dyn NodeControl,
    until: impl std::future::Future<Output = ()>,
) -> Result<(), String> {
    use k8s_openapi::api::core::v1::{ConfigMap, Node};
    use kube::api::{Patch, PatchParams};
    let config_maps: kube::Api<ConfigMap> = kube::Api::namespaced(client.clone(), namespace);
    let nodes: kube::Api<Node> = kube::Api::all(client);
    let name = config_map_name(release);
    let mut handled = None;
    // Nodes whose next readiness change is awaited: false, NotReady after a stop.
    let mut watching: Vec<(String, bool)> = Vec::new();
    tokio::pin!(until);
    loop {
        tokio::select! {
            _ = &mut until => return Ok(()),
            _ = tokio::time::sleep(HOST_POLL) => {}
        }
        let Some(config_map) = config_maps
            .get_opt(&name)
            .await
            .map_err(|e| format!("reading ConfigMap {name}: {e}"))?
        else {
            return Ok(());
        };
        let mut exchange = Exchange::from_data(&config_map.data.unwrap_or_default())
            .map_err(|detail| format!("ConfigMap {name}: {detail}"))?;
        let mut changed = false;
        // The request there before this host started was answered by an earlier one.
        let last_handled = *handled.get_or_insert(exchange.answer.as_ref().map_or(0, |a| a.id));
        if let Some(request) = exchange.request.clone().filter(|r| r.id > last_handled) {
            handled = Some(request.id);
            let outcome = if own_nodes.contains(&request.node) {
                match request.action {
                    NodeAction::Stop => control.stop(&request.node),
                    NodeAction::Start => control.start(&request.node),
                }
            } else {
                Err(format!(
                    "{} is not a node of the kind cluster this lab created ({}); the lab stops only its own",
                    request.node,
                    own_nodes.join(", ")
                ))
            };
            let at_ms = crate::substrate::unix_ms();
            if outcome.is_ok() {
                let (event, awaited) = match request.action {
                    NodeAction::Stop => (NodeEventKind::Stopped, false),
                    NodeAction::Start => (NodeEventKind::Started, true),
                };
                exchange.events.push(NodeEvent {
                    node: request.node.clone(),
                    event,
                    at_ms,
                });
                watching.retain(|(node, _)| *node != request.node);
                watching.push((request.node.clone(), awaited));
            }
            exchange.answer = Some(Answer {
                id: request.id,
                done: outcome.is_ok(),
                detail: outcome.err().unwrap_or_default(),
                at_ms,
            });
            changed = true;
        }
        for (node, awaited) in std::mem::take(&mut watching) {
            let ready = nodes
                .get_opt(&node)
                .await
                .map_err(|e| format!("reading node {node}: {e}"))?
                .is_some_and(|found| crate::substrate::kube::cluster::is_ready(&found));
            if ready == awaited {
                exchange.events.push(NodeEvent {
                    node,
                    event: if ready {
                        NodeEventKind::Ready
                    } else {
                        NodeEventKind::NotReady
                    },
                    at_ms: crate::substrate::unix_ms(),
                });
                changed = true;
            } else {
                watching.push((node, awaited));
            }
        }
        if changed {
            config_maps
                .patch(
                    &name,
                    &PatchParams::default(),
                    &Patch::Merge(exchange.host_patch()),
                )
                .await
                .map_err(|e| format!("answering in ConfigMap {name}: {e}"))?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exchange_round_trips_through_config_map_data() {
        let request = Request {
            id: 2,
            action: NodeAction::Stop,
            node: "egeria-ha-lab-worker2".into(),
        };
        let answer = Answer {
            id: 2,
            done: true,
            detail: String::new(),
            at_ms: 5,
        };
        let events = vec![NodeEvent {
            node: request.node.clone(),
            event: NodeEventKind::Stopped,
            at_ms: 5,
        }];
        let mut data = std::collections::BTreeMap::new();
        let host = Exchange {
            request: None,
            answer: Some(answer.clone()),
            events: events.clone(),
        };
        for patch in [Exchange::request_patch(&request), host.host_patch()] {
            for (key, value) in patch["data"].as_object().unwrap() {
                data.insert(key.clone(), value.as_str().unwrap().to_string());
            }
        }
        assert_eq!(
            Exchange::from_data(&data).unwrap(),
            Exchange {
                request: Some(request),
                answer: Some(answer),
                events
            }
        );
        data.insert("answer".into(), "not json".into());
        assert!(
            Exchange::from_data(&data)
                .unwrap_err()
                .starts_with("its \"answer\" is not the lab's")
        );
    }

    #[test]
    fn an_outage_reads_the_host_events_of_its_node_on_the_timeline() {
        let event = |node: &str, event, at_ms| NodeEvent {
            node: node.into(),
            event,
            at_ms,
        };
        let events = [
            event("w1", NodeEventKind::Stopped, 10_500),
            event("w2", NodeEventKind::Stopped, 10_600),
            event("w1", NodeEventKind::NotReady, 50_000),
            event("w1", NodeEventKind::Started, 60_000),
            event("w1", NodeEventKind::Ready, 64_000),
        ];
        let mut outage = NodeOutage {
            node: "w1".into(),
            pods_back_ms: Some(80_000),
            ..NodeOutage::default()
        };
        outage.observe(&events, |unix_ms| unix_ms - 10_000);
        assert_eq!(outage.stopped_ms, Some(500));
        assert_eq!(outage.not_ready_ms, Some(40_000));
        assert_eq!(outage.started_ms, Some(50_000));
        assert_eq!(outage.ready_ms, Some(54_000));
        assert_eq!(outage.heal_ms, Some(30_000));
    }
}
