//! The narrow interface between the runner's flows and whatever hosts the pods:
//! list pods, resolve addresses, mark a pod ready, kill or delete a pod, watch pods.

pub mod kube;
pub mod local;

use serde::{Deserialize, Serialize};
use std::future::Future;
use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// An OMAG Server Platform hosting the Crux connector (`crux-<i>`).
    Connector,
    /// A member of the golden store (`kafka-<j>`).
    GoldenStore,
    /// The platform hosting the Performance Test Suite.
    Pts,
}

impl Role {
    pub fn label(self) -> &'static str {
        match self {
            Role::Connector => "connector",
            Role::GoldenStore => "golden-store",
            Role::Pts => "pts",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PodPhase {
    Running,
    /// The pod's process has ended and its replacement is on its way.
    Restarting,
    /// Stopped on purpose (lab-down).
    Terminated,
}

/// Milliseconds since the Unix epoch, the clock every process of a lab shares.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodInfo {
    pub name: String,
    pub role: Role,
    pub ordinal: u16,
    /// Changes every time the pod is replaced: a new uid is a new pod with fresh state.
    pub uid: String,
    /// `host:port` reaching this pod directly (the headless address).
    pub address: String,
    pub phase: PodPhase,
    /// In the load-balancing service's rotation (readiness-gate semantics).
    pub ready: bool,
    /// When `ready` last became true (Unix time, ms), where the substrate stamps it at the
    /// source (local): a watcher's own clock would see it late by its watch's delay.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_since_unix_ms: Option<u64>,
    pub restarts: u32,
    /// Process id on the local substrate, where a pod is a process.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
}

impl PodInfo {
    /// Base URL of the OMAG Server Platform on this pod.
    pub fn platform_url(&self) -> String {
        format!("https://{}", self.address)
    }
}

/// A consistent view of every pod; `generation` grows with every change.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PodList {
    pub generation: u64,
    pub pods: Vec<PodInfo>,
}

impl PodList {
    pub fn with_role(&self, role: Role) -> impl Iterator<Item = &PodInfo> {
        self.pods.iter().filter(move |pod| pod.role == role)
    }

    pub fn get(&self, name: &str) -> Option<&PodInfo> {
        self.pods.iter().find(|pod| pod.name == name)
    }
}

/// A golden-store member leading something whose loss forces an election.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leadership {
    /// A topic of the lab's, or [`crate::kafka::CONTROLLER`].
    pub of: String,
    pub member: String,
}

/// Where the shared services answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// URL root of the connector load-balancing service: every server's `server-url-root`.
    pub connector_service_url: String,
    /// `bootstrap.servers` of the golden store.
    pub golden_store_bootstrap: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SubstrateError {
    #[error("the {substrate} substrate at {endpoint} did not answer: {detail}")]
    Unreachable {
        substrate: &'static str,
        endpoint: String,
        detail: String,
    },
    #[error("no pod named {0:?} in this lab")]
    UnknownPod(String),
    #[error("the {substrate} substrate refused {action}: {detail}")]
    Refused {
        substrate: &'static str,
        action: String,
        detail: String,
    },
}

pub trait Substrate: Sync {
    fn name(&self) -> &'static str;

    fn endpoints(&self) -> &Endpoints;

    fn list_pods(&self) -> impl Future<Output = Result<PodList, SubstrateError>> + Send;

    /// Waits (up to `timeout`) for a pod list newer than `after`; returns the current
    /// list when nothing changed in time.
    fn watch_pods(
        &self,
        after: u64,
        timeout: Duration,
    ) -> impl Future<Output = Result<PodList, SubstrateError>> + Send;

    /// Puts the pod in or out of the load-balancing rotation (its readiness gate).
    /// Refused when the pod is no longer the one with `uid` (it was replaced meanwhile),
    /// so a replacement is never marked ready on the strength of its predecessor.
    fn set_ready(
        &self,
        pod: &str,
        uid: &str,
        ready: bool,
    ) -> impl Future<Output = Result<(), SubstrateError>> + Send;

    /// Ends the pod at once (no grace period); it is replaced with fresh state.
    fn kill_pod(&self, pod: &str) -> impl Future<Output = Result<(), SubstrateError>> + Send;

    /// Ends the pod with its normal grace period; it is replaced with fresh state.
    fn delete_pod(&self, pod: &str) -> impl Future<Output = Result<(), SubstrateError>> + Send;

    /// Which golden-store member leads what, now: every partition of the lab's topics
    /// and the active controller, asked of Kafka (one implementation for every substrate).
    fn leaderships(&self) -> impl Future<Output = Result<Vec<Leadership>, SubstrateError>> + Send {
        crate::kafka::leaderships(self)
    }

    /// Whether [`Substrate::pause_pod`] can work here, so a scenario that needs it is
    /// refused before it starts rather than halfway.
    fn can_pause(&self) -> bool;

    /// Freezes the pod's processes (a hung pod: it neither answers nor dies).
    fn pause_pod(&self, pod: &str) -> impl Future<Output = Result<(), SubstrateError>> + Send;

    /// Thaws a paused pod.
    fn resume_pod(&self, pod: &str) -> impl Future<Output = Result<(), SubstrateError>> + Send;

    /// Whether [`Substrate::restart_pod`] can work here.
    fn can_restart_in_place(&self) -> bool;

    /// Restarts the pod's process in place: same uid, restart count one up, readiness
    /// gate kept, state lost (a container restarted after an OOM kill).
    fn restart_pod(&self, pod: &str) -> impl Future<Output = Result<(), SubstrateError>> + Send;

    /// Whether [`Substrate::stop_node`] can work here: only where the nodes are the lab's
    /// own (kind), never on a cluster of someone else's.
    fn can_stop_nodes(&self) -> bool {
        false
    }

    /// Stops the node hosting `pod`, with every pod on it; returns the node and the lab's
    /// pods that were on it.
    fn stop_node(
        &self,
        pod: &str,
    ) -> impl Future<Output = Result<NodeStopped, SubstrateError>> + Send {
        let refusal = no_nodes(self.name(), format!("stopping the node of pod {pod}"));
        async move { Err(refusal) }
    }

    /// Starts again a node [`Substrate::stop_node`] stopped.
    fn start_node(&self, node: &str) -> impl Future<Output = Result<(), SubstrateError>> + Send {
        let refusal = no_nodes(self.name(), format!("starting node {node}"));
        async move { Err(refusal) }
    }

    /// What the host saw of the nodes it stopped and started (NotReady, Ready).
    fn node_events(
        &self,
    ) -> impl Future<Output = Result<Vec<crate::node_faults::NodeEvent>, SubstrateError>> + Send
    {
        async { Ok(Vec::new()) }
    }
}

/// A node [`Substrate::stop_node`] stopped, and the lab's pods that were on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeStopped {
    pub node: String,
    pub pods: Vec<String>,
}

fn no_nodes(substrate: &'static str, action: String) -> SubstrateError {
    SubstrateError::Refused {
        substrate,
        action,
        detail: "the lab stops only nodes it created itself (kind's node containers)".into(),
    }
}
