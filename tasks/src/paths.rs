//! Where things are: the workspace, its target folder, the lab folder, the binaries.

use anyhow::Context;
use lab::state::LabDir;
use std::path::PathBuf;

/// Set to a folder holding prebuilt `tasks`, `lab` and `egeria-standin` binaries to skip
/// their build (the end-to-end tests do, as cargo's build lock is theirs while they run).
pub const BIN_DIR_ENV: &str = "EGERIA_HA_LAB_BIN_DIR";

pub fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tasks lives inside the workspace")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"))
}

pub fn lab_dir(explicit: Option<PathBuf>) -> LabDir {
    LabDir::new(explicit.unwrap_or_else(|| target_dir().join("lab")))
}

/// The folder with the lab's binaries, built first unless [`BIN_DIR_ENV`] names one.
pub fn lab_binaries() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os(BIN_DIR_ENV) {
        return Ok(PathBuf::from(dir));
    }
    let shell = xshell::Shell::new()?;
    shell.change_dir(workspace_root());
    eprintln!("building the lab's binaries");
    xshell::cmd!(
        shell,
        "cargo build --quiet --package lab --package fixtures --bins"
    )
    .run()
    .context("building the lab and the stand-in platform")?;
    Ok(target_dir().join("debug"))
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
