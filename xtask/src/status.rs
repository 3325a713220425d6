//! `cargo xtask status`: a table of every pod of the lab that is up.

use lab::commands::{StatusArgs, status_command};
use lab::state::LabDir;

pub fn run(lab_dir: LabDir, args: StatusArgs) -> anyhow::Result<()> {
    crate::paths::runtime()?.block_on(status_command(lab_dir, &args))
}
