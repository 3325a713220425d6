//! `lab`: the runner binary. It hosts the local substrate's control plane and runs the
//! runner flows where `cargo xtask` is not at hand (inside a cluster, for instance).

use anyhow::Context;
use clap::{Parser, Subcommand};
use lab::commands::{
    BootstrapArgs, HealArgs, OutageArgs, PtsArgs, StatusArgs, bootstrap_command, heal_command,
    outage_command, pts_command, status_command,
};
use lab::report::cli::{ReportArgs, report_command};
use lab::state::LabDir;
use std::path::PathBuf;

#[derive(Parser)]
#[command(about = "egeria-ha-lab runner", version)]
struct Cli {
    /// The lab folder (state, common configuration, runs).
    #[arg(
        long,
        global = true,
        env = "EGERIA_HA_LAB_DIR",
        default_value = "target/lab"
    )]
    lab_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the local substrate's control plane (started by `lab-up`, not by hand).
    ControlPlane {
        /// The JSON spec `lab-up` wrote.
        #[arg(long)]
        spec: PathBuf,
    },
    /// Configure every connector pod with the common configuration and start its server.
    Bootstrap(BootstrapArgs),
    /// Show every pod: role, address, platform up, configured, started, ready.
    Status(StatusArgs),
    /// Run the Performance Test Suite through the connector service and collect its results.
    Pts(PtsArgs),
    /// Configure, start and put back into rotation every replaced connector pod.
    Heal(HealArgs),
    /// Inject a scenario's faults while a probe sends traffic; measure, heal, check, report.
    Outage(OutageArgs),
    /// Analyse PTS results (as `cargo xtask report`, without cargo's own start).
    Report(ReportArgs),
    /// In the runner pod: record the lab from the chart's configuration, then wait.
    Runner {
        /// The chart's lab.json.
        #[arg(long, env = "EGERIA_HA_LAB_CONFIG", default_value = lab::runner::CONFIG_PATH)]
        config: PathBuf,
    },
    /// Write a tar of the current run folder to stdout (how cargo xtask fetches results).
    ExportRun,
}

/// Errors and verdicts (a regression, a failed outage) are printed with their causes and
/// no backtrace, whatever `RUST_BACKTRACE` says: they are outcomes, not crashes.
fn main() -> std::process::ExitCode {
    match run(Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let dir = LabDir::new(cli.lab_dir);
    match cli.command {
        Command::ControlPlane { spec } => {
            let text = std::fs::read_to_string(&spec)
                .with_context(|| format!("reading {}", spec.display()))?;
            let spec = serde_json::from_str(&text)
                .with_context(|| format!("parsing {}", spec.display()))?;
            // One thread on purpose: pods are spawned from it and die with it (PDEATHSIG).
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
                .block_on(lab::substrate::local::control_plane::run(spec))
        }
        Command::Bootstrap(args) => runtime()?.block_on(bootstrap_command(dir, &args)),
        Command::Status(args) => runtime()?.block_on(status_command(dir, &args)),
        Command::Pts(args) => runtime()?.block_on(pts_command(dir, &args)),
        Command::Heal(args) => runtime()?.block_on(heal_command(dir, &args)),
        Command::Outage(args) => runtime()?.block_on(outage_command(dir, &args)),
        Command::Report(args) => report_command(&dir.runs_dir(), args),
        Command::Runner { config } => runtime()?.block_on(lab::runner::runner_command(dir, config)),
        Command::ExportRun => lab::runner::export_run(&dir, std::io::stdout().lock()),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
