//! `cargo xtask lab-down`: stop everything the lab started.

use lab::state::{LabDir, SubstrateState};

#[derive(Debug, clap::Args)]
pub struct DownArgs {
    /// kind: keep the cluster (only the chart is uninstalled).
    #[arg(long)]
    pub keep_cluster: bool,
}

pub fn run(lab_dir: LabDir, args: DownArgs) -> anyhow::Result<()> {
    crate::paths::runtime()?.block_on(take_down(&lab_dir, args.keep_cluster))
}

/// Takes down whatever lab is recorded, on its own substrate.
pub async fn take_down(lab_dir: &LabDir, keep_cluster: bool) -> anyhow::Result<()> {
    if let Some(state) = lab_dir.load_state()?
        && let SubstrateState::Kube(kube) = &state.substrate
    {
        let helm = crate::chart::helm().await?;
        let release = &state.settings.release;
        match kube.kind_cluster {
            Some(_) => crate::kind::down(lab_dir, &helm, kube, release, keep_cluster)?,
            None => crate::cluster::down(&helm, kube, release).await?,
        }
        lab_dir.clear()?;
        println!("lab of run {} is down", state.run_id);
        return Ok(());
    }
    let report = lab::substrate::local::down(lab_dir).await?;
    match report.run_id {
        None => println!(
            "nothing was running (no lab recorded in {})",
            lab_dir.root().display()
        ),
        Some(run_id) => {
            println!("lab of run {run_id} stopped; every process it started has ended");
            if report.stragglers_killed > 0 {
                println!(
                    "  ({} pod processes outlived the control plane and were killed)",
                    report.stragglers_killed
                );
            }
        }
    }
    Ok(())
}
