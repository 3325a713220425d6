//! `cargo xtask`: the lab's front door. `report` runs here, at once; every other command
//! runs in the lab's `tasks` binary, which this process becomes (`cargo run` in the lab's
//! workspace, building it first if need be).
//!
//! This is a workspace of its own, with the report as its only dependency of note, because
//! cargo's start grows with the workspace it loads: `report` as typed is meant to take a
//! tenth of what a plain Python reader takes, and the lab's workspace alone would cost most
//! of that before the command started.

use clap::{Parser, Subcommand};
use pts_report::cli::{ReportArgs, report_command};
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, ExitCode};

/// As in the `tasks` binary: a folder holding it prebuilt, to skip `cargo run`.
const BIN_DIR_ENV: &str = "EGERIA_HA_LAB_BIN_DIR";

/// The one command taken here; its arguments are the `tasks` binary's own.
#[derive(Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct ReportCli {
    /// The lab folder (state, common configuration, runs) [default: target/lab].
    #[arg(long, global = true, env = "EGERIA_HA_LAB_DIR")]
    lab_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Report,
}

#[derive(Subcommand)]
enum Report {
    /// Analyse PTS results: per-method medians, percentiles, plots; compare two runs.
    Report(ReportArgs),
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    if !names_report(&args) {
        return become_tasks(&args[1..]);
    }
    let ReportCli {
        lab_dir,
        command: Report::Report(report),
    } = ReportCli::parse_from(&args);
    let lab_dir = lab_dir.unwrap_or_else(|| target_dir().join("lab"));
    match report_command(&lab_dir.join("runs"), report) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Whether the command line's subcommand is `report` (the only option before it can be
/// `--lab-dir`).
fn names_report(args: &[OsString]) -> bool {
    let mut words = args.iter().skip(1);
    while let Some(word) = words.next() {
        if word == "--lab-dir" {
            words.next();
        } else if !word.to_string_lossy().starts_with("--lab-dir=") {
            return word == "report";
        }
    }
    false
}

/// Runs `args` in the `tasks` binary, in place of this process.
fn become_tasks(args: &[OsString]) -> ExitCode {
    let mut tasks = match std::env::var_os(BIN_DIR_ENV) {
        Some(dir) => Command::new(PathBuf::from(dir).join("tasks")),
        None => {
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let mut cargo = Command::new(cargo);
            cargo
                .args(["run", "--quiet", "--package", "tasks", "--manifest-path"])
                .arg(workspace_root().join("Cargo.toml"))
                .arg("--");
            cargo
        }
    };
    tasks.args(args);
    exec(tasks)
}

#[cfg(unix)]
fn exec(mut command: Command) -> ExitCode {
    use std::os::unix::process::CommandExt;
    // Returns only if the process could not be replaced.
    let error = command.exec();
    eprintln!("error: cannot run {:?}: {error}", command.get_program());
    ExitCode::FAILURE
}

#[cfg(not(unix))]
fn exec(mut command: Command) -> ExitCode {
    match command.status() {
        Ok(status) => ExitCode::from(status.code().map_or(1, |code| code as u8)),
        Err(error) => {
            eprintln!("error: cannot run {:?}: {error}", command.get_program());
            ExitCode::FAILURE
        }
    }
}

/// The lab's workspace, this one's parent.
fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map_or(manifest_dir.clone(), PathBuf::from)
}

/// The lab's target folder, where the lab folder is by default (as in `tasks`).
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<OsString> {
        line.split(' ').map(OsString::from).collect()
    }

    #[test]
    fn only_the_report_is_taken_here() {
        for taken in [
            "x report",
            "x report --help",
            "x --lab-dir d report p",
            "x --lab-dir=d report",
        ] {
            assert!(names_report(&words(taken)), "{taken}");
        }
        for forwarded in [
            "x",
            "x --help",
            "x status",
            "x --lab-dir report status",
            "x bench report",
            "x --version",
        ] {
            assert!(!names_report(&words(forwarded)), "{forwarded}");
        }
    }

    #[test]
    fn report_takes_the_arguments_tasks_takes() {
        let cli = ReportCli::try_parse_from(words("x report run --compare other --threshold 5"));
        assert!(cli.is_ok());
        let error = ReportCli::try_parse_from(words("x report --threshold much"))
            .err()
            .unwrap();
        assert!(error.to_string().contains("--threshold"), "{error}");
    }
}
