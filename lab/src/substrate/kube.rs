//! The Kubernetes substrate: the pods of a Helm release of `charts/ec-ha-crux`, driven
//! through the API server with kube-rs. The runner uses it from inside the cluster (the
//! runner pod); the host uses the workload wait and the diagnostics with the lab's own
//! kind kubeconfig.

pub mod cluster;
mod diagnostics;
#[cfg(test)]
pub(crate) mod mock;
mod nodes;
mod pods;
mod restart;
#[cfg(test)]
mod tests;
mod workloads;

pub use diagnostics::dump_diagnostics;
pub use workloads::wait_for_workloads;

use super::{Endpoints, PodList, Substrate, SubstrateError};
use crate::state::KubeState;
use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;
pub use kube::Client;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, WatchEvent, WatchParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Config};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

const NAME: &str = "kube";
/// Every call but a watch is a single round trip to the API server.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The API server ends a watch after at most this long (it caps `timeoutSeconds`).
const MAX_WATCH_SECONDS: u32 = 290;

#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    #[error("cannot use the kubeconfig {origin}: {detail}")]
    Kubeconfig { origin: String, detail: String },
    #[error("cannot reach the Kubernetes API from inside the cluster: {0}")]
    InCluster(#[source] kube::config::InClusterError),
    #[error("cannot build a Kubernetes client: {0}")]
    Client(#[source] kube::Error),
    #[error("{action}: {detail}")]
    Api { action: String, detail: String },
    #[error(
        "the workloads of release {release} in namespace {namespace} were not ready within {}: {}",
        humantime::format_duration(*deadline),
        pending.join("; ")
    )]
    NotReady {
        release: String,
        namespace: String,
        deadline: Duration,
        pending: Vec<String>,
    },
    #[error("pod {pod} cannot pull its image {image}: {detail}")]
    ImagePull {
        pod: String,
        image: String,
        detail: String,
    },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Where a kubeconfig comes from: a file the lab names, or kube's default files.
fn kubeconfig_source(path: Option<&Path>) -> String {
    match path {
        Some(path) => path.display().to_string(),
        None => "$KUBECONFIG or ~/.kube/config".to_string(),
    }
}

/// A client for the cluster of the kubeconfig at `path` (`None`: `$KUBECONFIG` or
/// `~/.kube/config`, as kubectl reads them), and the API server's URL. The context is the
/// one named; when none is named the file must hold exactly one context (as the kubeconfig
/// `kind` writes for the lab's own cluster does), so a shared kubeconfig never sends the lab
/// to whichever cluster happens to be current.
pub async fn cluster_client(
    path: Option<&Path>,
    context: Option<&str>,
) -> Result<(Client, String), KubeError> {
    let kubeconfig_error = |detail: String| KubeError::Kubeconfig {
        origin: kubeconfig_source(path),
        detail,
    };
    let kubeconfig = match path {
        Some(path) => Kubeconfig::read_from(path),
        None => Kubeconfig::read(),
    }
    .map_err(|e| kubeconfig_error(e.to_string()))?;
    let context = choose_context(&kubeconfig, context).map_err(kubeconfig_error)?;
    let options = KubeConfigOptions {
        context: Some(context),
        ..KubeConfigOptions::default()
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| kubeconfig_error(e.to_string()))?;
    let server = config.cluster_url.to_string();
    Ok((Client::try_from(config).map_err(KubeError::Client)?, server))
}

/// [`cluster_client`] without the server's URL.
pub async fn client_from_kubeconfig(
    path: Option<&Path>,
    context: Option<&str>,
) -> Result<Client, KubeError> {
    Ok(cluster_client(path, context).await?.0)
}

/// A client for a lab on Kubernetes, from its record: its kubeconfig and its context only.
pub async fn client_for(kube: &KubeState) -> Result<Client, KubeError> {
    client_from_kubeconfig(kube.kubeconfig.as_deref(), Some(&kube.context)).await
}

fn choose_context(kubeconfig: &Kubeconfig, wanted: Option<&str>) -> Result<String, String> {
    let names: Vec<&str> = kubeconfig
        .contexts
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    match (wanted, names.as_slice()) {
        (Some(wanted), _) if names.contains(&wanted) => Ok(wanted.to_string()),
        (Some(wanted), _) => Err(format!(
            "it has no context {wanted:?} (it has: {})",
            names.join(", ")
        )),
        (None, [only]) => Ok(only.to_string()),
        (None, []) => Err("it holds no context".to_string()),
        (None, several) => Err(format!(
            "it holds several contexts ({}): name the one to use",
            several.join(", ")
        )),
    }
}

/// A client with the pod's service account, for the runner pod.
pub async fn in_cluster_client() -> Result<Client, KubeError> {
    let config = Config::incluster().map_err(KubeError::InCluster)?;
    Client::try_from(config).map_err(KubeError::Client)
}

/// The pods of one release of the chart, in one namespace.
pub struct KubeSubstrate {
    // The client, not an `Api<Pod>`: that is three times its size, and the runner keeps
    // this substrate in an enum next to the local one.
    client: Client,
    namespace: String,
    release: String,
    endpoints: Endpoints,
    /// The last opaque (non-numeric) resource version seen and the generation it got.
    opaque_version: Mutex<Option<(String, u64)>>,
    /// Whether the host stops and starts nodes for this lab (kind, a cluster it created).
    node_faults: bool,
}

impl KubeSubstrate {
    pub fn new(client: Client, namespace: &str, release: &str, endpoints: Endpoints) -> Self {
        Self {
            client,
            namespace: namespace.to_string(),
            release: release.to_string(),
            endpoints,
            opaque_version: Mutex::new(None),
            node_faults: false,
        }
    }

    /// With node outages carried out by the host (the chart's `runner.nodeFaults`, on kind).
    pub fn with_node_faults(self, node_faults: bool) -> Self {
        Self {
            node_faults,
            ..self
        }
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// Resource versions are etcd revisions, numbers, on every API server in use; should
    /// one not be, the list still gets a generation that grows with every new version.
    fn generation(&self, resource_version: &str) -> u64 {
        if let Ok(number) = resource_version.parse() {
            return number;
        }
        let mut last = self.opaque_version.lock().expect("never poisoned");
        match &*last {
            Some((version, generation)) if version == resource_version => *generation,
            _ => {
                let generation = last.as_ref().map_or(1, |(_, generation)| generation + 1);
                *last = Some((resource_version.to_string(), generation));
                generation
            }
        }
    }

    /// The resource version a generation stands for, when it is known.
    fn resource_version(&self, generation: u64) -> Option<String> {
        match &*self.opaque_version.lock().expect("never poisoned") {
            None => Some(generation.to_string()),
            Some((version, known)) => (*known == generation).then(|| version.clone()),
        }
    }

    fn unreachable(&self, action: &str, detail: impl std::fmt::Display) -> SubstrateError {
        SubstrateError::Unreachable {
            substrate: NAME,
            endpoint: format!("the API server (namespace {})", self.namespace),
            detail: format!("{action}: {detail}"),
        }
    }

    /// `action` refused, for `detail`.
    fn refused(&self, action: &str, detail: impl Into<String>) -> SubstrateError {
        SubstrateError::Refused {
            substrate: NAME,
            action: action.to_string(),
            detail: detail.into(),
        }
    }

    fn api_error(&self, action: &str, pod: Option<&str>, error: kube::Error) -> SubstrateError {
        match (error, pod) {
            (kube::Error::Api(status), Some(pod)) if status.code == 404 => {
                SubstrateError::UnknownPod(pod.to_string())
            }
            (kube::Error::Api(status), _) => self.refused(
                action,
                format!("{} {}: {}", status.code, status.reason, status.message),
            ),
            (other, _) => self.unreachable(action, other),
        }
    }

    /// One API call, bounded by [`CALL_TIMEOUT`].
    async fn call<T>(
        &self,
        action: &str,
        pod: Option<&str>,
        request: impl Future<Output = Result<T, kube::Error>>,
    ) -> Result<T, SubstrateError> {
        match tokio::time::timeout(CALL_TIMEOUT, request).await {
            Ok(answer) => answer.map_err(|e| self.api_error(action, pod, e)),
            Err(_) => Err(self.unreachable(
                action,
                format!(
                    "no answer within {}",
                    humantime::format_duration(CALL_TIMEOUT)
                ),
            )),
        }
    }

    /// Returns once a pod of the release changed after `version` (or the version is too
    /// old to tell); pends while nothing changes.
    async fn first_change(&self, version: &str, timeout: Duration) -> Result<(), SubstrateError> {
        let action = "watch pods";
        let seconds = timeout.as_secs().clamp(1, MAX_WATCH_SECONDS.into()) as u32;
        let params = WatchParams::default()
            .labels(&pods::release_selector(&self.release))
            .timeout(seconds);
        loop {
            let mut events = match self.pods().watch(&params, version).await {
                Ok(events) => events.boxed(),
                Err(kube::Error::Api(status)) if status.code == 410 => return Ok(()),
                Err(e) => return Err(self.api_error(action, None, e)),
            };
            // A watch the server ended early is re-issued from the same version.
            while let Some(event) = events.next().await {
                match event {
                    Ok(WatchEvent::Bookmark(_)) => {}
                    Ok(WatchEvent::Error(status)) if status.code == 410 => return Ok(()),
                    Ok(WatchEvent::Error(status)) => {
                        return Err(self.api_error(action, None, kube::Error::Api(status)));
                    }
                    Ok(_) => return Ok(()),
                    Err(e) => return Err(self.api_error(action, None, e)),
                }
            }
        }
    }
}

impl Substrate for KubeSubstrate {
    fn name(&self) -> &'static str {
        NAME
    }

    fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    async fn list_pods(&self) -> Result<PodList, SubstrateError> {
        let params = ListParams::default().labels(&pods::release_selector(&self.release));
        let list = self
            .call("list pods", None, self.pods().list(&params))
            .await?;
        let version = list.metadata.resource_version.unwrap_or_default();
        Ok(PodList {
            generation: self.generation(&version),
            pods: pods::pod_infos(&list.items, &self.namespace, &self.release),
        })
    }

    async fn watch_pods(&self, after: u64, timeout: Duration) -> Result<PodList, SubstrateError> {
        // Only a generation this substrate handed out can be watched from; for any
        // other the current list is the answer.
        if let Some(version) = self.resource_version(after)
            && let Ok(watched) =
                tokio::time::timeout(timeout, self.first_change(&version, timeout)).await
        {
            watched?;
        }
        self.list_pods().await
    }

    async fn set_ready(&self, pod: &str, uid: &str, ready: bool) -> Result<(), SubstrateError> {
        let action = format!(
            "mark pod {pod} {}",
            if ready { "ready" } else { "not ready" }
        );
        let current = self.call(&action, Some(pod), self.pods().get(pod)).await?;
        let current_uid = current.metadata.uid.as_deref().unwrap_or_default();
        if current_uid != uid {
            return Err(SubstrateError::Refused {
                substrate: NAME,
                action,
                detail: format!(
                    "pod {pod} was replaced: it is now uid {current_uid}, not uid {uid}"
                ),
            });
        }
        let status = if ready { "True" } else { "False" };
        // The transition time moves only when the status does, as the kubelet keeps it.
        let since = pods::gate_condition(&current)
            .filter(|condition| condition.status == status)
            .and_then(|condition| condition.last_transition_time.clone())
            .unwrap_or(Time(Timestamp::now()));
        // A strategic merge patch merges `status.conditions` by `type`, so the kubelet's
        // own conditions stay. `metadata.uid` closes the race between the get above and
        // the patch: uid is immutable, so if the pod was replaced meanwhile the API server
        // rejects the patch (422 Invalid, "field is immutable"; 404 if it is simply gone)
        // instead of marking the new pod ready.
        let patch = serde_json::json!({
            "metadata": { "uid": uid },
            "status": { "conditions": [{
                "type": pods::SERVING_GATE,
                "status": status,
                "reason": if ready { "ServerStarted" } else { "NotServing" },
                "message": "set by the egeria-ha-lab runner",
                "lastTransitionTime": since,
            }]},
        });
        let params = PatchParams::default();
        self.call(
            &action,
            Some(pod),
            self.pods()
                .patch_status(pod, &params, &Patch::Strategic(&patch)),
        )
        .await
        .map(drop)
    }

    async fn kill_pod(&self, pod: &str) -> Result<(), SubstrateError> {
        let params = DeleteParams::default().grace_period(0);
        self.call(
            &format!("kill pod {pod}"),
            Some(pod),
            self.pods().delete(pod, &params),
        )
        .await
        .map(drop)
    }

    async fn delete_pod(&self, pod: &str) -> Result<(), SubstrateError> {
        let params = DeleteParams::default();
        self.call(
            &format!("delete pod {pod}"),
            Some(pod),
            self.pods().delete(pod, &params),
        )
        .await
        .map(drop)
    }

    fn can_pause(&self) -> bool {
        false
    }

    /// Kubernetes has no API to freeze a pod's processes.
    async fn pause_pod(&self, pod: &str) -> Result<(), SubstrateError> {
        Err(not_supported("pause", pod))
    }

    async fn resume_pod(&self, pod: &str) -> Result<(), SubstrateError> {
        Err(not_supported("resume", pod))
    }

    fn can_restart_in_place(&self) -> bool {
        true
    }

    /// Ends the main container's process from inside it; the kubelet restarts it in place.
    async fn restart_pod(&self, pod: &str) -> Result<(), SubstrateError> {
        self.restart_in_place(pod).await
    }

    fn can_stop_nodes(&self) -> bool {
        self.node_faults
    }

    async fn stop_node(&self, pod: &str) -> Result<super::NodeStopped, SubstrateError> {
        self.stop_node_of(pod).await
    }

    async fn start_node(&self, node: &str) -> Result<(), SubstrateError> {
        self.start_stopped_node(node).await
    }

    async fn node_events(&self) -> Result<Vec<crate::node_faults::NodeEvent>, SubstrateError> {
        self.host_node_events().await
    }
}

fn not_supported(action: &str, pod: &str) -> SubstrateError {
    SubstrateError::Refused {
        substrate: "kube",
        action: format!("{action} pod {pod}"),
        detail:
            "not supported on this substrate (Kubernetes cannot freeze a pod); use kill or delete"
                .into(),
    }
}
