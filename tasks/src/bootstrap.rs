//! `cargo xtask bootstrap`: the runner's bootstrap flow against the lab that is up.

use lab::commands::{BootstrapArgs, bootstrap_command};
use lab::state::LabDir;

pub fn run(lab_dir: LabDir, args: BootstrapArgs) -> anyhow::Result<()> {
    crate::remote::here_or_on_kind(lab_dir, true, |dir| async move {
        bootstrap_command(dir, &args).await
    })
}
