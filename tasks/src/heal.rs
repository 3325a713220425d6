//! `cargo xtask heal`: bring replaced connector pods back into the rotation.

use lab::commands::{HealArgs, heal_command};
use lab::state::LabDir;

pub fn run(lab_dir: LabDir, args: HealArgs) -> anyhow::Result<()> {
    crate::remote::here_or_on_kind(lab_dir, true, |dir| async move {
        heal_command(dir, &args).await
    })
}
