//! Running a scenario: the probe sends traffic the whole time, the healer brings replaced
//! pods back, the steps inject their faults, and afterwards every acknowledged write is
//! read back from every connector pod on its own address.

use super::probe::{AckedWrite, Probe, ProbeConfig};
use super::scenario::{Action, PodSelector, Scenario, Step, Target, Then};
use super::{
    OutageReport, PhaseStats, PodConvergence, PodOutage, RequestKind, RequestTotals, Sample,
};
use crate::bootstrap::BootstrapOptions;
use crate::egeria::EgeriaClient;
use crate::egeria::connector;
use crate::heal::Healer;
use crate::pts::PtsProgress;
use crate::settings::LabSettings;
use crate::state::LabDir;
use crate::substrate::{PodInfo, PodPhase, Role, Substrate};
use anyhow::Context;
use futures::StreamExt;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

#[derive(Clone, Debug)]
pub struct OutageOptions {
    pub rate: f64,
    pub request_timeout: Duration,
    /// How long the pods may take to be back after a step that waits for healing.
    pub heal_deadline: Duration,
    /// How long every pod may take to have every acknowledged write.
    pub converge_deadline: Duration,
    pub max_failed: Option<u64>,
    pub max_gap: Option<Duration>,
    /// How the healer configures and starts a replaced pod.
    pub bootstrap: BootstrapOptions,
}

/// A pod the scenario took down, and the identity it had.
struct Downed {
    name: String,
    old_uid: String,
    at_ms: u64,
}

/// Every change the watch saw: when a pod was back (new uid, running and ready: a
/// connector pod in the rotation, a broker accepting connections).
#[derive(Default)]
struct PodLog {
    events: Vec<(u64, PodInfo)>,
}

impl PodLog {
    /// When the pod was back after the fault: running and ready, having been seen out of
    /// service since (a replacement has a new uid; a pod restarted in place keeps its uid,
    /// and its gate must have closed and opened again).
    fn back_at(&self, downed: &Downed) -> Option<u64> {
        let mut was_out = false;
        self.events
            .iter()
            .filter(|(at, pod)| *at >= downed.at_ms && pod.name == downed.name)
            .find(|(_, pod)| {
                was_out |= pod.uid != downed.old_uid || !pod.ready;
                was_out && pod.phase == PodPhase::Running && pod.ready
            })
            .map(|(at, _)| *at)
    }
}

pub async fn run_outage<S: Substrate>(
    substrate: &S,
    client: &EgeriaClient,
    settings: &LabSettings,
    lab_dir: &LabDir,
    scenario: &Scenario,
    options: &OutageOptions,
    pts: Option<&PtsProgress>,
) -> anyhow::Result<OutageReport> {
    check_supported(substrate, scenario)?;
    let probe = Arc::new(Probe::new(ProbeConfig {
        service_url: substrate.endpoints().connector_service_url.clone(),
        server: settings.connector_server.clone(),
        user: settings.user.clone(),
        rate: options.rate,
        timeout: options.request_timeout,
        marker: uuid::Uuid::new_v4().simple().to_string()[..8].to_string(),
    }));
    let healer = Healer::new(
        substrate,
        client,
        settings,
        lab_dir,
        options.bootstrap.clone(),
    )?;
    // Who leads what in the golden store explains much of a run: losing a leader stalls
    // what it leads for an election.
    let golden_store_leaders = substrate.leaderships().await.unwrap_or_else(|error| {
        eprintln!("  the golden store's leaders are not known: {error}");
        Vec::new()
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    let log = std::sync::Mutex::new(PodLog::default());

    let probing = probe.clone().run(stop_rx.clone());
    let healing = healer.watch(stopped(stop_rx.clone()));
    let watching = record_pods(substrate, &probe, &log, stop_rx.clone());
    let steps = async {
        let outcome = async {
            // Alone, the faults come after the scenario's `before`; during the PTS, once
            // its workbench has made calls, so that they land on PTS traffic whatever
            // the PTS's pace.
            let pts_at_first_fault = match pts {
                Some(pts) => {
                    eprintln!(
                        "  waiting for the PTS workbench to make calls before the first fault"
                    );
                    let count = pts.wait_for_calls(PTS_CALLS_DEADLINE).await?;
                    eprintln!("  {} PTS calls made: faults start", count.calls);
                    Some(count)
                }
                None => {
                    tokio::time::sleep(scenario.before).await;
                    None
                }
            };
            probe
                .ensure_served(PROBE_SERVED_DEADLINE.max(options.request_timeout * 3))
                .await
                .map_err(anyhow::Error::msg)?;
            let driven = drive(substrate, settings, scenario, options, &probe, &log).await?;
            let writes_back =
                wait_writes_back(&probe, driven.last_fault_ms, options.heal_deadline).await;
            let pts_during_faults = match (pts, pts_at_first_fault) {
                (Some(pts), Some(before)) => {
                    let (now, _) = pts
                        .sample()
                        .await
                        .context("counting the PTS calls at the end of the fault window")?;
                    Some(now - before)
                }
                _ => None,
            };
            tokio::time::sleep(scenario.after).await;
            anyhow::Ok((driven, writes_back, pts_during_faults))
        }
        .await;
        let _ = stop_tx.send(true);
        outcome
    };
    let (probed, healed, watched, driven) = tokio::join!(probing, healing, watching, steps);
    watched?;
    let heal_events = healed?;
    let (driven, writes_back, pts_during_faults) = driven?;
    let writes_back_after_ms = writes_back
        .then(|| first_write_acked_after(&probed.samples, driven.last_fault_ms))
        .flatten();
    let fault_window_ms = (
        driven.first_fault_ms,
        driven
            .pods_back_ms
            .max(writes_back_after_ms.map_or(0, |after| driven.last_fault_ms + after)),
    );
    let Driven {
        downed,
        healed_in_time,
        node_outages,
        failing_transactions,
        ..
    } = driven;

    eprintln!("checking every acknowledged write on every connector pod");
    let pods = substrate.list_pods().await?;
    let connectors: Vec<PodInfo> = pods.with_role(Role::Connector).cloned().collect();
    let (lost_writes, convergence) = integrity(
        client,
        settings,
        &connectors,
        &probed.acked,
        &probe,
        options.converge_deadline,
    )
    .await;
    let (answered, unanswered): (Vec<_>, Vec<_>) = probed
        .failed_writes
        .iter()
        .cloned()
        .partition(|write| write.answered);
    let failed_writes_applied = writes_applied(client, settings, &connectors, &answered).await;
    let unanswered_writes_applied =
        writes_applied(client, settings, &connectors, &unanswered).await;
    let pod_writes = if failing_transactions.is_empty() {
        Vec::new()
    } else {
        eprintln!("writing to every connector pod on its own address");
        write_to_every_pod(&probe, client, settings, &connectors).await
    };
    let ingester_stops = match &options.bootstrap.xtdb_logs {
        Some(logs) => ingester_stops(logs, &connectors),
        None => Vec::new(),
    };

    let log = log.into_inner().expect("pod log");
    let pods: Vec<PodOutage> = downed
        .iter()
        .map(|d| PodOutage {
            name: d.name.clone(),
            killed_at_ms: d.at_ms,
            ready_again_ms: log.back_at(d),
        })
        .collect();
    let every_pod_back = pods.iter().all(|p| p.ready_again_ms.is_some());
    // A heal cut short because the scenario killed that very pod again is superseded by
    // the heal of its replacement: what counts is each pod's last heal.
    let mut last_heals: std::collections::BTreeMap<&str, bool> = Default::default();
    for event in &heal_events {
        last_heals.insert(event.pod.as_str(), event.error.is_none());
    }
    let failed_heals = last_heals.values().filter(|healed| !**healed).count();
    let mut report = OutageReport {
        scenario: scenario.name.clone(),
        substrate: substrate.name().to_string(),
        requests: totals(&probed.samples),
        phases: phases(&probed.samples, fault_window_ms),
        longest_gap_ms: longest_gap(&probed.samples, None),
        longest_write_gap_ms: longest_gap(&probed.samples, Some(RequestKind::Write)),
        writes_back_after_ms,
        lost_writes,
        stale_reads: probed.stale_reads,
        pods,
        healed: healed_in_time && every_pod_back && failed_heals == 0,
        verdict: String::new(),
        failures: Vec::new(),
        fault_window_ms,
        convergence,
        golden_store_leaders,
        pts_during_faults,
        node_outages,
        failure_reasons: failure_reasons_of(&probed.samples),
        failed_writes_applied,
        unanswered_writes_applied,
        failing_transactions,
        pod_writes,
        ingester_stops,
        timeline: probed.samples,
    };
    report.failures = judge(&report, options);
    report.verdict = if report.failures.is_empty() {
        "pass"
    } else {
        "fail"
    }
    .into();
    Ok(report)
}

/// How long the probe may take to get its first write acknowledged before any fault.
const PROBE_SERVED_DEADLINE: Duration = Duration::from_secs(30);

/// How long the PTS may take to make its first call (a real PTS server's start included).
const PTS_CALLS_DEADLINE: Duration = Duration::from_secs(10 * 60);

/// Waits until a write sent after `since_ms` is acknowledged: pods back in the rotation
/// are not yet a service taking writes (after the loss of a golden-store leader, writes
/// wait seconds for its election), so a wait longer than a moment is announced.
async fn wait_writes_back(probe: &Probe, since_ms: u64, deadline: Duration) -> bool {
    const QUIET: Duration = Duration::from_secs(1);
    if probe.wait_write_acked(since_ms, QUIET.min(deadline)).await {
        return true;
    }
    let deadline_text = humantime::format_duration(deadline);
    eprintln!(
        "  {} writes not acknowledged yet, waiting up to {deadline_text} (the golden store may be electing a leader)",
        probe.now_ms()
    );
    let back = probe
        .wait_write_acked(since_ms, deadline.saturating_sub(QUIET))
        .await;
    if back {
        eprintln!("  {} writes acknowledged again", probe.now_ms());
    } else {
        eprintln!("  no write sent after the last fault was acknowledged within {deadline_text}");
    }
    back
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

/// Records every pod change, timestamped on the probe's clock.
async fn record_pods<S: Substrate>(
    substrate: &S,
    probe: &Probe,
    log: &std::sync::Mutex<PodLog>,
    stop: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let mut list = substrate.list_pods().await?;
    let stop = stopped(stop);
    tokio::pin!(stop);
    loop {
        {
            let now = probe.now_ms();
            let mut log = log.lock().expect("pod log");
            for pod in &list.pods {
                // A pod that joined the rotation did so when the substrate stamped it, if
                // it does, not when this watch saw it (later by the watch's delay).
                let at = pod
                    .ready_since_unix_ms
                    .filter(|_| pod.ready)
                    .map_or(now, |since| probe.ms_at_unix(since).min(now));
                log.events.push((at, pod.clone()));
            }
        }
        tokio::select! {
            () = &mut stop => return Ok(()),
            next = substrate.watch_pods(list.generation, Duration::from_secs(5)) => list = next?,
        }
    }
}

/// What [`drive`] did, on the probe's clock.
struct Driven {
    downed: Vec<Downed>,
    /// Nodes stopped and started, with the lab's pods that were on them.
    node_outages: Vec<crate::node_faults::NodeOutage>,
    failing_transactions: Vec<super::probe::FailingTransactionSent>,
    first_fault_ms: u64,
    last_fault_ms: u64,
    /// When every downed pod was back (the last step, if none was downed).
    pods_back_ms: u64,
    healed_in_time: bool,
}

/// Runs the steps: each fault, waits for healing where asked and, at the end, for every
/// downed pod to be back.
async fn drive<S: Substrate>(
    substrate: &S,
    settings: &LabSettings,
    scenario: &Scenario,
    options: &OutageOptions,
    probe: &Probe,
    log: &std::sync::Mutex<PodLog>,
) -> anyhow::Result<Driven> {
    let fault_start = probe.now_ms();
    let mut last_fault = fault_start;
    let mut downed: Vec<Downed> = Vec::new();
    let mut healed_in_time = true;
    // Paused targets and the pod each froze: pausing the leader moves the leadership, so
    // `resume leader` must thaw the pod that was paused, not whichever leads now.
    let mut paused: Vec<(Target, String)> = Vec::new();
    // Stopped nodes by the target that chose them: `start-node` starts the node stopped,
    // wherever the target pod is now.
    let mut stopped: Vec<(Target, String)> = Vec::new();
    let mut node_outages = Vec::new();
    let mut failing_transactions = Vec::new();
    for step in &scenario.steps {
        tokio::time::sleep(step.delay).await;
        last_fault = if step.action.is_node_fault() {
            let nodes = NodeSteps {
                stopped: &mut stopped,
                outages: &mut node_outages,
            };
            nodes
                .carry_out(substrate, settings, step, probe, &mut downed)
                .await?
        } else if step.action == Action::FailingTransaction {
            eprintln!(
                "  {} a failing transaction through the connector service",
                probe.now_ms()
            );
            let sent = probe.failing_transaction().await;
            eprintln!(
                "  {} answered: {}",
                probe.now_ms(),
                match sent.related_http_code {
                    Some(code) => format!("{code}: {}", sent.answer),
                    None => sent.answer.clone(),
                }
            );
            let at_ms = sent.at_ms;
            failing_transactions.push(sent);
            at_ms
        } else {
            let frozen = paused.iter().position(|(target, _)| *target == step.target);
            let name = match (step.action, frozen) {
                (Action::Resume, Some(at)) => paused.remove(at).1,
                _ => target_pod(substrate, settings, &step.target).await?,
            };
            if step.action == Action::Pause {
                paused.push((step.target, name.clone()));
            }
            let pods = substrate.list_pods().await?;
            let pod = pods
                .get(&name)
                .ok_or_else(|| anyhow::anyhow!("no pod {name} to {:?}", step.action))?;
            eprintln!("  {} {:?} {name}", probe.now_ms(), step.action);
            match step.action {
                Action::Kill => substrate.kill_pod(&name).await?,
                Action::Delete => substrate.delete_pod(&name).await?,
                Action::Pause => substrate.pause_pod(&name).await?,
                Action::Resume => substrate.resume_pod(&name).await?,
                Action::Restart => substrate.restart_pod(&name).await?,
                Action::StopNode | Action::StartNode | Action::FailingTransaction => {
                    unreachable!("handled above")
                }
            }
            let at_ms = probe.now_ms();
            if matches!(step.action, Action::Kill | Action::Delete | Action::Restart) {
                downed.push(Downed {
                    name: name.clone(),
                    old_uid: pod.uid.clone(),
                    at_ms,
                });
            }
            at_ms
        };
        if step.then == Then::WaitHealed {
            healed_in_time &= wait_healed(substrate, &downed, log, options.heal_deadline).await?;
        }
    }
    healed_in_time &= wait_healed(substrate, &downed, log, options.heal_deadline).await?;
    let back = {
        let log = log.lock().expect("pod log");
        for outage in &mut node_outages {
            outage.pods_back_ms = (downed.iter())
                .filter(|d| outage.pods.contains(&d.name))
                .map(|d| log.back_at(d))
                .collect::<Option<Vec<u64>>>()
                .and_then(|times| times.into_iter().max());
        }
        downed.iter().filter_map(|d| log.back_at(d)).max()
    };
    if !node_outages.is_empty() {
        let events = substrate.node_events().await?;
        for outage in &mut node_outages {
            outage.observe(&events, |unix_ms| probe.ms_at_unix(unix_ms));
        }
    }
    Ok(Driven {
        downed,
        node_outages,
        failing_transactions,
        first_fault_ms: fault_start,
        last_fault_ms: last_fault,
        pods_back_ms: back.unwrap_or(last_fault).max(last_fault),
        healed_in_time,
    })
}

/// The nodes a scenario stopped, by the target that chose each (`start-node` starts the
/// node stopped, wherever the target pod is now), and what each outage took down.
struct NodeSteps<'a> {
    stopped: &'a mut Vec<(Target, String)>,
    outages: &'a mut Vec<crate::node_faults::NodeOutage>,
}

impl NodeSteps<'_> {
    /// Carries out a `stop-node` or `start-node` step; returns when it was done. The pods
    /// on a stopped node join `downed`.
    async fn carry_out<S: Substrate>(
        self,
        substrate: &S,
        settings: &LabSettings,
        step: &Step,
        probe: &Probe,
        downed: &mut Vec<Downed>,
    ) -> anyhow::Result<u64> {
        if step.action == Action::StartNode {
            let at = (self.stopped.iter())
                .position(|(target, _)| *target == step.target)
                .ok_or_else(|| anyhow::anyhow!("no node stopped for {}", step.target))?;
            let (_, node) = self.stopped.remove(at);
            eprintln!("  {} start node {node}", probe.now_ms());
            substrate.start_node(&node).await?;
            return Ok(probe.now_ms());
        }
        let name = target_pod(substrate, settings, &step.target).await?;
        let before = substrate.list_pods().await?;
        eprintln!("  {} stop the node of {name}", probe.now_ms());
        let node = substrate.stop_node(&name).await?;
        let at_ms = probe.now_ms();
        eprintln!(
            "  {at_ms} node {} stopped with {}",
            node.node,
            node.pods.join(", ")
        );
        downed.extend(
            (before.pods.iter())
                .filter(|pod| node.pods.contains(&pod.name))
                .map(|pod| Downed {
                    name: pod.name.clone(),
                    old_uid: pod.uid.clone(),
                    at_ms,
                }),
        );
        self.stopped.push((step.target, node.node.clone()));
        self.outages.push(crate::node_faults::NodeOutage {
            node: node.node,
            pods: node.pods,
            ..Default::default()
        });
        Ok(at_ms)
    }
}

/// The pod a step targets; `leader` and `follower` ask the golden store, at the time of
/// the step, which member leads the transaction log.
async fn target_pod<S: Substrate>(
    substrate: &S,
    settings: &LabSettings,
    target: &Target,
) -> anyhow::Result<String> {
    Ok(match (target.role, target.pod) {
        (Role::Connector, PodSelector::Ordinal(i)) => settings.connector_pod(i),
        (Role::GoldenStore, PodSelector::Ordinal(j)) => settings.golden_store_pod(j),
        (Role::GoldenStore, PodSelector::Leader) => substrate
            .leaderships()
            .await?
            .into_iter()
            .find(|leadership| leadership.of == connector::TX_LOG_TOPIC)
            .map(|leadership| leadership.member)
            .ok_or_else(|| anyhow::anyhow!("the transaction log has no leader right now"))?,
        (Role::GoldenStore, PodSelector::Follower) => {
            let leaders: Vec<String> = substrate
                .leaderships()
                .await?
                .into_iter()
                .map(|leadership| leadership.member)
                .collect();
            let pods = substrate.list_pods().await?;
            pods.with_role(Role::GoldenStore)
                .find(|pod| !leaders.contains(&pod.name) && pod.phase == PodPhase::Running)
                .map(|pod| pod.name.clone())
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "every running golden-store member leads one of the lab's partitions \
                         or is the active controller ({})",
                        leaders.join(", ")
                    )
                })?
        }
        _ => anyhow::bail!("cannot target {target}"),
    })
}

/// Refuses, before any traffic, a scenario this substrate cannot carry out.
fn check_supported<S: Substrate>(substrate: &S, scenario: &Scenario) -> anyhow::Result<()> {
    let pauses = scenario
        .steps
        .iter()
        .any(|step| matches!(step.action, Action::Pause | Action::Resume));
    anyhow::ensure!(
        !pauses || substrate.can_pause(),
        "scenario {} pauses pods, which the {} substrate cannot do; use kill or delete \
         steps, or run it on the local substrate",
        scenario.name,
        substrate.name()
    );
    let node_steps = scenario
        .steps
        .iter()
        .any(|step| step.action.is_node_fault());
    anyhow::ensure!(
        !node_steps || substrate.can_stop_nodes(),
        "scenario {} stops nodes, which the lab does only on kind, in a cluster it created \
         itself: it never stops a node it does not own (the {} substrate here)",
        scenario.name,
        substrate.name()
    );
    let restarts = scenario
        .steps
        .iter()
        .any(|step| step.action == Action::Restart);
    anyhow::ensure!(
        !restarts || substrate.can_restart_in_place(),
        "scenario {} restarts pods in place, which the lab cannot do on the {} substrate; \
         use kill or delete steps, or run it on the local substrate",
        scenario.name,
        substrate.name()
    );
    Ok(())
}

/// Waits until every downed pod is back and every connector pod is in the rotation.
async fn wait_healed<S: Substrate>(
    substrate: &S,
    downed: &[Downed],
    log: &std::sync::Mutex<PodLog>,
    deadline: Duration,
) -> anyhow::Result<bool> {
    let started = Instant::now();
    let mut list = substrate.list_pods().await?;
    loop {
        let all_back = {
            let log = log.lock().expect("pod log");
            downed.iter().all(|d| log.back_at(d).is_some())
        };
        let rotation_full = list
            .with_role(Role::Connector)
            .all(|p| p.ready && p.phase == PodPhase::Running);
        if all_back && rotation_full {
            return Ok(true);
        }
        let left = deadline.saturating_sub(started.elapsed());
        if left.is_zero() {
            eprintln!(
                "  pods not healed within {}",
                humantime::format_duration(deadline)
            );
            return Ok(false);
        }
        list = substrate
            .watch_pods(list.generation, left.min(Duration::from_millis(500)))
            .await?;
    }
}

/// Reads every acknowledged write back from each connector pod until all have all, or
/// the deadline; returns the writes missing somewhere and each pod's convergence lag.
async fn integrity(
    client: &EgeriaClient,
    settings: &LabSettings,
    connectors: &[PodInfo],
    acked: &[AckedWrite],
    probe: &Probe,
    deadline: Duration,
) -> (u64, Vec<PodConvergence>) {
    let last_ack = acked.iter().map(|a| a.acked_at_ms).max().unwrap_or(0);
    let checks = connectors.iter().map(|pod| async move {
        let platform = client.platform(&pod.name, &pod.platform_url());
        let started = Instant::now();
        let mut missing: BTreeSet<String> = acked.iter().map(|a| a.guid.clone()).collect();
        loop {
            let found: Vec<String> = futures::stream::iter(missing.iter().cloned())
                .map(|guid| {
                    let platform = &platform;
                    async move {
                        let path = format!(
                            "/servers/{}/open-metadata/repository-services/users/{}/instances/entity/{guid}",
                            settings.connector_server, settings.user
                        );
                        let known = platform
                            .call(crate::egeria::Call::get("read back a probe write", path))
                            .await
                            .is_ok();
                        known.then_some(guid)
                    }
                })
                .buffer_unordered(16)
                .filter_map(std::future::ready)
                .collect()
                .await;
            for guid in found {
                missing.remove(&guid);
            }
            if missing.is_empty() {
                let lag = probe.now_ms().saturating_sub(last_ack);
                return (pod.name.clone(), missing, Some(lag));
            }
            if started.elapsed() >= deadline {
                return (pod.name.clone(), missing, None);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let results = futures::future::join_all(checks).await;
    let mut lost: BTreeSet<String> = BTreeSet::new();
    let mut convergence = Vec::new();
    for (pod, missing, lag_ms) in results {
        lost.extend(missing);
        convergence.push(PodConvergence { pod, lag_ms });
    }
    (lost.len() as u64, convergence)
}

/// How many of `failed` are in the repository all the same, looked up by the name each
/// would carry on one connector pod (bounded: a long outage fails many).
async fn writes_applied(
    client: &EgeriaClient,
    settings: &LabSettings,
    connectors: &[PodInfo],
    failed: &[super::probe::FailedWrite],
) -> u64 {
    const LOOKUPS: usize = 200;
    let Some(pod) = connectors.first() else {
        return 0;
    };
    let platform = client.platform(&pod.name, &pod.platform_url());
    let body = serde_json::json!({"class": "EntityPropertyFindRequest", "pageSize": 2});
    let found = futures::stream::iter(failed.iter().take(LOOKUPS))
        .map(|write| {
            let platform = &platform;
            let body = &body;
            async move {
                let path = format!(
                    "/servers/{}/open-metadata/repository-services/users/{}/instances/entities/by-property-value?searchCriteria={}",
                    settings.connector_server,
                    settings.user,
                    crate::egeria::encode_path_segment(&write.qualified_name)
                );
                platform
                    .call(crate::egeria::Call::post(
                        "look for a write answered as failed",
                        path,
                        Some(body),
                    ))
                    .await
                    .ok()
                    .and_then(|answer| answer["entities"].as_array().map(|e| !e.is_empty()))
                    .unwrap_or(false)
            }
        })
        .buffer_unordered(8)
        .filter(|applied| std::future::ready(*applied))
        .count()
        .await;
    found as u64
}

/// One write straight to each connector pod: after a failing transaction, every pod must
/// still take writes, not only the one that answered it.
async fn write_to_every_pod(
    probe: &Probe,
    client: &EgeriaClient,
    settings: &LabSettings,
    connectors: &[PodInfo],
) -> Vec<super::PodWrite> {
    let writes = connectors.iter().map(|pod| async move {
        let platform = client.platform(&pod.name, &pod.platform_url());
        let path = format!(
            "/servers/{}/open-metadata/repository-services/users/{}/instances/entity",
            settings.connector_server, settings.user
        );
        let body = probe.write_body(&format!("pod-write-{}", pod.name));
        let answer = platform
            .call(crate::egeria::Call::post(
                "write to this pod after the failing transaction",
                path,
                Some(&body),
            ))
            .await;
        super::PodWrite {
            pod: pod.name.clone(),
            ok: answer.is_ok(),
            error: answer.err().map(|e| e.to_string()),
        }
    });
    futures::future::join_all(writes).await
}

/// Every transaction ingester stop in the connector pods' logs.
fn ingester_stops(logs: &std::path::Path, connectors: &[PodInfo]) -> Vec<super::IngesterStopSeen> {
    let pods: Vec<String> = connectors.iter().map(|pod| pod.name.clone()).collect();
    crate::xtdb::stops_in_logs(logs, &pods)
        .into_iter()
        .map(|(pod, stop)| super::IngesterStopSeen { pod, stop })
        .collect()
}

/// Each reason requests failed for, with how many it failed.
pub(crate) fn failure_reasons_of(samples: &[Sample]) -> std::collections::BTreeMap<String, u64> {
    let mut reasons = std::collections::BTreeMap::new();
    for reason in samples.iter().filter_map(|s| s.error.as_deref()) {
        *reasons.entry(reason.to_string()).or_default() += 1;
    }
    reasons
}

fn totals(samples: &[Sample]) -> RequestTotals {
    let failed = samples.iter().filter(|s| !s.ok).count() as u64;
    RequestTotals {
        total: samples.len() as u64,
        ok: samples.len() as u64 - failed,
        failed,
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

fn phases(samples: &[Sample], (start, end): (u64, u64)) -> Vec<PhaseStats> {
    let mut groups: BTreeMap<usize, Vec<&Sample>> = BTreeMap::new();
    for sample in samples {
        let phase = if sample.at_ms < start {
            0
        } else if sample.at_ms < end {
            1
        } else {
            2
        };
        groups.entry(phase).or_default().push(sample);
    }
    ["before", "during", "after"]
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let group = groups.remove(&i).unwrap_or_default();
            let mut latencies: Vec<u64> = group.iter().map(|s| s.latency_ms).collect();
            latencies.sort_unstable();
            PhaseStats {
                name: (*name).to_string(),
                total: group.len() as u64,
                failed: group.iter().filter(|s| !s.ok).count() as u64,
                p50_ms: percentile(&latencies, 50.0),
                p99_ms: percentile(&latencies, 99.0),
            }
        })
        .collect()
}

/// How long after `since_ms` the first write sent from then on was acknowledged.
fn first_write_acked_after(samples: &[Sample], since_ms: u64) -> Option<u64> {
    samples
        .iter()
        .filter(|s| s.kind == RequestKind::Write && s.ok && s.at_ms >= since_ms)
        .map(|s| s.at_ms + s.latency_ms - since_ms)
        .min()
}

/// The longest time without a successful answer (of one kind, if given), from the first
/// request sent to the end of the last: a gap still open when the probe stopped counts.
fn longest_gap(samples: &[Sample], kind: Option<RequestKind>) -> u64 {
    let of_kind = || {
        samples
            .iter()
            .filter(move |s| kind.is_none_or(|kind| s.kind == kind))
    };
    let mut answered: Vec<u64> = of_kind()
        .filter(|s| s.ok)
        .map(|s| s.at_ms + s.latency_ms)
        .collect();
    answered.sort_unstable();
    let first = of_kind().map(|s| s.at_ms).min().unwrap_or(0);
    let last = of_kind().map(|s| s.at_ms + s.latency_ms).max().unwrap_or(0);
    let mut previous = first;
    let mut longest = 0;
    for at in answered.into_iter().chain([last]) {
        longest = longest.max(at.saturating_sub(previous));
        previous = at;
    }
    longest
}

fn judge(report: &OutageReport, options: &OutageOptions) -> Vec<String> {
    let mut failures = Vec::new();
    if report.lost_writes > 0 {
        failures.push(format!(
            "{} acknowledged writes were lost",
            report.lost_writes
        ));
    }
    if !report.healed {
        failures.push("healing did not complete".into());
    }
    if report.writes_back_after_ms.is_none() {
        failures.push(format!(
            "no write sent after the last fault was acknowledged within {}",
            humantime::format_duration(options.heal_deadline)
        ));
    }
    for seen in &report.ingester_stops {
        failures.push(seen.stop.describe(&seen.pod));
    }
    let aborted: u64 = report
        .failure_reasons
        .iter()
        .filter(|(reason, _)| crate::xtdb::reports_stopped_ingester(reason))
        .map(|(_, count)| count)
        .sum();
    if aborted > 0 {
        failures.push(format!(
            "{aborted} probe requests answered `{}`: writes stopped",
            crate::xtdb::INGESTER_ABORTED
        ));
    }
    for write in report.pod_writes.iter().filter(|w| !w.ok) {
        failures.push(format!(
            "after the failing transaction, {} refused a write: {}",
            write.pod,
            write.error.as_deref().unwrap_or("(no reason)")
        ));
    }
    if report.failed_writes_applied > 0 {
        failures.push(format!(
            "{} writes answered as failed were applied all the same (a client that retries them makes duplicates)",
            report.failed_writes_applied
        ));
    }
    if let Some(max) = options.max_failed
        && report.requests.failed > max
    {
        failures.push(format!(
            "{} requests failed (at most {max} allowed)",
            report.requests.failed
        ));
    }
    if let Some(max) = options.max_gap
        && report.longest_gap_ms > max.as_millis() as u64
    {
        failures.push(format!(
            "the longest gap without a successful answer was {} ms (at most {} ms allowed)",
            report.longest_gap_ms,
            max.as_millis()
        ));
    }
    failures
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_ms: u64, latency_ms: u64, ok: bool) -> Sample {
        Sample {
            at_ms,
            latency_ms,
            kind: RequestKind::Write,
            ok,
            pod: None,
            error: (!ok).then(|| "no answer within the request timeout".into()),
        }
    }

    #[test]
    fn phases_split_at_the_fault_window() {
        let samples = [
            sample(0, 5, true),
            sample(100, 50, false),
            sample(200, 7, true),
            sample(300, 9, true),
        ];
        let phases = phases(&samples, (100, 250));
        assert_eq!(
            phases
                .iter()
                .map(|p| (p.name.as_str(), p.total, p.failed))
                .collect::<Vec<_>>(),
            [("before", 1, 0), ("during", 2, 1), ("after", 1, 0)]
        );
        assert_eq!(phases[1].p50_ms, 7);
        assert_eq!(phases[1].p99_ms, 50);
    }

    #[test]
    fn the_longest_gap_spans_failures() {
        let samples = [
            sample(0, 10, true),
            sample(50, 5, false),
            sample(100, 5, false),
            sample(900, 20, true),
        ];
        assert_eq!(longest_gap(&samples, None), 910);
        assert_eq!(longest_gap(&[], None), 0);
        // Reads answered in between do not shorten the wait for a write.
        let mut mixed = samples.to_vec();
        mixed.push(Sample {
            kind: RequestKind::Read,
            ..sample(400, 5, true)
        });
        assert_eq!(longest_gap(&mixed, None), 515);
        assert_eq!(longest_gap(&mixed, Some(RequestKind::Write)), 910);
        assert_eq!(longest_gap(&mixed, Some(RequestKind::Read)), 5);
        // Writes still failing when the probe stopped: the gap runs to the last answer.
        let stalled = [
            sample(0, 10, true),
            sample(100, 2000, false),
            sample(200, 2000, false),
        ];
        assert_eq!(longest_gap(&stalled, None), 2190);
    }

    #[test]
    fn writes_are_back_when_the_first_write_sent_after_the_fault_is_acknowledged() {
        let samples = [
            sample(900, 5, true),
            sample(1000, 2000, false),
            sample(1100, 400, true),
            sample(1200, 30, true),
            Sample {
                kind: RequestKind::Read,
                ..sample(1050, 1, true)
            },
        ];
        assert_eq!(first_write_acked_after(&samples, 1000), Some(230));
        assert_eq!(first_write_acked_after(&samples, 1300), None);
    }

    #[test]
    fn verdict_fails_on_lost_writes_unhealed_pods_and_thresholds() {
        let report = OutageReport {
            lost_writes: 1,
            healed: false,
            requests: RequestTotals {
                total: 10,
                ok: 7,
                failed: 3,
            },
            longest_gap_ms: 1500,
            ..Default::default()
        };
        let options = OutageOptions {
            rate: 20.0,
            request_timeout: Duration::from_secs(2),
            heal_deadline: Duration::from_secs(60),
            converge_deadline: Duration::from_secs(30),
            max_failed: Some(2),
            max_gap: Some(Duration::from_secs(1)),
            bootstrap: BootstrapOptions::default(),
        };
        assert_eq!(judge(&report, &options).len(), 5);
        let fine = OutageReport {
            healed: true,
            writes_back_after_ms: Some(80),
            ..Default::default()
        };
        assert!(judge(&fine, &options).is_empty());
    }

    /// Scenarios carried out through the Kubernetes API: a mock API server keeps the pods
    /// as their StatefulSets would, and a fake broker says which one leads the log.
    mod on_kubernetes {
        use super::*;
        use crate::kafka::fake_broker;
        use crate::substrate::Endpoints;
        use crate::substrate::kube::KubeSubstrate;
        use crate::substrate::kube::mock::{MockApi, PODS, StatefulSetCluster};
        use http::Method;
        use std::collections::HashMap;

        /// The lab's pods, every partition of the lab's topics led by broker `leader`,
        /// the quorum by broker `controller`.
        async fn lab(leader: i32, controller: i32) -> (MockApi, KubeSubstrate) {
            let hosts: Vec<String> = (0..3)
                .map(|id| format!("lab-kafka-{id}.lab-kafka-headless.ns.svc.cluster.local"))
                .collect();
            let brokers: Vec<(i32, &str)> =
                (0..3).map(|id| (id, hosts[id as usize].as_str())).collect();
            let led = [(0, leader)];
            let topics: Vec<fake_broker::TopicAnswer> = vec![
                (connector::TX_LOG_TOPIC, 0, &led),
                (connector::DOCUMENT_STORE_TOPIC, 0, &led),
            ];
            let (bootstrap, _requests) = fake_broker::serve(HashMap::from([
                (
                    fake_broker::METADATA,
                    fake_broker::metadata_answer(&brokers, &topics),
                ),
                (
                    fake_broker::DESCRIBE_QUORUM,
                    fake_broker::quorum_answer(controller),
                ),
            ]))
            .await;
            let api = StatefulSetCluster::serve(&[
                ("lab-crux-0", "connector"),
                ("lab-crux-1", "connector"),
                ("lab-crux-2", "connector"),
                ("lab-kafka-0", "golden-store"),
                ("lab-kafka-1", "golden-store"),
                ("lab-kafka-2", "golden-store"),
            ]);
            let endpoints = Endpoints {
                connector_service_url: "https://lab-crux.ns.svc.cluster.local:9443".into(),
                golden_store_bootstrap: bootstrap,
            };
            let substrate = KubeSubstrate::new(api.client.clone(), "ns", "lab", endpoints);
            (api, substrate)
        }

        /// Runs a built-in scenario's steps as `run_outage` does, short, with the pods'
        /// changes recorded. Standing in for the healer, `open_gates` only marks replaced
        /// connector pods ready (the real healer first configures their servers through
        /// Egeria's API, out of reach here).
        async fn run_steps(substrate: &KubeSubstrate, name: &str) -> anyhow::Result<Driven> {
            let mut scenario = crate::outage::scenario::load(name, 3)?;
            scenario.before = Duration::from_millis(20);
            check_supported(substrate, &scenario)?;
            let options = OutageOptions {
                rate: 20.0,
                request_timeout: Duration::from_secs(2),
                heal_deadline: Duration::from_secs(20),
                converge_deadline: Duration::from_secs(1),
                max_failed: None,
                max_gap: None,
                bootstrap: BootstrapOptions::default(),
            };
            let probe = Probe::new(ProbeConfig {
                service_url: substrate.endpoints().connector_service_url.clone(),
                server: "crux".into(),
                user: "myuser".into(),
                rate: options.rate,
                timeout: options.request_timeout,
                marker: "test".into(),
            });
            let log = std::sync::Mutex::new(PodLog::default());
            let (stop_tx, stop_rx) = watch::channel(false);
            let watching = record_pods(substrate, &probe, &log, stop_rx.clone());
            let gating = open_gates(substrate, stop_rx);
            let steps = async {
                let settings = LabSettings::default();
                let outcome = drive(substrate, &settings, &scenario, &options, &probe, &log).await;
                let _ = stop_tx.send(true);
                outcome
            };
            let (watched, gated, driven) = tokio::join!(watching, gating, steps);
            watched?;
            gated?;
            driven
        }

        async fn open_gates(
            substrate: &KubeSubstrate,
            stop: watch::Receiver<bool>,
        ) -> anyhow::Result<()> {
            let stop = stopped(stop);
            tokio::pin!(stop);
            let mut list = substrate.list_pods().await?;
            loop {
                for pod in list.with_role(Role::Connector).filter(|pod| !pod.ready) {
                    substrate.set_ready(&pod.name, &pod.uid, true).await?;
                }
                tokio::select! {
                    () = &mut stop => return Ok(()),
                    next = substrate.watch_pods(list.generation, Duration::from_secs(5)) => {
                        list = next?;
                    }
                }
            }
        }

        /// What the runner asked of the API server, in order: `DELETE name (grace)` and
        /// `READY name uid`.
        fn faults_and_gates(api: &MockApi) -> Vec<String> {
            api.seen()
                .iter()
                .filter_map(|seen| {
                    let pod = seen.path.strip_prefix(PODS)?.strip_prefix('/')?;
                    match seen.method {
                        Method::DELETE => Some(format!(
                            "DELETE {pod} grace={}",
                            seen.body["gracePeriodSeconds"]
                        )),
                        Method::PATCH => Some(format!(
                            "READY {} {}",
                            pod.trim_end_matches("/status"),
                            seen.body["metadata"]["uid"].as_str()?
                        )),
                        _ => None,
                    }
                })
                .collect()
        }

        #[tokio::test]
        async fn crux_and_kafka_kills_a_connector_and_a_follower_then_waits_for_the_gate() {
            let (api, substrate) = lab(2, 0).await;

            let driven = run_steps(&substrate, "crux-and-kafka").await.unwrap();

            assert!(driven.healed_in_time);
            let (downed, start, end) = (driven.downed, driven.first_fault_ms, driven.pods_back_ms);
            // Broker 2 leads the lab's partitions and broker 0 the quorum: the follower is
            // broker 1, the one member that leads nothing. The gate of
            // the replacement (uid lab-crux-1-1) opens after the kill, and may open before
            // the second kill.
            let requests = faults_and_gates(&api);
            let (deletes, gates): (Vec<&String>, Vec<&String>) =
                requests.iter().partition(|r| r.starts_with("DELETE"));
            assert_eq!(
                deletes,
                ["DELETE lab-crux-1 grace=0", "DELETE lab-kafka-1 grace=0"]
            );
            assert_eq!(gates, ["READY lab-crux-1 lab-crux-1-1"]);
            assert_eq!(requests[0], "DELETE lab-crux-1 grace=0");
            let names: Vec<&str> = downed.iter().map(|d| d.name.as_str()).collect();
            assert_eq!(names, ["lab-crux-1", "lab-kafka-1"]);
            assert_eq!(downed[0].old_uid, "lab-crux-1-0");
            assert!(
                start <= downed[0].at_ms && downed[1].at_ms <= end,
                "{start}..{end}"
            );
        }

        #[tokio::test]
        async fn kafka_leader_kills_the_broker_leading_the_partition() {
            let (api, substrate) = lab(1, 0).await;

            let Driven {
                downed,
                healed_in_time,
                ..
            } = run_steps(&substrate, "kafka-leader").await.unwrap();

            assert!(healed_in_time);
            assert_eq!(faults_and_gates(&api), ["DELETE lab-kafka-1 grace=0"]);
            assert_eq!(downed[0].name, "lab-kafka-1");
        }

        #[tokio::test]
        async fn rolling_crux_kills_each_pod_once_the_previous_is_back_in_rotation() {
            let (api, substrate) = lab(0, 1).await;

            let Driven {
                downed,
                healed_in_time,
                ..
            } = run_steps(&substrate, "rolling-crux").await.unwrap();

            assert!(healed_in_time);
            assert_eq!(downed.len(), 3);
            assert_eq!(
                faults_and_gates(&api),
                [
                    "DELETE lab-crux-0 grace=0",
                    "READY lab-crux-0 lab-crux-0-1",
                    "DELETE lab-crux-1 grace=0",
                    "READY lab-crux-1 lab-crux-1-2",
                    "DELETE lab-crux-2 grace=0",
                    "READY lab-crux-2 lab-crux-2-3",
                ]
            );
        }

        #[tokio::test]
        async fn pausing_is_refused_before_any_fault() {
            let (api, substrate) = lab(0, 1).await;
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(
                file.path(),
                "name: freeze\nsteps:\n  - action: pause\n    target: {role: connector, pod: 0}\n  - action: resume\n    target: {role: connector, pod: 0}\n",
            )
            .unwrap();
            let scenario = crate::outage::scenario::load(file.path().to_str().unwrap(), 3).unwrap();

            let error = check_supported(&substrate, &scenario).unwrap_err();

            assert_eq!(
                error.to_string(),
                "scenario freeze pauses pods, which the kube substrate cannot do; use kill or \
                 delete steps, or run it on the local substrate"
            );
            assert!(api.seen().is_empty());
        }

        #[tokio::test]
        async fn a_node_outage_is_refused_where_the_nodes_are_not_the_labs() {
            // An existing cluster's runner: the chart renders no node faults there.
            let (api, substrate) = lab(0, 1).await;
            let scenario = crate::outage::scenario::load("node", 3).unwrap();

            let error = check_supported(&substrate, &scenario).unwrap_err();

            assert_eq!(
                error.to_string(),
                "scenario node stops nodes, which the lab does only on kind, in a cluster it \
                 created itself: it never stops a node it does not own (the kube substrate here)"
            );
            assert!(api.seen().is_empty(), "no traffic, no fault");
            // With the host carrying them out (kind), it passes the check.
            let on_kind = substrate.with_node_faults(true);
            check_supported(&on_kind, &scenario).unwrap();
        }
    }
}
