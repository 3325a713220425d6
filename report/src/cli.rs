//! The `report` command, as both `cargo xtask report` and the built `lab report` run it:
//! per-(profile, method) figures of a PTS result set, with Markdown, JSON and SVG output;
//! `--compare` sets a second run beside it and fails on regressions. (Behind the `cli`
//! feature: the command's edge, with clap and anyhow, which the library itself needs not.)

use crate::{self as report, Comparison};
use anyhow::Context;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// A run folder, an upstream result folder (profile-details/ or pd.tar.gz) or a
    /// release tarball [default: the latest run's pts/ folder].
    path: Option<PathBuf>,
    /// A second result set to compare with the first (ratios are second ÷ first).
    #[arg(long, value_name = "PATH")]
    compare: Option<PathBuf>,
    /// Where to write the report [default: <PATH>/report/, or <name>-report/ beside a tarball].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// With --compare: flag pairs whose median is more than this many percent slower.
    #[arg(long, value_name = "PCT", default_value_t = 10.0)]
    threshold: f64,
}

/// How the last line states the command's peak memory (read by `cargo xtask bench report`).
pub const PEAK_MEMORY_LABEL: &str = "peak memory:";

/// Runs the command; without a path it reads the latest run in `runs_dir`.
pub fn report_command(runs_dir: &Path, args: ReportArgs) -> anyhow::Result<()> {
    report(runs_dir, args)?;
    if let Some(kib) = peak_memory_kib() {
        println!("{PEAK_MEMORY_LABEL} {:.1} MiB", kib as f64 / 1024.0);
    }
    Ok(())
}

/// This process's resident high-water mark (`VmHWM`), in KiB. Not getrusage: a process
/// spawned by a large one inherits the spawner's high-water mark in `ru_maxrss`.
fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?;
    line.trim().trim_end_matches("kB").trim().parse().ok()
}

fn report(runs_dir: &Path, args: ReportArgs) -> anyhow::Result<()> {
    if !(args.threshold.is_finite() && args.threshold >= 0.0) {
        anyhow::bail!(
            "--threshold must be a percentage of zero or more, not {}",
            args.threshold
        );
    }
    let path = args.path.unwrap_or_else(|| runs_dir.join("latest/pts"));
    let out = args.out.unwrap_or_else(|| report::default_out_dir(&path));
    let summary = report::analyse(&path).context("reading the result set")?;
    report::write_report(&summary, &out)
        .with_context(|| format!("writing the report into {}", out.display()))?;
    let calls: usize = summary.pairs.iter().map(|pair| pair.figures.count).sum();
    println!(
        "{calls} timed calls in {} (profile, method) pairs; {} profiles did not run, {} test cases never ran",
        summary.pairs.len(),
        summary.not_run_profiles.len(),
        summary.not_run_test_cases
    );
    for note in &summary.notes {
        println!("note: {note}");
    }
    let Some(second_path) = args.compare else {
        println!("report written to {}", out.display());
        return Ok(());
    };
    let second = report::analyse(&second_path)
        .context("reading the result set to compare with (--compare)")?;
    let comparison = report::compare(&summary, &second, args.threshold);
    report::write_comparison(&comparison, &out)
        .with_context(|| format!("writing the comparison into {}", out.display()))?;
    println!("report and comparison written to {}", out.display());
    fail_on_regressions(&comparison)
}

fn fail_on_regressions(comparison: &Comparison) -> anyhow::Result<()> {
    for (label, keys) in [
        ("only in the first run", &comparison.only_in_first),
        ("only in the second run", &comparison.only_in_second),
    ] {
        if !keys.is_empty() {
            println!("{} pairs {label} (listed in comparison.md)", keys.len());
        }
    }
    let regressed: Vec<String> = comparison
        .regressions()
        .map(|pair| match pair.change_pct {
            Some(pct) => format!("{} / {} ({pct:+.1}%)", pair.profile, pair.method),
            None => format!("{} / {} (from a median of 0 ms)", pair.profile, pair.method),
        })
        .collect();
    if regressed.is_empty() {
        println!("no pair is more than {}% slower", comparison.threshold_pct);
        return Ok(());
    }
    anyhow::bail!(
        "{} pairs more than {}% slower in the second run: {}",
        regressed.len(),
        comparison.threshold_pct,
        regressed.join(", ")
    )
}
