//! `cargo xtask lab-up`: start the topology on a substrate.

use lab::local::{LoopbackNet, UpOptions};
use lab::settings::LabSettings;
use lab::state::{LabDir, LabState, SubstrateKind};
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Where the pods run.
    #[arg(long, value_enum, default_value = "local")]
    pub substrate: SubstrateKind,
    /// Number of connector pods behind the load-balancing service.
    #[arg(long, default_value_t = 3)]
    pub replicas: u16,
    /// Prefix of every pod and service name.
    #[arg(long, default_value = "lab")]
    pub release: String,
    /// Loopback /16 the local substrate's pods live in.
    #[arg(long, default_value = "127.77")]
    pub loopback_net: LoopbackNet,
    /// How long the stand-in platform takes to start a server (a real JVM takes minutes).
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    pub server_start_delay: Duration,
    /// How long each stand-in platform waits before listening (to rehearse slow pods).
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration, hide = true)]
    pub platform_delay: Duration,
    /// How long to wait for every pod to answer.
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    pub ready_timeout: Duration,
}

pub fn run(lab_dir: LabDir, args: UpArgs) -> anyhow::Result<()> {
    crate::paths::runtime()?.block_on(up(&lab_dir, &args))?;
    println!("next: cargo xtask bootstrap");
    Ok(())
}

/// Starts the lab and prints where everything is; Ctrl-C stops what was started.
pub async fn up(lab_dir: &LabDir, args: &UpArgs) -> anyhow::Result<LabState> {
    let settings = LabSettings {
        release: args.release.clone(),
        replicas: args.replicas,
        ..Default::default()
    };
    // Refuse bad input before spending time on a build.
    settings.validate()?;
    match args.substrate {
        SubstrateKind::Local => {}
    }
    let bin_dir = crate::paths::lab_binaries()?;
    let options = UpOptions {
        settings,
        bin_dir,
        net: args.loopback_net,
        server_start_delay: args.server_start_delay,
        platform_delay: args.platform_delay,
        deadline: args.ready_timeout,
    };
    let started = Instant::now();
    eprintln!(
        "starting the local substrate: 3 golden-store members, {} connector pods, 1 PTS pod on {}.0.0/16",
        options.settings.replicas, options.net
    );
    let interrupted = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let state = lab::local::up(lab_dir, &options, interrupted).await?;
    println!(
        "lab {} is up in {:.1}s (run {})\n  connector service: {}\n  golden store:      {}\n  logs:              {}",
        state.settings.release,
        started.elapsed().as_secs_f64(),
        state.run_id,
        state.endpoints.connector_service_url,
        state.endpoints.golden_store_bootstrap,
        state.run_dir.join("logs").display()
    );
    Ok(state)
}
