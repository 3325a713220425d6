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
use std::collections::BTreeMap;
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

/// How often one pod identity is tried before its failure stands.
const HEAL_ATTEMPTS: u32 = 5;
const HEAL_RETRY_PAUSE: Duration = Duration::from_secs(1);

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

    /// Watches the pods until `stop` resolves, healing each replacement as it appears.
    /// A heal that fails (the golden store electing a leader, say) is tried again after a
    /// pause, a few times; each pod identity's last outcome is reported.
    pub async fn watch(&self, stop: impl Future<Output = ()>) -> Result<Vec<HealEvent>, HealError> {
        let mut outcomes: Vec<HealEvent> = Vec::new();
        let mut attempts: BTreeMap<String, (u32, Instant)> = BTreeMap::new();
        let mut pods = self.substrate.list_pods().await?;
        tokio::pin!(stop);
        loop {
            let now = Instant::now();
            let candidates: Vec<PodInfo> = Self::unready(&pods.pods)
                .into_iter()
                .filter(|pod| match attempts.get(&pod.uid) {
                    None => true,
                    Some((tries, next)) => *tries < HEAL_ATTEMPTS && now >= *next,
                })
                .collect();
            let healing =
                futures::future::join_all(candidates.iter().map(|pod| self.heal_pod(pod)));
            for event in healing.await {
                let tries = attempts.get(&event.uid).map_or(0, |(tries, _)| *tries) + 1;
                attempts.insert(
                    event.uid.clone(),
                    (tries, Instant::now() + HEAL_RETRY_PAUSE),
                );
                outcomes.retain(|earlier| earlier.uid != event.uid);
                outcomes.push(event);
            }
            // A failed heal is retried without waiting for the next pod change.
            let wait = if outcomes.iter().any(|e| e.error.is_some()) {
                HEAL_RETRY_PAUSE
            } else {
                Duration::from_secs(5)
            };
            tokio::select! {
                () = &mut stop => return Ok(outcomes),
                next = self.substrate.watch_pods(pods.generation, wait) => pods = next?,
            }
        }
    }
}
