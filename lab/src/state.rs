//! The lab's own records under the lab folder (default `target/lab/`): what is up
//! (`state.json`), the shared configuration document, and the run folders.

use crate::settings::LabSettings;
use crate::substrate::Endpoints;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum SubstrateKind {
    /// A kind cluster in Docker: real Egeria and Kafka from the Helm chart.
    Kind,
    /// Processes on loopback addresses, supervised by the lab's control plane.
    Local,
    /// An existing Kubernetes cluster, named by `--context`: the same chart and flow.
    Cluster,
}

impl SubstrateKind {
    pub fn label(self) -> &'static str {
        match self {
            SubstrateKind::Kind => "kind",
            SubstrateKind::Local => "local",
            SubstrateKind::Cluster => "cluster",
        }
    }
}

/// Which platform answers in the lab's pods.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum EgeriaKind {
    /// A real OMAG Server Platform, assembled from Egeria's released modules.
    Real,
    /// `egeria-standin`, the lab's test fixture: not Egeria.
    #[default]
    StandIn,
}

impl EgeriaKind {
    pub fn label(self) -> &'static str {
        match self {
            EgeriaKind::Real => "real",
            EgeriaKind::StandIn => "stand-in",
        }
    }
}

/// What the connector server keeps its metadata in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LocalRepository {
    /// The plugin repository connector on the golden store (the stand-in mimics it).
    #[default]
    Connector,
    /// Egeria's own in-memory repository: private to each pod, never shared.
    InMemory,
}

/// The Egeria a lab runs, recorded for every later command and report.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EgeriaRun {
    pub kind: EgeriaKind,
    /// The Egeria release the real platform is assembled from (`4.0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    #[serde(default)]
    pub repository: LocalRepository,
    /// Where the connector came from (the released jar, or a build's path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector: Option<String>,
    /// The connector's release, when its build says it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connector_version: Option<String>,
    /// The XTDB the connector runs on, when its jars say it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub xtdb_version: Option<String>,
    /// Why this is not what was asked for (the released connector could not be had), to
    /// be shown wherever the run is reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl EgeriaRun {
    /// A lab of the Helm chart: real Egeria images with the connector.
    pub fn of_chart() -> Self {
        Self {
            kind: EgeriaKind::Real,
            repository: LocalRepository::Connector,
            ..Self::default()
        }
    }

    /// One line for a person: which Egeria, and where its metadata lives.
    pub fn describe(&self) -> String {
        match (self.kind, self.repository) {
            (EgeriaKind::StandIn, _) => {
                "the stand-in platform (egeria-standin, a test fixture: not Egeria)".into()
            }
            (EgeriaKind::Real, LocalRepository::InMemory) => format!(
                "real Egeria {} with its in-memory repository (private to each pod, not shared)",
                self.release.as_deref().unwrap_or("(release unknown)"),
            ),
            (EgeriaKind::Real, LocalRepository::Connector) => {
                let mut text = format!(
                    "real Egeria {} with the XTDB connector",
                    self.release.as_deref().unwrap_or("(release unknown)")
                );
                if let Some(version) = &self.connector_version {
                    text.push_str(&format!(" {version}"));
                }
                if let Some(xtdb) = &self.xtdb_version {
                    text.push_str(&format!(" on XTDB {xtdb}"));
                }
                if let Some(origin) = &self.connector {
                    text.push_str(&format!(" ({origin})"));
                }
                text
            }
        }
    }
}

/// What `lab-up` started, so that every later command (and `lab-down`) finds it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LabState {
    pub settings: LabSettings,
    pub run_id: String,
    pub run_dir: PathBuf,
    pub created_at: String,
    pub endpoints: Endpoints,
    pub substrate: SubstrateState,
    /// Labs recorded before the lab ran real Egeria locally ran the stand-in there.
    #[serde(default)]
    pub egeria: EgeriaRun,
}

/// What each substrate needs to find its lab again.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum SubstrateState {
    Local(LocalState),
    /// The host's record of a lab on Kubernetes: kind, or an existing cluster.
    Kube(KubeState),
    /// The runner pod's record of the lab it runs in.
    InCluster(InClusterState),
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InClusterState {
    pub namespace: String,
    /// Whether the host carries out node outages for this lab (kind only).
    #[serde(default)]
    pub node_faults: bool,
}

impl LabState {
    pub fn kind(&self) -> SubstrateKind {
        match &self.substrate {
            SubstrateState::Local(_) => SubstrateKind::Local,
            SubstrateState::Kube(kube) if kube.kind_cluster.is_none() => SubstrateKind::Cluster,
            SubstrateState::Kube(_) | SubstrateState::InCluster(_) => SubstrateKind::Kind,
        }
    }

    /// The host's record of a lab on Kubernetes (kind or an existing cluster).
    pub fn kube(&self) -> Option<&KubeState> {
        match &self.substrate {
            SubstrateState::Kube(kube) => Some(kube),
            SubstrateState::Local(_) | SubstrateState::InCluster(_) => None,
        }
    }

    pub fn local(&self) -> Option<&LocalState> {
        match &self.substrate {
            SubstrateState::Local(local) => Some(local),
            SubstrateState::Kube(_) | SubstrateState::InCluster(_) => None,
        }
    }
}

/// A lab on Kubernetes as the host records it: on the kind cluster the lab manages, or on
/// an existing cluster the user named (`--substrate cluster`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct KubeState {
    /// The kind cluster the lab runs in; `None` on an existing cluster.
    pub kind_cluster: Option<String>,
    /// The kubeconfig: the one kind wrote for the lab, or the one named with
    /// `--kubeconfig`; `None`: `$KUBECONFIG` or `~/.kube/config`. Either way only the
    /// named context is used, never the current one.
    pub kubeconfig: Option<PathBuf>,
    pub context: String,
    pub namespace: String,
    /// Whether this lab created the kind cluster (and so may delete it).
    pub created_cluster: bool,
    /// Whether this lab created the namespace (and so deletes it at lab-down).
    #[serde(default)]
    pub created_namespace: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LocalState {
    pub control_plane_pid: u32,
    pub api_address: SocketAddr,
    pub bin_dir: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot read {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot write {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path} is not a lab state file ({error}); if no lab is running, remove it")]
    Corrupt {
        path: PathBuf,
        error: serde_json::Error,
    },
}

/// The lab folder and the files in it.
#[derive(Clone, Debug)]
pub struct LabDir {
    root: PathBuf,
}

impl LabDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn state_path(&self) -> PathBuf {
        self.root.join("state.json")
    }

    /// The common configuration document, kept so that a replaced pod gets exactly the
    /// document its siblings run with (same metadataCollectionId).
    pub fn common_config_path(&self) -> PathBuf {
        self.root.join("common-config.json")
    }

    pub fn runs_dir(&self) -> PathBuf {
        self.root.join("runs")
    }

    pub fn load_state(&self) -> Result<Option<LabState>, StateError> {
        read_json(&self.state_path())
    }

    pub fn save_state(&self, state: &LabState) -> Result<(), StateError> {
        write_json(&self.state_path(), state)
    }

    /// Forgets the lab: its state and its common configuration.
    pub fn clear(&self) -> Result<(), StateError> {
        for path in [self.state_path(), self.common_config_path()] {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(error) => return Err(StateError::Write { path, error }),
            }
        }
        Ok(())
    }
}

/// Reads a JSON file; `None` when it does not exist.
pub fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, StateError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(StateError::Read {
                path: path.to_path_buf(),
                error,
            });
        }
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|error| StateError::Corrupt {
            path: path.to_path_buf(),
            error,
        })
}

/// Writes pretty JSON through a temporary file and a rename, so a reader never sees half
/// a file and an interrupted write never destroys the previous one.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), StateError> {
    let fail = |error| StateError::Write {
        path: path.to_path_buf(),
        error,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    let mut text = serde_json::to_string_pretty(value).expect("lab records always serialise");
    text.push('\n');
    let temporary = path.with_extension("json.tmp");
    std::fs::write(&temporary, text).map_err(fail)?;
    std::fs::rename(&temporary, path).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_state_means_no_lab() {
        let dir = tempfile::tempdir().unwrap();
        assert!(LabDir::new(dir.path()).load_state().unwrap().is_none());
    }

    #[test]
    fn corrupt_state_is_reported_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let lab = LabDir::new(dir.path());
        std::fs::write(lab.state_path(), "{ not json").unwrap();
        let message = lab.load_state().unwrap_err().to_string();
        assert!(message.contains("state.json"), "{message}");
    }

    #[test]
    fn json_round_trips_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/value.json");
        write_json(&path, &serde_json::json!({"a": 1})).unwrap();
        let back: serde_json::Value = read_json(&path).unwrap().unwrap();
        assert_eq!(back["a"], 1);
        assert!(!path.with_extension("json.tmp").exists());
    }
}
