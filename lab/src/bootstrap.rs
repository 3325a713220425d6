//! The bootstrap flow (ARCHITECTURE.md §2 steps 1–5): wait for every platform, build the
//! common configuration once on the PTS platform, deploy it to every connector pod through
//! the pod's own address, verify it there, start every server in parallel, and put each
//! pod into the load-balancing rotation once its server has started.
//!
//! Re-running it is safe and is how a replaced pod is healed: the stored common
//! configuration is reused, and pods already serving it are left alone.

use crate::egeria::{EgeriaClient, EgeriaError, Platform, connector};
use crate::settings::LabSettings;
use crate::state::{LabDir, LocalRepository, read_json, write_json};
use crate::substrate::{PodInfo, Role, Substrate, SubstrateError};
use crate::wait::{DeadlineExceeded, poll_until};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct BootstrapOptions {
    /// How long a platform may take to answer at all.
    pub platform_deadline: Duration,
    /// How long one server start may take (minutes on a real JVM).
    pub start_deadline: Duration,
    /// How many pods are configured and started at once.
    pub parallelism: usize,
    /// What the common configuration gives the connector server to keep metadata in.
    pub repository: LocalRepository,
    /// Where the pods' logs are (`<pod>.log`), when the connector is the real XTDB one and
    /// the lab reads its pods' logs: a started server is then checked there for a node
    /// really running on its configured stores.
    pub xtdb_logs: Option<std::path::PathBuf>,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        Self {
            platform_deadline: Duration::from_secs(300),
            start_deadline: Duration::from_secs(900),
            parallelism: 16,
            repository: LocalRepository::Connector,
            xtdb_logs: None,
        }
    }
}

/// `bootstrap.json`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BootstrapReport {
    pub release: String,
    pub metadata_collection_id: String,
    /// `built` on the PTS platform by this run, or `stored` from an earlier one.
    pub configuration: String,
    pub pods: Vec<PodOutcome>,
    pub total_ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct PodOutcome {
    pub name: String,
    pub uid: String,
    pub address: String,
    pub configured: bool,
    pub started: bool,
    pub ready: bool,
    /// Time the server start took; absent when the pod was already serving.
    pub start_ms: Option<u64>,
    /// What the pod's platform says it is (its origin endpoint): real Egeria or the
    /// stand-in, in the platform's own words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_origin: Option<String>,
    /// The XTDB version the pod's node reported running on its configured stores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xtdb_version: Option<String>,
    /// When each step ended: what a run's page draws as the pod's timeline.
    #[serde(default)]
    pub steps: PodSteps,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Milliseconds from the bootstrap's (or heal's) beginning to the end of each step; a
/// step not reached is absent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PodSteps {
    /// The platform answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_ms: Option<u64>,
    /// The common configuration was deployed and read back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub configured_ms: Option<u64>,
    /// The server (and its repository) started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<u64>,
    /// Put into the service's rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_ms: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Substrate(#[from] SubstrateError),
    #[error("the lab has no {0} pod")]
    NoPod(&'static str),
    #[error(transparent)]
    Wait(#[from] DeadlineExceeded),
    #[error("building the common configuration")]
    Egeria(#[from] EgeriaError),
    #[error("the common configuration from {pod} has no metadataCollectionId: {detail}")]
    BadConfiguration { pod: String, detail: String },
    #[error(
        "the common configuration ({source_of}) would not run the connector on the golden store, so it is not deployed: {detail}"
    )]
    OffTheGoldenStore { source_of: String, detail: String },
    #[error(transparent)]
    State(#[from] crate::state::StateError),
}

impl PodOutcome {
    /// Nothing done yet for this pod.
    fn untouched(pod: &PodInfo) -> Self {
        Self {
            name: pod.name.clone(),
            uid: pod.uid.clone(),
            address: pod.address.clone(),
            configured: false,
            started: false,
            ready: false,
            start_ms: None,
            platform_origin: None,
            xtdb_version: None,
            steps: PodSteps::default(),
            note: None,
            error: None,
        }
    }

    /// A pod that could not even be reached.
    pub(crate) fn failed(pod: &PodInfo, error: String) -> Self {
        Self {
            error: Some(error),
            ..Self::untouched(pod)
        }
    }
}

impl BootstrapReport {
    pub fn failed_pods(&self) -> impl Iterator<Item = &PodOutcome> {
        self.pods.iter().filter(|pod| pod.error.is_some())
    }
}

pub async fn bootstrap<S: Substrate>(
    substrate: &S,
    client: &EgeriaClient,
    settings: &LabSettings,
    lab_dir: &LabDir,
    options: &BootstrapOptions,
) -> Result<BootstrapReport, BootstrapError> {
    let started = Instant::now();
    let pods = substrate.list_pods().await?;
    let pts = pods
        .with_role(Role::Pts)
        .next()
        .ok_or(BootstrapError::NoPod("PTS"))?;
    let connectors: Vec<&PodInfo> = pods.with_role(Role::Connector).collect();
    if connectors.is_empty() {
        return Err(BootstrapError::NoPod("connector"));
    }

    eprintln!("waiting for {} platforms", connectors.len() + 1);
    let platforms =
        futures::future::try_join_all(connectors.iter().chain([&pts]).map(|pod| async move {
            let platform =
                wait_for_platform(client, pod, &settings.connector_server, options).await?;
            Ok::<_, DeadlineExceeded>((platform, started.elapsed().as_millis() as u64))
        }))
        .await?;
    eprintln!(
        "  every platform answers ({} ms)",
        started.elapsed().as_millis()
    );

    let pts_platform = client.platform(&pts.name, &pts.platform_url());
    let platforms = &platforms[..connectors.len()];
    let (document, source) = common_configuration(
        &pts_platform,
        substrate,
        settings,
        lab_dir,
        options.repository,
    )
    .await?;
    if options.repository == LocalRepository::Connector {
        connector::check(connector::of_configuration(&document)).map_err(|detail| {
            BootstrapError::OffTheGoldenStore {
                source_of: format!("{source} on {}", pts.name),
                detail,
            }
        })?;
    }
    let metadata_collection_id =
        metadata_collection_id(&document).ok_or_else(|| BootstrapError::BadConfiguration {
            pod: pts.name.clone(),
            detail:
                "repositoryServicesConfig.localRepositoryConfig.metadataCollectionId is missing"
                    .into(),
        })?;
    eprintln!(
        "common configuration {source}: metadataCollectionId {metadata_collection_id}; deploying to {} pods",
        connectors.len()
    );

    let document = &document;
    let outcomes: Vec<PodOutcome> = futures::stream::iter(connectors.iter().zip(platforms).map(
        |(pod, (platform, platform_ms))| async move {
            let mut outcome = bring_up(
                substrate, platform, pod, document, settings, options, started,
            )
            .await;
            outcome.steps.platform_ms = Some(*platform_ms);
            outcome
        },
    ))
    .buffered(options.parallelism.max(1))
    .collect()
    .await;

    Ok(BootstrapReport {
        release: settings.release.clone(),
        metadata_collection_id,
        configuration: source.to_string(),
        pods: outcomes,
        total_ms: started.elapsed().as_millis() as u64,
    })
}

/// A platform is up when the admin services answer for the connector server (that proves
/// the platform, not the server).
pub(crate) async fn wait_for_platform(
    client: &EgeriaClient,
    pod: &PodInfo,
    server: &str,
    options: &BootstrapOptions,
) -> Result<Platform, DeadlineExceeded> {
    let platform = client.platform(&pod.name, &pod.platform_url());
    let what = format!("the platform on {} ({})", pod.name, pod.platform_url());
    poll_until(&what, options.platform_deadline, || async {
        platform
            .admin(server)
            .configuration()
            .await
            .map(drop)
            .map_err(headline)
    })
    .await?;
    Ok(platform)
}

/// An error's first line, for a progress line: the pod's log quoted below it by every
/// Egeria error is no news while a pod is still starting.
fn headline(error: EgeriaError) -> String {
    error
        .to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The stored document when there is one (every pod must share one metadataCollectionId,
/// so it is built only once per lab); otherwise built on the PTS platform and stored.
async fn common_configuration<S: Substrate>(
    pts: &Platform,
    substrate: &S,
    settings: &LabSettings,
    lab_dir: &LabDir,
    repository: LocalRepository,
) -> Result<(Value, &'static str), BootstrapError> {
    let path = lab_dir.common_config_path();
    if let Some(document) = read_json::<Value>(&path)? {
        return Ok((document, "reused"));
    }
    let endpoints = substrate.endpoints();
    let admin = pts.admin(&settings.connector_server);
    admin
        .set_server_url_root(&endpoints.connector_service_url)
        .await?;
    admin.set_server_type(connector::SERVER_TYPE).await?;
    admin.set_organization(&settings.organization).await?;
    admin
        .set_event_bus(connector::TOPIC_URL_ROOT, &endpoints.golden_store_bootstrap)
        .await?;
    match repository {
        LocalRepository::Connector => {
            admin
                .set_plugin_repository(&connector::connection(
                    &settings.connector_server,
                    &endpoints.golden_store_bootstrap,
                ))
                .await?
        }
        LocalRepository::InMemory => admin.set_in_memory_repository().await?,
    }
    admin.join_cohort(&settings.cohort).await?;
    let document = admin.configuration().await?;
    write_json(&path, &document)?;
    Ok((document, "built"))
}

fn metadata_collection_id(document: &Value) -> Option<String> {
    document
        .pointer("/repositoryServicesConfig/localRepositoryConfig/metadataCollectionId")
        .and_then(Value::as_str)
        .map(str::to_string)
}

/// Two configuration documents describe the same server when they agree on everything
/// but the audit trail, which a platform may extend as it stores a document.
pub fn same_configuration(a: &Value, b: &Value) -> bool {
    let strip = |doc: &Value| {
        let mut doc = doc.clone();
        if let Some(object) = doc.as_object_mut() {
            object.remove("auditTrail");
        }
        doc
    };
    strip(a) == strip(b)
}

pub(crate) async fn bring_up<S: Substrate>(
    substrate: &S,
    platform: &Platform,
    pod: &PodInfo,
    document: &Value,
    settings: &LabSettings,
    options: &BootstrapOptions,
    since: Instant,
) -> PodOutcome {
    let mut outcome = PodOutcome::untouched(pod);
    if let Err(error) = configure_and_start(
        substrate,
        platform,
        pod,
        document,
        settings,
        options,
        &mut Progress {
            outcome: &mut outcome,
            since,
        },
    )
    .await
    {
        eprintln!("  {}: {error}", pod.name);
        outcome.error = Some(error);
    }
    outcome
}

async fn configure_and_start<S: Substrate>(
    substrate: &S,
    platform: &Platform,
    pod: &PodInfo,
    document: &Value,
    settings: &LabSettings,
    options: &BootstrapOptions,
    progress: &mut Progress<'_>,
) -> Result<(), String> {
    let outcome = &mut *progress.outcome;
    let since = progress.since;
    let at = || Some(since.elapsed().as_millis() as u64);
    let admin = platform.admin(&settings.connector_server);
    let text = |e: EgeriaError| e.to_string();
    outcome.platform_origin = Some(platform.origin().await.map_err(text)?);
    let current = admin.configuration().await.map_err(text)?;
    let serving = same_configuration(&current, document)
        && platform
            .active_servers()
            .await
            .map_err(text)?
            .contains(&settings.connector_server);
    if serving {
        outcome.configured = true;
        outcome.started = true;
        outcome.note = Some("already serving the common configuration".into());
    } else {
        admin.deploy_configuration(document).await.map_err(text)?;
        // Read back through this pod's own address: upstream only ever re-read pod 0.
        let deployed = admin.configuration().await.map_err(text)?;
        if !same_configuration(&deployed, document) {
            return Err(format!(
                "{}: the configuration read back after deploying differs from the common one",
                pod.name
            ));
        }
        outcome.configured = true;
        outcome.steps.configured_ms = at();
        let start = Instant::now();
        admin
            .start_instance(options.start_deadline)
            .await
            .map_err(text)?;
        if let Some(logs) = &options.xtdb_logs {
            let log = logs.join(format!("{}.log", pod.name));
            outcome.xtdb_version = Some(xtdb_started(&admin, &pod.name, &log, options).await?);
        }
        outcome.start_ms = Some(start.elapsed().as_millis() as u64);
        outcome.started = true;
        outcome.steps.started_ms = at();
        eprintln!(
            "  {:<16} started in {} ms",
            pod.name,
            start.elapsed().as_millis()
        );
    }
    if options.repository == LocalRepository::Connector {
        caught_up(substrate, platform, pod, settings, options).await?;
    }
    substrate
        .set_ready(&pod.name, &pod.uid, true)
        .await
        .map_err(|e| e.to_string())?;
    outcome.ready = true;
    outcome.steps.ready_ms = at();
    Ok(())
}

/// A pod's outcome as it is being built, and the moment its steps are timed from.
struct Progress<'a> {
    outcome: &'a mut PodOutcome,
    since: Instant,
}

/// A pod joins the rotation only once its index has what the others acknowledged: a
/// started server on a fresh node may still be replaying the golden store's log, and
/// would answer reads without writes the service has already acknowledged. So a write is
/// made through a pod already serving, and this pod must read it on its own address. The
/// first pod of a lab has no other to ask, and needs none.
async fn caught_up<S: Substrate>(
    substrate: &S,
    platform: &Platform,
    pod: &PodInfo,
    settings: &LabSettings,
    options: &BootstrapOptions,
) -> Result<(), String> {
    let pods = substrate.list_pods().await.map_err(|e| e.to_string())?;
    let Some(serving) = pods
        .with_role(Role::Connector)
        .find(|other| other.ready && other.name != pod.name)
    else {
        return Ok(());
    };
    let repository = |base: &Platform| {
        format!(
            "/servers/{}/open-metadata/repository-services/users/{}",
            settings.connector_server,
            base.user()
        )
    };
    let other = platform.sibling(&serving.name, &serving.platform_url());
    let name = format!("lab-catch-up-{}", uuid::Uuid::new_v4().simple());
    let written = other
        .call(crate::egeria::Call::post(
            "write a marker for a joining pod to read",
            format!("{}/instances/entity", repository(&other)),
            Some(&crate::egeria::glossary_term_request(&name)),
        ))
        .await
        .map_err(|e| e.to_string())?;
    let guid = written
        .pointer("/entity/guid")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{}: the marker write answered no guid", serving.name))?
        .to_string();
    let started = Instant::now();
    poll_until(
        &format!(
            "{} to read the write {} acknowledged (its index catching up with the golden store)",
            pod.name, serving.name
        ),
        options.start_deadline,
        || async {
            platform
                .call(crate::egeria::Call::get(
                    "read the marker written on another pod",
                    format!("{}/instances/entity/{guid}", repository(platform)),
                ))
                .await
                .map(drop)
                .map_err(headline)
        },
    )
    .await
    .map_err(|e| e.to_string())?;
    if started.elapsed() > Duration::from_secs(1) {
        eprintln!(
            "  {:<16} caught up with the golden store in {} ms",
            pod.name,
            started.elapsed().as_millis()
        );
    }
    Ok(())
}

/// How long after `/instance` answered the node's start may take to show in its log.
const XTDB_LOG_DEADLINE: Duration = Duration::from_secs(30);
/// The tail of a log searched for the node's start: a start logs a few thousand lines.
const XTDB_LOG_TAIL: u64 = 4 * 1024 * 1024;

/// The XTDB version the pod's node runs, once its log says the node started on its
/// configured stores. Egeria 4.0 answers `/instance` with success even when the node
/// failed (XTDB racing to create its topics, REAL-EGERIA.md §6 item 8): such a start is
/// retried once (`DELETE`, then `POST /instance`); a node in memory is refused.
async fn xtdb_started(
    admin: &crate::egeria::admin::Admin<'_>,
    pod: &str,
    log: &std::path::Path,
    options: &BootstrapOptions,
) -> Result<String, String> {
    use crate::xtdb::NodeStart;
    for attempt in 1..=2 {
        let start = poll_until(
            &format!("{pod}'s XTDB node to report its start in {}", log.display()),
            XTDB_LOG_DEADLINE,
            || async {
                crate::egeria::read_log_tail(log, XTDB_LOG_TAIL)
                    .as_deref()
                    .and_then(crate::xtdb::newest_start)
                    .ok_or_else(|| "no start reported yet".to_string())
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        match start {
            NodeStart::Persistent { version } => return Ok(version),
            NodeStart::InMemory { line } => {
                return Err(format!(
                    "{pod}: the server started, but its XTDB node runs in memory only: the golden store is not used. Its log: {line} ({})",
                    log.display()
                ));
            }
            NodeStart::Failed { line, cause } => {
                let cause = cause.unwrap_or_else(|| "(no cause logged)".into());
                if attempt == 2 {
                    return Err(format!(
                        "{pod}: the server answered that it started, but its XTDB node did not: {line}\n  cause: {cause}\n  its log: {}",
                        log.display()
                    ));
                }
                eprintln!(
                    "  {pod}: the server answered that it started, but its XTDB node did not ({cause}); restarting the server once"
                );
                admin.stop_instance().await.map_err(|e| e.to_string())?;
                admin
                    .start_instance(options.start_deadline)
                    .await
                    .map_err(|e| e.to_string())?;
            }
        }
    }
    unreachable!("the second attempt returns")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn audit_trail_differences_do_not_count() {
        let a = json!({"localServerId": "x", "auditTrail": ["one"]});
        let b = json!({"localServerId": "x", "auditTrail": ["one", "two"]});
        assert!(same_configuration(&a, &b));
        let c = json!({"localServerId": "y", "auditTrail": ["one"]});
        assert!(!same_configuration(&a, &c));
    }

    #[test]
    fn metadata_collection_id_is_read_from_the_local_repository() {
        let doc = json!({"repositoryServicesConfig": {"localRepositoryConfig": {"metadataCollectionId": "m-1"}}});
        assert_eq!(metadata_collection_id(&doc).as_deref(), Some("m-1"));
        assert_eq!(metadata_collection_id(&json!({})), None);
    }
}
