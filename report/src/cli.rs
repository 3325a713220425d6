//! The `report` command, as both `cargo xtask report` and the built `lab report` run it:
//! per-(profile, method) figures of a PTS result set, with Markdown, JSON, SVG and HTML
//! output; `--baseline` judges it against another run and fails on regressions. (Behind the `cli`
//! feature: the command's edge, with clap and anyhow, which the library itself needs not.)

use crate::{self as report, Comparison};
use anyhow::Context;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// The result set to analyse (with --baseline: the run under judgement): a run
    /// folder, an upstream result folder (profile-details/ or pd.tar.gz) or a release
    /// tarball [default: the latest run's pts/ folder].
    path: Option<PathBuf>,
    /// A result set to judge PATH against: ratios are PATH's medians ÷ the baseline's,
    /// and a pair more than --threshold slower in PATH is a regression.
    #[arg(long, value_name = "BASELINE", conflicts_with = "compare")]
    baseline: Option<PathBuf>,
    /// The older way to compare, kept for scripts: PATH is the baseline and this one the
    /// run under judgement (ratios are this ÷ PATH). Prefer --baseline.
    #[arg(long, value_name = "RUN")]
    compare: Option<PathBuf>,
    /// Where to write the report [default: <PATH>/report/, or <name>-report/ beside a tarball].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// With a comparison: flag pairs whose median is more than this many percent slower.
    #[arg(long, value_name = "PCT", default_value_t = 10.0)]
    threshold: f64,
    /// Also write the report as one self-contained page, index.html, and print its URL.
    #[arg(long)]
    html: bool,
}

/// How the last line states the command's peak memory (read by `cargo xtask bench report`).
pub const PEAK_MEMORY_LABEL: &str = "peak memory:";

/// Runs the command; without a path it reads the latest run in `runs_dir`.
pub fn report_command(runs_dir: &Path, args: ReportArgs) -> anyhow::Result<()> {
    let (page, verdict) = report(runs_dir, args)?;
    if let Some(kib) = peak_memory_kib() {
        println!("{PEAK_MEMORY_LABEL} {:.1} MiB", kib as f64 / 1024.0);
    }
    // The page's URL last, where a terminal user looks (a regression's verdict follows).
    if let Some(page) = page {
        println!("page: {}", crate::html::file_url(&page));
    }
    verdict
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

/// Writes the report (and the page, with `--html`: its path is returned); the verdict of
/// a comparison comes back apart, to be given once everything is printed.
fn report(
    runs_dir: &Path,
    args: ReportArgs,
) -> anyhow::Result<(Option<PathBuf>, anyhow::Result<()>)> {
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
    let comparison = match (args.baseline, args.compare) {
        (Some(baseline), _) => {
            let baseline =
                report::analyse(&baseline).context("reading the baseline (--baseline)")?;
            Some(report::compare(&baseline, &summary, args.threshold))
        }
        (None, Some(run)) => {
            println!(
                "note: --compare takes PATH as the baseline and {} as the run under judgement; \
                 `report <run> --baseline <baseline>` says so plainly",
                run.display()
            );
            let run =
                report::analyse(&run).context("reading the run under judgement (--compare)")?;
            Some(report::compare(&summary, &run, args.threshold))
        }
        (None, None) => None,
    };
    if let Some(comparison) = &comparison {
        println!("baseline:            {}", comparison.baseline);
        println!("run under judgement: {}", comparison.run);
        println!("ratios: the run's medians ÷ the baseline's");
        report::write_comparison(comparison, &out)
            .with_context(|| format!("writing the comparison into {}", out.display()))?;
    }
    println!("report written to {}", out.display());
    let page = if args.html {
        let page = out.join("index.html");
        let html = crate::html::report_page(&summary, comparison.as_ref());
        std::fs::write(&page, html).with_context(|| format!("writing {}", page.display()))?;
        Some(page)
    } else {
        None
    };
    let verdict = match &comparison {
        Some(comparison) => judge(comparison),
        None => Ok(()),
    };
    Ok((page, verdict))
}

/// A regression is the command's verdict: the front doors print it (never with a
/// backtrace) and exit non-zero.
fn judge(comparison: &Comparison) -> anyhow::Result<()> {
    for (label, keys) in [
        ("only in the baseline", &comparison.only_in_baseline),
        ("only in the run under judgement", &comparison.only_in_run),
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
        "{} pairs more than {}% slower in the run under judgement than in the baseline: {}",
        regressed.len(),
        comparison.threshold_pct,
        regressed.join(", ")
    )
}
