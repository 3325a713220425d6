//! The real OMAG Server Platform on the local substrate: Egeria's released modules (the
//! lock's `egeria` set, fetched into the artefact cache) run by the lab's own small
//! launcher (`lab/platform/src`), which this module compiles once per launcher and jar set
//! and keeps in the cache beside the jars. Egeria's own launcher jar is not published in a
//! form the lab can fetch, which is why the lab has one of its own.

use super::control_plane::PodSpec;
use crate::artifacts::cache::{Cache, CacheError, io_error};
use crate::artifacts::{EGERIA, Lock};
use crate::substrate::Role;
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The launcher's main class.
pub const MAIN_CLASS: &str = "org.egeriahalab.platform.LabPlatform";
/// The launcher's sources as this lab was built with them: `(path below src/, text)`.
const SOURCES: &[(&str, &str)] = include!(concat!(env!("OUT_DIR"), "/platform_sources.rs"));
/// The platforms' TLS key: a throwaway self-signed key the lab makes per run, under the
/// alias and password upstream's platform uses, so neither is a secret.
const KEY_ALIAS: &str = "egeriaserverchassis";
const KEYSTORE_PASSWORD: &str = "egeria";
/// javac on two busy cores against 120 jars takes seconds; this is a hang.
const TOOL_DEADLINE: Duration = Duration::from_secs(180);

/// Heap of one platform JVM: a connector pod's in-memory repository holds what the PTS
/// writes (well under 1 GiB at the trimmed volumes), and a 2-core, 24 GiB machine hosts
/// up to five platforms beside three brokers.
const PLATFORM_JVM_OPTIONS: &[&str] = &[
    "-Xms256m",
    "-Xmx1g",
    // Two cores are shared by every JVM of the lab: one GC thread each.
    "-XX:+UseSerialGC",
    // An exhausted heap ends the pod (named with its log) instead of a half-dead platform.
    "-XX:+ExitOnOutOfMemoryError",
    // Hands freed native memory back: without it a PTS platform kept about 1 GB of RSS
    // it no longer used (measured with jcmd System.trim_native_heap).
    "-XX:TrimNativeHeapInterval=10000",
    // Keeps every exception's message: HotSpot drops those of exceptions it throws often,
    // and XTDB's ingester stop then reads `ClassCastException: null` in the log.
    "-XX:-OmitStackTraceInFastThrow",
];

#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    #[error(transparent)]
    Artifacts(#[from] CacheError),
    #[error(
        "compiling the lab's launcher of the Egeria platform failed ({status}); javac said:\n{output}"
    )]
    Compile { status: String, output: String },
    #[error("making the platforms' TLS keystore with {keytool} failed: {detail}")]
    Keystore { keytool: PathBuf, detail: String },
    #[error("{tool} did not finish within {TOOL_DEADLINE:?}")]
    Hung { tool: PathBuf },
    #[error("cannot run {tool}: {error}")]
    Spawn {
        tool: PathBuf,
        error: std::io::Error,
    },
}

/// The tools of the JDK the lab runs.
#[derive(Clone, Debug)]
pub struct Jdk {
    pub java: PathBuf,
    pub javac: PathBuf,
    pub keytool: PathBuf,
}

/// Everything a real platform pod is started from.
#[derive(Clone, Debug)]
pub struct RealPlatform {
    java: PathBuf,
    /// The launcher's classes, then every jar of the set.
    classpath: String,
    keystore: PathBuf,
    /// The Egeria release the set is of (`4.0`).
    pub release: String,
    /// Where each pod's working folder goes (`<run>/pods/<pod>`).
    pods_dir: PathBuf,
}

/// The Egeria release a lock's `egeria` set is of: the version of its admin services.
pub fn egeria_release(lock: &Lock) -> Option<String> {
    lock.set(EGERIA)
        .iter()
        .find(|jar| jar.coordinates.artifact == "admin-services-server")
        .map(|jar| jar.coordinates.version.clone())
}

/// Fetches (or verifies) the set, compiles the launcher unless the cache has it for this
/// very launcher and set, and makes this run's keystore.
pub async fn prepare(
    cache: &Cache,
    lock: &Lock,
    jdk: &Jdk,
    run_dir: &Path,
) -> Result<RealPlatform, PlatformError> {
    let pinned = lock.set(EGERIA);
    let jars = cache.ensure(EGERIA, &pinned).await?;
    let key = launcher_key(pinned.iter().map(|jar| jar.sha256.as_str()));
    let classes = compile(cache, jdk, &jars, &key).await?;
    let tls = run_dir.join("tls");
    std::fs::create_dir_all(&tls).map_err(|e| io_error(&tls, e))?;
    let keystore = tls.join("platform.p12");
    make_keystore(&jdk.keytool, &keystore).await?;
    let classpath = std::env::join_paths(std::iter::once(&classes).chain(&jars))
        .expect("cache paths hold no ':'")
        .to_string_lossy()
        .into_owned();
    Ok(RealPlatform {
        java: jdk.java.clone(),
        classpath,
        keystore,
        release: egeria_release(lock).unwrap_or_else(|| "(unknown)".into()),
        pods_dir: run_dir.join("pods"),
    })
}

impl RealPlatform {
    /// One platform pod: its JVM on `address`, HTTPS with the run's keystore, its own
    /// working folder (made empty at every start, as a replaced pod's would be), and
    /// `extra_jars` (a connector) on its class path after the platform's.
    pub fn pod_spec(
        &self,
        name: String,
        role: Role,
        ordinal: u16,
        address: SocketAddr,
        extra_jars: &[PathBuf],
    ) -> PodSpec {
        let mut args: Vec<String> = PLATFORM_JVM_OPTIONS.iter().map(|s| s.to_string()).collect();
        // Named on the command line so lab-down can tell the process is the lab's.
        args.push(format!("-Degeria.ha.lab.pod={name}"));
        let workdir = self.pods_dir.join(&name);
        args.push(format!(
            "-Djava.io.tmpdir={}",
            workdir.join(super::control_plane::POD_TMP).display()
        ));
        let mut classpath = self.classpath.clone();
        for jar in extra_jars {
            classpath.push(':');
            classpath.push_str(&jar.display().to_string());
        }
        args.extend([
            "-cp".to_string(),
            classpath,
            MAIN_CLASS.to_string(),
            format!("--server.address={}", address.ip()),
            format!("--server.port={}", address.port()),
            format!("--server.ssl.key-store={}", self.keystore.display()),
            "--server.ssl.key-store-type=PKCS12".to_string(),
            format!("--server.ssl.key-store-password={KEYSTORE_PASSWORD}"),
            format!("--server.ssl.key-alias={KEY_ALIAS}"),
            // The platforms call each other (the PTS calls the connector service) over
            // the lab's self-signed certificates.
            "--strict.ssl=false".to_string(),
        ]);
        PodSpec {
            workdir: Some(workdir),
            name,
            role,
            ordinal,
            address,
            program: self.java.clone(),
            args,
        }
    }
}

/// Names the compiled launcher by what it is made of: its sources and the jars it was
/// compiled against.
fn launcher_key<'a>(jar_digests: impl Iterator<Item = &'a str>) -> String {
    let mut hash = Sha256::new();
    for (path, text) in SOURCES {
        hash.update(path.as_bytes());
        hash.update([0]);
        hash.update(text.as_bytes());
        hash.update([0]);
    }
    for digest in jar_digests {
        hash.update(digest.as_bytes());
    }
    hash.finalize()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The launcher's classes in the cache, compiled now if absent. A compilation goes to a
/// folder of its own and is renamed into place whole, so an interrupted one is never used.
async fn compile(
    cache: &Cache,
    jdk: &Jdk,
    jars: &[PathBuf],
    key: &str,
) -> Result<PathBuf, PlatformError> {
    let home = cache.root().join("launcher").join(key);
    let classes = home.join("classes");
    if classes.is_dir() {
        return Ok(classes);
    }
    let scratch = home.join(format!("build-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    let sources = scratch.join("src");
    let output = scratch.join("classes");
    let mut files = Vec::new();
    for (path, text) in SOURCES {
        let file = sources.join(path);
        let parent = file.parent().expect("a source lies in a package folder");
        std::fs::create_dir_all(parent).map_err(|e| io_error(parent, e))?;
        std::fs::write(&file, text).map_err(|e| io_error(&file, e))?;
        files.push(file);
    }
    std::fs::create_dir_all(&output).map_err(|e| io_error(&output, e))?;
    eprintln!("  compiling the lab's launcher of the Egeria platform (once per jar set)");
    let classpath = std::env::join_paths(jars).expect("cache paths hold no ':'");
    let mut command = tokio::process::Command::new(&jdk.javac);
    command
        .arg("-nowarn")
        .args(["-encoding", "UTF-8", "--release", "17", "-d"])
        .arg(&output)
        .arg("-cp")
        .arg(classpath)
        .args(&files);
    let done = run_tool(&jdk.javac, &mut command).await?;
    if !done.status.success() {
        let _ = std::fs::remove_dir_all(&scratch);
        return Err(PlatformError::Compile {
            status: done.status.to_string(),
            output: String::from_utf8_lossy(&done.stderr).trim().to_string(),
        });
    }
    match std::fs::rename(&output, &classes) {
        Ok(()) => {}
        // Another lab compiled the same launcher meanwhile: theirs is as good.
        Err(_) if classes.is_dir() => {}
        Err(e) => return Err(io_error(&classes, e).into()),
    }
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(classes)
}

async fn make_keystore(keytool: &Path, keystore: &Path) -> Result<(), PlatformError> {
    let _ = std::fs::remove_file(keystore);
    let mut command = tokio::process::Command::new(keytool);
    command
        .args([
            "-genkeypair",
            "-alias",
            KEY_ALIAS,
            "-keyalg",
            "RSA",
            "-keysize",
            "2048",
        ])
        .args(["-validity", "3650", "-dname", "CN=egeria-ha-lab platform"])
        .args(["-storetype", "PKCS12", "-keystore"])
        .arg(keystore)
        .args([
            "-storepass",
            KEYSTORE_PASSWORD,
            "-keypass",
            KEYSTORE_PASSWORD,
        ]);
    let done = run_tool(keytool, &mut command).await?;
    if done.status.success() {
        Ok(())
    } else {
        Err(PlatformError::Keystore {
            keytool: keytool.to_path_buf(),
            detail: String::from_utf8_lossy(&done.stderr).trim().to_string(),
        })
    }
}

async fn run_tool(
    tool: &Path,
    command: &mut tokio::process::Command,
) -> Result<std::process::Output, PlatformError> {
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    tokio::time::timeout(TOOL_DEADLINE, command.output())
        .await
        .map_err(|_| PlatformError::Hung {
            tool: tool.to_path_buf(),
        })?
        .map_err(|error| PlatformError::Spawn {
            tool: tool.to_path_buf(),
            error,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_launcher_and_its_stand_ins_for_unpublished_modules_are_embedded() {
        let names: Vec<&str> = SOURCES.iter().map(|(path, _)| *path).collect();
        assert!(
            names.contains(&"org/egeriahalab/platform/LabPlatform.java"),
            "{names:?}"
        );
        for unpublished in [
            "OCFMetadataOperationalServices",
            "GAFMetadataOperationalServices",
            "OIFMetadataOperationalServices",
        ] {
            assert!(
                names
                    .iter()
                    .any(|name| name.ends_with(&format!("/{unpublished}.java"))),
                "{unpublished} missing from {names:?}"
            );
        }
    }

    #[test]
    fn the_lock_pins_one_egeria_release_for_every_module() {
        let lock = Lock::embedded().unwrap();
        let release = egeria_release(&lock).expect("the admin services are in the set");
        let egeria_modules: Vec<_> = lock
            .set(EGERIA)
            .into_iter()
            .filter(|jar| jar.coordinates.group == "org.odpi.egeria")
            .collect();
        assert!(egeria_modules.len() > 30, "{}", egeria_modules.len());
        for jar in egeria_modules {
            assert_eq!(jar.coordinates.version, release, "{}", jar.coordinates);
        }
    }

    #[test]
    fn a_launcher_is_keyed_by_its_jars_too() {
        assert_ne!(
            launcher_key(["a"].into_iter()),
            launcher_key(["b"].into_iter())
        );
        assert_eq!(launcher_key(["a"].into_iter()).len(), 16);
    }
}
