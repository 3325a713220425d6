//! Waiting for a release's StatefulSets and Deployments, with watches.
//!
//! The connector StatefulSet (`<release>-crux`) needs its own rule: its pods carry the
//! `egeria-ha-lab/serving` readiness gate, which the runner sets only once it has
//! configured and started each pod's server, so before the runner runs none of them is
//! Ready and `readyReplicas` stays 0. For it "ready" means every replica is created at the
//! current revision and is Running with all its containers started; every other workload
//! must report all its replicas ready.

use super::KubeError;
use super::pods::{release_selector, role};
use crate::substrate::Role;
use futures::{Stream, StreamExt, stream};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Event as PodEvent, Pod};
use kube::api::ListParams;
use kube::core::NamespaceResourceScope;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// How often the wait says what it still waits for.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Waits until every StatefulSet and Deployment labelled with the release is ready (see
/// the module's note on the connector StatefulSet), printing what is still pending to
/// stderr every few seconds; at `deadline` fails naming each workload not ready and why.
pub async fn wait_for_workloads(
    client: Client,
    namespace: &str,
    release: &str,
    deadline: Duration,
) -> Result<(), KubeError> {
    let end = Instant::now() + deadline;
    let config = watcher::Config::default().labels(&release_selector(release));
    let mut sets = Kind::new("StatefulSets");
    let mut deployments = Kind::new("Deployments");
    let mut pods = Kind::new("pods");
    let mut updates = stream::select_all([
        updates::<StatefulSet>(&client, namespace, &config, Update::Set),
        updates::<Deployment>(&client, namespace, &config, Update::Deployment),
        updates::<Pod>(&client, namespace, &config, Update::Pod),
    ]);
    let mut progress = tokio::time::interval_at(Instant::now() + PROGRESS_EVERY, PROGRESS_EVERY);
    loop {
        let pending = pending(release, namespace, &sets, &deployments, &pods);
        if pending.is_empty() {
            return Ok(());
        }
        if let Some((pod, image)) = pods.objects().iter().find_map(|pod| pull_failure(pod)) {
            let detail = pull_error(&client, namespace, &pod, &image).await;
            return Err(KubeError::ImagePull { pod, image, detail });
        }
        tokio::select! {
            Some(update) = updates.next() => match update {
                Update::Set(event) => sets.apply(event),
                Update::Deployment(event) => deployments.apply(event),
                Update::Pod(event) => pods.apply(event),
            },
            _ = progress.tick() => eprintln!("  still waiting for: {}", pending.join("; ")),
            _ = tokio::time::sleep_until(end) => {
                return Err(KubeError::NotReady {
                    release: release.to_string(),
                    namespace: namespace.to_string(),
                    deadline,
                    pending,
                });
            }
        }
    }
}

enum Update {
    Set(watcher::Result<Event<StatefulSet>>),
    Deployment(watcher::Result<Event<Deployment>>),
    Pod(watcher::Result<Event<Pod>>),
}

fn updates<K>(
    client: &Client,
    namespace: &str,
    config: &watcher::Config,
    tag: fn(watcher::Result<Event<K>>) -> Update,
) -> Pin<Box<dyn Stream<Item = Update> + Send>>
where
    K: Resource<DynamicType = (), Scope = NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + Debug
        + Send
        + 'static,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    // The watcher retries failed calls itself; the backoff keeps a refusing API server
    // (RBAC, 5xx) from being hammered, and each failure is shown as the reason to wait.
    watcher::watcher(api, config.clone())
        .default_backoff()
        .map(tag)
        .boxed()
}

/// What the watch of one kind has shown so far.
struct Kind<K: Resource<DynamicType = ()> + Clone + 'static> {
    name: &'static str,
    store: Writer<K>,
    listed: bool,
    last_error: Option<String>,
}

impl<K> Kind<K>
where
    K: Resource<DynamicType = ()> + Clone + 'static,
{
    fn new(name: &'static str) -> Self {
        Self {
            name,
            store: Writer::default(),
            listed: false,
            last_error: None,
        }
    }

    fn apply(&mut self, event: watcher::Result<Event<K>>) {
        match event {
            Ok(event) => {
                self.listed |= matches!(event, Event::InitDone);
                self.last_error = None;
                self.store.apply_watcher_event(&event);
            }
            Err(error) => self.last_error = Some(error.to_string()),
        }
    }

    /// What the watch has seen, by name, so the progress lines keep their order.
    fn objects(&self) -> Vec<Arc<K>> {
        let mut objects = self.store.as_reader().state();
        objects.sort_by(|a, b| a.meta().name.cmp(&b.meta().name));
        objects
    }

    /// Why this kind cannot be judged yet.
    fn unknown(&self) -> Option<String> {
        match (&self.last_error, self.listed) {
            (Some(error), _) => Some(format!("listing {}: {error}", self.name)),
            (None, false) => Some(format!("{} not listed yet", self.name)),
            (None, true) => None,
        }
    }
}

/// Each workload not ready yet, with why; empty once all are.
fn pending(
    release: &str,
    namespace: &str,
    sets: &Kind<StatefulSet>,
    deployments: &Kind<Deployment>,
    pods: &Kind<Pod>,
) -> Vec<String> {
    let unknown: Vec<String> = [sets.unknown(), deployments.unknown(), pods.unknown()]
        .into_iter()
        .flatten()
        .collect();
    if !unknown.is_empty() {
        return unknown;
    }
    let (sets, deployments, pods) = (sets.objects(), deployments.objects(), pods.objects());
    if sets.is_empty() && deployments.is_empty() {
        return vec![format!(
            "no StatefulSet or Deployment labelled {} in namespace {namespace} yet",
            release_selector(release)
        )];
    }
    let connectors = format!("{release}-crux");
    let mut pending: Vec<String> = sets
        .iter()
        .filter_map(|set| {
            let name = set.metadata.name.as_deref().unwrap_or_default();
            let why = if name == connectors {
                connector_set_pending(set, &pods)
            } else {
                set_pending(set, &pods)
            };
            why.map(|why| format!("StatefulSet {name}: {why}"))
        })
        .collect();
    pending.extend(deployments.iter().filter_map(|deployment| {
        let name = deployment.metadata.name.as_deref().unwrap_or_default();
        deployment_pending(deployment, &pods).map(|why| format!("Deployment {name}: {why}"))
    }));
    pending
}

fn observed(generation: Option<i64>, observed: Option<i64>) -> bool {
    observed >= generation
}

fn set_pending(set: &StatefulSet, pods: &[Arc<Pod>]) -> Option<String> {
    let want = set.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
    let status = set.status.clone().unwrap_or_default();
    let ready = status.ready_replicas.unwrap_or(0);
    if !observed(set.metadata.generation, status.observed_generation) {
        return Some("its controller has not seen the latest change yet".to_string());
    }
    (ready < want || status.updated_replicas.unwrap_or(0) < want).then(|| {
        with_troubles(
            format!("{ready} of {want} replicas ready"),
            set.metadata.name.as_deref(),
            pods,
        )
    })
}

fn connector_set_pending(set: &StatefulSet, pods: &[Arc<Pod>]) -> Option<String> {
    let spec = set.spec.clone().unwrap_or_default();
    let want = spec.replicas.unwrap_or(1);
    let status = set.status.clone().unwrap_or_default();
    if !observed(set.metadata.generation, status.observed_generation) {
        return Some("its controller has not seen the latest change yet".to_string());
    }
    let current = status
        .current_replicas
        .unwrap_or(0)
        .max(status.updated_replicas.unwrap_or(0));
    let prefix = format!("{}-", set.metadata.name.as_deref().unwrap_or_default());
    let started = pods
        .iter()
        .filter(|pod| {
            role(pod) == Some(Role::Connector)
                && pod
                    .metadata
                    .name
                    .as_deref()
                    .is_some_and(|n| n.starts_with(&prefix))
                && trouble(pod).is_none()
        })
        .count();
    if current >= want && started as i32 >= want {
        return None;
    }
    let mut why =
        format!("{current} of {want} replicas created, {started} running with started containers");
    // OrderedReady would create pod i+1 only once pod i is Ready, which the gate holds back.
    if spec.pod_management_policy.as_deref() != Some("Parallel") {
        why.push_str(" (podManagementPolicy is not Parallel: with the readiness gate only the first pod is ever created)");
    }
    Some(with_troubles(why, set.metadata.name.as_deref(), pods))
}

fn deployment_pending(deployment: &Deployment, pods: &[Arc<Pod>]) -> Option<String> {
    let want = deployment
        .spec
        .as_ref()
        .and_then(|s| s.replicas)
        .unwrap_or(1);
    let status = deployment.status.clone().unwrap_or_default();
    if !observed(deployment.metadata.generation, status.observed_generation) {
        return Some("its controller has not seen the latest change yet".to_string());
    }
    let ready = status.ready_replicas.unwrap_or(0);
    (ready < want || status.updated_replicas.unwrap_or(0) < want).then(|| {
        with_troubles(
            format!("{ready} of {want} replicas ready"),
            deployment.metadata.name.as_deref(),
            pods,
        )
    })
}

/// `why`, followed by what holds back the workload's pods (named `<workload>-…`).
fn with_troubles(why: String, workload: Option<&str>, pods: &[Arc<Pod>]) -> String {
    let prefix = format!("{}-", workload.unwrap_or_default());
    let troubles: Vec<String> = pods
        .iter()
        .filter(|pod| {
            pod.metadata
                .name
                .as_deref()
                .is_some_and(|n| n.starts_with(&prefix))
        })
        .filter_map(|pod| trouble(pod))
        .collect();
    if troubles.is_empty() {
        why
    } else {
        format!("{why} ({})", troubles.join(", "))
    }
}

/// Waiting reasons of a container whose image cannot be pulled: waiting on longer would
/// only wait for the deadline.
const PULL_FAILURES: [&str; 3] = ["ErrImagePull", "ImagePullBackOff", "InvalidImageName"];

/// The pod and image of a container (or init container) that cannot pull its image.
fn pull_failure(pod: &Pod) -> Option<(String, String)> {
    let status = pod.status.as_ref()?;
    let containers = (status.init_container_statuses.iter().flatten())
        .chain(status.container_statuses.iter().flatten());
    containers
        .filter(|container| {
            let waiting = container.state.as_ref().and_then(|s| s.waiting.as_ref());
            let reason = waiting
                .and_then(|w| w.reason.as_deref())
                .unwrap_or_default();
            PULL_FAILURES.contains(&reason)
        })
        .map(|container| {
            (
                pod.metadata.name.clone().unwrap_or_default(),
                container.image.clone(),
            )
        })
        .next()
}

/// The kubelet's own words for a failed pull, from the pod's latest `Failed` event (the
/// container status says only "Back-off pulling image" once it backs off).
async fn pull_error(client: &Client, namespace: &str, pod: &str, image: &str) -> String {
    let events: Api<PodEvent> = Api::namespaced(client.clone(), namespace);
    let selector = format!("involvedObject.name={pod},reason=Failed");
    match events.list(&ListParams::default().fields(&selector)).await {
        Ok(list) => list
            .items
            .into_iter()
            .filter_map(|event| event.message)
            .rfind(|message| message.contains(image))
            .unwrap_or_else(|| "no Failed event recorded yet".to_string()),
        Err(error) => format!("its events could not be read: {error}"),
    }
}

/// What keeps a pod from running all its containers, e.g. `lab-kafka-1 Pending:
/// ImagePullBackOff`; `None` for a pod that runs them all.
fn trouble(pod: &Pod) -> Option<String> {
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    if pod.metadata.deletion_timestamp.is_some() {
        return Some(format!("{name} terminating"));
    }
    let status = pod.status.clone().unwrap_or_default();
    let phase = status.phase.as_deref().unwrap_or("Pending");
    let containers = status.container_statuses.unwrap_or_default();
    let waiting: Vec<String> = containers
        .iter()
        .filter(|c| c.started != Some(true))
        .map(|c| {
            let reason = c
                .state
                .as_ref()
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| w.reason.clone())
                .unwrap_or_else(|| "not started".to_string());
            format!("{} {reason}", c.name)
        })
        .collect();
    if phase == "Running" && !containers.is_empty() && waiting.is_empty() {
        return None;
    }
    Some(if waiting.is_empty() {
        format!("{name} {phase}")
    } else {
        format!("{name} {phase}: {}", waiting.join(", "))
    })
}
