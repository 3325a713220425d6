//! `cargo xtask lab-down`: stop everything the lab started.

use lab::state::LabDir;

pub fn run(lab_dir: LabDir) -> anyhow::Result<()> {
    let report = crate::paths::runtime()?.block_on(lab::local::down(&lab_dir))?;
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
