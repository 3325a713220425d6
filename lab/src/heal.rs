//! Self-healing: a replaced connector pod comes back with fresh state — unconfigured — so
//! the runner deploys the stored common configuration to it, starts its server, and only
//! then puts it into the rotation (its readiness gate). Upstream's TCP probe routed traffic
//! to such a pod at once; here the load balancer never sees an unconfigured pod.

use crate::bootstrap::{BootstrapOptions, PodOutcome, bring_up, wait_for_platform};
use crate::egeria::EgeriaClient;
use crate::settings::LabSettings;
use crate::state::{LabDir, read_json};
use crate::substrate::{PodInfo, PodPhase, Role, Substrate, SubstrateError};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::future::Future;
use std::time::{Duration, Instant};

#[derive(Debug, thiserror::Error)]
pub enum HealError {
    #[error(
        "no common configuration is stored in {0}: run `cargo xtask bootstrap` once before healing"
    )]
    NoConfiguration(String),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error(transparent)]
    Substrate(#[from] SubstrateError),
}

/// One healed (or not) replacement pod.
#[derive(Clone, Debug, Serialize)]
pub struct HealEvent {
    pub pod: String,
    pub uid: String,
    /// From the healer noticing the unready pod to the pod being ready again.
    pub heal_ms: u64,
    pub ready: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub struct Healer<'a, S> {
    substrate: &'a S,
    client: &'a EgeriaClient,
    settings: &'a LabSettings,
    document: Value,
    options: BootstrapOptions,
}

impl<'a, S: Substrate> Healer<'a, S> {
    pub fn new(
        substrate: &'a S,
        client: &'a EgeriaClient,
        settings: &'a LabSettings,
        lab_dir: &LabDir,
        options: BootstrapOptions,
    ) -> Result<Self, HealError> {
        let path = lab_dir.common_config_path();
        let document = read_json::<Value>(&path)?
            .ok_or_else(|| HealError::NoConfiguration(path.display().to_string()))?;
        Ok(Self {
            substrate,
            client,
            settings,
            document,
            options,
        })
    }

    /// Running connector pods outside the rotation: the ones to heal.
    fn unready(pods: &[PodInfo]) -> Vec<PodInfo> {
        pods.iter()
            .filter(|p| p.role == Role::Connector && p.phase == PodPhase::Running && !p.ready)
            .cloned()
            .collect()
    }

    async fn heal_pod(&self, pod: &PodInfo) -> HealEvent {
        let started = Instant::now();
        let outcome = match wait_for_platform(
            self.client,
            pod,
            &self.settings.connector_server,
            &self.options,
        )
        .await
        {
            Ok(platform) => {
                bring_up(
                    self.substrate,
                    &platform,
                    pod,
                    &self.document,
                    self.settings,
                    &self.options,
                )
                .await
            }
            Err(wait) => PodOutcome::failed(pod, wait.to_string()),
        };
        let event = HealEvent {
            pod: pod.name.clone(),
            uid: pod.uid.clone(),
            heal_ms: started.elapsed().as_millis() as u64,
            ready: outcome.ready,
            error: outcome.error,
        };
        match &event.error {
            None => eprintln!(
                "  healed {} (uid {}) in {} ms",
                event.pod, event.uid, event.heal_ms
            ),
            Some(error) => eprintln!("  could not heal {}: {error}", event.pod),
        }
        event
    }

    /// Heals every connector pod that is running but out of the rotation, once.
    pub async fn heal_unready(&self) -> Result<Vec<HealEvent>, HealError> {
        let pods = self.substrate.list_pods().await?;
        Ok(futures::future::join_all(
            Self::unready(&pods.pods)
                .iter()
                .map(|pod| self.heal_pod(pod)),
        )
        .await)
    }

    /// Watches the pods until `stop` resolves, healing each replacement as it appears
    /// (each pod identity once: a pod whose heal failed is reported, not retried forever).
    pub async fn watch(&self, stop: impl Future<Output = ()>) -> Result<Vec<HealEvent>, HealError> {
        let mut events = Vec::new();
        let mut tried: BTreeSet<String> = BTreeSet::new();
        let mut pods = self.substrate.list_pods().await?;
        tokio::pin!(stop);
        loop {
            let candidates: Vec<PodInfo> = Self::unready(&pods.pods)
                .into_iter()
                .filter(|pod| !tried.contains(&pod.uid))
                .collect();
            for pod in &candidates {
                tried.insert(pod.uid.clone());
            }
            let healing =
                futures::future::join_all(candidates.iter().map(|pod| self.heal_pod(pod)));
            events.extend(healing.await);
            tokio::select! {
                () = &mut stop => return Ok(events),
                next = self.substrate.watch_pods(pods.generation, Duration::from_secs(5)) => pods = next?,
            }
        }
    }
}
