//! `cargo xtask artifacts`: the jars the local substrate runs and the tools its tests run.
//! `fetch` fills the per-user cache with every jar the lock pins and the pinned helm (for
//! a machine that will be offline later); `lock`
//! resolves each set's roots with Maven and rewrites `lab/artifacts.lock`.

use anyhow::{Context, bail};
use lab::artifacts::cache::{Cache, sha256_of};
use lab::artifacts::{Coordinates, Jar, Lock};
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Fetch every jar the lock pins (and the released connector, where published), and
    /// the pinned helm, into the cache and check each digest; afterwards the lab and its
    /// tests run offline.
    Fetch,
    /// Resolve each set's `root` lines of lab/artifacts.lock with Maven and rewrite the
    /// lock's jars (after changing a version there); needs `mvn`.
    Lock,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.action {
        Action::Fetch => fetch(),
        Action::Lock => relock(&lock_path()),
    }
}

fn fetch() -> anyhow::Result<()> {
    let lock = Lock::embedded()?;
    let cache = Cache::from_env()?;
    let runtime = crate::paths::runtime()?;
    for set in lock.sets() {
        let jars = lock.set(set);
        runtime.block_on(cache.ensure(set, &jars))?;
        println!("{set}: {} jars present and verified", jars.len());
    }
    for (set, coordinates) in &lock.published {
        match runtime.block_on(cache.ensure_published(coordinates)) {
            Ok(path) => println!("{set}: {coordinates} present ({})", path.display()),
            // Not an error of the cache: the lab runs without it, and says so when it does.
            Err(lab::artifacts::cache::CacheError::NotPublished { url, .. }) => {
                println!("{set}: {coordinates} is not published ({url} answered 404)")
            }
            Err(error) => return Err(error.into()),
        }
    }
    let helm = runtime.block_on(lab::artifacts::tools::helm(&cache))?;
    println!("helm: {} (verified)", helm.display());
    println!("cache: {}", cache.root().display());
    Ok(())
}

fn lock_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tasks lives in the workspace")
        .join("lab/artifacts.lock")
}

fn relock(path: &Path) -> anyhow::Result<()> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let old = Lock::parse(&text)?;
    if lab::prereq::find_program("mvn").is_none() {
        bail!(
            "regenerating the lock resolves dependencies with Maven: install it (Debian: `apt-get install -y maven`)"
        );
    }
    let scratch = tempfile::tempdir()?;
    let mut lock = Lock {
        jars: Vec::new(),
        ..old.clone()
    };
    for set in old.sets() {
        let of_set = |lines: &[(String, Coordinates)]| -> Vec<Coordinates> {
            lines
                .iter()
                .filter(|(s, _)| s == set)
                .map(|(_, c)| c.clone())
                .collect()
        };
        let resolution = Resolution {
            roots: of_set(&old.roots),
            boms: of_set(&old.boms),
            excludes: old
                .excludes
                .iter()
                .filter(|(s, _)| s == set)
                .map(|(_, module)| module.clone())
                .collect(),
        };
        let folder = scratch.path().join(set);
        std::fs::create_dir_all(&folder)?;
        std::fs::write(folder.join("pom.xml"), resolution.pom())?;
        let shell = xshell::Shell::new()?;
        shell.change_dir(&folder);
        let jars = folder.join("jars");
        xshell::cmd!(
            shell,
            "mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -Dmdep.useRepositoryLayout=true -DoutputDirectory={jars}"
        )
        .run()
        .with_context(|| format!("resolving set {set} with Maven"))?;
        for file in jar_files(&jars)? {
            let relative = file.strip_prefix(&jars)?.to_string_lossy().into_owned();
            let coordinates = Coordinates::from_repository_path(&relative)
                .with_context(|| format!("{relative} is not in the Maven repository layout"))?;
            lock.jars.push(Jar {
                set: set.to_string(),
                coordinates,
                sha256: sha256_of(&file)?,
            });
        }
        println!("{set}: {} jars", lock.set(set).len());
    }
    std::fs::write(path, lock.render())?;
    println!(
        "wrote {}; rebuild the lab to use it (the lock is compiled in)",
        path.display()
    );
    Ok(())
}

/// What one set is resolved from.
struct Resolution {
    roots: Vec<Coordinates>,
    boms: Vec<Coordinates>,
    /// `group:artifact` of modules left out wherever they appear.
    excludes: Vec<String>,
}

impl Resolution {
    /// A POM depending on the roots (each without the excluded modules) at the versions
    /// the BOMs name, for Maven to resolve their runtime closure.
    fn pom(&self) -> String {
        let exclusions: String = self
            .excludes
            .iter()
            .filter_map(|module| module.split_once(':'))
            .map(|(group, artifact)| {
                format!("<exclusion><groupId>{group}</groupId><artifactId>{artifact}</artifactId></exclusion>")
            })
            .collect();
        let dependencies: String = self
            .roots
            .iter()
            .map(|root| {
                let classifier = root
                    .classifier
                    .as_deref()
                    .map(|c| format!("<classifier>{c}</classifier>"))
                    .unwrap_or_default();
                format!(
                    "<dependency><groupId>{}</groupId><artifactId>{}</artifactId><version>{}</version>{classifier}<exclusions>{exclusions}</exclusions></dependency>",
                    root.group, root.artifact, root.version
                )
            })
            .collect();
        let boms: String = self
            .boms
            .iter()
            .map(|bom| {
                format!(
                    "<dependency><groupId>{}</groupId><artifactId>{}</artifactId><version>{}</version><type>pom</type><scope>import</scope></dependency>",
                    bom.group, bom.artifact, bom.version
                )
            })
            .collect();
        format!(
            "<project xmlns=\"http://maven.apache.org/POM/4.0.0\"><modelVersion>4.0.0</modelVersion>\
             <groupId>egeria-ha-lab</groupId><artifactId>artifacts-lock</artifactId><version>0</version>\
             <packaging>pom</packaging><dependencyManagement><dependencies>{boms}</dependencies></dependencyManagement>\
             <dependencies>{dependencies}</dependencies></project>\n"
        )
    }
}

fn jar_files(folder: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    let mut pending = vec![folder.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "jar") {
                found.push(path);
            }
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pom_names_each_root_with_its_classifier_exclusions_and_boms() {
        let plain: Coordinates = "org.apache.kafka:kafka_2.13:3.9.1".parse().unwrap();
        let fat: Coordinates = "org.odpi.egeria:egeria-connector-crux:3.0:jar-with-dependencies"
            .parse()
            .unwrap();
        let bom: Coordinates = "org.odpi.egeria:egeria:4.0".parse().unwrap();
        let pom = Resolution {
            roots: vec![plain, fat],
            boms: vec![bom],
            excludes: vec!["org.odpi.egeria:ocf-metadata-server".into()],
        }
        .pom();
        assert!(pom.contains("<artifactId>kafka_2.13</artifactId><version>3.9.1</version><exclusions><exclusion><groupId>org.odpi.egeria</groupId><artifactId>ocf-metadata-server</artifactId></exclusion></exclusions></dependency>"), "{pom}");
        assert!(
            pom.contains("<version>3.0</version><classifier>jar-with-dependencies</classifier>")
        );
        assert!(pom.contains("<dependencyManagement><dependencies><dependency><groupId>org.odpi.egeria</groupId><artifactId>egeria</artifactId><version>4.0</version><type>pom</type><scope>import</scope>"), "{pom}");
    }
}
