//! `cargo xtask status`: a table of every pod of the lab that is up.

use lab::commands::{StatusArgs, status_command};
use lab::state::LabDir;

pub fn run(lab_dir: LabDir, args: StatusArgs) -> anyhow::Result<()> {
    crate::remote::here_or_on_kind(lab_dir, false, |dir| async move {
        status_command(dir, &args).await
    })
}
