//! The lab's commands, which `cargo xtask` runs (through its front door, `xtask/`, a
//! workspace of its own: see there). This file only parses and dispatches; each command
//! lives in a module of its own.

mod artifacts;
mod bench;
mod bootstrap;
mod chart;
mod cluster;
mod doctor;
mod heal;
mod kind;
mod lab_down;
mod lab_run;
mod lab_up;
mod outage;
mod paths;
mod pts;
mod remote;
mod runner_image;
mod status;

use clap::{Parser, Subcommand};
use lab::report::cli::{ReportArgs, report_command};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Egeria HA lab: the Crux connector's HA topology on one machine",
    version
)]
struct Cli {
    /// The lab folder (state, common configuration, runs) [default: target/lab].
    #[arg(long, global = true, env = "EGERIA_HA_LAB_DIR")]
    lab_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the topology: golden store, connector pods, PTS pod, load-balancing service.
    LabUp(lab_up::UpArgs),
    /// Configure every connector pod with one common configuration and start its server.
    Bootstrap(lab::commands::BootstrapArgs),
    /// Show every pod: role, address, platform up, configured, started, ready.
    Status(lab::commands::StatusArgs),
    /// Run the Performance Test Suite through the connector service and collect its results.
    Pts(lab::commands::PtsArgs),
    /// Configure, start and put back into rotation every replaced connector pod.
    Heal(lab::commands::HealArgs),
    /// Inject a scenario's faults while a probe sends traffic; measure, heal, check, report.
    Outage(lab::commands::OutageArgs),
    /// The whole flow in one command: lab-up, bootstrap, pts during an outage, lab-down.
    LabRun(Box<lab_run::Args>),
    /// Stop everything the lab started (safe to repeat).
    LabDown(lab_down::DownArgs),
    /// Check a substrate's prerequisites and print the command that installs each missing one.
    Doctor(doctor::Args),
    /// The jars the local substrate runs: fill the cache for offline use, or regenerate the lock.
    Artifacts(artifacts::Args),
    /// Build the runner image under a name of your choice for `--substrate cluster` (the lab
    /// never pushes it).
    RunnerImage(runner_image::Args),
    /// Measure the lab's speed targets.
    Bench(bench::Args),
    /// Analyse PTS results: per-method medians, percentiles, plots; compare two runs.
    Report(ReportArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let lab_dir = paths::lab_dir(cli.lab_dir);
    let outcome = match cli.command {
        Command::LabUp(args) => lab_up::run(lab_dir, args),
        Command::Bootstrap(args) => bootstrap::run(lab_dir, args),
        Command::Status(args) => status::run(lab_dir, args),
        Command::Pts(args) => pts::run(lab_dir, args),
        Command::Heal(args) => heal::run(lab_dir, args),
        Command::Outage(args) => outage::run(lab_dir, args),
        Command::LabRun(args) => lab_run::run(lab_dir, *args),
        Command::LabDown(args) => lab_down::run(lab_dir, args),
        Command::Doctor(args) => doctor::run(args),
        Command::Artifacts(args) => artifacts::run(args),
        Command::Bench(args) => bench::run(args),
        Command::RunnerImage(args) => runner_image::run(args),
        Command::Report(args) => report_command(&lab_dir.runs_dir(), args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Flag clashes between flattened argument groups only show when parsing; catch them here.
    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
