//! The cluster substrate: the chart and the runner flow on an existing Kubernetes cluster
//! the user names with `--context`. The lab checks the cluster before it creates anything,
//! creates only its namespace (when absent) and the chart's release, never creates or
//! deletes clusters, never loads or pushes images, and at lab-down removes only what it
//! created.

use crate::chart::{self, ChartOptions};
use crate::runner_image::ImageReference;
use anyhow::{Context, bail};
use lab::state::{KubeState, LabState};
use lab::substrate::kube::cluster::{self, ClusterPlan, Preflight};
use serde_norway::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;
use xshell::Shell;

pub struct ClusterOptions {
    pub chart: ChartOptions,
    pub context: String,
    pub kubeconfig: Option<PathBuf>,
    pub namespace: String,
    pub runner_image: ImageReference,
    pub deadline: Duration,
}

/// What the checks need to know of the values the chart will be installed with.
fn plan(options: &ClusterOptions, values: &Value) -> ClusterPlan {
    let kafka = &values["kafka"];
    let external = kafka["external"]["bootstrapServers"]
        .as_str()
        .is_some_and(|servers| !servers.is_empty());
    let broker_replicas = match external {
        true => 0,
        false => kafka["replicas"]
            .as_u64()
            .and_then(|replicas| u16::try_from(replicas).ok())
            .unwrap_or(3),
    };
    ClusterPlan {
        namespace: options.namespace.clone(),
        release: options.chart.settings.release.clone(),
        connector_replicas: options.chart.settings.replicas,
        broker_replicas,
        storage_class: kafka["persistence"]["storageClassName"]
            .as_str()
            .filter(|class| !class.is_empty())
            .map(str::to_string),
        disruption_budgets: values["scheduling"]["podDisruptionBudgets"]
            .as_bool()
            .unwrap_or(false),
    }
}

/// A cluster that passed the checks, ready for the install.
pub struct Checked {
    client: lab::substrate::kube::Client,
    plan: ClusterPlan,
    found: Preflight,
}

/// Every check, before anything is created here or there; `values` are the install's,
/// merged.
pub async fn check(options: &ClusterOptions, values: &Value) -> anyhow::Result<Checked> {
    let context = &options.context;
    let (client, server) =
        lab::substrate::kube::cluster_client(options.kubeconfig.as_deref(), Some(context))
            .await
            .with_context(|| format!("context {context}: nothing was created"))?;
    eprintln!("  checking the cluster (context {context}, API server {server})");
    let plan = plan(options, values);
    let found = cluster::preflight(&client, context, &server, &plan).await?;
    for warning in &found.warnings {
        eprintln!("  warning: {warning}");
    }
    Ok(Checked {
        client,
        plan,
        found,
    })
}

/// Creates the namespace if absent and installs the chart; returns the lab's state
/// (waiting for the workloads is the caller's next step).
pub async fn install(
    run_dir: &Path,
    options: &ClusterOptions,
    checked: Checked,
) -> anyhow::Result<LabState> {
    let Checked {
        client,
        plan,
        found,
    } = checked;
    let context = &options.context;
    let spread = plan.spreads_over(found.schedulable_nodes);
    eprintln!(
        "  {} schedulable nodes: anti-affinity {}",
        found.schedulable_nodes,
        if spread { "required" } else { "preferred" }
    );
    let namespace = &options.namespace;
    let created_namespace = if found.namespace_exists {
        found.namespace_is_the_labs
    } else {
        eprintln!("  creating namespace {namespace}");
        cluster::create_namespace(&client, namespace)
            .await
            .context("step \"creating the namespace\" failed")?;
        true
    };
    let kube = KubeState {
        kind_cluster: None,
        kubeconfig: options.kubeconfig.clone(),
        context: context.clone(),
        namespace: namespace.clone(),
        created_cluster: false,
        created_namespace,
    };
    let runner = &options.runner_image;
    let mut settings = vec![
        ("runner.image.repository", runner.repository.clone()),
        ("runner.image.tag", runner.tag.clone()),
    ];
    if spread {
        settings.push(("scheduling.antiAffinity", "required".to_string()));
    }
    // The nodes of an existing cluster are never the lab's to stop.
    let values = options
        .chart
        .values(&settings, &[("runner.nodeFaults", false)]);
    let state = chart::lab_state(&options.chart.settings, run_dir, kube.clone());
    if let Err(error) = chart::install(&Shell::new()?, &options.chart.helm, &values, &kube, false) {
        // Nothing of the release may be left behind in a namespace created a moment ago.
        if created_namespace && !found.namespace_exists {
            cluster::remove_what_the_lab_created(&client, namespace, &plan.release, true)
                .await
                .ok();
        }
        return Err(error);
    }
    Ok(state)
}

/// `helm uninstall`, then what helm leaves: the brokers' volumes, and the namespace when
/// the lab created it.
pub async fn down(helm: &Path, kube: &KubeState, release: &str) -> anyhow::Result<()> {
    chart::uninstall(&Shell::new()?, helm, release, kube)?;
    let client = lab::substrate::kube::client_for(kube)
        .await
        .with_context(|| format!("context {}", kube.context))?;
    let removed = cluster::remove_what_the_lab_created(
        &client,
        &kube.namespace,
        release,
        kube.created_namespace,
    )
    .await?;
    for object in &removed {
        println!("  removed {object}");
    }
    if !kube.created_namespace {
        println!(
            "  namespace {} was not created by this lab: left as it is",
            kube.namespace
        );
    }
    Ok(())
}

/// The context and runner image the cluster substrate cannot do without, or an error
/// naming the missing flag, before anything runs.
pub fn require<'a>(
    context: Option<&'a str>,
    runner_image: Option<&'a ImageReference>,
) -> anyhow::Result<(&'a str, &'a ImageReference)> {
    let Some(context) = context else {
        bail!(
            "--substrate cluster needs --context NAME: the lab never uses the current context (`kubectl config get-contexts` lists them)"
        );
    };
    let Some(runner_image) = runner_image else {
        bail!(
            "--substrate cluster needs --runner-image REPOSITORY:TAG, an image the cluster can pull: build it with `cargo xtask runner-image --tag REF`, then push it yourself"
        );
    };
    Ok((context, runner_image))
}
