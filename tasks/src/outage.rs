//! `cargo xtask outage`: faults injected while traffic flows, measured and judged.

use lab::commands::{OutageArgs, outage_command};
use lab::state::LabDir;

pub fn run(lab_dir: LabDir, args: OutageArgs) -> anyhow::Result<()> {
    crate::remote::here_or_on_kind(lab_dir, true, |dir| async move {
        outage_command(dir, &args).await
    })
}
