//! `cargo xtask lab-up`: start the topology on a substrate.

use lab::settings::LabSettings;
use lab::state::{EgeriaKind, LabDir, LabState, SubstrateKind};
use lab::substrate::local::{LoopbackNet, PlatformRequest, UpOptions};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Where the pods run.
    #[arg(long, value_enum, default_value = "kind")]
    pub substrate: SubstrateKind,
    /// Number of connector pods behind the load-balancing service.
    #[arg(long, default_value_t = 3)]
    pub replicas: u16,
    /// Prefix of every pod and service name.
    #[arg(long, default_value = "lab")]
    pub release: String,
    /// local: what the connector and PTS pods run: `real`, an OMAG Server Platform
    /// assembled from Egeria's released modules (the connector server on Egeria's
    /// in-memory repository), or `stand-in`, the lab's test fixture (not Egeria).
    /// [default: real Egeria with the connector when one can be had (the released one,
    /// or --connector), else the stand-in, saying why]
    #[arg(long, value_enum)]
    pub egeria: Option<EgeriaKind>,
    /// local, real Egeria: your own build of the XTDB connector, a jar with its
    /// dependencies or a folder of jars, put on every connector pod's class path (checked
    /// first: it must hold the connector's provider and be of the platform's release).
    #[arg(long, value_name = "PATH")]
    pub connector: Option<std::path::PathBuf>,
    /// local, real Egeria: run the connector over these XTDB modules (xtdb-core, -kafka,
    /// -rocksdb, -lucene, fetched from the registry) instead of those it bundles, e.g.
    /// 1.24.3 to prove the fix of xtdb/xtdb#2912.
    #[arg(long, value_name = "VERSION")]
    pub xtdb_version: Option<String>,
    /// Loopback /16 the local substrate's pods live in.
    #[arg(long, default_value = "127.77")]
    pub loopback_net: LoopbackNet,
    /// How long the stand-in platform takes to start a server (a real JVM takes minutes).
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub server_start_delay: Duration,
    /// How long each stand-in platform waits before listening (to rehearse slow pods).
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration, hide = true)]
    pub platform_delay: Duration,
    /// How long to wait for every pod to answer [default: 60s local, 4m local with real
    /// Egeria, 20m kind].
    #[arg(long, value_parser = humantime::parse_duration)]
    pub ready_timeout: Option<Duration>,
    /// kind, cluster: a values preset of the chart [default: laptop-16g on kind, cluster
    /// on an existing cluster].
    #[arg(long)]
    pub preset: Option<String>,
    /// kind, cluster: a values file of your own for the chart (repeatable; validated by its
    /// schema).
    #[arg(long = "values", value_name = "FILE")]
    pub values_files: Vec<std::path::PathBuf>,
    /// kind, cluster: the namespace the chart is installed in (on a cluster, created when
    /// absent and then deleted at lab-down; one holding objects of others is refused).
    #[arg(long, default_value = "egeria-ha-lab")]
    pub namespace: String,
    /// cluster: the kubeconfig context of the cluster (required: the lab never uses the
    /// current context).
    #[arg(long, value_name = "NAME")]
    pub context: Option<String>,
    /// cluster: the kubeconfig file [default: $KUBECONFIG, else ~/.kube/config].
    #[arg(long, value_name = "PATH")]
    pub kubeconfig: Option<std::path::PathBuf>,
    /// cluster: the runner image, REPOSITORY:TAG, pushed where the cluster pulls from
    /// (`cargo xtask runner-image --tag REF` builds it).
    #[arg(long, value_name = "REF", value_parser = crate::runner_image::parse_reference)]
    pub runner_image: Option<crate::runner_image::ImageReference>,
    /// kind: install into an existing cluster named egeria-ha-lab that this lab did not
    /// create (it will never be deleted).
    #[arg(long)]
    pub adopt_cluster: bool,
}

/// How long the workloads of a chart install have to become ready, unless told.
const KUBE_READY_TIMEOUT: Duration = Duration::from_secs(20 * 60);

/// Memory the kind presets need on the host, in GiB.
fn preset_memory_gib(preset: &str) -> u64 {
    match preset {
        "laptop-16g" => 12,
        _ => 4,
    }
}

pub fn run(lab_dir: LabDir, args: UpArgs) -> anyhow::Result<()> {
    crate::paths::runtime()?.block_on(up(&lab_dir, &args))?;
    println!("next: cargo xtask bootstrap");
    Ok(())
}

/// Starts the lab and prints where everything is; Ctrl-C stops what was started.
pub async fn up(lab_dir: &LabDir, args: &UpArgs) -> anyhow::Result<LabState> {
    let settings = LabSettings {
        release: args.release.clone(),
        replicas: args.replicas,
        ..Default::default()
    };
    // Refuse bad input before spending time on a build.
    settings.validate()?;
    if args.substrate != SubstrateKind::Cluster {
        let cluster_only = [
            ("--context", args.context.is_some()),
            ("--kubeconfig", args.kubeconfig.is_some()),
            ("--runner-image", args.runner_image.is_some()),
        ];
        if let Some((flag, _)) = cluster_only.iter().find(|(_, given)| *given) {
            anyhow::bail!(
                "{flag} is for --substrate cluster (an existing cluster); the {} substrate makes its own",
                args.substrate.label()
            );
        }
    }
    let local_only = [
        ("--egeria", args.egeria.is_some()),
        ("--connector", args.connector.is_some()),
        ("--xtdb-version", args.xtdb_version.is_some()),
    ];
    if args.substrate != SubstrateKind::Local
        && let Some((flag, _)) = local_only.iter().find(|(_, given)| *given)
    {
        anyhow::bail!(
            "{flag} is for --substrate local; on {} the chart runs real Egeria with the connector it pins",
            args.substrate.label()
        );
    }
    match args.substrate {
        SubstrateKind::Kind => return kind_up(lab_dir, args, settings).await,
        SubstrateKind::Cluster => return cluster_up(lab_dir, args, settings).await,
        SubstrateKind::Local => {}
    }
    let bin_dir = crate::paths::lab_binaries()?;
    // A real platform is a Spring Boot JVM: 10–20 s alone, longer with five starting on
    // two cores.
    let platforms = lab::substrate::local::choose_platforms(&PlatformRequest {
        egeria: args.egeria,
        connector: args.connector.clone(),
        xtdb_version: args.xtdb_version.clone(),
    })
    .await?;
    // Printed first and last: a run that is not what was asked for must not pass unseen.
    if let Some(note) = &platforms.note {
        eprintln!("note: {note}");
    }
    let egeria = platforms.egeria;
    let default_deadline = match egeria {
        EgeriaKind::Real => Duration::from_secs(240),
        EgeriaKind::StandIn => Duration::from_secs(60),
    };
    let options = UpOptions {
        settings,
        bin_dir,
        net: args.loopback_net,
        server_start_delay: args.server_start_delay,
        platform_delay: args.platform_delay,
        deadline: args.ready_timeout.unwrap_or(default_deadline),
        platforms,
    };
    let started = Instant::now();
    eprintln!(
        "starting the local substrate: 3 golden-store members, {} connector pods, 1 PTS pod on {}.0.0/16; platforms: {}",
        options.settings.replicas,
        options.net,
        match (egeria, &options.platforms.connector) {
            (EgeriaKind::Real, Some(connector)) => format!(
                "real Egeria (OMAG Server Platforms from Egeria's released modules) with the XTDB connector ({})",
                connector.origin
            ),
            (EgeriaKind::Real, None) =>
                "real Egeria (OMAG Server Platforms from Egeria's released modules) on its in-memory repository".into(),
            (EgeriaKind::StandIn, _) =>
                "the stand-in (egeria-standin, a test fixture: not Egeria)".into(),
        }
    );
    let interrupted = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let state = lab::substrate::local::up(lab_dir, &options, interrupted).await?;
    println!(
        "lab {} is up in {:.1}s (run {})\n  platforms:         {}\n  connector service: {}\n  golden store:      {}\n  logs:              {}",
        state.settings.release,
        started.elapsed().as_secs_f64(),
        state.run_id,
        state.egeria.describe(),
        state.endpoints.connector_service_url,
        state.endpoints.golden_store_bootstrap,
        state.run_dir.join("logs").display()
    );
    if let Some(note) = &state.egeria.note {
        println!("note: {note}");
    }
    Ok(state)
}

/// Refuses a substrate whose tools are missing, naming each and how to install it.
fn refuse_missing(substrate: SubstrateKind, checks: Vec<lab::prereq::Check>) -> anyhow::Result<()> {
    let missing: Vec<String> = checks
        .into_iter()
        .filter(|check| !check.is_ok())
        .map(|check| {
            format!(
                "{}: {}; {}",
                check.name,
                check.problem(),
                check.install_command()
            )
        })
        .collect();
    if !missing.is_empty() {
        let label = substrate.label();
        anyhow::bail!(
            "the {label} substrate cannot run here:\n  {}\n(`cargo xtask doctor --substrate {label}` checks again; `--substrate local` runs the lab without Docker or a cluster)",
            missing.join("\n  ")
        );
    }
    Ok(())
}

fn refuse_a_second_lab(lab_dir: &LabDir) -> anyhow::Result<()> {
    if let Some(existing) = lab_dir.load_state()? {
        anyhow::bail!(
            "a lab is already up (release {}, run {}, substrate {}); run `cargo xtask lab-down` first",
            existing.settings.release,
            existing.run_id,
            existing.kind().label()
        );
    }
    Ok(())
}

async fn kind_up(
    lab_dir: &LabDir,
    args: &UpArgs,
    settings: LabSettings,
) -> anyhow::Result<LabState> {
    let preset = args.preset.clone().unwrap_or_else(|| "laptop-16g".into());
    refuse_missing(
        SubstrateKind::Kind,
        lab::prereq::check_kind(preset_memory_gib(&preset)),
    )?;
    refuse_a_second_lab(lab_dir)?;
    let (chart, _) = chart_options(lab_dir, args, settings, preset).await?;
    let (_, run_dir) = lab::runs::create_run(&lab_dir.runs_dir(), &chart.settings.release)?;
    let options = crate::kind::KindOptions {
        chart,
        namespace: args.namespace.clone(),
        adopt_cluster: args.adopt_cluster,
        deadline: args.ready_timeout.unwrap_or(KUBE_READY_TIMEOUT),
    };
    eprintln!(
        "starting the kind substrate (cluster {})",
        crate::kind::CLUSTER
    );
    let state = crate::kind::up(lab_dir, &run_dir, &options)?;
    record_and_wait(lab_dir, state, options.deadline, "kind").await
}

/// The chart install both Kubernetes substrates make, with the values files merged once
/// (also returned, for the cluster's checks). Before anything is created: without the
/// connector's checksum the chart cannot be installed.
async fn chart_options(
    lab_dir: &LabDir,
    args: &UpArgs,
    settings: LabSettings,
    preset: String,
) -> anyhow::Result<(crate::chart::ChartOptions, serde_norway::Value)> {
    let values =
        crate::chart::merged_values(&crate::chart::values_files(&preset, &args.values_files))?;
    let overrides = crate::kind::checksum::chart_values(lab_dir, &values).await?;
    let chart = crate::chart::ChartOptions {
        settings,
        preset,
        values_files: args.values_files.clone(),
        overrides,
        helm: crate::chart::helm().await?,
    };
    Ok((chart, values))
}

/// Records a lab installed on Kubernetes, then waits for its workloads: recorded first,
/// so that lab-down can take down a lab that never got ready.
async fn record_and_wait(
    lab_dir: &LabDir,
    state: LabState,
    deadline: Duration,
    place: &str,
) -> anyhow::Result<LabState> {
    lab_dir.save_state(&state)?;
    crate::chart::wait_until_ready(&state, deadline).await?;
    let namespace = state.kube().map_or("", |kube| kube.namespace.as_str());
    println!(
        "lab {} is up on {place} (run {}, namespace {namespace})",
        state.settings.release, state.run_id
    );
    Ok(state)
}

async fn cluster_up(
    lab_dir: &LabDir,
    args: &UpArgs,
    settings: LabSettings,
) -> anyhow::Result<LabState> {
    let (context, runner_image) =
        crate::cluster::require(args.context.as_deref(), args.runner_image.as_ref())?;
    refuse_missing(SubstrateKind::Cluster, lab::prereq::check_cluster())?;
    refuse_a_second_lab(lab_dir)?;
    let preset = args.preset.clone().unwrap_or_else(|| "cluster".into());
    let (chart, values) = chart_options(lab_dir, args, settings, preset).await?;
    let options = crate::cluster::ClusterOptions {
        chart,
        context: context.to_string(),
        kubeconfig: args.kubeconfig.clone(),
        namespace: args.namespace.clone(),
        runner_image: runner_image.clone(),
        deadline: args.ready_timeout.unwrap_or(KUBE_READY_TIMEOUT),
    };
    eprintln!(
        "starting the cluster substrate (context {context}, namespace {})",
        options.namespace
    );
    // The run folder only once the cluster has passed its checks: a refused cluster leaves
    // nothing behind, here or there.
    let checked = crate::cluster::check(&options, &values).await?;
    let (_, run_dir) = lab::runs::create_run(&lab_dir.runs_dir(), &options.chart.settings.release)?;
    let state = crate::cluster::install(&run_dir, &options, checked).await?;
    record_and_wait(
        lab_dir,
        state,
        options.deadline,
        &format!("context {context}"),
    )
    .await
}
