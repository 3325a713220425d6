//! Prerequisites of a substrate, each with the exact command that installs it.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The oldest Java the lab runs Kafka (and Egeria) on.
const MIN_JAVA: u32 = 17;

/// The kind node image `lab/kind/cluster.yaml` pins, by digest: Kubernetes 1.33 (the
/// Kafka brokers' node ids come from the pod-index label of 1.28+), as kind v0.29.0
/// publishes it (its `pkg/apis/config/defaults/image.go` at that tag).
pub const KIND_NODE_IMAGE: &str =
    "kindest/node:v1.33.1@sha256:050072256b9a903bd914c0b2866828150cb229cea0efe5892e2b644d5dd3b34f";
/// The kind release that node image was built for: an older kind cannot be relied on to
/// run it (kind's release notes ask for exactly the images built for a release or later).
pub const KIND_MIN_VERSION: (u32, u32, u32) = (0, 29, 0);

#[derive(Debug, Clone)]
pub struct Check {
    pub name: &'static str,
    /// Why the lab needs it.
    pub purpose: &'static str,
    pub outcome: Outcome,
    pub install: Install,
}

/// How a missing prerequisite is installed.
#[derive(Debug, Clone)]
pub enum Install {
    /// Debian packages that provide it (what `doctor --fix` installs).
    Debian(&'static [&'static str]),
    /// Not packaged in Debian: what to do instead.
    Manual(&'static str),
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
    /// Present but not usable as it is (a daemon not running, too little memory).
    Unusable {
        detail: String,
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

    /// What is wrong, in a few words ("not found", "11.0.2 is too old, need …").
    pub fn problem(&self) -> String {
        match &self.outcome {
            Outcome::Missing => "not found".into(),
            Outcome::TooOld { version, need, .. } => format!("{version} is too old, need {need}"),
            Outcome::Found { version, .. } => version.clone(),
            Outcome::Unusable { detail } => detail.clone(),
        }
    }

    /// The one command (or step) that provides what is missing, for the user running the lab.
    pub fn install_command(&self) -> String {
        match &self.install {
            Install::Debian(packages) => {
                let sudo = if is_root() { "" } else { "sudo " };
                format!(
                    "{sudo}apt-get update && {sudo}apt-get install -y {}",
                    packages.join(" ")
                )
            }
            Install::Manual(how) => (*how).to_string(),
        }
    }

    /// Debian packages `doctor --fix` may install for this check.
    pub fn debian_packages(&self) -> &'static [&'static str] {
        match self.install {
            Install::Debian(packages) => packages,
            Install::Manual(_) => &[],
        }
    }
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// What the local substrate needs beyond the Rust toolchain.
pub fn check_local() -> Vec<Check> {
    let java = check_java();
    let jdk = check_jdk(&java);
    vec![java, jdk]
}

/// The compiler of the JDK the `java` check found: the lab compiles its own small launcher
/// of the real Egeria platform (Egeria's own launcher is not published), so a runtime
/// alone (a JRE) is not enough for `--egeria real`.
pub fn check_jdk(java: &Check) -> Check {
    let outcome = match java.path() {
        None => Outcome::Unusable {
            detail: format!("no usable java ({})", java.problem()),
        },
        Some(java) => match jdk_tool(java, "javac") {
            None => Outcome::Unusable {
                detail: format!(
                    "{} is a runtime without a compiler (a JRE, not a JDK)",
                    java.display()
                ),
            },
            Some(path) => Outcome::Found {
                version: format!("beside {}", java.display()),
                path,
            },
        },
    };
    Check {
        name: "javac",
        purpose: "real Egeria: compiling the lab's launcher of the OMAG Server Platform",
        outcome,
        install: Install::Debian(&["openjdk-17-jdk-headless"]),
    }
}

/// A tool of the Java installation `java` belongs to (`javac`, `keytool`), found beside
/// the real binary behind any symlinks (Debian links /usr/bin/java through alternatives).
pub fn jdk_tool(java: &Path, tool: &str) -> Option<PathBuf> {
    let real = std::fs::canonicalize(java).ok()?;
    let candidate = real.parent()?.join(tool);
    is_executable(&candidate).then_some(candidate)
}

/// Names the `java` binary explicitly; otherwise `$JAVA_HOME/bin/java`, then PATH.
pub const JAVA_ENV: &str = "EGERIA_HA_LAB_JAVA";

/// A Java runtime of [`MIN_JAVA`] or newer: the golden store's Kafka brokers are JVMs.
pub fn check_java() -> Check {
    let found = match std::env::var_os(JAVA_ENV) {
        Some(explicit) => Some(PathBuf::from(explicit)).filter(|path| is_executable(path)),
        None => std::env::var_os("JAVA_HOME")
            .map(|home| Path::new(&home).join("bin/java"))
            .filter(|path| is_executable(path))
            .or_else(|| find_program("java")),
    };
    let outcome = match found {
        None => Outcome::Missing,
        Some(path) => match Command::new(&path).arg("-version").output() {
            Err(e) => Outcome::Unusable {
                detail: format!("{} -version: {e}", path.display()),
            },
            Ok(out) => {
                // `java -version` writes to stderr: `openjdk version "17.0.15" 2025-04-15`.
                let said = String::from_utf8_lossy(&out.stderr);
                let version = said.lines().next().unwrap_or_default().trim().to_string();
                match java_major(&version) {
                    Some(major) if major >= MIN_JAVA => Outcome::Found { path, version },
                    _ => Outcome::TooOld {
                        path,
                        version,
                        need: format!("Java {MIN_JAVA} or newer"),
                    },
                }
            }
        },
    };
    Check {
        name: "java",
        purpose: "the golden store: three Kafka brokers, each a JVM",
        outcome,
        install: Install::Debian(&["openjdk-17-jre-headless"]),
    }
}

/// The major version in `java -version`'s first line: `"17.0.15"` → 17, `"1.8.0_292"` → 8.
fn java_major(line: &str) -> Option<u32> {
    let quoted = line.split('"').nth(1)?;
    let mut parts = quoted.split(|c: char| !c.is_ascii_digit());
    let first: u32 = parts.next()?.parse().ok()?;
    if first == 1 {
        parts.next()?.parse().ok()
    } else {
        Some(first)
    }
}

/// What the kind substrate needs: a running Docker daemon, `kind`, `helm`, and enough
/// memory for the chosen preset.
pub fn check_kind(memory_needed_gib: u64) -> Vec<Check> {
    vec![
        check_docker(),
        check_kind_version(),
        check_helm(),
        check_memory(memory_needed_gib),
    ]
}

/// An existing cluster needs only helm here: the cluster is the user's, and the runner
/// image is pushed to a registry it can pull from.
pub fn check_cluster() -> Vec<Check> {
    vec![check_helm()]
}

fn check_kind_version() -> Check {
    let mut check = check_version_of(
        "kind",
        &["version"],
        "creates the lab's Kubernetes cluster in Docker",
        Install::Manual(
            "install kind v0.29.0 or newer (not packaged in Debian): see https://kind.sigs.k8s.io/docs/user/quick-start/#installation",
        ),
    );
    if let Outcome::Found { path, version } = &check.outcome {
        let (major, minor, patch) = KIND_MIN_VERSION;
        let need = format!("v{major}.{minor}.{patch}");
        match kind_version(version) {
            Some(found) if found >= KIND_MIN_VERSION => {}
            Some(_) => {
                check.outcome = Outcome::TooOld {
                    path: path.clone(),
                    version: version.clone(),
                    need: format!("{need} or newer for the pinned node image {KIND_NODE_IMAGE}"),
                };
            }
            None => {
                check.outcome = Outcome::Unusable {
                    detail: format!(
                        "cannot read a version from `kind version` ({version:?}); the pinned node image needs kind {need} or newer"
                    ),
                };
            }
        }
    }
    check
}

/// `kind v0.29.0 go1.24.2 linux/amd64` → (0, 29, 0).
fn kind_version(text: &str) -> Option<(u32, u32, u32)> {
    let word = text.split_whitespace().find(|w| w.starts_with('v'))?;
    let mut numbers = word
        .trim_start_matches('v')
        .split(['.', '-', '+'])
        .map(|part| part.parse::<u32>().ok());
    Some((
        numbers.next()??,
        numbers.next()??,
        numbers.next().flatten().unwrap_or(0),
    ))
}

/// The helm `lab-up` will run, and why that one: the lab's pinned helm where it ships
/// (fetched into the cache at the first use), so none need be installed there.
fn check_helm() -> Check {
    let planned = crate::artifacts::cache::Cache::from_env()
        .ok()
        .and_then(|cache| crate::artifacts::tools::planned_helm(&cache));
    Check {
        name: "helm",
        purpose: "installs the ec-ha-crux chart",
        outcome: match planned {
            Some(choice) => Outcome::Found {
                path: choice.path,
                version: choice.why,
            },
            None => Outcome::Missing,
        },
        install: Install::Manual(
            "install helm 3 (not packaged in Debian): see https://helm.sh/docs/intro/install/",
        ),
    }
}

fn check_version_of(
    name: &'static str,
    version_args: &[&str],
    purpose: &'static str,
    install: Install,
) -> Check {
    let outcome = match find_program(name) {
        None => Outcome::Missing,
        Some(path) => match Command::new(&path).args(version_args).output() {
            Ok(out) if out.status.success() => Outcome::Found {
                path,
                version: String::from_utf8_lossy(&out.stdout).trim().to_string(),
            },
            Ok(out) => Outcome::Unusable {
                detail: format!(
                    "`{name} {}` failed: {}",
                    version_args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ),
            },
            Err(e) => Outcome::Unusable {
                detail: e.to_string(),
            },
        },
    };
    Check {
        name,
        purpose,
        outcome,
        install,
    }
}

fn check_docker() -> Check {
    let mut check = check_version_of(
        "docker",
        &["info", "--format", "{{.ServerVersion}}"],
        "runs the kind cluster's nodes and builds the runner image",
        Install::Debian(&["docker.io"]),
    );
    if let Outcome::Unusable { detail } = &check.outcome {
        check.outcome = Outcome::Unusable {
            detail: format!(
                "the Docker daemon is not reachable ({detail}); start it (e.g. `sudo systemctl start docker`) or use --substrate local"
            ),
        };
    }
    check
}

/// The memory the Docker engine reports: what kind's nodes share, whether the engine
/// runs on this Linux host, in Docker Desktop's VM, or on macOS (no `/proc` to read).
fn check_memory(needed_gib: u64) -> Check {
    let reported = find_program("docker")
        .and_then(|docker| {
            Command::new(docker)
                .args(["info", "--format", "{{.MemTotal}}"])
                .output()
                .ok()
        })
        .filter(|out| out.status.success())
        .and_then(|out| {
            String::from_utf8_lossy(&out.stdout)
                .trim()
                .parse::<u64>()
                .ok()
        });
    Check {
        name: "memory",
        purpose: "room for the connector, Kafka and PTS pods",
        outcome: memory_outcome(reported, needed_gib),
        install: Install::Manual(
            "give the Docker engine more memory (Docker Desktop: Settings, Resources), pick a smaller preset, or fewer --replicas, or use --substrate local",
        ),
    }
}

fn memory_outcome(reported_bytes: Option<u64>, needed_gib: u64) -> Outcome {
    let Some(bytes) = reported_bytes else {
        return Outcome::Unusable {
            detail:
                "the Docker engine did not report its memory (`docker info --format {{.MemTotal}}`)"
                    .into(),
        };
    };
    let gib = bytes as f64 / (1024.0 * 1024.0 * 1024.0);
    // Engines report a little under the round figure they were given (16 GiB shows as
    // 15.6): half a GiB of slack keeps a 16 GiB engine good for a 16 GiB need.
    if gib + 0.5 >= needed_gib as f64 {
        Outcome::Found {
            path: PathBuf::from("docker info"),
            version: format!("{gib:.1} GiB for the Docker engine"),
        }
    } else {
        Outcome::Unusable {
            detail: format!(
                "the Docker engine has {gib:.1} GiB of memory; the chosen preset needs {needed_gib} GiB"
            ),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kind_versions_are_read_from_what_kind_prints() {
        assert_eq!(
            kind_version("kind v0.29.0 go1.24.2 linux/amd64"),
            Some((0, 29, 0))
        );
        assert_eq!(
            kind_version("kind v0.31.0-alpha+abc go1.25 darwin/arm64"),
            Some((0, 31, 0))
        );
        assert_eq!(kind_version("kind version 0.29"), None);
        assert!(kind_version("kind v0.27.0 go1.23").unwrap() < KIND_MIN_VERSION);
    }

    #[test]
    fn the_kind_cluster_pins_every_node_to_the_image_the_lab_checks_kind_for() {
        let config = include_str!("../kind/cluster.yaml");
        let images: Vec<&str> = config
            .lines()
            .filter_map(|line| line.trim().strip_prefix("image: "))
            .collect();
        let nodes = config
            .lines()
            .filter(|l| l.trim().starts_with("- role:"))
            .count();
        assert_eq!(images.len(), nodes, "every node names its image");
        assert!(
            images.iter().all(|image| *image == KIND_NODE_IMAGE),
            "{images:?}"
        );
        assert!(KIND_NODE_IMAGE.contains("@sha256:"), "pinned by digest");
    }

    #[test]
    fn java_versions_parse_from_both_schemes() {
        assert_eq!(
            java_major(r#"openjdk version "17.0.15" 2025-04-15"#),
            Some(17)
        );
        assert_eq!(java_major(r#"java version "1.8.0_292""#), Some(8));
        assert_eq!(java_major(r#"openjdk version "21" 2023-09-19"#), Some(21));
        assert_eq!(java_major("garbage"), None);
    }

    #[test]
    fn the_engines_memory_is_judged_with_both_figures_named() {
        let gib = 1024 * 1024 * 1024;
        assert!(matches!(
            memory_outcome(Some(16 * gib - gib / 3), 16),
            Outcome::Found { .. }
        ));
        match memory_outcome(Some(8 * gib), 12) {
            Outcome::Unusable { detail } => assert_eq!(
                detail,
                "the Docker engine has 8.0 GiB of memory; the chosen preset needs 12 GiB"
            ),
            other => panic!("{other:?}"),
        }
        assert!(matches!(memory_outcome(None, 12), Outcome::Unusable { .. }));
    }

    #[test]
    fn kind_checks_name_docker_kind_helm_and_memory() {
        let names: Vec<&str> = check_kind(u64::MAX).iter().map(|c| c.name).collect();
        assert_eq!(names, ["docker", "kind", "helm", "memory"]);
        let memory = check_kind(u64::MAX).pop().unwrap();
        assert!(!memory.is_ok());
        assert!(memory.install_command().contains("--substrate local"));
        assert!(memory.install_command().contains("Docker Desktop"));
    }

    #[test]
    fn the_jdk_is_looked_for_beside_the_java_found() {
        let dir = tempfile::tempdir().unwrap();
        let java = dir.path().join("java");
        std::fs::write(&java, "").unwrap();
        let java_check = Check {
            name: "java",
            purpose: "",
            outcome: Outcome::Found {
                path: java.clone(),
                version: "17".into(),
            },
            install: Install::Debian(&[]),
        };
        let jre = check_jdk(&java_check);
        assert!(!jre.is_ok());
        assert!(
            jre.problem().contains("a JRE, not a JDK"),
            "{}",
            jre.problem()
        );
        assert!(jre.install_command().contains("openjdk-17-jdk-headless"));
        let javac = dir.path().join("javac");
        std::fs::write(&javac, "").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&javac, std::fs::Permissions::from_mode(0o755)).unwrap();
        let jdk = check_jdk(&java_check);
        assert_eq!(jdk.path(), Some(javac.canonicalize().unwrap().as_path()));
    }

    #[test]
    fn install_command_names_the_package() {
        let check = Check {
            name: "java",
            purpose: "",
            outcome: Outcome::Missing,
            install: Install::Debian(&["openjdk-17-jre-headless"]),
        };
        assert!(
            check
                .install_command()
                .ends_with("apt-get install -y openjdk-17-jre-headless")
        );
        assert!(!check.is_ok());
    }
}
