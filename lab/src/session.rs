//! An up-and-running lab, as the runner commands after `lab-up` find it: on the local
//! substrate from the host, or inside the cluster from the runner pod.

use crate::egeria::EgeriaClient;
use crate::state::{LabDir, LabState, StateError, SubstrateState};
use crate::substrate::kube::KubeSubstrate;
use crate::substrate::local::LocalSubstrate;
use crate::substrate::{Endpoints, PodList, Substrate, SubstrateError};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("no lab is up (nothing recorded in {0}); start one with `cargo xtask lab-up`")]
    NoLab(String),
    #[error(
        "the lab recorded in {state} (run {run_id}) is no longer running; run `cargo xtask lab-down` to forget it, then `cargo xtask lab-up`"
    )]
    Gone { state: String, run_id: String },
    #[error(
        "the lab recorded in {0} runs on {1}: its runner flows run inside the cluster's runner pod (use `cargo xtask`, which execs them there)"
    )]
    OnKubernetes(String, &'static str),
    #[error("the runner cannot reach the Kubernetes API from inside the cluster: {0}")]
    InCluster(String),
    #[error(transparent)]
    State(#[from] StateError),
}

/// The substrate of the lab at hand.
pub enum LabSubstrate {
    Local(LocalSubstrate),
    Kube(KubeSubstrate),
}

pub struct Session {
    pub dir: LabDir,
    pub state: LabState,
    pub substrate: LabSubstrate,
    pub client: EgeriaClient,
}

impl Session {
    pub async fn open(dir: LabDir) -> Result<Self, SessionError> {
        let state_path = dir.state_path().display().to_string();
        let state = dir
            .load_state()?
            .ok_or_else(|| SessionError::NoLab(state_path.clone()))?;
        let substrate = match &state.substrate {
            SubstrateState::Local(local) => {
                if !crate::substrate::local::is_control_plane(local.control_plane_pid) {
                    return Err(SessionError::Gone {
                        state: state_path,
                        run_id: state.run_id,
                    });
                }
                LabSubstrate::Local(LocalSubstrate::new(
                    local.api_address,
                    state.endpoints.clone(),
                ))
            }
            SubstrateState::Kube(_) => {
                return Err(SessionError::OnKubernetes(state_path, state.kind().label()));
            }
            SubstrateState::InCluster(cluster) => {
                let client = crate::substrate::kube::in_cluster_client()
                    .await
                    .map_err(|e| SessionError::InCluster(e.to_string()))?;
                LabSubstrate::Kube(
                    KubeSubstrate::new(
                        client,
                        &cluster.namespace,
                        &state.settings.release,
                        state.endpoints.clone(),
                    )
                    .with_node_faults(cluster.node_faults),
                )
            }
        };
        let mut client = EgeriaClient::new(&state.settings.user);
        if matches!(state.substrate, SubstrateState::Local(_)) {
            client = client.with_pod_logs(state.run_dir.join("logs"));
        }
        Ok(Self {
            dir,
            state,
            substrate,
            client,
        })
    }
}

impl Substrate for LabSubstrate {
    fn name(&self) -> &'static str {
        match self {
            LabSubstrate::Local(s) => s.name(),
            LabSubstrate::Kube(s) => s.name(),
        }
    }

    fn endpoints(&self) -> &Endpoints {
        match self {
            LabSubstrate::Local(s) => s.endpoints(),
            LabSubstrate::Kube(s) => s.endpoints(),
        }
    }

    async fn list_pods(&self) -> Result<PodList, SubstrateError> {
        match self {
            LabSubstrate::Local(s) => s.list_pods().await,
            LabSubstrate::Kube(s) => s.list_pods().await,
        }
    }

    async fn watch_pods(&self, after: u64, timeout: Duration) -> Result<PodList, SubstrateError> {
        match self {
            LabSubstrate::Local(s) => s.watch_pods(after, timeout).await,
            LabSubstrate::Kube(s) => s.watch_pods(after, timeout).await,
        }
    }

    async fn set_ready(&self, pod: &str, uid: &str, ready: bool) -> Result<(), SubstrateError> {
        match self {
            LabSubstrate::Local(s) => s.set_ready(pod, uid, ready).await,
            LabSubstrate::Kube(s) => s.set_ready(pod, uid, ready).await,
        }
    }

    async fn kill_pod(&self, pod: &str) -> Result<(), SubstrateError> {
        match self {
            LabSubstrate::Local(s) => s.kill_pod(pod).await,
            LabSubstrate::Kube(s) => s.kill_pod(pod).await,
        }
    }

    async fn delete_pod(&self, pod: &str) -> Result<(), SubstrateError> {
        match self {
            LabSubstrate::Local(s) => s.delete_pod(pod).await,
            LabSubstrate::Kube(s) => s.delete_pod(pod).await,
        }
    }

    fn can_pause(&self) -> bool {
        match self {
            LabSubstrate::Local(s) => s.can_pause(),
            LabSubstrate::Kube(s) => s.can_pause(),
        }
    }

    async fn pause_pod(&self, pod: &str) -> Result<(), SubstrateError> {
        match self {
            LabSubstrate::Local(s) => s.pause_pod(pod).await,
            LabSubstrate::Kube(s) => s.pause_pod(pod).await,
        }
    }

    fn can_restart_in_place(&self) -> bool {
        match self {
            LabSubstrate::Local(s) => s.can_restart_in_place(),
            LabSubstrate::Kube(s) => s.can_restart_in_place(),
        }
    }

    async fn restart_pod(&self, pod: &str) -> Result<(), SubstrateError> {
        match self {
            LabSubstrate::Local(s) => s.restart_pod(pod).await,
            LabSubstrate::Kube(s) => s.restart_pod(pod).await,
        }
    }

    fn can_stop_nodes(&self) -> bool {
        match self {
            LabSubstrate::Local(s) => s.can_stop_nodes(),
            LabSubstrate::Kube(s) => s.can_stop_nodes(),
        }
    }

    async fn stop_node(&self, pod: &str) -> Result<crate::substrate::NodeStopped, SubstrateError> {
        match self {
            LabSubstrate::Local(s) => s.stop_node(pod).await,
            LabSubstrate::Kube(s) => s.stop_node(pod).await,
        }
    }

    async fn start_node(&self, node: &str) -> Result<(), SubstrateError> {
        match self {
            LabSubstrate::Local(s) => s.start_node(node).await,
            LabSubstrate::Kube(s) => s.start_node(node).await,
        }
    }

    async fn node_events(&self) -> Result<Vec<crate::node_faults::NodeEvent>, SubstrateError> {
        match self {
            LabSubstrate::Local(s) => s.node_events().await,
            LabSubstrate::Kube(s) => s.node_events().await,
        }
    }

    async fn resume_pod(&self, pod: &str) -> Result<(), SubstrateError> {
        match self {
            LabSubstrate::Local(s) => s.resume_pod(pod).await,
            LabSubstrate::Kube(s) => s.resume_pod(pod).await,
        }
    }
}
