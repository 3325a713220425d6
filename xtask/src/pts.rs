//! `cargo xtask pts`: the Performance Test Suite through the connector service.

use lab::commands::{PtsArgs, pts_command};
use lab::state::LabDir;

pub fn run(lab_dir: LabDir, args: PtsArgs) -> anyhow::Result<()> {
    crate::paths::runtime()?.block_on(pts_command(lab_dir, &args))
}
