//! The chart on a Kubernetes substrate (kind, or an existing cluster): its values, its
//! install and uninstall with helm, the lab's record of it, and the wait for its workloads.
//! helm is always given the lab's namespace and the named context (and the kubeconfig when
//! one is named), never left to the current context.

use anyhow::{Context, bail};
use lab::settings::LabSettings;
use lab::state::{KubeState, LabState, SubstrateState};
use serde_norway::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use xshell::{Shell, cmd};

pub const CHART: &str = "charts/ec-ha-crux";

/// Runs one step, naming it in the error if it fails.
pub fn step<T>(name: &str, run: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    eprintln!("  {name}");
    run().with_context(|| format!("step \"{name}\" failed"))
}

/// What the chart is installed with.
pub struct ChartOptions {
    pub settings: LabSettings,
    /// A values preset of the chart (`values-<preset>.yaml`).
    pub preset: String,
    /// The user's own values files, applied after the preset.
    pub values_files: Vec<PathBuf>,
    /// `--set-string` arguments the lab adds after every values file (the connector's
    /// checksum, when no values file pins it).
    pub overrides: Vec<String>,
    /// The helm to run (the lab's pinned one, unless told otherwise).
    pub helm: PathBuf,
}

/// The helm the kind and cluster paths run (see `lab::artifacts::tools::planned_helm`),
/// fetched into the cache first when it is the pinned one; says which, and why.
pub async fn helm() -> anyhow::Result<PathBuf> {
    let cache = lab::artifacts::cache::Cache::from_env()?;
    let choice = lab::artifacts::tools::helm_to_run(&cache).await?;
    eprintln!("  helm: {} ({})", choice.path.display(), choice.why);
    Ok(choice.path)
}

impl ChartOptions {
    /// `<release> <chart> -f preset [-f file…] --set …`: the same for `helm template` and
    /// the install. `settings` (strings) and `switches` are the lab's own values, after
    /// the user's files; the lab's overrides come last.
    pub fn values(&self, settings: &[(&str, String)], switches: &[(&str, bool)]) -> Vec<String> {
        let mut values = vec![self.settings.release.clone(), CHART.to_string()];
        values.push("--values".into());
        values.push(preset_values(&self.preset));
        for file in &self.values_files {
            values.push("--values".into());
            values.push(file.display().to_string());
        }
        values.push("--set".into());
        values.push(format!("crux.replicas={}", self.settings.replicas));
        for (key, value) in settings {
            values.push("--set-string".into());
            values.push(format!("{key}={value}"));
        }
        for (key, value) in switches {
            values.push("--set".into());
            values.push(format!("{key}={value}"));
        }
        values.extend(self.overrides.iter().cloned());
        values
    }
}

/// A preset's values file, relative to the workspace root (helm runs there).
fn preset_values(preset: &str) -> String {
    format!("{CHART}/values-{preset}.yaml")
}

/// Every values file of an install in the order helm applies them: the chart's defaults,
/// the preset's, then the user's own.
pub fn values_files(preset: &str, user_files: &[PathBuf]) -> Vec<PathBuf> {
    let root = crate::paths::workspace_root();
    [
        root.join(CHART).join("values.yaml"),
        root.join(preset_values(preset)),
    ]
    .into_iter()
    .chain(user_files.iter().cloned())
    .collect()
}

/// The values of `files` merged as helm merges them (later files win, maps key by key).
pub fn merged_values(files: &[PathBuf]) -> anyhow::Result<Value> {
    let mut values = Value::Mapping(Default::default());
    for file in files {
        merge(&mut values, read_values(file)?);
    }
    Ok(values)
}

fn read_values(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read values file {}", path.display()))?;
    let values: Value = serde_norway::from_str(&text)
        .with_context(|| format!("values file {} is not valid YAML", path.display()))?;
    // An empty file is no values at all, as helm takes it.
    Ok(if values.is_null() {
        Value::Mapping(Default::default())
    } else {
        values
    })
}

/// Helm's merge of a later values file into the earlier ones: maps merge key by key,
/// anything else replaces.
fn merge(base: &mut Value, later: Value) {
    match (base, later) {
        (Value::Mapping(base), Value::Mapping(later)) => {
            for (key, value) in later {
                match base.get_mut(&key) {
                    Some(existing) => merge(existing, value),
                    None => {
                        base.insert(key, value);
                    }
                }
            }
        }
        (base, later) => *base = later,
    }
}

/// `--namespace NS --kube-context CTX [--kubeconfig PATH]`.
fn target_args(kube: &KubeState) -> Vec<String> {
    let mut args = vec![
        "--namespace".to_string(),
        kube.namespace.clone(),
        "--kube-context".to_string(),
        kube.context.clone(),
    ];
    if let Some(kubeconfig) = &kube.kubeconfig {
        args.push("--kubeconfig".into());
        args.push(kubeconfig.display().to_string());
    }
    args
}

/// `helm upgrade --install` into the lab's namespace (creating it only when asked to).
pub fn install(
    shell: &Shell,
    helm: &Path,
    values: &[String],
    kube: &KubeState,
    create_namespace: bool,
) -> anyhow::Result<()> {
    let target = target_args(kube);
    let create = create_namespace.then_some("--create-namespace");
    step("installing the chart", || {
        cmd!(
            shell,
            "{helm} upgrade --install {target...} {create...} {values...}"
        )
        .run()
        .map_err(Into::into)
    })
}

/// `helm uninstall`; a release already gone is what lab-down wants.
pub fn uninstall(
    shell: &Shell,
    helm: &Path,
    release: &str,
    kube: &KubeState,
) -> anyhow::Result<()> {
    let target = target_args(kube);
    step("uninstalling the chart", || {
        let output = cmd!(shell, "{helm} uninstall {release} {target...}")
            .ignore_status()
            .output()?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.success() || stderr.contains("not found") {
            Ok(())
        } else {
            bail!("helm uninstall: {}", stderr.trim())
        }
    })
}

/// The lab's record of a chart installed for `settings` on `kube`.
pub fn lab_state(settings: &LabSettings, run_dir: &Path, kube: KubeState) -> LabState {
    LabState {
        settings: settings.clone(),
        run_id: run_dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        run_dir: run_dir.to_path_buf(),
        created_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        endpoints: lab::substrate::Endpoints {
            connector_service_url: format!("https://{}-crux:9443", settings.release),
            golden_store_bootstrap: format!("{}-kafka:9092", settings.release),
        },
        substrate: SubstrateState::Kube(kube),
        egeria: lab::state::EgeriaRun::of_chart(),
    }
}

/// Waits (kube-rs watches, deadline) for every workload of the release; on failure writes
/// pod status, events and logs to the run folder and says where.
pub async fn wait_until_ready(state: &LabState, deadline: Duration) -> anyhow::Result<()> {
    let kube = state.kube().context("not a lab on Kubernetes")?;
    let release = &state.settings.release;
    eprintln!(
        "  waiting for the workloads (up to {})",
        humantime::format_duration(deadline)
    );
    let client = lab::substrate::kube::client_for(kube)
        .await
        .context("step \"waiting for the workloads\" failed: the cluster's kubeconfig")?;
    let waited = lab::substrate::kube::wait_for_workloads(
        client.clone(),
        &kube.namespace,
        release,
        deadline,
    )
    .await;
    let Err(error) = waited else {
        return Ok(());
    };
    let diagnostics = match lab::substrate::kube::dump_diagnostics(
        client,
        &kube.namespace,
        release,
        &state.run_dir,
    )
    .await
    {
        Ok(dir) => format!("pod status, events and logs are in {}", dir.display()),
        Err(dump_error) => format!("diagnostics could not be collected either: {dump_error}"),
    };
    bail!("step \"waiting for the workloads\" failed: {error}\n  {diagnostics}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_norway::from_str(text).unwrap()
    }

    #[test]
    fn later_values_merge_into_earlier_maps_and_replace_the_rest() {
        let mut values = yaml(
            "crux: {replicas: 3, connector: {version: '3.0', checksum: {algorithm: sha1, value: ''}}}",
        );
        merge(
            &mut values,
            yaml("crux: {connector: {checksum: {value: abc}}, replicas: [1]}"),
        );
        assert_eq!(
            values,
            yaml(
                "crux: {replicas: [1], connector: {version: '3.0', checksum: {algorithm: sha1, value: abc}}}"
            )
        );
    }
}
