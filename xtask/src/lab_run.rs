//! `cargo xtask lab-run`: the whole flow in one command — lab-up, bootstrap, pts and
//! lab-down — leaving the artefacts in the run folder. The lab is taken down whatever
//! happened, and the first failure decides the exit code.

use lab::commands::{BootstrapArgs, PtsArgs, bootstrap_command, pts_command};
use lab::state::LabDir;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    up: crate::lab_up::UpArgs,
    #[command(flatten)]
    bootstrap: BootstrapArgs,
    #[command(flatten)]
    pts: PtsArgs,
}

pub fn run(lab_dir: LabDir, args: Args) -> anyhow::Result<()> {
    crate::paths::runtime()?.block_on(async {
        let state = crate::lab_up::up(&lab_dir, &args.up).await?;
        let on_kind = lab::remote::kind_state(&state).is_some();
        let flow = async {
            if on_kind {
                crate::remote::on_kind(&lab_dir, &args.bootstrap.to_args(), true).await?;
                crate::remote::on_kind(&lab_dir, &args.pts.to_args(), true).await?;
                return Ok(());
            }
            bootstrap_command(lab_dir.clone(), &args.bootstrap).await?;
            pts_command(lab_dir.clone(), &args.pts).await
        };
        let outcome = tokio::select! {
            outcome = flow => outcome,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        };
        let down = crate::lab_down::take_down(&lab_dir, false).await;
        println!("run folder: {}", state.run_dir.display());
        outcome?;
        down?;
        println!("lab-run complete; the lab is down");
        Ok(())
    })
}
