//! `cargo xtask lab-run`: the whole flow in one command — lab-up, bootstrap, pts and
//! lab-down — leaving the artefacts in the run folder. The lab is taken down whatever
//! happened, and the first failure decides the exit code. The run's page,
//! `index.html`, is written last, whatever the outcome.

use lab::commands::{
    BootstrapArgs, OutageArgs, PtsArgs, bootstrap_command, outage_with_pts, pts_command,
};
use lab::state::LabDir;

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    up: crate::lab_up::UpArgs,
    #[command(flatten)]
    bootstrap: BootstrapArgs,
    #[command(flatten)]
    pts: PtsArgs,
    /// The outage scenario run during the PTS (`--scenario none`: the PTS alone).
    #[command(flatten)]
    outage: OutageArgs,
}

pub fn run(lab_dir: LabDir, args: Args) -> anyhow::Result<()> {
    let began = std::time::Instant::now();
    crate::paths::runtime()?.block_on(async {
        let state = crate::lab_up::up(&lab_dir, &args.up).await?;
        let on_kind = state.kube().is_some();
        let flow = async {
            let with_outage = args.outage.scenario != "none";
            let outage = OutageArgs {
                during_pts: true,
                ..args.outage.clone()
            };
            if on_kind {
                crate::remote::on_kind(&lab_dir, &args.bootstrap.to_args(), true).await?;
                let flow = if with_outage {
                    outage.to_args()
                } else {
                    args.pts.to_args()
                };
                crate::remote::on_kind(&lab_dir, &flow, true).await?;
                return Ok(());
            }
            bootstrap_command(lab_dir.clone(), &args.bootstrap).await?;
            if with_outage {
                outage_with_pts(lab_dir.clone(), &outage, &args.pts).await
            } else {
                pts_command(lab_dir.clone(), &args.pts).await
            }
        };
        let outcome = tokio::select! {
            outcome = flow => outcome,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        };
        let down = crate::lab_down::take_down(&lab_dir, false).await;
        println!("run folder: {}", state.run_dir.display());
        println!("platforms: {}", state.egeria.describe());
        if let Some(note) = &state.egeria.note {
            println!("note: {note}");
        }
        let page = lab::page::write(&lab::page::RunFacts {
            state: &state,
            wall: began.elapsed(),
            scenario: Some(args.outage.scenario.as_str()).filter(|s| *s != "none"),
            outcome: outcome
                .as_ref()
                .map(drop)
                .map_err(|error| format!("{error:#}")),
        });
        // The page's URL is the last line, whatever the outcome (an error follows it).
        let show_page = || match &page {
            Ok(path) => println!("page: {}", lab::report::html::file_url(path)),
            Err(error) => eprintln!("the run's page could not be written: {error}"),
        };
        if outcome.is_err() || down.is_err() {
            show_page();
        }
        outcome?;
        down?;
        println!("lab-run complete; the lab is down");
        show_page();
        Ok(())
    })
}
