//! `cargo xtask bench bootstrap`: bootstrap wall time against the replica count, lab-up
//! time, and how fast the control plane's watch reports a killed pod.

use anyhow::Context;
use lab::bootstrap::{BootstrapOptions, bootstrap};
use lab::egeria::EgeriaClient;
use lab::settings::LabSettings;
use lab::state::{EgeriaKind, LabDir};
use lab::substrate::local::LocalSubstrate;
use lab::substrate::local::{LoopbackNet, UpOptions};
use lab::substrate::{PodList, Role, Substrate};
use serde_json::json;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct BootstrapBench {
    /// Replica counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,3,10")]
    replicas: Vec<u16>,
    /// The stand-in's server start time (what parallel start hides).
    #[arg(long, default_value = "2s", value_parser = humantime::parse_duration)]
    server_start_delay: Duration,
    /// Loopback /16 for the benchmark's labs (apart from a lab that may be up).
    #[arg(long, default_value = "127.78")]
    loopback_net: LoopbackNet,
    /// What the pods run: `real` measures real Egeria's server start (try `--replicas
    /// 1,3`: each real platform is a JVM).
    #[arg(long, value_enum, default_value = "stand-in")]
    egeria: EgeriaKind,
}

struct Row {
    replicas: u16,
    up: Duration,
    bootstrap: Duration,
    kill_noticed: Duration,
}

pub async fn run(bench: BootstrapBench) -> anyhow::Result<()> {
    let bin_dir = crate::paths::lab_binaries()?;
    let root = super::run_folder("bootstrap")?;
    let mut rows = Vec::new();
    for &replicas in &bench.replicas {
        let lab_dir = LabDir::new(root.join(format!("replicas-{replicas}")));
        let options = UpOptions {
            settings: LabSettings {
                release: "bench".into(),
                replicas,
                ..Default::default()
            },
            bin_dir: bin_dir.clone(),
            net: bench.loopback_net,
            server_start_delay: bench.server_start_delay,
            platform_delay: Duration::ZERO,
            deadline: match bench.egeria {
                EgeriaKind::Real => Duration::from_secs(240),
                EgeriaKind::StandIn => Duration::from_secs(60),
            },
            platforms: lab::substrate::local::choose_platforms(
                &lab::substrate::local::PlatformRequest {
                    egeria: Some(bench.egeria),
                    ..Default::default()
                },
            )
            .await?,
        };
        eprintln!("--- {replicas} replicas");
        let measured = tokio::select! {
            row = measure(&lab_dir, &options) => row,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        };
        lab::substrate::local::down(&lab_dir)
            .await
            .context("stopping the benchmark's lab")?;
        rows.push(measured.with_context(|| format!("benchmark at {replicas} replicas"))?);
    }
    print_and_save(&bench, &rows, &root)
}

async fn measure(lab_dir: &LabDir, options: &UpOptions) -> anyhow::Result<Row> {
    let started = Instant::now();
    let state = lab::substrate::local::up(lab_dir, options, std::future::pending()).await?;
    let up = started.elapsed();
    let local = state.local().context("the benchmark's lab is not local")?;
    let substrate = LocalSubstrate::new(local.api_address, state.endpoints.clone());
    let client = EgeriaClient::new(&state.settings.user);
    let report = bootstrap(
        &substrate,
        &client,
        &state.settings,
        lab_dir,
        &BootstrapOptions {
            repository: state.egeria.repository,
            ..BootstrapOptions::default()
        },
    )
    .await?;
    if let Some(failed) = report.failed_pods().next() {
        anyhow::bail!(
            "{}: {}",
            failed.name,
            failed.error.as_deref().unwrap_or_default()
        );
    }
    let bootstrap = Duration::from_millis(report.total_ms);
    let kill_noticed = time_kill_notice(&substrate).await?;
    Ok(Row {
        replicas: options.settings.replicas,
        up,
        bootstrap,
        kill_noticed,
    })
}

/// From the kill request to the watch reporting the pod out of the rotation.
async fn time_kill_notice(substrate: &LocalSubstrate) -> anyhow::Result<Duration> {
    let pods = substrate.list_pods().await?;
    let victim = pods
        .with_role(Role::Connector)
        .next()
        .context("no connector pod")?
        .clone();
    let start = Instant::now();
    substrate.kill_pod(&victim.name).await?;
    let mut seen: PodList = pods;
    loop {
        seen = substrate
            .watch_pods(seen.generation, Duration::from_secs(5))
            .await?;
        if seen.get(&victim.name).is_some_and(|pod| !pod.ready) {
            return Ok(start.elapsed());
        }
        if start.elapsed() > Duration::from_secs(10) {
            anyhow::bail!("the watch never reported {} killed", victim.name);
        }
    }
}

fn print_and_save(
    bench: &BootstrapBench,
    rows: &[Row],
    root: &std::path::Path,
) -> anyhow::Result<()> {
    let base = rows.first().context("no replica count measured")?;
    match bench.egeria {
        EgeriaKind::Real => println!("bootstrap benchmark, real Egeria"),
        EgeriaKind::StandIn => println!(
            "bootstrap benchmark, stand-in server start {}",
            humantime::format_duration(bench.server_start_delay)
        ),
    }
    println!(
        "{:>8} {:>10} {:>13} {:>14} {:>16}",
        "replicas", "lab-up s", "bootstrap s", "vs first", "kill noticed ms"
    );
    for row in rows {
        println!(
            "{:>8} {:>10.2} {:>13.2} {:>13.2}x {:>16.1}",
            row.replicas,
            row.up.as_secs_f64(),
            row.bootstrap.as_secs_f64(),
            row.bootstrap.as_secs_f64() / base.bootstrap.as_secs_f64(),
            row.kill_noticed.as_secs_f64() * 1000.0
        );
    }
    let largest = rows.last().expect("non-empty");
    let ratio = largest.bootstrap.as_secs_f64() / base.bootstrap.as_secs_f64();
    println!(
        "target: bootstrap at {} replicas within 1.5x of {}: {:.2}x — {}",
        largest.replicas,
        base.replicas,
        ratio,
        if ratio <= 1.5 { "met" } else { "NOT met" }
    );
    let summary = json!({
        "egeria": bench.egeria,
        "server_start_delay_ms": bench.server_start_delay.as_millis() as u64,
        "rows": rows.iter().map(|r| json!({
            "replicas": r.replicas,
            "lab_up_ms": r.up.as_millis() as u64,
            "bootstrap_ms": r.bootstrap.as_millis() as u64,
            "kill_noticed_ms": r.kill_noticed.as_secs_f64() * 1000.0,
        })).collect::<Vec<_>>(),
        "ratio_largest_to_first": ratio,
    });
    let path = root.join("bootstrap.json");
    lab::state::write_json(&path, &summary)?;
    println!("figures saved to {}", path.display());
    Ok(())
}
