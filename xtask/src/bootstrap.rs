//! `cargo xtask bootstrap`: the runner's bootstrap flow against the lab that is up.

use lab::commands::{BootstrapArgs, bootstrap_command};
use lab::state::LabDir;

pub fn run(lab_dir: LabDir, args: BootstrapArgs) -> anyhow::Result<()> {
    crate::paths::runtime()?.block_on(bootstrap_command(lab_dir, &args))
}
