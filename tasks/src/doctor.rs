//! `cargo xtask doctor`: check a substrate's prerequisites; `--fix` installs Debian
//! packages for what is missing.

use lab::prereq::{self, Check, Outcome};
use lab::state::SubstrateKind;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The substrate whose prerequisites to check.
    #[arg(long, value_enum, default_value = "kind")]
    pub substrate: SubstrateKind,
    /// Install missing Debian packages (needs root on Debian or Ubuntu).
    #[arg(long)]
    pub fix: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let checks = prerequisites(args.substrate);
    report(&checks);
    let missing: Vec<&Check> = checks.iter().filter(|c| !c.is_ok()).collect();
    if missing.is_empty() {
        println!(
            "every prerequisite of the {} substrate is present",
            args.substrate.label()
        );
        return Ok(());
    }
    if !args.fix {
        anyhow::bail!(
            "{} prerequisites missing; install them as shown, or run `cargo xtask doctor --fix`",
            missing.len()
        );
    }
    install(&missing)?;
    let after = prerequisites(args.substrate);
    report(&after);
    let still: Vec<&str> = after
        .iter()
        .filter(|c| !c.is_ok())
        .map(|c| c.name)
        .collect();
    if still.is_empty() {
        println!(
            "every prerequisite of the {} substrate is now present",
            args.substrate.label()
        );
        Ok(())
    } else {
        anyhow::bail!("still missing after --fix: {}", still.join(", "))
    }
}

fn prerequisites(substrate: SubstrateKind) -> Vec<Check> {
    match substrate {
        SubstrateKind::Local => prereq::check_local(),
        // The laptop preset's needs: what `lab-up --substrate kind` uses by default.
        SubstrateKind::Kind => prereq::check_kind(12),
        SubstrateKind::Cluster => prereq::check_cluster(),
    }
}

fn report(checks: &[Check]) {
    for check in checks {
        match &check.outcome {
            Outcome::Found { path, version } => {
                println!(
                    "ok       {:<12} {} ({})",
                    check.name,
                    version,
                    path.display()
                )
            }
            Outcome::Missing => println!(
                "missing  {:<12} needed for {}\n         install: {}",
                check.name,
                check.purpose,
                check.install_command()
            ),
            Outcome::Unusable { detail } => println!(
                "unusable {:<12} {detail}\n         fix: {}",
                check.name,
                check.install_command()
            ),
            Outcome::TooOld { version, need, .. } => println!(
                "too old  {:<12} {version}, need {need}\n         install: {}",
                check.name,
                check.install_command()
            ),
        }
    }
}

fn install(missing: &[&Check]) -> anyhow::Result<()> {
    if !prereq::is_root() {
        anyhow::bail!(
            "--fix installs Debian packages and needs root; run the install commands above with sudo"
        );
    }
    if prereq::find_program("apt-get").is_none() {
        anyhow::bail!("--fix needs apt-get (Debian or Ubuntu); install the packages above by hand");
    }
    // Only what is absent: reinstalling a package does not start a stopped daemon.
    let packages: Vec<&str> = missing
        .iter()
        .filter(|c| matches!(c.outcome, Outcome::Missing | Outcome::TooOld { .. }))
        .flat_map(|c| c.debian_packages().iter().copied())
        .collect();
    if packages.is_empty() {
        anyhow::bail!("nothing --fix can install: do as shown above");
    }
    let shell = xshell::Shell::new()?;
    xshell::cmd!(shell, "apt-get update").run()?;
    xshell::cmd!(shell, "apt-get install -y {packages...}")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .run()?;
    Ok(())
}
