//! The kind substrate's set-up and tear-down on the host: the cluster (created only if
//! absent, deleted only if this lab created it), the images (built, pulled once, loaded in
//! parallel, skipped when already on the nodes), and the chart (`helm upgrade --install`).
//! Every external command runs through xshell, one argument per interpolation, and a
//! failure names the step that failed.

pub mod checksum;

use anyhow::{Context, bail};
use lab::settings::LabSettings;
use lab::state::{KindState, LabDir, LabState, SubstrateState, read_json, write_json};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;
use xshell::{Shell, cmd};

pub const CLUSTER: &str = "egeria-ha-lab";
const CHART: &str = "charts/ec-ha-crux";
const RUNNER_IMAGE: &str = "egeria-ha-lab/runner";

/// Whether the lab created the cluster; kept across lab-down when the cluster is kept.
#[derive(Debug, Serialize, Deserialize)]
struct ClusterRecord {
    name: String,
    created_by_lab: bool,
}

pub struct KindOptions {
    pub settings: LabSettings,
    pub namespace: String,
    /// A values preset of the chart (`values-<preset>.yaml`), if any.
    pub preset: Option<String>,
    /// The user's own values files, applied after the preset.
    pub values_files: Vec<PathBuf>,
    /// `--set-string` arguments the lab adds after every values file (the connector's
    /// checksum, when no values file pins it).
    pub overrides: Vec<String>,
    /// Install into a same-named cluster the lab did not create (never deleting it).
    pub adopt_cluster: bool,
    pub deadline: Duration,
}

fn record_path(lab_dir: &LabDir) -> PathBuf {
    lab_dir.root().join("kind").join("cluster.json")
}

fn kubeconfig_path(lab_dir: &LabDir) -> PathBuf {
    lab_dir.root().join("kind").join("kubeconfig")
}

/// Runs one step, naming it in the error if it fails.
fn step<T>(name: &str, run: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    eprintln!("  {name}");
    run().with_context(|| format!("step \"{name}\" failed"))
}

pub fn runner_image() -> String {
    format!("{RUNNER_IMAGE}:{}", env!("CARGO_PKG_VERSION"))
}

/// The cluster, images and chart; returns the lab's state once the chart is installed
/// (waiting for the workloads is the caller's next step).
pub fn up(lab_dir: &LabDir, run_dir: &Path, options: &KindOptions) -> anyhow::Result<LabState> {
    let shell = Shell::new()?;
    shell.change_dir(crate::paths::workspace_root());
    let kubeconfig = kubeconfig_path(lab_dir);
    let created_cluster = ensure_cluster(&shell, lab_dir, &kubeconfig, options.adopt_cluster)?;
    let runner = runner_image();
    step("building the runner image", || {
        cmd!(shell, "docker build --tag {runner} --file Dockerfile .")
            .run()
            .map_err(Into::into)
    })?;
    let values = chart_values(options);
    let images = step("listing the chart's images", || {
        let values = &values;
        let rendered = cmd!(shell, "helm template {values...}").read()?;
        Ok(images_in(&rendered))
    })?;
    // The runner image was just built here: loaded whether or not the chart names it.
    let mut images = images;
    if !images.contains(&runner) {
        images.push(runner.clone());
    }
    load_images(&images, &runner)?;
    let context = format!("kind-{CLUSTER}");
    let namespace = &options.namespace;
    step("installing the chart", || {
        let values = &values;
        cmd!(
            shell,
            "helm upgrade --install --namespace {namespace} --create-namespace --kubeconfig {kubeconfig} --kube-context {context} {values...}"
        )
        .run()
        .map_err(Into::into)
    })?;
    let settings = &options.settings;
    Ok(LabState {
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
        substrate: SubstrateState::Kind(KindState {
            cluster: CLUSTER.to_string(),
            kubeconfig,
            context,
            namespace: namespace.clone(),
            created_cluster,
        }),
    })
}

/// `<release> <chart> [-f preset] --set …`: the same for `helm template` and the install.
fn chart_values(options: &KindOptions) -> Vec<String> {
    let settings = &options.settings;
    let mut values = vec![settings.release.clone(), CHART.to_string()];
    if let Some(preset) = &options.preset {
        values.push("--values".into());
        values.push(preset_values(preset));
    }
    for file in &options.values_files {
        values.push("--values".into());
        values.push(file.display().to_string());
    }
    for (key, value) in [
        ("crux.replicas", settings.replicas.to_string()),
        ("runner.image.tag", env!("CARGO_PKG_VERSION").to_string()),
    ] {
        values.push("--set".into());
        values.push(format!("{key}={value}"));
    }
    values.extend(options.overrides.iter().cloned());
    values
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

/// Creates the cluster unless it exists; returns whether this lab created it. A cluster of
/// the same name that the lab did not create is refused unless adopted.
fn ensure_cluster(
    shell: &Shell,
    lab_dir: &LabDir,
    kubeconfig: &Path,
    adopt: bool,
) -> anyhow::Result<bool> {
    let clusters = step("listing kind clusters", || {
        Ok(cmd!(shell, "kind get clusters").read()?)
    })?;
    let exists = clusters.lines().any(|line| line.trim() == CLUSTER);
    let record: Option<ClusterRecord> = read_json(&record_path(lab_dir))?;
    let created_by_lab = record.is_some_and(|r| r.name == CLUSTER && r.created_by_lab);
    if exists {
        if !created_by_lab && !adopt {
            bail!(
                "a kind cluster named {CLUSTER} exists that this lab did not create; the lab will not touch it. \
                 Pass --adopt-cluster to install into it (the lab will never delete it), or remove it yourself."
            );
        }
        step("writing the cluster's kubeconfig", || {
            let config = cmd!(shell, "kind get kubeconfig --name {CLUSTER}").read()?;
            write_private(kubeconfig, &config)
        })?;
        return Ok(created_by_lab);
    }
    if let Some(parent) = kubeconfig.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let config = crate::paths::workspace_root().join("lab/kind/cluster.yaml");
    step("creating the kind cluster", || {
        cmd!(shell, "kind create cluster --name {CLUSTER} --config {config} --kubeconfig {kubeconfig} --wait 5m")
            .run()
            .map_err(Into::into)
    })?;
    write_json(
        &record_path(lab_dir),
        &ClusterRecord {
            name: CLUSTER.to_string(),
            created_by_lab: true,
        },
    )?;
    Ok(true)
}

/// A kubeconfig holds credentials: readable by its owner only.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// Every `image:` of a rendered chart, once each.
fn images_in(rendered: &str) -> Vec<String> {
    let mut images: Vec<String> = rendered
        .lines()
        .filter_map(|line| line.trim().trim_start_matches("- ").strip_prefix("image:"))
        .map(|value| {
            value
                .trim()
                .trim_matches('"')
                .trim_matches('\'')
                .to_string()
        })
        .filter(|image| !image.is_empty())
        .collect();
    images.sort();
    images.dedup();
    images
}

/// Loads every image onto the nodes, in parallel: pulled on the host once, skipped when
/// the nodes already have it; the runner image (just built) is always loaded.
fn load_images(images: &[String], runner: &str) -> anyhow::Result<()> {
    let node = format!("{CLUSTER}-control-plane");
    let failures: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = images
            .iter()
            .map(|image| {
                let node = node.clone();
                scope.spawn(move || {
                    load_image(image, image == runner, &node).map_err(|e| format!("{image}: {e:#}"))
                })
            })
            .collect();
        handles
            .into_iter()
            .filter_map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("loader thread panicked".into()))
                    .err()
            })
            .collect()
    });
    if failures.is_empty() {
        Ok(())
    } else {
        bail!(
            "step \"loading images into kind\" failed:\n  {}",
            failures.join("\n  ")
        )
    }
}

fn load_image(image: &str, always: bool, node: &str) -> anyhow::Result<()> {
    let shell = Shell::new()?;
    if !always
        && cmd!(shell, "docker exec {node} crictl inspecti {image}")
            .quiet()
            .ignore_stdout()
            .ignore_stderr()
            .run()
            .is_ok()
    {
        eprintln!("  {image}: already on the nodes");
        return Ok(());
    }
    if !always
        && cmd!(shell, "docker image inspect {image}")
            .quiet()
            .ignore_stdout()
            .ignore_stderr()
            .run()
            .is_err()
    {
        cmd!(shell, "docker pull {image}")
            .quiet()
            .run()
            .context("pulling")?;
    }
    let loaded = cmd!(shell, "kind load docker-image {image} --name {CLUSTER}")
        .quiet()
        .ignore_status()
        .output()
        .context("loading")?;
    if !loaded.status.success() {
        let said = String::from_utf8_lossy(&loaded.stderr);
        if !is_multi_platform_refusal(&said) {
            bail!("loading: {}", said.trim());
        }
        // Docker's containerd image store (Docker Desktop's default) keeps a multi-platform
        // image's index, whose other platforms' content `docker save` cannot find
        // (kubernetes-sigs/kind#3795): save the host platform's image alone, load that.
        let platform = host_platform();
        let folder = tempfile::tempdir().context("a folder for the image archive")?;
        let archive = folder.path().join("image.tar");
        cmd!(
            shell,
            "docker save --platform {platform} --output {archive} {image}"
        )
        .quiet()
        .run()
        .context("saving the host platform's image")?;
        cmd!(shell, "kind load image-archive {archive} --name {CLUSTER}")
            .quiet()
            .run()
            .context("loading the saved image")?;
        eprintln!("  {image}: loaded ({platform} only: multi-platform image)");
        return Ok(());
    }
    eprintln!("  {image}: loaded");
    Ok(())
}

/// What `kind load docker-image` says when Docker's containerd store cannot export a
/// multi-platform image whole: "content digest sha256:… not found".
fn is_multi_platform_refusal(said: &str) -> bool {
    said.contains("content digest") && said.contains("not found")
}

/// The platform of kind's nodes: Docker's for this machine's architecture.
fn host_platform() -> String {
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    format!("linux/{arch}")
}

/// `helm uninstall`, then the cluster — but only a cluster this lab created, and not when
/// it is to be kept.
pub fn down(
    lab_dir: &LabDir,
    state: &KindState,
    release: &str,
    keep_cluster: bool,
) -> anyhow::Result<()> {
    let shell = Shell::new()?;
    let (namespace, kubeconfig, context) = (&state.namespace, &state.kubeconfig, &state.context);
    step("uninstalling the chart", || {
        let output = cmd!(shell, "helm uninstall {release} --namespace {namespace} --kubeconfig {kubeconfig} --kube-context {context}")
            .ignore_status()
            .output()?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        // Already gone is what lab-down wants.
        if output.status.success() || stderr.contains("not found") {
            Ok(())
        } else {
            bail!("helm uninstall: {}", stderr.trim())
        }
    })?;
    if !state.created_cluster {
        println!(
            "  the cluster {} was not created by this lab: left as it is",
            state.cluster
        );
        return Ok(());
    }
    if keep_cluster {
        println!("  the cluster {} is kept (--keep-cluster)", state.cluster);
        return Ok(());
    }
    let cluster = &state.cluster;
    step("deleting the kind cluster", || {
        cmd!(shell, "kind delete cluster --name {cluster}")
            .run()
            .map_err(Into::into)
    })?;
    std::fs::remove_file(record_path(lab_dir)).ok();
    Ok(())
}

/// Waits (kube-rs watches, deadline) for every workload of the release; on failure writes
/// pod status, events and logs to the run folder and says where.
pub async fn wait_until_ready(state: &LabState, deadline: Duration) -> anyhow::Result<()> {
    let SubstrateState::Kind(kind) = &state.substrate else {
        bail!("not a kind lab");
    };
    let release = &state.settings.release;
    eprintln!(
        "  waiting for the workloads (up to {})",
        humantime::format_duration(deadline)
    );
    let client =
        lab::substrate::kube::client_from_kubeconfig(&kind.kubeconfig, Some(&kind.context))
            .await
            .context("step \"waiting for the workloads\" failed: the cluster's kubeconfig")?;
    let waited = lab::substrate::kube::wait_for_workloads(
        client.clone(),
        &kind.namespace,
        release,
        deadline,
    )
    .await;
    let Err(error) = waited else {
        return Ok(());
    };
    let diagnostics = match lab::substrate::kube::dump_diagnostics(
        client,
        &kind.namespace,
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

    #[test]
    fn images_are_read_from_rendered_manifests_once_each() {
        let rendered = "spec:\n  containers:\n    - image: \"odpi/egeria:3.0\"\n      name: a\n  initContainers:\n  - image: curlimages/curl:8.9.1\n---\n    - name: b\n      image: odpi/egeria:3.0\n";
        assert_eq!(
            images_in(rendered),
            ["curlimages/curl:8.9.1", "odpi/egeria:3.0"]
        );
    }
}
