//! `cargo xtask bench …`: measure the lab's speed targets on this machine, and say
//! plainly whether each was met. Benchmarks, not tests: the figures depend on the machine.

mod bootstrap;
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
    /// The report's analysis of a large result set against a plain Python baseline.
    Report(report::ReportBench),
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.target {
        Target::Bootstrap(bench) => crate::paths::runtime()?.block_on(bootstrap::run(bench)),
        Target::Report(bench) => report::run(bench),
    }
}
