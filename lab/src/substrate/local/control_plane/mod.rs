//! The local substrate's control plane: one process of the lab that plays the parts
//! Kubernetes plays on a cluster.
//!
//! - a StatefulSet controller: a pod whose process ends is started again under the same
//!   name and address, with a new uid and none of its former in-memory state (or, asked
//!   to restart it in place, under the same uid with its restart count up, as a kubelet
//!   restarts a container);
//! - kube-proxy: the connector service is a TCP round-robin over *ready* connector pods;
//! - readiness gates: a connector pod joins the rotation only when the runner says so;
//! - the API server: a small HTTP API that [`crate::substrate::local`] speaks.

mod api;
mod balancer;
mod supervisor;

pub use supervisor::POD_TMP;

use crate::substrate::{PodInfo, Role};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// Everything the control plane needs, written by `lab-up` into a JSON file.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ControlPlaneSpec {
    pub api_address: SocketAddr,
    pub connector_service_address: SocketAddr,
    pub log_dir: PathBuf,
    /// Grace period of a `delete` before the process is killed.
    pub grace_period_ms: u64,
    /// Pause before a dead pod is started again (kubelet's restart back-off, shortened).
    pub restart_delay_ms: u64,
    pub pods: Vec<PodSpec>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PodSpec {
    pub name: String,
    pub role: Role,
    pub ordinal: u16,
    /// The address the pod serves on (what the headless service would resolve to).
    pub address: SocketAddr,
    pub program: PathBuf,
    pub args: Vec<String>,
    /// The pod's working folder, emptied before every start of its process (a replaced
    /// or restarted pod keeps nothing); `None`: the control plane's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workdir: Option<PathBuf>,
}

/// API payloads, shared with the client in [`crate::substrate::local`].
pub mod wire {
    use serde::{Deserialize, Serialize};
    use std::collections::BTreeMap;

    #[derive(Debug, Serialize, Deserialize)]
    pub struct SetReady {
        pub ready: bool,
        /// The pod identity the caller configured; a replaced pod refuses the change.
        pub uid: String,
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub struct WatchQuery {
        /// Answer once the generation is above this one…
        pub after: Option<u64>,
        /// …or after this long, whichever comes first.
        pub timeout_ms: Option<u64>,
    }

    /// Connections the connector service handed to each pod since start.
    #[derive(Debug, Default, Clone, Serialize, Deserialize)]
    pub struct ServiceStats {
        pub address: String,
        pub connections: BTreeMap<String, u64>,
        /// Connections refused because no connector pod was ready.
        pub refused: u64,
        /// Connections whose chosen pod did not accept them.
        pub failed: u64,
    }

    #[derive(Debug, Serialize, Deserialize)]
    pub struct ApiError {
        pub error: String,
    }
}

/// The shared view of every pod; every change bumps `generation` and wakes watchers.
#[derive(Clone, Debug)]
struct Cluster {
    generation: u64,
    pods: Vec<PodInfo>,
}

type ClusterState = Arc<watch::Sender<Cluster>>;

fn update_pod(state: &ClusterState, name: &str, change: impl FnOnce(&mut PodInfo)) -> bool {
    let mut found = false;
    state.send_if_modified(|cluster| {
        if let Some(pod) = cluster.pods.iter_mut().find(|pod| pod.name == name) {
            change(pod);
            cluster.generation += 1;
            found = true;
        }
        found
    });
    found
}

/// How long stopping every pod may take: the grace period plus a margin for SIGKILL.
fn stop_deadline(spec: &ControlPlaneSpec) -> Duration {
    Duration::from_millis(spec.grace_period_ms) + Duration::from_secs(5)
}

/// Runs the control plane until SIGTERM, SIGINT or `POST /v1/shutdown`; then stops every
/// pod (SIGTERM, then SIGKILL after the grace period) before returning.
pub async fn run(spec: ControlPlaneSpec) -> anyhow::Result<()> {
    use anyhow::Context;
    use tokio::signal::unix::{SignalKind, signal};

    std::fs::create_dir_all(&spec.log_dir)
        .with_context(|| format!("creating log folder {}", spec.log_dir.display()))?;
    let pods = spec
        .pods
        .iter()
        .map(|pod| PodInfo {
            name: pod.name.clone(),
            role: pod.role,
            ordinal: pod.ordinal,
            uid: String::new(),
            address: pod.address.to_string(),
            phase: crate::substrate::PodPhase::Restarting,
            ready: false,
            ready_since_unix_ms: None,
            restarts: 0,
            pid: None,
        })
        .collect();
    let state: ClusterState = Arc::new(
        watch::channel(Cluster {
            generation: 0,
            pods,
        })
        .0,
    );

    let api_listener = tokio::net::TcpListener::bind(spec.api_address)
        .await
        .with_context(|| format!("binding the control plane API on {}", spec.api_address))?;
    let service_listener = tokio::net::TcpListener::bind(spec.connector_service_address)
        .await
        .with_context(|| {
            format!(
                "binding the connector service on {}",
                spec.connector_service_address
            )
        })?;

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let supervisors = supervisor::start_all(&spec, state.clone(), shutdown_rx.clone());
    let stats = balancer::Stats::new(spec.connector_service_address);
    let balancer = tokio::spawn(balancer::serve(
        service_listener,
        state.clone(),
        stats.clone(),
    ));
    let api = tokio::spawn(api::serve(
        api_listener,
        api::Shared {
            state: state.clone(),
            stats,
            supervisors: supervisors.clone(),
            shutdown: shutdown_tx.clone(),
            stop_deadline: stop_deadline(&spec),
        },
    ));

    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut shutdown_requested = shutdown_rx.clone();
    tokio::select! {
        _ = terminate.recv() => eprintln!("control plane: SIGTERM, stopping every pod"),
        _ = interrupt.recv() => eprintln!("control plane: SIGINT, stopping every pod"),
        _ = shutdown_requested.wait_for(|stop| *stop) => eprintln!("control plane: shutdown requested, stopping every pod"),
    }
    shutdown_tx.send_replace(true);
    balancer.abort();
    let still_alive = supervisors.wait_all_stopped(stop_deadline(&spec)).await;
    // The API drains in-flight calls (the shutdown call among them) before it ends.
    api.await.context("control plane API task")??;
    if still_alive > 0 {
        anyhow::bail!("{still_alive} pods did not stop in time");
    }
    eprintln!("control plane: every pod stopped");
    Ok(())
}
