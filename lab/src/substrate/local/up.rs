//! Bringing the local substrate up and down: the control plane process and, under it, the
//! golden store (three Kafka brokers), N connector pods and the PTS pod, each on its own
//! loopback address.

use super::LocalSubstrate;
use super::brokers::{self, CLIENT_PORT, CONTROLLER_PORT};
use super::connector::{self, Connector, ConnectorError};
use super::control_plane::{ControlPlaneSpec, PodSpec};
use super::platform::{self, Jdk, PlatformError, RealPlatform};
use crate::artifacts::cache::{Cache, CacheError};
use crate::artifacts::{KAFKA, Lock, LockError};
use crate::kafka::BROKERS as GOLDEN_STORE_MEMBERS;
use crate::prereq::{self, Check};
use crate::runs;
use crate::settings::{LabSettings, SettingsError};
use crate::state::{
    EgeriaKind, EgeriaRun, LabDir, LabState, LocalRepository, LocalState, StateError,
    SubstrateState,
};
use crate::substrate::{Endpoints, PodList, PodPhase, Role, Substrate};
use crate::wait::{DeadlineExceeded, poll_until};
use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::str::FromStr;
use std::time::{Duration, Instant};

pub const PLATFORM_PORT: u16 = 9443;
const CONTROL_PLANE_PORT: u16 = 7070;
pub const STANDIN_BINARY: &str = "egeria-standin";
pub const LAB_BINARY: &str = "lab";

/// The /16 of loopback addresses a lab lives in: `127.<octet>.0.0/16`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoopbackNet(pub u8);

impl Default for LoopbackNet {
    fn default() -> Self {
        Self(77)
    }
}

impl FromStr for LoopbackNet {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad =
            || format!("{text:?} is not a loopback /16: write it as 127.N with N from 1 to 254");
        let octet = text.strip_prefix("127.").ok_or_else(bad)?;
        match octet.parse::<u8>() {
            Ok(n) if (1..=254).contains(&n) => Ok(Self(n)),
            _ => Err(bad()),
        }
    }
}

impl std::fmt::Display for LoopbackNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "127.{}", self.0)
    }
}

/// Who lives where: third octet 0 for the lab's own services, 1 for the golden store,
/// 2 for connector pods.
#[derive(Clone, Debug)]
pub struct AddressPlan {
    net: LoopbackNet,
    replicas: u16,
}

impl AddressPlan {
    pub fn new(net: LoopbackNet, replicas: u16) -> Self {
        Self { net, replicas }
    }

    fn ip(&self, group: u8, host: u16) -> Ipv4Addr {
        Ipv4Addr::new(
            127,
            self.net.0,
            group,
            u8::try_from(host).expect("replicas ≤ 254"),
        )
    }

    fn at(&self, group: u8, host: u16, port: u16) -> SocketAddr {
        SocketAddr::V4(SocketAddrV4::new(self.ip(group, host), port))
    }

    pub fn control_plane(&self) -> SocketAddr {
        self.at(0, 1, CONTROL_PLANE_PORT)
    }

    pub fn connector_service(&self) -> SocketAddr {
        self.at(0, 2, PLATFORM_PORT)
    }

    pub fn pts(&self) -> SocketAddr {
        self.at(0, 3, PLATFORM_PORT)
    }

    pub fn golden_store(&self, ordinal: u16, port: u16) -> SocketAddr {
        self.at(1, ordinal + 1, port)
    }

    pub fn connector(&self, ordinal: u16) -> SocketAddr {
        self.at(2, ordinal + 1, PLATFORM_PORT)
    }

    pub fn golden_store_bootstrap(&self) -> String {
        (0..GOLDEN_STORE_MEMBERS)
            .map(|j| self.golden_store(j, CLIENT_PORT).to_string())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Every address the lab will listen on, with who listens there.
    pub fn all_listeners(&self, settings: &LabSettings) -> Vec<(String, SocketAddr)> {
        let mut all = vec![
            ("control plane API".to_string(), self.control_plane()),
            ("connector service".to_string(), self.connector_service()),
            (settings.pts_pod(), self.pts()),
        ];
        for j in 0..GOLDEN_STORE_MEMBERS {
            for port in [CLIENT_PORT, CONTROLLER_PORT] {
                all.push((settings.golden_store_pod(j), self.golden_store(j, port)));
            }
        }
        for i in 0..self.replicas {
            all.push((settings.connector_pod(i), self.connector(i)));
        }
        all
    }
}

#[derive(Clone, Debug)]
pub struct UpOptions {
    pub settings: LabSettings,
    /// Where the `lab` and `egeria-standin` binaries are.
    pub bin_dir: PathBuf,
    pub net: LoopbackNet,
    /// How long the stand-in takes to start a server (a real JVM takes minutes).
    pub server_start_delay: Duration,
    /// How long a stand-in platform takes before it listens at all.
    pub platform_delay: Duration,
    /// How long `up` may wait for everything to answer.
    pub deadline: Duration,
    /// What the connector and PTS pods run ([`choose_platforms`]).
    pub platforms: PlatformChoice,
}

/// What the user asked the connector and PTS pods to run.
#[derive(Clone, Debug, Default)]
pub struct PlatformRequest {
    /// `None`: real Egeria with the connector whenever one can be had, else the stand-in.
    pub egeria: Option<EgeriaKind>,
    /// A build of the connector: a jar with its dependencies, or a folder of jars.
    pub connector: Option<PathBuf>,
    /// Run the connector over these XTDB modules instead of its own.
    pub xtdb_version: Option<String>,
}

/// What the pods will run, and why, when that is not what was asked.
#[derive(Clone, Debug)]
pub struct PlatformChoice {
    pub egeria: EgeriaKind,
    pub connector: Option<Connector>,
    pub note: Option<String>,
}

impl PlatformChoice {
    pub fn stand_in() -> Self {
        Self {
            egeria: EgeriaKind::StandIn,
            connector: None,
            note: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UpError {
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("missing prerequisite {}: {} (needed for {}).\n  Install it with: {}\n  (or run `cargo xtask doctor --substrate local --fix`)",
        .0.name, .0.problem(), .0.purpose, .0.install_command())]
    Prerequisite(Box<Check>),
    #[error("{path} is missing: build the lab first (`cargo build -p lab -p fixtures`)")]
    MissingBinary { path: PathBuf },
    #[error(
        "a lab is already up (release {release}, run {run_id}, started {created_at}); run `cargo xtask lab-down` first"
    )]
    AlreadyUp {
        release: String,
        run_id: String,
        created_at: String,
    },
    #[error(
        "address {address} (for {owner}) is already in use: {detail}; stop what uses it, or pick another range with --loopback-net"
    )]
    AddressInUse {
        owner: String,
        address: SocketAddr,
        detail: String,
    },
    #[error(transparent)]
    State(#[from] StateError),
    #[error("cannot prepare the run folder: {0}")]
    RunFolder(std::io::Error),
    #[error("cannot start the control plane ({program}): {error}")]
    Spawn {
        program: PathBuf,
        error: std::io::Error,
    },
    #[error("the control plane exited during start-up ({status}); its log: {log}")]
    ControlPlaneDied { status: String, log: PathBuf },
    #[error("{wait}\n  logs: {logs}")]
    NotUp {
        wait: DeadlineExceeded,
        logs: PathBuf,
    },
    #[error(
        "the golden store is not serving: {wait}\n  the brokers' logs: {logs}/{release}-kafka-*.log"
    )]
    GoldenStore {
        wait: DeadlineExceeded,
        logs: PathBuf,
        release: String,
    },
    #[error("{pod} exited during start-up ({exit}); nothing is left running{excerpt}")]
    PodDied {
        pod: String,
        exit: String,
        /// The pod's log, with its last error lines.
        excerpt: crate::egeria::LogExcerpt,
    },
    #[error(transparent)]
    Lock(#[from] LockError),
    #[error(transparent)]
    Artifacts(#[from] CacheError),
    #[error(transparent)]
    Format(#[from] brokers::FormatError),
    #[error(transparent)]
    Platform(#[from] PlatformError),
    #[error(transparent)]
    Connector(#[from] ConnectorError),
    #[error("{0}")]
    Conflict(&'static str),
    #[error(
        "the lab folder {path} has {free_mib} MiB free; the golden store needs at least {MIN_FREE_MIB} MiB there: free some space, or pass --lab-dir on another disk"
    )]
    DiskSpace { path: PathBuf, free_mib: u64 },
    #[error("interrupted; everything started so far was stopped")]
    Interrupted,
    #[error(
        "the local substrate runs on Linux only: it gives every pod an address of its own in 127.0.0.0/8 (macOS answers on 127.0.0.1 alone) and checks the processes it ends in /proc; use --substrate kind here"
    )]
    NotLinux,
}

/// Starts the local substrate and returns once every pod answers. On any failure, or
/// when `cancelled` resolves first, whatever was started is stopped again.
pub async fn up(
    lab_dir: &LabDir,
    options: &UpOptions,
    cancelled: impl Future<Output = ()>,
) -> Result<LabState, UpError> {
    if !cfg!(target_os = "linux") {
        return Err(UpError::NotLinux);
    }
    let settings = &options.settings;
    settings.validate()?;
    let java = prereq::check_java();
    let Some(java_path) = java.path().map(Path::to_path_buf) else {
        return Err(UpError::Prerequisite(Box::new(java)));
    };
    let jdk = match options.platforms.egeria {
        EgeriaKind::Real => Some(find_jdk(&java, java_path.clone())?),
        EgeriaKind::StandIn => None,
    };
    let lab_binary = options.bin_dir.join(LAB_BINARY);
    let standin_binary = options.bin_dir.join(STANDIN_BINARY);
    let mut binaries = vec![&lab_binary];
    if jdk.is_none() {
        binaries.push(&standin_binary);
    }
    for path in binaries {
        if !path.is_file() {
            return Err(UpError::MissingBinary { path: path.clone() });
        }
    }
    if let Some(existing) = lab_dir.load_state()? {
        let running = match &existing.substrate {
            SubstrateState::Local(local) => is_control_plane(local.control_plane_pid),
            // A lab on another substrate is taken down by its own lab-down.
            SubstrateState::Kube(_) | SubstrateState::InCluster(_) => true,
        };
        if running {
            return Err(UpError::AlreadyUp {
                release: existing.settings.release,
                run_id: existing.run_id,
                created_at: existing.created_at,
            });
        }
        eprintln!(
            "note: the previous lab (run {}) is no longer running; forgetting it",
            existing.run_id
        );
        lab_dir.clear()?;
    }
    let plan = AddressPlan::new(options.net, settings.replicas);
    for (owner, address) in plan.all_listeners(settings) {
        if let Err(e) = std::net::TcpListener::bind(address) {
            return Err(UpError::AddressInUse {
                owner,
                address,
                detail: e.to_string(),
            });
        }
    }

    std::fs::create_dir_all(lab_dir.root()).map_err(UpError::RunFolder)?;
    check_free_space(lab_dir.root())?;
    let lock = Lock::embedded()?;
    let cache = Cache::from_env()?;
    let jars = cache.ensure(KAFKA, &lock.set(KAFKA)).await?;

    let (run_id, run_dir) =
        runs::create_run(&lab_dir.runs_dir(), &settings.release).map_err(UpError::RunFolder)?;
    let platforms = match &jdk {
        Some(jdk) => Platforms::Real {
            platform: platform::prepare(&cache, &lock, jdk, &run_dir).await?,
            connector: options.platforms.connector.clone(),
        },
        None => Platforms::StandIn(standin_binary.clone()),
    };
    let logs = run_dir.join("logs");
    let (golden_store, log4j) =
        brokers::lay_out(settings, &plan, &run_dir).map_err(UpError::RunFolder)?;
    let jvm = brokers::Jvm {
        java: java_path,
        classpath: std::env::join_paths(&jars)
            .expect("cache paths hold no ':'")
            .to_string_lossy()
            .into_owned(),
        log4j,
    };
    brokers::format_all(&jvm, &golden_store).await?;
    let spec = control_plane_spec(options, &plan, &jvm, &golden_store, &platforms, &run_dir);
    let spec_path = run_dir.join("control-plane.json");
    crate::state::write_json(&spec_path, &spec)?;

    let mut control_plane = tokio::process::Command::new(&lab_binary)
        .arg("control-plane")
        .arg("--spec")
        .arg(&spec_path)
        .stdin(Stdio::null())
        .stdout(log_file(&logs, "control-plane")?)
        .stderr(log_file(&logs, "control-plane")?)
        // Its own process group: a Ctrl-C in the user's terminal after lab-up returned
        // must not take the lab down with it.
        .process_group(0)
        .spawn()
        .map_err(|error| UpError::Spawn {
            program: lab_binary.clone(),
            error,
        })?;
    let pid = control_plane.id().expect("a just-spawned child has a pid");
    let endpoints = Endpoints {
        connector_service_url: format!("https://{}", plan.connector_service()),
        golden_store_bootstrap: plan.golden_store_bootstrap(),
    };
    let state = LabState {
        settings: settings.clone(),
        run_id,
        run_dir: run_dir.clone(),
        created_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        endpoints: endpoints.clone(),
        substrate: SubstrateState::Local(LocalState {
            control_plane_pid: pid,
            api_address: plan.control_plane(),
            bin_dir: options.bin_dir.clone(),
        }),
        egeria: EgeriaRun {
            note: options.platforms.note.clone(),
            ..platforms.run()
        },
    };
    // Recorded before waiting, so that even an interrupted lab-up can be taken down.
    lab_dir.save_state(&state)?;

    let substrate = LocalSubstrate::new(plan.control_plane(), endpoints);
    let started = Instant::now();
    let outcome = tokio::select! {
        ready = wait_until_up(&substrate, options.deadline) => match ready {
            Ok(()) => golden_store_ready(&plan, settings, options.deadline.saturating_sub(started.elapsed()), started)
                .await
                .map_err(|wait| UpError::GoldenStore { wait, logs: logs.clone(), release: settings.release.clone() }),
            Err(wait) => Err(UpError::NotUp { wait, logs: logs.clone() }),
        },
        died = first_pod_death(&substrate, &logs) => Err(died),
        status = control_plane.wait() => Err(UpError::ControlPlaneDied {
            status: status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string()),
            log: logs.join("control-plane.log"),
        }),
        () = cancelled => Err(UpError::Interrupted),
    };
    if let Err(error) = outcome {
        eprintln!("lab-up failed; stopping everything it started");
        if let Err(down_error) = down(lab_dir).await {
            eprintln!("  while stopping: {down_error}");
        }
        return Err(error);
    }
    Ok(state)
}

fn log_file(logs: &Path, name: &str) -> Result<std::fs::File, UpError> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(logs.join(format!("{name}.log")))
        .map_err(UpError::RunFolder)
}

/// What the connector and PTS pods run.
enum Platforms {
    StandIn(PathBuf),
    Real {
        platform: RealPlatform,
        /// On the connector pods' class path; none: Egeria's in-memory repository.
        connector: Option<Connector>,
    },
}

impl Platforms {
    fn run(&self) -> EgeriaRun {
        match self {
            Platforms::StandIn(_) => EgeriaRun::default(),
            Platforms::Real {
                platform,
                connector,
            } => EgeriaRun {
                kind: EgeriaKind::Real,
                release: Some(platform.release.clone()),
                repository: match connector {
                    Some(_) => LocalRepository::Connector,
                    None => LocalRepository::InMemory,
                },
                connector: connector.as_ref().map(|c| c.origin.clone()),
                connector_version: connector.as_ref().and_then(|c| c.version.clone()),
                xtdb_version: connector.as_ref().and_then(|c| c.xtdb_version.clone()),
                note: None,
            },
        }
    }
}

/// Decides what the pods run: what was asked for, and, when nothing was, real Egeria
/// with the connector whenever one can be had, else the stand-in, with the reason.
pub async fn choose_platforms(request: &PlatformRequest) -> Result<PlatformChoice, UpError> {
    if request.egeria == Some(EgeriaKind::StandIn) {
        if request.connector.is_some() || request.xtdb_version.is_some() {
            return Err(UpError::Conflict(
                "--connector and --xtdb-version run on real Egeria: drop --egeria stand-in",
            ));
        }
        return Ok(PlatformChoice::stand_in());
    }
    let lock = Lock::embedded()?;
    let release = platform::egeria_release(&lock).unwrap_or_default();
    let cache = Cache::from_env()?;
    let found = match &request.connector {
        Some(path) => Ok(connector::inspect_for(path, &release)?),
        None => connector::released(&cache, &lock).await,
    };
    let (connector, note) = match (found, request.egeria) {
        (Ok(connector), _) => (Some(connector), None),
        (Err(unavailable), Some(EgeriaKind::Real)) => {
            if request.xtdb_version.is_some() {
                return Err(unavailable.into());
            }
            (
                None,
                Some(format!(
                    "{unavailable}\n  Running Egeria's in-memory repository on each connector pod instead (not shared between pods)."
                )),
            )
        }
        (Err(unavailable), _) => {
            return Ok(PlatformChoice {
                note: Some(format!(
                    "real Egeria was not run: {unavailable}\n  Running the stand-in (egeria-standin, a test fixture: not Egeria) instead."
                )),
                ..PlatformChoice::stand_in()
            });
        }
    };
    let connector = match (connector, &request.xtdb_version) {
        (Some(connector), Some(version)) => {
            Some(connector::over_xtdb(&cache, connector, version).await?)
        }
        (None, Some(_)) => {
            return Err(UpError::Conflict(
                "--xtdb-version replaces the connector's XTDB modules: it needs a connector (--connector PATH)",
            ));
        }
        (connector, None) => connector,
    };
    Ok(PlatformChoice {
        egeria: EgeriaKind::Real,
        connector,
        note,
    })
}

/// The JDK beside the `java` found: its compiler builds the launcher, its keytool the
/// platforms' keystore.
fn find_jdk(java: &Check, java_path: PathBuf) -> Result<Jdk, UpError> {
    let javac = prereq::check_jdk(java);
    let (Some(javac_path), Some(keytool)) = (
        javac.path().map(Path::to_path_buf),
        prereq::jdk_tool(&java_path, "keytool"),
    ) else {
        return Err(UpError::Prerequisite(Box::new(javac)));
    };
    Ok(Jdk {
        java: java_path,
        javac: javac_path,
        keytool,
    })
}

fn control_plane_spec(
    options: &UpOptions,
    plan: &AddressPlan,
    jvm: &brokers::Jvm,
    golden_store: &[brokers::Broker],
    platforms: &Platforms,
    run_dir: &Path,
) -> ControlPlaneSpec {
    let settings = &options.settings;
    let mut pods = brokers::pod_specs(jvm, plan, golden_store);
    let standin = |standin: &Path, name: String, role, ordinal, address: SocketAddr| PodSpec {
        args: vec![
            "--pod".into(),
            name.clone(),
            "--listen".into(),
            address.to_string(),
            "--server-start-delay".into(),
            humantime::format_duration(options.server_start_delay).to_string(),
            "--platform-delay".into(),
            humantime::format_duration(options.platform_delay).to_string(),
        ],
        name,
        role,
        ordinal,
        address,
        program: standin.to_path_buf(),
        workdir: None,
    };
    let platform = |name, role, ordinal, address| match platforms {
        Platforms::StandIn(binary) => standin(binary, name, role, ordinal, address),
        Platforms::Real {
            platform,
            connector,
        } => {
            // The PTS platform builds the common configuration, and checks the
            // connection's provider class as it does: it needs the connector too (upstream
            // runs every platform from one image).
            let jars = connector.as_ref().map_or(&[][..], |c| c.jars.as_slice());
            platform.pod_spec(name, role, ordinal, address, jars)
        }
    };
    pods.push(platform(settings.pts_pod(), Role::Pts, 0, plan.pts()));
    for i in 0..settings.replicas {
        pods.push(platform(
            settings.connector_pod(i),
            Role::Connector,
            i,
            plan.connector(i),
        ));
    }
    ControlPlaneSpec {
        api_address: plan.control_plane(),
        connector_service_address: plan.connector_service(),
        log_dir: run_dir.join("logs"),
        grace_period_ms: 5_000,
        restart_delay_ms: 100,
        pods,
    }
}

/// Every pod's port answers (a broker's once its client listener is open).
async fn wait_until_up(
    substrate: &LocalSubstrate,
    deadline: Duration,
) -> Result<(), DeadlineExceeded> {
    let started = Instant::now();
    let reported = std::sync::Mutex::new(std::collections::BTreeSet::new());
    poll_until("every pod of the lab to answer", deadline, || {
        let reported = &reported;
        async move {
            let pods = substrate
                .list_pods()
                .await
                .map_err(|e| format!("control plane: {e}"))?;
            let mut pending = Vec::new();
            for pod in &pods.pods {
                let answered = pod.phase == PodPhase::Running
                    && tokio::net::TcpStream::connect(&pod.address).await.is_ok();
                if !answered {
                    pending.push(pod.name.clone());
                } else if reported
                    .lock()
                    .expect("report set")
                    .insert(pod.name.clone())
                {
                    eprintln!(
                        "  {:<16} up at {:<20} ({:.1}s)",
                        pod.name,
                        pod.address,
                        started.elapsed().as_secs_f64()
                    );
                }
            }
            if pending.is_empty() {
                Ok(())
            } else {
                Err(format!("not answering yet: {}", pending.join(", ")))
            }
        }
    })
    .await
}

/// The golden store serves once its quorum has a leader and the lab's topics exist with
/// every replica in sync; creating them here, once, spares N connector pods racing to.
async fn golden_store_ready(
    plan: &AddressPlan,
    settings: &LabSettings,
    deadline: Duration,
    started: Instant,
) -> Result<(), DeadlineExceeded> {
    let bootstrap = plan.golden_store_bootstrap();
    let waiting = Instant::now();
    let (controller, topics) = poll_until(
        "the golden store's quorum and the lab's topics",
        deadline,
        || crate::kafka::create_lab_topics(&bootstrap, &settings.cohort, GOLDEN_STORE_MEMBERS),
    )
    .await?;
    let said = poll_until(
        "every replica of the lab's topics in sync",
        deadline.saturating_sub(waiting.elapsed()),
        || crate::kafka::replicated(&bootstrap, &topics),
    )
    .await?;
    eprintln!(
        "  {:<16} ready: controller broker {controller}, {said} ({:.1}s)",
        "golden store",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Resolves when a pod's process ends while the lab starts (a broker whose address was
/// taken, whose log folder is bad, or that ran out of memory): waiting on for it would
/// only hide the cause in its log.
async fn first_pod_death(substrate: &LocalSubstrate, logs: &Path) -> UpError {
    let mut generation = 0;
    loop {
        let pods: PodList = match substrate
            .watch_pods(generation, Duration::from_secs(5))
            .await
        {
            Ok(pods) => pods,
            Err(_) => {
                // The control plane is still starting; its own death is watched elsewhere.
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        generation = pods.generation;
        if let Some(pod) = pods
            .pods
            .iter()
            .find(|pod| pod.restarts > 0 || pod.phase == PodPhase::Restarting)
        {
            let log = logs.join(format!("{}.log", pod.name));
            return UpError::PodDied {
                pod: pod.name.clone(),
                exit: last_exit(&log),
                excerpt: crate::egeria::LogExcerpt::read(&log),
            };
        }
    }
}

/// How a pod's process ended, as the control plane logged it.
fn last_exit(log: &Path) -> String {
    std::fs::read_to_string(log)
        .ok()
        .and_then(|text| {
            text.lines().rev().find_map(|line| {
                line.split_once("process ended: ")
                    .map(|(_, how)| how.to_string())
            })
        })
        .unwrap_or_else(|| "its process ended".into())
}

/// What three brokers' logs and the lab's run folders need, with room to spare.
const MIN_FREE_MIB: u64 = 256;

/// A full disk would surface later as brokers that cannot write: say so up front.
fn check_free_space(path: &Path) -> Result<(), UpError> {
    let Some(free_mib) = free_mib(path) else {
        return Ok(());
    };
    if free_mib < MIN_FREE_MIB {
        return Err(UpError::DiskSpace {
            path: path.to_path_buf(),
            free_mib,
        });
    }
    Ok(())
}

fn free_mib(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stats = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: a valid C string and a buffer statvfs fills on success.
    let stats = unsafe {
        if libc::statvfs(c_path.as_ptr(), stats.as_mut_ptr()) != 0 {
            return None;
        }
        stats.assume_init()
    };
    Some(stats.f_bavail as u64 * stats.f_frsize as u64 / (1024 * 1024))
}

#[derive(Debug)]
pub struct DownReport {
    /// `None` when no lab was up.
    pub run_id: Option<String>,
    /// Pod processes found still alive after the control plane ended, and killed.
    pub stragglers_killed: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum DownError {
    #[error(transparent)]
    State(#[from] StateError),
    #[error("the control plane (pid {pid}) did not stop; stop it by hand with `kill {pid}`")]
    Stuck { pid: u32 },
    #[error("the lab that is up runs on the {0} substrate, not the local one")]
    OtherSubstrate(&'static str),
}

/// Stops everything `up` started: asks the control plane to stop its pods, then makes
/// sure the control plane and every pod process it recorded are gone. Only processes the
/// lab started are ever signalled (by recorded pid, after checking what runs there).
pub async fn down(lab_dir: &LabDir) -> Result<DownReport, DownError> {
    let Some(state) = lab_dir.load_state()? else {
        return Ok(DownReport {
            run_id: None,
            stragglers_killed: 0,
        });
    };
    let Some(local) = state.local() else {
        return Err(DownError::OtherSubstrate(state.kind().label()));
    };
    let pid = local.control_plane_pid;
    let substrate = LocalSubstrate::new(local.api_address, state.endpoints.clone());
    let pod_processes: Vec<(u32, String)> = match substrate.list_pods().await {
        Ok(list) => list
            .pods
            .iter()
            .filter_map(|pod| pod.pid.map(|p| (p, pod.name.clone())))
            .collect(),
        Err(_) => Vec::new(),
    };
    if is_control_plane(pid) {
        if let Err(e) = substrate.shutdown(Duration::from_secs(20)).await {
            eprintln!("  control plane did not answer ({e}); sending it SIGTERM");
            signal(pid, libc::SIGTERM);
        }
        let gone = poll_until(
            "the control plane to exit",
            Duration::from_secs(10),
            || async {
                if is_control_plane(pid) {
                    Err(format!("pid {pid} alive"))
                } else {
                    Ok(())
                }
            },
        )
        .await;
        if gone.is_err() {
            signal(pid, libc::SIGKILL);
            if is_control_plane(pid) {
                return Err(DownError::Stuck { pid });
            }
        }
    }
    let mut stragglers_killed = 0;
    for (pod_pid, name) in pod_processes {
        if is_alive_with(pod_pid, |cmdline| cmdline.iter().any(|arg| arg == &name)) {
            signal(pod_pid, libc::SIGKILL);
            stragglers_killed += 1;
        }
    }
    lab_dir.clear()?;
    Ok(DownReport {
        run_id: Some(state.run_id),
        stragglers_killed,
    })
}

fn signal(pid: u32, signal: libc::c_int) {
    // SAFETY: plain syscall; callers only pass pids they verified belong to the lab.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}

/// Whether `pid` is a live (not zombie) lab control plane.
pub fn is_control_plane(pid: u32) -> bool {
    is_alive_with(pid, |cmdline| {
        cmdline
            .first()
            .is_some_and(|program| program.ends_with(LAB_BINARY))
            && cmdline.get(1).is_some_and(|arg| arg == "control-plane")
    })
}

/// Whether `pid` runs and its command line passes `check`: a recorded pid may have been
/// reused by an unrelated process, which the lab must never signal.
pub fn is_alive_with(pid: u32, check: impl Fn(&[String]) -> bool) -> bool {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let Ok(stat) = std::fs::read_to_string(proc_dir.join("stat")) else {
        return false;
    };
    // The state letter follows the parenthesised command name.
    let zombie = stat
        .rsplit_once(')')
        .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'));
    if zombie {
        return false;
    }
    let Ok(raw) = std::fs::read(proc_dir.join("cmdline")) else {
        return false;
    };
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect();
    check(&args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_nets_parse_strictly() {
        assert_eq!("127.77".parse::<LoopbackNet>(), Ok(LoopbackNet(77)));
        for bad in ["10.0", "127.0", "127.255", "127.x", "77"] {
            assert!(bad.parse::<LoopbackNet>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn every_pod_gets_its_own_address() {
        let settings = LabSettings {
            replicas: 10,
            ..Default::default()
        };
        let plan = AddressPlan::new(LoopbackNet(77), settings.replicas);
        let listeners = plan.all_listeners(&settings);
        let unique: std::collections::HashSet<_> = listeners.iter().map(|(_, a)| a).collect();
        assert_eq!(unique.len(), listeners.len());
        assert_eq!(plan.connector(9).to_string(), "127.77.2.10:9443");
        assert_eq!(
            plan.golden_store_bootstrap(),
            "127.77.1.1:9092,127.77.1.2:9092,127.77.1.3:9092"
        );
    }

    #[test]
    fn a_foreign_pid_is_not_a_control_plane() {
        assert!(!is_control_plane(std::process::id()));
        assert!(is_alive_with(std::process::id(), |_| true));
        assert!(!is_alive_with(u32::MAX, |_| true));
    }
}
