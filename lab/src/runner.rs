//! The runner pod's side of the kind substrate: `lab runner` records the lab it runs in
//! (from the chart's ConfigMap) and waits; `cargo xtask` then execs the runner commands
//! in it, and fetches each run folder back with `lab export-run`, a tar on stdout (so the
//! image needs no `tar`).

use crate::settings::LabSettings;
use crate::state::{InClusterState, LabDir, LabState, SubstrateState};
use crate::substrate::Endpoints;
use anyhow::Context;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Where the chart mounts `lab.json`; `EGERIA_HA_LAB_CONFIG` names another file.
pub const CONFIG_PATH: &str = "/etc/egeria-ha-lab/lab.json";

/// `lab.json`, as the chart's ConfigMap writes it.
#[derive(Debug, Deserialize)]
pub struct RunnerConfig {
    pub namespace: String,
    /// Whether the host carries out node outages (the chart's `runner.nodeFaults`).
    #[serde(default)]
    pub node_faults: bool,
    pub settings: LabSettings,
    pub endpoints: Endpoints,
}

pub fn read_config(path: &Path) -> anyhow::Result<RunnerConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not the lab's runner configuration", path.display()))
}

/// Records the lab for the commands that follow, then waits for SIGTERM.
pub async fn runner_command(dir: LabDir, config_path: PathBuf) -> anyhow::Result<()> {
    let config = read_config(&config_path)?;
    config.settings.validate()?;
    let (run_id, run_dir) = crate::runs::create_run(&dir.runs_dir(), &config.settings.release)
        .context("creating the runner's run folder")?;
    dir.save_state(&LabState {
        settings: config.settings,
        run_id: run_id.clone(),
        run_dir,
        created_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        endpoints: config.endpoints,
        substrate: SubstrateState::InCluster(InClusterState {
            namespace: config.namespace,
            node_faults: config.node_faults,
        }),
        egeria: crate::state::EgeriaRun::of_chart(),
    })?;
    println!("runner ready: run {run_id}");
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = terminate.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    println!("runner stopping");
    Ok(())
}

/// Writes a tar of the current run folder (named by its run id) to `out`.
pub fn export_run(dir: &LabDir, out: impl std::io::Write) -> anyhow::Result<()> {
    let state = dir
        .load_state()?
        .context("no lab recorded here: is `lab runner` running?")?;
    let mut archive = tar::Builder::new(out);
    archive
        .append_dir_all(&state.run_id, &state.run_dir)
        .with_context(|| format!("archiving {}", state.run_dir.display()))?;
    archive.finish()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_charts_lab_json_shape_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.json");
        std::fs::write(&path, r#"{"namespace": "egeria-ha-lab",
            "settings": {"release": "lab", "replicas": 3, "user": "myuser", "cohort": "coco",
                         "connector_server": "crux", "pts_server": "pts", "organization": "egeria-ha-lab"},
            "endpoints": {"connector_service_url": "https://lab-crux:9443", "golden_store_bootstrap": "lab-kafka:9092"}}"#).unwrap();
        let config = read_config(&path).unwrap();
        assert_eq!(config.settings.replicas, 3);
        assert_eq!(config.endpoints.golden_store_bootstrap, "lab-kafka:9092");
        std::fs::write(&path, "{}").unwrap();
        assert!(
            read_config(&path)
                .unwrap_err()
                .to_string()
                .contains("lab.json")
        );
    }

    #[test]
    fn a_run_folder_exports_as_a_tar_named_by_its_run() {
        let dir = tempfile::tempdir().unwrap();
        let lab = LabDir::new(dir.path());
        let (run_id, run_dir) = crate::runs::create_run(&lab.runs_dir(), "lab").unwrap();
        std::fs::write(run_dir.join("bootstrap.json"), "{}").unwrap();
        lab.save_state(&LabState {
            settings: LabSettings::default(),
            run_id: run_id.clone(),
            run_dir,
            created_at: String::new(),
            endpoints: Endpoints {
                connector_service_url: String::new(),
                golden_store_bootstrap: String::new(),
            },
            substrate: SubstrateState::InCluster(InClusterState {
                node_faults: false,
                namespace: "ns".into(),
            }),
            egeria: Default::default(),
        })
        .unwrap();
        let mut bytes = Vec::new();
        export_run(&lab, &mut bytes).unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let names: Vec<String> = archive
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert!(
            names.contains(&format!("{run_id}/bootstrap.json")),
            "{names:?}"
        );
    }
}
