//! The kind substrate's set-up and tear-down on the host: the cluster (created only if
//! absent, deleted only if this lab created it), the images (built, pulled once, loaded in
//! parallel, skipped when already on the nodes), and the chart (`helm upgrade --install`).
//! Every external command runs through xshell, one argument per interpolation, and a
//! failure names the step that failed.

pub mod checksum;

use crate::chart::{self, ChartOptions, step};
use anyhow::{Context, bail};
use lab::state::{KubeState, LabDir, LabState, read_json, write_json};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Duration;
use xshell::{Shell, cmd};

pub const CLUSTER: &str = "egeria-ha-lab";
const RUNNER_IMAGE: &str = "egeria-ha-lab/runner";

/// Whether the lab created the cluster; kept across lab-down when the cluster is kept.
#[derive(Debug, Serialize, Deserialize)]
struct ClusterRecord {
    name: String,
    created_by_lab: bool,
}

pub struct KindOptions {
    pub chart: ChartOptions,
    pub namespace: String,
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
    crate::runner_image::build(&shell, &runner)?;
    let values = options.chart.values(
        &[
            ("runner.image.repository", RUNNER_IMAGE.to_string()),
            ("runner.image.tag", env!("CARGO_PKG_VERSION").to_string()),
        ],
        // Node outages only on nodes the lab created: an adopted cluster's are not its own.
        &[("runner.nodeFaults", created_cluster)],
    );
    let images = step("listing the chart's images", || {
        let values = &values;
        let helm = &options.chart.helm;
        let rendered = cmd!(shell, "{helm} template {values...}").read()?;
        Ok(images_in(&rendered))
    })?;
    // The runner image was just built here: loaded whether or not the chart names it.
    let mut images = images;
    if !images.contains(&runner) {
        images.push(runner.clone());
    }
    load_images(&images, &runner)?;
    let kube = KubeState {
        kind_cluster: Some(CLUSTER.to_string()),
        kubeconfig: Some(kubeconfig),
        context: format!("kind-{CLUSTER}"),
        namespace: options.namespace.clone(),
        created_cluster,
        // By helm's --create-namespace; it goes with the cluster.
        created_namespace: false,
    };
    chart::install(&shell, &options.chart.helm, &values, &kube, true)?;
    Ok(chart::lab_state(&options.chart.settings, run_dir, kube))
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

/// The node containers of the kind cluster the lab created, as kind names them; `None`
/// for a lab elsewhere, or in a cluster the lab did not create (its nodes are never
/// stopped).
pub fn own_nodes(kube: &KubeState) -> anyhow::Result<Option<Vec<String>>> {
    let Some(cluster) = kube
        .kind_cluster
        .as_deref()
        .filter(|_| kube.created_cluster)
    else {
        return Ok(None);
    };
    let shell = Shell::new()?;
    let listed = cmd!(shell, "kind get nodes --name {cluster}")
        .quiet()
        .read()
        .with_context(|| format!("listing the nodes of kind cluster {cluster}"))?;
    Ok(Some(
        listed
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect(),
    ))
}

/// kind's nodes are Docker containers: stopping one is a node going down with every pod on
/// it, as a machine losing power would.
pub struct DockerNodes {
    shell: Shell,
}

impl DockerNodes {
    pub fn new() -> anyhow::Result<Self> {
        Ok(DockerNodes {
            shell: Shell::new()?,
        })
    }

    /// `docker stop NODE` or `docker start NODE`.
    fn docker(&self, verb: &str, node: &str) -> Result<(), String> {
        eprintln!("  docker {verb} {node}");
        cmd!(self.shell, "docker {verb} {node}")
            .quiet()
            .ignore_stdout()
            .run()
            .map_err(|e| e.to_string())
    }
}

impl lab::node_faults::NodeControl for DockerNodes {
    fn stop(&self, node: &str) -> Result<(), String> {
        self.docker("stop", node)
    }

    fn start(&self, node: &str) -> Result<(), String> {
        self.docker("start", node)
    }
}

/// `helm uninstall`, then the cluster — but only a cluster this lab created, and not when
/// it is to be kept.
pub fn down(
    lab_dir: &LabDir,
    helm: &Path,
    kube: &KubeState,
    release: &str,
    keep_cluster: bool,
) -> anyhow::Result<()> {
    let shell = Shell::new()?;
    chart::uninstall(&shell, helm, release, kube)?;
    let cluster = kube.kind_cluster.as_deref().unwrap_or(CLUSTER);
    if !kube.created_cluster {
        println!("  the cluster {cluster} was not created by this lab: left as it is");
        return Ok(());
    }
    if keep_cluster {
        println!("  the cluster {cluster} is kept (--keep-cluster)");
        return Ok(());
    }
    step("deleting the kind cluster", || {
        cmd!(shell, "kind delete cluster --name {cluster}")
            .run()
            .map_err(Into::into)
    })?;
    std::fs::remove_file(record_path(lab_dir)).ok();
    Ok(())
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
