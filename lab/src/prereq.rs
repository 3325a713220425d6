//! Prerequisites of a substrate, each with the exact command that installs it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The oldest nats-server with clustered JetStream that the lab has been run against.
const MIN_NATS: (u32, u32) = (2, 9);

#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    /// Why the lab needs it.
    pub purpose: &'static str,
    pub outcome: Outcome,
    /// Debian packages that provide it.
    pub debian_packages: &'static [&'static str],
}

#[derive(Debug, Clone)]
pub enum Outcome {
    Found {
        path: PathBuf,
        version: String,
    },
    Missing,
    TooOld {
        path: PathBuf,
        version: String,
        need: String,
    },
}

impl Check {
    pub fn is_ok(&self) -> bool {
        matches!(self.outcome, Outcome::Found { .. })
    }

    pub fn path(&self) -> Option<&Path> {
        match &self.outcome {
            Outcome::Found { path, .. } => Some(path),
            _ => None,
        }
    }

    /// The one command that installs what is missing, for the user running the lab.
    pub fn install_command(&self) -> String {
        let packages = self.debian_packages.join(" ");
        let sudo = if is_root() { "" } else { "sudo " };
        format!("{sudo}apt-get update && {sudo}apt-get install -y {packages}")
    }
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// What the local substrate needs beyond the Rust toolchain.
pub fn check_local() -> Vec<Check> {
    vec![check_nats_server()]
}

/// Names the nats-server binary explicitly, for installs outside PATH and the sbin folders.
pub const NATS_SERVER_ENV: &str = "EGERIA_HA_LAB_NATS_SERVER";

pub fn check_nats_server() -> Check {
    let found = match std::env::var_os(NATS_SERVER_ENV) {
        Some(explicit) => Some(PathBuf::from(explicit)).filter(|path| is_executable(path)),
        None => find_program("nats-server"),
    };
    let outcome = match found {
        None => Outcome::Missing,
        Some(path) => {
            let version = Command::new(&path)
                .arg("--version")
                .output()
                .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
                .unwrap_or_default();
            match parse_version(&version) {
                Some(found) if found >= MIN_NATS => Outcome::Found { path, version },
                _ => Outcome::TooOld {
                    path,
                    version,
                    need: format!("{}.{} or newer", MIN_NATS.0, MIN_NATS.1),
                },
            }
        }
    };
    Check {
        name: "nats-server",
        purpose: "the golden store: a three-node JetStream cluster standing in for Kafka",
        outcome,
        debian_packages: &["nats-server"],
    }
}

/// Looks on PATH, then in the sbin folders Debian installs daemons into (not on a normal
/// user's PATH).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// `nats-server: v2.9.10` → (2, 9).
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let mut parts = text[start..].split(|c: char| !c.is_ascii_digit());
    Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_from_nats_output() {
        assert_eq!(parse_version("nats-server: v2.9.10"), Some((2, 9)));
        assert_eq!(parse_version("nats-server: v2.10.1-beta"), Some((2, 10)));
        assert_eq!(parse_version("garbage"), None);
    }

    #[test]
    fn install_command_names_the_package() {
        let check = Check {
            name: "nats-server",
            purpose: "",
            outcome: Outcome::Missing,
            debian_packages: &["nats-server"],
        };
        assert!(
            check
                .install_command()
                .ends_with("apt-get install -y nats-server")
        );
        assert!(!check.is_ok());
    }
}
