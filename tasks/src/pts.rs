//! `cargo xtask pts`: the Performance Test Suite through the connector service.

use lab::commands::{PtsArgs, pts_command};
use lab::state::LabDir;

pub fn run(lab_dir: LabDir, args: PtsArgs) -> anyhow::Result<()> {
    crate::remote::here_or_on_kind(
        lab_dir,
        true,
        |dir| async move { pts_command(dir, &args).await },
    )
}
