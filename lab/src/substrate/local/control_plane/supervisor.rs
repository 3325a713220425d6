//! StatefulSet semantics for processes: each pod runs under a supervisor task that starts
//! it again, with a new uid, whenever its process ends; kill and delete requests reach it
//! through a channel. A pod without a readiness gate (a broker, the PTS platform) is
//! ready once its port accepts connections, as the chart's TCP readiness probes say.

use super::{ClusterState, ControlPlaneSpec, PodSpec, update_pod};
use crate::substrate::{PodPhase, Role};
use std::collections::HashMap;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, watch};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Request {
    /// SIGKILL: no grace.
    Kill,
    /// SIGTERM, then SIGKILL once the grace period is over.
    Delete,
    /// SIGSTOP: the process is frozen, its sockets stay open (a hung JVM).
    Pause,
    /// SIGCONT.
    Resume,
    /// SIGKILL, then the same pod starts again in place: its uid and readiness gate are
    /// kept and its restart count grows, while everything the process held is gone (a
    /// container restarted by the kubelet after an OOM kill or a failed liveness probe).
    RestartInPlace,
}

#[derive(Clone)]
pub(super) struct Supervisors {
    requests: Arc<HashMap<String, mpsc::Sender<Request>>>,
    /// How many pods still have a live supervisor (and so possibly a process).
    alive: Arc<watch::Sender<usize>>,
}

impl Supervisors {
    /// Hands the request to the pod's supervisor; false when no such pod exists.
    pub(super) async fn send(&self, pod: &str, request: Request) -> bool {
        match self.requests.get(pod) {
            Some(sender) => sender.send(request).await.is_ok(),
            None => false,
        }
    }

    /// Waits for every supervisor to have stopped its pod; returns how many pods are
    /// still alive when the deadline passes (0 when all stopped).
    pub(super) async fn wait_all_stopped(&self, deadline: Duration) -> usize {
        let mut alive = self.alive.subscribe();
        let _ = tokio::time::timeout(deadline, alive.wait_for(|n| *n == 0)).await;
        *alive.borrow()
    }
}

struct Timing {
    grace: Duration,
    restart_delay: Duration,
}

pub(super) fn start_all(
    spec: &ControlPlaneSpec,
    state: ClusterState,
    shutdown: watch::Receiver<bool>,
) -> Supervisors {
    let mut requests = HashMap::new();
    let alive = Arc::new(watch::channel(spec.pods.len()).0);
    for pod in &spec.pods {
        let (sender, receiver) = mpsc::channel(8);
        requests.insert(pod.name.clone(), sender);
        let timing = Timing {
            grace: Duration::from_millis(spec.grace_period_ms),
            restart_delay: Duration::from_millis(spec.restart_delay_ms),
        };
        let log_path = spec.log_dir.join(format!("{}.log", pod.name));
        let (pod, state, shutdown, alive) =
            (pod.clone(), state.clone(), shutdown.clone(), alive.clone());
        tokio::spawn(async move {
            supervise(pod, log_path, state, receiver, shutdown, timing).await;
            alive.send_modify(|n| *n -= 1);
        });
    }
    Supervisors {
        requests: Arc::new(requests),
        alive,
    }
}

async fn supervise(
    pod: PodSpec,
    log_path: std::path::PathBuf,
    state: ClusterState,
    mut requests: mpsc::Receiver<Request>,
    mut shutdown: watch::Receiver<bool>,
    timing: Timing,
) {
    let mut restarts = 0u32;
    // The identity a process restarted in place keeps.
    let mut kept_uid: Option<String> = None;
    loop {
        if *shutdown.borrow() {
            break;
        }
        let mut child = match spawn(&pod, &log_path) {
            Ok(child) => child,
            Err(error) => {
                log_line(&log_path, &format!("could not start {}: {error}", pod.name));
                restarts += 1;
                if wait_or_shutdown(&mut shutdown, timing.restart_delay).await {
                    break;
                }
                continue;
            }
        };
        let in_place = kept_uid.is_some();
        let uid = kept_uid
            .take()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let pid = child.id();
        update_pod(&state, &pod.name, |info| {
            info.uid = uid.clone();
            info.phase = PodPhase::Running;
            // A pod restarted in place keeps its readiness gate, as on Kubernetes: that
            // the runner must notice, since the new process knows nothing of its server.
            if !in_place {
                info.ready = false;
                info.ready_since_unix_ms = None;
            }
            info.restarts = restarts;
            info.pid = pid;
        });

        let probe = (pod.role != Role::Connector)
            .then(|| tokio::spawn(probe_readiness(state.clone(), pod.clone(), uid.clone())));
        let mut restarting_in_place = false;
        let stopping = loop {
            tokio::select! {
                status = child.wait() => {
                    log_line(&log_path, &format!("process ended: {}", describe(status)));
                    break false;
                }
                Some(request) = requests.recv() => {
                    log_line(&log_path, &format!("{request:?} requested for uid {uid}"));
                    match request {
                        Request::Kill => { let _ = child.start_kill(); }
                        Request::Delete => terminate(&mut child, timing.grace).await,
                        Request::Pause => signal_child(&child, libc::SIGSTOP),
                        Request::Resume => signal_child(&child, libc::SIGCONT),
                        Request::RestartInPlace => {
                            restarting_in_place = true;
                            let _ = child.start_kill();
                        }
                    }
                }
                () = stop_requested(&mut shutdown) => {
                    terminate(&mut child, timing.grace).await;
                    break true;
                }
            }
        };
        if let Some(probe) = probe {
            probe.abort();
        }
        if restarting_in_place && !stopping {
            update_pod(&state, &pod.name, |info| info.pid = None);
            kept_uid = Some(uid);
            restarts += 1;
            continue;
        }
        update_pod(&state, &pod.name, |info| {
            info.ready = false;
            info.ready_since_unix_ms = None;
            info.pid = None;
            info.phase = if stopping {
                PodPhase::Terminated
            } else {
                PodPhase::Restarting
            };
        });
        if stopping {
            break;
        }
        restarts += 1;
        if wait_or_shutdown(&mut shutdown, timing.restart_delay).await {
            update_pod(&state, &pod.name, |info| info.phase = PodPhase::Terminated);
            break;
        }
    }
}

/// How often a starting pod's port is tried.
const READINESS_PERIOD: Duration = Duration::from_millis(100);

/// Marks the pod with `uid` ready once its address accepts a connection.
async fn probe_readiness(state: ClusterState, pod: PodSpec, uid: String) {
    while tokio::net::TcpStream::connect(pod.address).await.is_err() {
        tokio::time::sleep(READINESS_PERIOD).await;
    }
    update_pod(&state, &pod.name, |info| {
        if info.uid == uid {
            info.ready = true;
            info.ready_since_unix_ms = Some(crate::substrate::unix_ms());
        }
    });
}

/// Resolves once shutdown was requested (without holding the channel's lock).
async fn stop_requested(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Sleeps for `delay`; true when shutdown was requested meanwhile.
async fn wait_or_shutdown(shutdown: &mut watch::Receiver<bool>, delay: Duration) -> bool {
    tokio::select! {
        _ = tokio::time::sleep(delay) => {}
        () = stop_requested(shutdown) => return true,
    }
    *shutdown.borrow()
}

/// The temporary folder made in every pod's fresh working folder.
pub const POD_TMP: &str = "tmp";

fn spawn(pod: &PodSpec, log_path: &Path) -> std::io::Result<Child> {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)?;
    let mut command = Command::new(&pod.program);
    if let Some(workdir) = &pod.workdir {
        match std::fs::remove_dir_all(workdir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        // With a temporary folder of its own: JVMs unpack native libraries (RocksDB's)
        // into it, and three pods unpacking one file at once crashed one (SIGBUS).
        std::fs::create_dir_all(workdir.join(POD_TMP))?;
        command.current_dir(workdir);
    }
    command
        .args(&pod.args)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true);
    // Linux only, as the whole local substrate is (`lab-up` says so elsewhere).
    #[cfg(target_os = "linux")]
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent. The
    // control plane runs a single-threaded runtime on its main thread, which lives as long
    // as the process, so "parent died" means the control plane died: its pods go with it.
    unsafe {
        command.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    command.spawn()
}

fn signal_child(child: &Child, signal: libc::c_int) {
    if let Some(pid) = child.id() {
        // SAFETY: plain syscall on the pid of a child this task owns and has not reaped.
        unsafe {
            libc::kill(pid as libc::pid_t, signal);
        }
    }
}

/// SIGTERM, then SIGKILL if the process outlives the grace period.
async fn terminate(child: &mut Child, grace: Duration) {
    if child.id().is_some() {
        signal_child(child, libc::SIGTERM);
        // A paused process would never see the SIGTERM.
        signal_child(child, libc::SIGCONT);
        if tokio::time::timeout(grace, child.wait()).await.is_ok() {
            return;
        }
    }
    let _ = child.kill().await;
}

fn describe(status: std::io::Result<std::process::ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        Ok(status) => match (status.code(), status.signal()) {
            (Some(code), _) => format!("exit code {code}"),
            (None, Some(signal)) => format!("signal {signal}"),
            _ => status.to_string(),
        },
        Err(error) => format!("unknown ({error})"),
    }
}

fn log_line(path: &Path, line: &str) {
    let stamp = humantime::format_rfc3339_millis(std::time::SystemTime::now());
    if let Ok(mut file) = OpenOptions::new().create(true).append(true).open(path) {
        let _ = writeln!(file, "[{stamp} control-plane] {line}");
    }
}
