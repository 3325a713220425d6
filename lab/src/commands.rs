//! The runner commands shared by both front doors (`cargo xtask …` and the `lab`
//! binary): the same arguments, the same output.

use crate::bootstrap::{BootstrapOptions, bootstrap};
use crate::runs::unused_path;
use crate::session::Session;
use crate::state::{LabDir, write_json};
use anyhow::Context;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, clap::Args)]
pub struct BootstrapArgs {
    /// How long each platform may take to answer.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub platform_timeout: Duration,
    /// How long each server start may take.
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    pub start_timeout: Duration,
    /// How many pods are configured and started at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
}

impl BootstrapArgs {
    /// The same arguments as a command line, for running `lab bootstrap` elsewhere.
    pub fn to_args(&self) -> Vec<String> {
        vec![
            "bootstrap".into(),
            "--platform-timeout".into(),
            humantime::format_duration(self.platform_timeout).to_string(),
            "--start-timeout".into(),
            humantime::format_duration(self.start_timeout).to_string(),
            "--parallel".into(),
            self.parallel.to_string(),
        ]
    }
}

pub async fn bootstrap_command(dir: LabDir, args: &BootstrapArgs) -> anyhow::Result<()> {
    let session = Session::open(dir).await?;
    let options = BootstrapOptions {
        platform_deadline: args.platform_timeout,
        start_deadline: args.start_timeout,
        parallelism: usize::from(args.parallel),
        ..lab_bootstrap_options(&session)
    };
    eprintln!("platforms: {}", session.state.egeria.describe());
    let report = bootstrap(
        &session.substrate,
        &session.client,
        &session.state.settings,
        &session.dir,
        &options,
    )
    .await
    .context("bootstrap")?;
    let path = unused_path(&session.state.run_dir, "bootstrap", "json");
    write_json(&path, &report)?;
    let ready = report.pods.iter().filter(|pod| pod.ready).count();
    println!(
        "bootstrap: {ready}/{} connector pods ready in {} ms (metadataCollectionId {}); report: {}",
        report.pods.len(),
        report.total_ms,
        report.metadata_collection_id,
        path.display()
    );
    let failed: Vec<String> = report
        .failed_pods()
        .map(|pod| format!("{}: {}", pod.name, pod.error.as_deref().unwrap_or_default()))
        .collect();
    if !failed.is_empty() {
        anyhow::bail!("{} pods failed:\n  {}", failed.len(), failed.join("\n  "));
    }
    Ok(())
}

/// The connector pods' XTDB ingester stops, where the lab reads their logs (a local lab
/// on the real connector); empty elsewhere.
async fn ingester_stops(
    session: &Session,
) -> anyhow::Result<Vec<(String, crate::xtdb::IngesterStop)>> {
    let Some(logs) = lab_bootstrap_options(session).xtdb_logs else {
        return Ok(Vec::new());
    };
    use crate::substrate::Substrate;
    let pods = session.substrate.list_pods().await?;
    let connectors: Vec<String> = pods
        .with_role(crate::substrate::Role::Connector)
        .map(|pod| pod.name.clone())
        .collect();
    Ok(crate::xtdb::stops_in_logs(&logs, &connectors))
}

/// Refuses traffic-driving commands on a lab that does not serve: waiting on them would
/// only print progress that never comes.
async fn ensure_serving(session: &Session) -> anyhow::Result<()> {
    use crate::substrate::Substrate;
    let pods = session.substrate.list_pods().await?;
    if !pods
        .with_role(crate::substrate::Role::Connector)
        .any(|pod| pod.ready)
    {
        anyhow::bail!(
            "no connector pod of lab {} is in the rotation (bootstrap not done, or every pod down): run `cargo xtask bootstrap` first, then `cargo xtask status` to see each pod",
            session.state.settings.release
        );
    }
    Ok(())
}

/// The pods' logs, which only a local lab keeps where the lab can read them.
fn local_pod_logs(session: &Session) -> Option<std::path::PathBuf> {
    session
        .state
        .local()
        .is_some()
        .then(|| session.state.run_dir.join("logs"))
}

/// How this lab's pods are configured and started, by bootstrap and by every healer.
pub fn lab_bootstrap_options(session: &Session) -> BootstrapOptions {
    let egeria = &session.state.egeria;
    let real_connector = egeria.kind == crate::state::EgeriaKind::Real
        && egeria.repository == crate::state::LocalRepository::Connector;
    BootstrapOptions {
        repository: egeria.repository,
        xtdb_logs: local_pod_logs(session).filter(|_| real_connector),
        ..BootstrapOptions::default()
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn status_command(dir: LabDir, args: &StatusArgs) -> anyhow::Result<()> {
    let session = Session::open(dir).await?;
    let rows = crate::status::collect(&session.substrate, &session.client, &session.state.settings)
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!(
            "lab {} (run {}, substrate {}), connector service {}\nplatforms: {}",
            session.state.settings.release,
            session.state.run_id,
            session.state.kind().label(),
            session.state.endpoints.connector_service_url,
            session.state.egeria.describe()
        );
        print!("{}", crate::status::render_table(&rows));
    }
    let stops = ingester_stops(&session).await?;
    if !stops.is_empty() {
        anyhow::bail!(
            "writes have stopped on this lab:\n  {}",
            crate::xtdb::describe_stops(&stops)
        );
    }
    Ok(())
}

/// The PTS volume when no flag says otherwise: the stand-in's scaled-down workload runs
/// in seconds at any volume; real Egeria's is trimmed to finish within minutes on a
/// 2-core machine, keeping the purge profiles (they found xtdb/xtdb#2912).
pub struct DefaultVolume {
    pub instances_per_type: u32,
    pub max_search_results: u32,
    pub skip_profiles: &'static [&'static str],
}

pub fn default_volume(egeria: crate::state::EgeriaKind) -> DefaultVolume {
    match egeria {
        crate::state::EgeriaKind::StandIn => DefaultVolume {
            instances_per_type: 5,
            max_search_results: 2,
            skip_profiles: &[],
        },
        crate::state::EgeriaKind::Real => DefaultVolume {
            instances_per_type: REAL_INSTANCES_PER_TYPE,
            max_search_results: 2,
            skip_profiles: REAL_SKIPPED_PROFILES,
        },
    }
}

/// Real Egeria's default volume (measured in the README's "Measured").
const REAL_INSTANCES_PER_TYPE: u32 = 2;
const REAL_SKIPPED_PROFILES: &[&str] = &["Graph queries", "Graph history queries"];
/// `--skip-profile none`: run every profile, even where some are skipped by default.
const NO_PROFILE: &str = "none";

#[derive(Debug, Clone, clap::Args)]
pub struct PtsArgs {
    /// Instances the workload creates of each type [default: 5 on the stand-in, 2 on real
    /// Egeria].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub instances_per_type: Option<u32>,
    /// Page size of every search [default: 2].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub max_search_results: Option<u32>,
    /// Pause between two scenarios, in seconds.
    #[arg(long, default_value_t = 0)]
    pub wait_between_scenarios: u32,
    /// A PTS profile to skip (repeatable), e.g. "Graph queries" [default on real Egeria:
    /// the two graph profiles; `none` runs every profile].
    #[arg(long = "skip-profile", value_name = "NAME")]
    pub skip_profiles: Vec<String>,
    /// How long the PTS may run before the lab collects what exists and fails.
    #[arg(long, default_value = "30m", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Where the results go [default: <run folder>/pts]; never an existing folder.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// How many report documents are fetched at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub collect_parallel: u16,
}

impl PtsArgs {
    /// The profiles to skip as given, `none` read as none at all.
    fn profiles_given(&self) -> Vec<String> {
        self.skip_profiles
            .iter()
            .filter(|name| *name != NO_PROFILE)
            .cloned()
            .collect()
    }

    /// The profile names given, checked against real PTS's.
    pub fn check_profiles(&self) -> anyhow::Result<()> {
        crate::egeria::pts::check_profile_names(&self.profiles_given()).map_err(anyhow::Error::msg)
    }

    pub fn options(
        &self,
        settings: &crate::settings::LabSettings,
        egeria: crate::state::EgeriaKind,
    ) -> crate::pts::PtsOptions {
        let defaults = default_volume(egeria);
        let profiles_to_skip = if self.skip_profiles.is_empty() {
            defaults
                .skip_profiles
                .iter()
                .map(|s| s.to_string())
                .collect()
        } else {
            self.profiles_given()
        };
        crate::pts::PtsOptions {
            workbench: crate::egeria::pts::WorkbenchConfig {
                tut_repository_server_name: settings.connector_server.clone(),
                instances_per_type: self
                    .instances_per_type
                    .unwrap_or(defaults.instances_per_type),
                max_search_results: self
                    .max_search_results
                    .unwrap_or(defaults.max_search_results),
                wait_between_scenarios: self.wait_between_scenarios,
                profiles_to_skip,
            },
            timeout: self.timeout,
            parallelism: usize::from(self.collect_parallel),
            start_deadline: Duration::from_secs(900),
            pod_logs: None,
        }
    }

    /// The same arguments as a command line (less the host-side `--out`), for running
    /// `lab pts` elsewhere.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec!["pts".to_string()];
        if let Some(instances) = self.instances_per_type {
            args.extend(["--instances-per-type".into(), instances.to_string()]);
        }
        if let Some(results) = self.max_search_results {
            args.extend(["--max-search-results".into(), results.to_string()]);
        }
        args.extend([
            "--wait-between-scenarios".into(),
            self.wait_between_scenarios.to_string(),
            "--timeout".into(),
            humantime::format_duration(self.timeout).to_string(),
            "--collect-parallel".into(),
            self.collect_parallel.to_string(),
        ]);
        for profile in &self.skip_profiles {
            args.push("--skip-profile".into());
            args.push(profile.clone());
        }
        args
    }
}

pub async fn pts_command(dir: LabDir, args: &PtsArgs) -> anyhow::Result<()> {
    args.check_profiles()?;
    let session = Session::open(dir).await?;
    ensure_serving(&session).await?;
    let settings = &session.state.settings;
    let options = crate::pts::PtsOptions {
        pod_logs: local_pod_logs(&session),
        ..args.options(settings, session.state.egeria.kind)
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| session.state.run_dir.join("pts"));
    let workbench = &options.workbench;
    eprintln!(
        "running the PTS through {} on {}: {} instances per type, {} search results, skipping {}",
        session.state.endpoints.connector_service_url,
        session.state.egeria.describe(),
        workbench.instances_per_type,
        workbench.max_search_results,
        if workbench.profiles_to_skip.is_empty() {
            "no profile".to_string()
        } else {
            workbench.profiles_to_skip.join(", ")
        }
    );
    // Pods replaced while the PTS runs are healed as they appear, so the run keeps its
    // full rotation.
    let healer = crate::heal::Healer::new(
        &session.substrate,
        &session.client,
        settings,
        &session.dir,
        lab_bootstrap_options(&session),
    )?;
    let (finished_tx, finished_rx) = tokio::sync::oneshot::channel::<()>();
    let pts = async {
        let run = crate::pts::run_pts(
            &session.substrate,
            &session.client,
            settings,
            &out,
            &options,
        )
        .await;
        let _ = finished_tx.send(());
        run
    };
    let healing = healer.watch(async {
        let _ = finished_rx.await;
    });
    let (run, healed) = tokio::join!(pts, healing);
    let run = run.context("PTS")?;
    for event in healed? {
        println!(
            "healed during the run: {} ({}) {}",
            event.pod,
            event.uid,
            match &event.error {
                None => format!("ready again after {} ms", event.heal_ms),
                Some(error) => format!("NOT healed: {error}"),
            }
        );
    }
    print!("{}", crate::pts::render_table(&run));
    let failed: usize = run.profiles.iter().map(|p| p.failed).sum();
    println!(
        "PTS results: {} ({} test cases, {} never ran, {failed} failed calls)",
        run.dir.display(),
        run.test_cases,
        run.never_ran
    );
    let stops = ingester_stops(&session).await?;
    if !stops.is_empty() {
        anyhow::bail!(
            "during the PTS {}\n  every write after that failed; the PTS results in {} show them as failed calls",
            crate::xtdb::describe_stops(&stops),
            run.dir.display()
        );
    }
    if let Some(shortfall) = run.shortfall(args.timeout) {
        anyhow::bail!(shortfall);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    enum Cli {
        Bootstrap(BootstrapArgs),
        Pts(PtsArgs),
    }

    /// What runs in the runner pod must be exactly what the user asked for here.
    #[test]
    fn arguments_survive_the_round_trip_to_a_command_line() {
        let Cli::Pts(pts) = Cli::parse_from([
            "lab",
            "pts",
            "--instances-per-type",
            "7",
            "--skip-profile",
            "Graph queries",
            "--timeout",
            "90s",
        ]) else {
            panic!("not pts");
        };
        let Cli::Pts(again) =
            Cli::parse_from(std::iter::once("lab".to_string()).chain(pts.to_args()))
        else {
            panic!("not pts");
        };
        assert_eq!(again.to_args(), pts.to_args());
        assert_eq!(again.skip_profiles, ["Graph queries"]);
        assert_eq!(again.timeout, Duration::from_secs(90));
        let Cli::Bootstrap(bootstrap) = Cli::parse_from(["lab", "bootstrap", "--parallel", "3"])
        else {
            panic!("not bootstrap");
        };
        let Cli::Bootstrap(again) =
            Cli::parse_from(std::iter::once("lab".to_string()).chain(bootstrap.to_args()))
        else {
            panic!("not bootstrap");
        };
        assert_eq!(again.parallel, 3);
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct HealArgs {
    /// Keep watching this long, healing each replaced connector pod as it appears.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub watch: Option<Duration>,
}

pub async fn heal_command(dir: LabDir, args: &HealArgs) -> anyhow::Result<()> {
    let session = Session::open(dir).await?;
    let healer = crate::heal::Healer::new(
        &session.substrate,
        &session.client,
        &session.state.settings,
        &session.dir,
        lab_bootstrap_options(&session),
    )?;
    let events = match args.watch {
        Some(duration) => {
            eprintln!(
                "healing replaced connector pods for {}",
                humantime::format_duration(duration)
            );
            healer.watch(tokio::time::sleep(duration)).await?
        }
        None => healer.heal_unready().await?,
    };
    let path = unused_path(&session.state.run_dir, "heal", "json");
    write_json(&path, &events)?;
    let failed = events.iter().filter(|e| e.error.is_some()).count();
    println!(
        "heal: {} pods healed, {failed} failed; report: {}",
        events.len() - failed,
        path.display()
    );
    if failed > 0 {
        anyhow::bail!("{failed} pods could not be healed (see {})", path.display());
    }
    Ok(())
}

const STAND_IN_REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
const REAL_REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, clap::Args)]
pub struct OutageArgs {
    /// A built-in scenario (crux-and-kafka, rolling-crux, kafka-leader) or a YAML file.
    #[arg(long, default_value = "crux-and-kafka")]
    pub scenario: String,
    /// Run the PTS through the service while the scenario runs.
    #[arg(long)]
    pub during_pts: bool,
    /// Probe requests per second through the connector service [default: 20 on the
    /// stand-in, 2 on real Egeria, where three XTDB pods on two cores are saturated by
    /// more].
    #[arg(long)]
    pub rate: Option<f64>,
    /// Each probe request's deadline [default: 2s on the stand-in, 10s on real Egeria,
    /// whose first writes on cold JVMs take seconds].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub request_timeout: Option<Duration>,
    /// Fail when more probe requests than this failed.
    #[arg(long)]
    pub max_failed: Option<u64>,
    /// Fail when the service went longer than this without a successful answer.
    #[arg(long, value_parser = humantime::parse_duration)]
    pub max_gap: Option<Duration>,
    /// How long pods may take to be back in rotation after a fault [default: 60s on the
    /// stand-in, 5m on real Egeria: a replaced XTDB pod rebuilds its index from the log].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub heal_timeout: Option<Duration>,
    /// How long every pod may take to have every acknowledged write.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub converge_timeout: Duration,
}

impl OutageArgs {
    /// The same arguments as a command line, for running `lab outage` elsewhere.
    pub fn to_args(&self) -> Vec<String> {
        let mut args = vec![
            "outage".into(),
            "--scenario".into(),
            self.scenario.clone(),
            "--converge-timeout".into(),
            humantime::format_duration(self.converge_timeout).to_string(),
        ];
        if self.during_pts {
            args.push("--during-pts".into());
        }
        if let Some(rate) = self.rate {
            args.extend(["--rate".into(), rate.to_string()]);
        }
        for (flag, value) in [
            ("--request-timeout", self.request_timeout),
            ("--heal-timeout", self.heal_timeout),
        ] {
            if let Some(value) = value {
                args.extend([flag.into(), humantime::format_duration(value).to_string()]);
            }
        }
        if let Some(max) = self.max_failed {
            args.extend(["--max-failed".into(), max.to_string()]);
        }
        if let Some(max) = self.max_gap {
            args.extend([
                "--max-gap".into(),
                humantime::format_duration(max).to_string(),
            ]);
        }
        args
    }
}

pub async fn outage_command(dir: LabDir, args: &OutageArgs) -> anyhow::Result<()> {
    outage_with_pts(dir, args, &PtsArgs::during_outage()).await
}

impl PtsArgs {
    /// What `outage --during-pts` runs: a volume that keeps the PTS busy through a
    /// scenario.
    pub fn during_outage() -> Self {
        Self {
            instances_per_type: Some(20),
            max_search_results: Some(2),
            wait_between_scenarios: 0,
            skip_profiles: Vec::new(),
            timeout: Duration::from_secs(30 * 60),
            out: None,
            collect_parallel: 16,
        }
    }
}

/// The outage scenario, and with `--during-pts` the PTS (as `pts` describes) at the same
/// time; writes `outage.json`, `outage.md` and `outage-timeline.svg`.
pub async fn outage_with_pts(dir: LabDir, args: &OutageArgs, pts: &PtsArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.rate.is_none_or(|rate| rate > 0.0 && rate <= 1000.0),
        "--rate must be between 0 and 1000 requests per second"
    );
    if args.during_pts {
        pts.check_profiles()?;
    }
    let session = Session::open(dir).await?;
    let settings = &session.state.settings;
    if session.state.egeria.repository == crate::state::LocalRepository::InMemory
        && settings.replicas > 1
    {
        anyhow::bail!(
            "this lab runs {}: with {} connector pods each keeps its own metadata, so a write acknowledged by one pod is missing on the others by design, and an outage verdict would report losses that are not the topology's. Run the outage with --replicas 1, or on the stand-in (--egeria stand-in)",
            session.state.egeria.describe(),
            settings.replicas
        );
    }
    let scenario = crate::outage::scenario::load(&args.scenario, settings.replicas)?;
    ensure_serving(&session).await?;
    let real = session.state.egeria.kind == crate::state::EgeriaKind::Real;
    let options = crate::outage::run::OutageOptions {
        bootstrap: lab_bootstrap_options(&session),
        rate: args.rate.unwrap_or(if real { 2.0 } else { 20.0 }),
        request_timeout: args.request_timeout.unwrap_or(if real {
            REAL_REQUEST_TIMEOUT
        } else {
            STAND_IN_REQUEST_TIMEOUT
        }),
        heal_deadline: args.heal_timeout.unwrap_or(if real {
            Duration::from_secs(300)
        } else {
            Duration::from_secs(60)
        }),
        converge_deadline: args.converge_timeout,
        max_failed: args.max_failed,
        max_gap: args.max_gap,
    };
    eprintln!(
        "outage scenario {}: {} step{}, probing {} at {} requests/s",
        scenario.name,
        scenario.steps.len(),
        if scenario.steps.len() == 1 { "" } else { "s" },
        session.state.endpoints.connector_service_url,
        options.rate
    );
    // During the PTS the faults wait for its workbench to make calls.
    let pts_progress = if args.during_pts {
        Some(crate::pts::PtsProgress::new(&session.substrate, &session.client, settings).await?)
    } else {
        None
    };
    let outage = crate::outage::run::run_outage(
        &session.substrate,
        &session.client,
        settings,
        &session.dir,
        &scenario,
        &options,
        pts_progress.as_ref(),
    );
    // A PTS cut short by its deadline fails the command, once the outage is reported.
    let mut pts_incomplete = None;
    let report = if args.during_pts {
        let pts_options = crate::pts::PtsOptions {
            pod_logs: local_pod_logs(&session),
            ..pts.options(settings, session.state.egeria.kind)
        };
        let out = pts
            .out
            .clone()
            .unwrap_or_else(|| session.state.run_dir.join("pts"));
        let pts_run = crate::pts::run_pts(
            &session.substrate,
            &session.client,
            settings,
            &out,
            &pts_options,
        );
        let (report, run) = tokio::join!(outage, pts_run);
        let run = run.context("PTS during the outage")?;
        print!("{}", crate::pts::render_table(&run));
        let failed: usize = run.profiles.iter().map(|p| p.failed).sum();
        println!("PTS results: {} ({failed} failed calls)", run.dir.display());
        pts_incomplete = run.shortfall(pts_options.timeout);
        report?
    } else {
        outage.await?
    };
    let json = unused_path(&session.state.run_dir, "outage", "json");
    write_json(&json, &report)?;
    let stem = json
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("outage")
        .to_string();
    let suffix = stem.strip_prefix("outage").unwrap_or_default();
    let markdown = json.with_file_name(format!("{stem}.md"));
    let svg = json.with_file_name(format!("outage-timeline{suffix}.svg"));
    std::fs::write(&markdown, crate::outage::render::markdown(&report))
        .with_context(|| format!("writing {}", markdown.display()))?;
    std::fs::write(&svg, crate::outage::render::timeline_svg(&report))
        .with_context(|| format!("writing {}", svg.display()))?;
    println!(
        "outage {}: {} — {} requests, {} failed, longest gap {} ms ({} ms for writes), {} lost writes, {} stale reads",
        report.scenario,
        report.verdict.to_uppercase(),
        report.requests.total,
        report.requests.failed,
        report.longest_gap_ms,
        report.longest_write_gap_ms,
        report.lost_writes,
        report.stale_reads
    );
    for pod in &report.pods {
        let led = match report.led_by(&pod.name) {
            led if led.is_empty() => String::new(),
            led => format!(" (it led {led})"),
        };
        match pod.ready_again_ms {
            Some(ready) => println!(
                "  {}: down at {} ms, back in rotation after {} ms{led}",
                pod.name,
                pod.killed_at_ms,
                ready.saturating_sub(pod.killed_at_ms)
            ),
            None => println!(
                "  {}: down at {} ms, never back{led}",
                pod.name, pod.killed_at_ms
            ),
        }
    }
    match report.writes_back_after_ms {
        Some(after) => println!("  writes acknowledged again {after} ms after the last fault"),
        None => println!("  no write acknowledged after the last fault"),
    }
    if let Some(pts) = report.pts_during_faults {
        println!(
            "  PTS during the faults: {} calls, {} failed",
            pts.calls, pts.failed
        );
    }
    for node in &report.node_outages {
        let ms =
            |at: Option<u64>| at.map_or_else(|| "not seen".to_owned(), |at| format!("{at} ms"));
        println!(
            "  node {} ({}): stopped at {}, NotReady at {}, started at {}, Ready at {}, its pods back at {} (heal {})",
            node.node,
            node.pods.join(", "),
            ms(node.stopped_ms),
            ms(node.not_ready_ms),
            ms(node.started_ms),
            ms(node.ready_ms),
            ms(node.pods_back_ms),
            ms(node.heal_ms)
        );
    }
    println!(
        "report: {} ({}, {})",
        json.display(),
        markdown.display(),
        svg.display()
    );
    if report.verdict != "pass" {
        anyhow::bail!("outage verdict fail: {}", report.failures.join("; "));
    }
    if let Some(incomplete) = pts_incomplete {
        anyhow::bail!("{incomplete}");
    }
    Ok(())
}
