//! The runner commands shared by both front doors (`cargo xtask …` and the `lab`
//! binary): the same arguments, the same output.

use crate::bootstrap::{BootstrapOptions, bootstrap};
use crate::runs::unused_path;
use crate::session::Session;
use crate::state::{LabDir, write_json};
use anyhow::Context;
use std::time::Duration;

#[derive(Debug, Clone, clap::Args)]
pub struct BootstrapArgs {
    /// How long each platform may take to answer.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration)]
    pub platform_timeout: Duration,
    /// How long each server start may take.
    #[arg(long, default_value = "15m", value_parser = humantime::parse_duration)]
    pub start_timeout: Duration,
    /// How many pods are configured and started at once.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallel: u16,
}

pub async fn bootstrap_command(dir: LabDir, args: &BootstrapArgs) -> anyhow::Result<()> {
    let session = Session::open(dir)?;
    let options = BootstrapOptions {
        platform_deadline: args.platform_timeout,
        start_deadline: args.start_timeout,
        parallelism: usize::from(args.parallel),
    };
    let report = bootstrap(
        &session.substrate,
        &session.client,
        &session.state.settings,
        &session.dir,
        &options,
    )
    .await
    .context("bootstrap")?;
    let path = unused_path(&session.state.run_dir, "bootstrap", "json");
    write_json(&path, &report)?;
    let ready = report.pods.iter().filter(|pod| pod.ready).count();
    println!(
        "bootstrap: {ready}/{} connector pods ready in {} ms (metadataCollectionId {}); report: {}",
        report.pods.len(),
        report.total_ms,
        report.metadata_collection_id,
        path.display()
    );
    let failed: Vec<String> = report
        .failed_pods()
        .map(|pod| format!("{}: {}", pod.name, pod.error.as_deref().unwrap_or_default()))
        .collect();
    if !failed.is_empty() {
        anyhow::bail!("{} pods failed:\n  {}", failed.len(), failed.join("\n  "));
    }
    Ok(())
}

#[derive(Debug, Clone, clap::Args)]
pub struct StatusArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn status_command(dir: LabDir, args: &StatusArgs) -> anyhow::Result<()> {
    let session = Session::open(dir)?;
    let rows = crate::status::collect(&session.substrate, &session.client, &session.state.settings)
        .await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        println!(
            "lab {} (run {}, substrate {}), connector service {}",
            session.state.settings.release,
            session.state.run_id,
            session.state.substrate.label(),
            session.state.endpoints.connector_service_url
        );
        print!("{}", crate::status::render_table(&rows));
    }
    Ok(())
}
