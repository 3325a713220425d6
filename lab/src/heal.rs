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

/// Takes a pod restarted in place out of the rotation: on Kubernetes its readiness gate
/// survives a container restart, so once its port answers it would get traffic with no
/// server configured (what upstream's chart did after every OOM kill).
async fn close_gate<S: Substrate>(substrate: &S, pod: &PodInfo, pods: &mut [PodInfo]) {
    eprintln!(
        "  {} restarted in place (restart {}): out of the rotation until healed",
        pod.name, pod.restarts
    );
    match substrate.set_ready(&pod.name, &pod.uid, false).await {
        Ok(()) => {
            if let Some(listed) = pods.iter_mut().find(|p| p.name == pod.name) {
                listed.ready = false;
            }
        }
        Err(error) => eprintln!("  could not take {} out of the rotation: {error}", pod.name),
    }
}

/// One life of a pod: its identity and how often it restarted in place. A heal is tried
/// per life, so a pod restarted in place is healed afresh.
fn life(pod: &PodInfo) -> String {
    format!("{}#{}", pod.uid, pod.restarts)
}

/// The connector pods' lives seen so far, to tell a restart in place (same uid, restart
/// count up) from a replacement (new uid).
#[derive(Default)]
struct Lives(BTreeMap<String, (String, u32)>);

impl Lives {
    /// The ready connector pods that restarted in place since the last look.
    fn restarted_in_place(&mut self, pods: &[PodInfo]) -> Vec<PodInfo> {
        let mut restarted = Vec::new();
        for pod in pods.iter().filter(|p| p.role == Role::Connector) {
            let before = self
                .0
                .insert(pod.name.clone(), (pod.uid.clone(), pod.restarts));
            if let Some((uid, restarts)) = before
                && uid == pod.uid
                && pod.restarts > restarts
                && pod.ready
            {
                restarted.push(pod.clone());
            }
        }
        restarted
    }
}
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
                    started,
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
        let mut lives = Lives::default();
        lives.restarted_in_place(&pods.pods);
        tokio::pin!(stop);
        loop {
            for pod in lives.restarted_in_place(&pods.pods) {
                close_gate(self.substrate, &pod, &mut pods.pods).await;
            }
            let now = Instant::now();
            let candidates: Vec<PodInfo> = Self::unready(&pods.pods)
                .into_iter()
                .filter(|pod| match attempts.get(&life(pod)) {
                    None => true,
                    Some((tries, next)) => *tries < HEAL_ATTEMPTS && now >= *next,
                })
                .collect();
            let healing =
                futures::future::join_all(candidates.iter().map(|pod| self.heal_pod(pod)));
            for (event, pod) in healing.await.into_iter().zip(&candidates) {
                let tries = attempts.get(&life(pod)).map_or(0, |(tries, _)| *tries) + 1;
                attempts.insert(life(pod), (tries, Instant::now() + HEAL_RETRY_PAUSE));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn connector(uid: &str, restarts: u32, ready: bool) -> PodInfo {
        PodInfo {
            name: "lab-crux-0".into(),
            role: Role::Connector,
            ordinal: 0,
            uid: uid.into(),
            address: "127.0.0.1:9443".into(),
            phase: PodPhase::Running,
            ready,
            ready_since_unix_ms: None,
            restarts,
            pid: None,
        }
    }

    #[test]
    fn a_restart_in_place_is_told_from_a_replacement() {
        let mut lives = Lives::default();
        assert!(
            lives
                .restarted_in_place(&[connector("a", 0, true)])
                .is_empty()
        );
        // Same uid, one restart more, gate still open: restarted in place.
        let restarted = lives.restarted_in_place(&[connector("a", 1, true)]);
        assert_eq!(restarted.len(), 1);
        // Seen once only.
        assert!(
            lives
                .restarted_in_place(&[connector("a", 1, true)])
                .is_empty()
        );
        // A replacement (new uid) is the ordinary healer's business.
        assert!(
            lives
                .restarted_in_place(&[connector("b", 2, true)])
                .is_empty()
        );
        // A gate already closed needs no closing.
        assert!(
            lives
                .restarted_in_place(&[connector("b", 3, false)])
                .is_empty()
        );
        assert_ne!(
            life(&connector("a", 0, true)),
            life(&connector("a", 1, true))
        );
    }

    /// On kind: the container's restartCount grows under the same pod uid while the
    /// serving gate stays True; the gate of exactly that pod identity is patched False.
    #[tokio::test]
    async fn on_kubernetes_a_container_restart_closes_that_pods_gate() {
        use crate::substrate::Endpoints;
        use crate::substrate::kube::KubeSubstrate;
        use crate::substrate::kube::mock::{MockApi, PODS, PodSpec, list, ok};
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU32, Ordering};

        let restarts = Arc::new(AtomicU32::new(0));
        let seen_restarts = restarts.clone();
        let pod = move || {
            let restarts = [seen_restarts.load(Ordering::SeqCst)];
            PodSpec {
                name: "lab-crux-0",
                uid: "u1",
                component: "connector",
                phase: "Running",
                serving: Some("True"),
                restarts: &restarts,
            }
            .json()
        };
        let api = MockApi::new(Box::new(move |seen| match seen.method.as_str() {
            "GET" if seen.path == PODS => Some(ok(list("Pod", "7", vec![pod()]))),
            "GET" | "PATCH" => Some(ok(pod())),
            _ => None,
        }));
        let endpoints = Endpoints {
            connector_service_url: "https://lab-crux.ns.svc.cluster.local:9443".into(),
            golden_store_bootstrap: "lab-kafka:9092".into(),
        };
        let substrate = KubeSubstrate::new(api.client.clone(), "ns", "lab", endpoints);
        let mut lives = Lives::default();
        let first = substrate.list_pods().await.unwrap().pods;
        assert!(lives.restarted_in_place(&first).is_empty());

        restarts.store(1, Ordering::SeqCst);
        let mut pods = substrate.list_pods().await.unwrap().pods;
        let restarted = lives.restarted_in_place(&pods);
        assert_eq!(restarted.len(), 1);
        close_gate(&substrate, &restarted[0], &mut pods).await;

        let patch = api
            .seen()
            .into_iter()
            .rfind(|seen| seen.method.as_str() == "PATCH")
            .expect("the gate was patched");
        assert_eq!(patch.path, format!("{PODS}/lab-crux-0/status"));
        assert_eq!(patch.body["metadata"]["uid"], "u1");
        assert_eq!(patch.body["status"]["conditions"][0]["status"], "False");
        assert!(!pods[0].ready, "the healer now sees it out of the rotation");
    }
}
