//! `cargo xtask bench …`: measure the lab's speed targets on this machine, and say
//! plainly whether each was met. Benchmarks, not tests: the figures depend on the machine.

mod bootstrap;
mod collect;
mod probe;
mod report;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    target: Target,
}

#[derive(Debug, clap::Subcommand)]
enum Target {
    /// Bootstrap wall time against the replica count (parallel start), lab-up time, and
    /// how fast the control plane's watch reports a killed pod.
    Bootstrap(bootstrap::BootstrapBench),
    /// Collecting many PTS test-case reports, concurrently and one at a time.
    Collect(collect::CollectBench),
    /// The continuity probe's own overhead: does it keep its schedule at a high rate?
    Probe(probe::ProbeBench),
    /// The report's analysis of a large result set against a plain Python baseline.
    Report(report::ReportBench),
}

/// A fresh folder for one benchmark run: `target/lab/bench/<stamp>-<name>/`.
fn run_folder(name: &str) -> std::io::Result<std::path::PathBuf> {
    let dir = crate::paths::lab_dir(None)
        .root()
        .join("bench")
        .join(lab::runs::new_run_id(name, std::time::SystemTime::now()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.target {
        Target::Bootstrap(bench) => crate::paths::runtime()?.block_on(bootstrap::run(bench)),
        Target::Collect(bench) => crate::paths::runtime()?.block_on(collect::run(bench)),
        Target::Probe(bench) => crate::paths::runtime()?.block_on(probe::run(bench)),
        Target::Report(bench) => report::run(bench),
    }
}
