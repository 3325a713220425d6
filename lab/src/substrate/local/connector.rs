//! The plugin repository connector on the real platform's connector pods: the released
//! jar the lock names (fetched into the cache, its digest recorded at the first fetch), or
//! a contributor's own build (`--connector PATH`: a jar with its dependencies, or a folder
//! of jars), optionally over other XTDB modules than those it bundles (`--xtdb-version`),
//! so that a fix can be proven in the HA topology before it is released. The lab never
//! builds the connector itself.

use crate::artifacts::cache::{Cache, CacheError};
use crate::artifacts::{CONNECTOR, Coordinates, Lock};
use std::io::Read;
use std::path::{Path, PathBuf};

/// The class the lab's connection names: a build without it is not the XTDB connector.
const PROVIDER_ENTRY: &str = "org/odpi/egeria/connectors/juxt/xtdb/repositoryconnector/XtdbOMRSRepositoryConnectorProvider.class";
const CONNECTOR_ARTIFACT: &str = "egeria-connector-xtdb";
/// XTDB's modules the connector runs on; `--xtdb-version` replaces these four.
const XTDB_MODULES: [&str; 4] = ["xtdb-core", "xtdb-kafka", "xtdb-rocksdb", "xtdb-lucene"];

#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    #[error(
        "the released connector {coordinates} cannot be had: {detail}.\n  Two ways on: run your own build of the connector with `--connector PATH` (a jar with its dependencies, or a folder of jars), or run the stand-in with `--egeria stand-in`."
    )]
    Unavailable { coordinates: String, detail: String },
    #[error("--connector {path}: {detail}")]
    Refused { path: PathBuf, detail: String },
    #[error("--connector {path}: {jar} is not a readable jar: {detail}")]
    NotAJar {
        path: PathBuf,
        jar: PathBuf,
        detail: String,
    },
    #[error(
        "--connector {path}: {jar} is of Egeria {found}, but the lab's platform is Egeria {platform}: a connector runs only on the release it was built for (build the connector's release that pairs with {platform})"
    )]
    WrongRelease {
        path: PathBuf,
        jar: PathBuf,
        found: String,
        platform: String,
    },
    #[error("--xtdb-version {version}: {source}")]
    Xtdb {
        version: String,
        source: Box<CacheError>,
    },
}

/// A connector ready for the connector pods' class path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connector {
    /// In class-path order: replacement XTDB modules first, so that they win.
    pub jars: Vec<PathBuf>,
    /// Where it came from, for people.
    pub origin: String,
    /// The connector's release, when the build says it.
    pub version: Option<String>,
    /// The XTDB it runs on, when the jars say it.
    pub xtdb_version: Option<String>,
}

/// The released connector the lock pins, from the cache or the registry.
pub async fn released(cache: &Cache, lock: &Lock) -> Result<Connector, ConnectorError> {
    let Some(coordinates) = lock.published(CONNECTOR) else {
        return Err(ConnectorError::Unavailable {
            coordinates: "(none)".into(),
            detail: "the lock names no released connector".into(),
        });
    };
    let unavailable = |detail: String| ConnectorError::Unavailable {
        coordinates: coordinates.to_string(),
        detail,
    };
    let jar = cache
        .ensure_published(coordinates)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    let mut connector = inspect(&jar).map_err(|e| unavailable(e.to_string()))?;
    connector.origin = format!("the released {coordinates}");
    Ok(connector)
}

/// What a `--connector PATH` holds, refused when it is not the XTDB connector, holds no
/// jar, or holds Egeria modules of another release than `platform_release`.
pub fn inspect_for(path: &Path, platform_release: &str) -> Result<Connector, ConnectorError> {
    let connector = inspect(path)?;
    for (jar, release) in egeria_releases(path, &connector.jars)? {
        if major_minor(&release) != major_minor(platform_release) {
            return Err(ConnectorError::WrongRelease {
                path: path.to_path_buf(),
                jar,
                found: release,
                platform: platform_release.to_string(),
            });
        }
    }
    Ok(connector)
}

fn inspect(path: &Path) -> Result<Connector, ConnectorError> {
    let refused = |detail: String| ConnectorError::Refused {
        path: path.to_path_buf(),
        detail,
    };
    let jars = if path.is_dir() {
        let mut jars: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| refused(format!("cannot read the folder: {e}")))?
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|file| file.is_file() && file.extension().is_some_and(|e| e == "jar"))
            .collect();
        jars.sort();
        if jars.is_empty() {
            return Err(refused(
                "the folder holds no jar (give the connector's jar with its dependencies, or a folder of jars)".into(),
            ));
        }
        jars
    } else if path.is_file() {
        vec![path.to_path_buf()]
    } else {
        return Err(refused("no such file or folder".into()));
    };
    let mut provider_in = None;
    let mut version = None;
    let mut xtdb_version = None;
    for jar in &jars {
        let mut archive = open(path, jar)?;
        if archive.index_for_name(PROVIDER_ENTRY).is_some() {
            provider_in = Some(jar.clone());
            version = version
                .or_else(|| maven_version(&mut archive, "org.odpi.egeria", CONNECTOR_ARTIFACT))
                .or_else(|| version_in_name(jar, CONNECTOR_ARTIFACT));
        }
        xtdb_version = xtdb_version
            .or_else(|| maven_version(&mut archive, "com.xtdb", "xtdb-core"))
            .or_else(|| version_in_name(jar, "xtdb-core"));
    }
    if provider_in.is_none() {
        return Err(refused(format!(
            "not the XTDB connector: none of its {} jar(s) holds {}",
            jars.len(),
            PROVIDER_ENTRY.trim_end_matches(".class").replace('/', ".")
        )));
    }
    Ok(Connector {
        jars,
        origin: format!("your build at {}", path.display()),
        version,
        xtdb_version,
    })
}

/// The connector over XTDB `version`'s modules instead of those it bundles: they are
/// fetched into the cache (digests recorded at the first fetch) and put first on the
/// class path; the bundled ones in a folder are left out.
pub async fn over_xtdb(
    cache: &Cache,
    connector: Connector,
    version: &str,
) -> Result<Connector, ConnectorError> {
    let mut replacements = Vec::new();
    for module in XTDB_MODULES {
        let coordinates = Coordinates {
            group: "com.xtdb".into(),
            artifact: module.into(),
            version: version.into(),
            classifier: None,
        };
        replacements.push(
            cache
                .ensure_published(&coordinates)
                .await
                .map_err(|source| ConnectorError::Xtdb {
                    version: version.into(),
                    source: Box::new(source),
                })?,
        );
    }
    let bundled = |jar: &PathBuf| {
        XTDB_MODULES
            .iter()
            .any(|module| version_in_name(jar, module).is_some())
    };
    replacements.extend(connector.jars.into_iter().filter(|jar| !bundled(jar)));
    Ok(Connector {
        jars: replacements,
        origin: format!("{} over XTDB {version}", connector.origin),
        xtdb_version: Some(version.into()),
        ..connector
    })
}

fn open(path: &Path, jar: &Path) -> Result<zip::ZipArchive<std::fs::File>, ConnectorError> {
    let not_a_jar = |detail: String| ConnectorError::NotAJar {
        path: path.to_path_buf(),
        jar: jar.to_path_buf(),
        detail,
    };
    let file = std::fs::File::open(jar).map_err(|e| not_a_jar(e.to_string()))?;
    zip::ZipArchive::new(file).map_err(|e| not_a_jar(e.to_string()))
}

/// The version a jar's own Maven metadata gives for `group:artifact`.
fn maven_version(
    archive: &mut zip::ZipArchive<std::fs::File>,
    group: &str,
    artifact: &str,
) -> Option<String> {
    let name = format!("META-INF/maven/{group}/{artifact}/pom.properties");
    let mut text = String::new();
    archive
        .by_name(&name)
        .ok()?
        .read_to_string(&mut text)
        .ok()?;
    text.lines()
        .find_map(|line| line.trim().strip_prefix("version="))
        .map(|v| v.trim().to_string())
}

/// `<artifact>-<version>[-classifier].jar` → `<version>`.
fn version_in_name(jar: &Path, artifact: &str) -> Option<String> {
    let name = jar.file_name()?.to_str()?.strip_suffix(".jar")?;
    let rest = name.strip_prefix(artifact)?.strip_prefix('-')?;
    rest.chars().next().filter(char::is_ascii_digit).map(|_| {
        rest.split_once("-jar-with-dependencies")
            .map_or(rest, |(version, _)| version)
            .to_string()
    })
}

/// Every Egeria module the jars carry with its release: the connector's own, and any
/// Egeria module bundled or put beside it.
fn egeria_releases(
    path: &Path,
    jars: &[PathBuf],
) -> Result<Vec<(PathBuf, String)>, ConnectorError> {
    let mut found = Vec::new();
    for jar in jars {
        let mut archive = open(path, jar)?;
        let names: Vec<String> = archive
            .file_names()
            .filter_map(Result::ok)
            .map(|name| name.into_owned())
            .filter(|name| {
                name.starts_with("META-INF/maven/org.odpi.egeria/")
                    && name.ends_with("/pom.properties")
            })
            .collect();
        for name in names {
            let artifact = name.split('/').nth(3).unwrap_or_default().to_string();
            if let Some(version) = maven_version(&mut archive, "org.odpi.egeria", &artifact) {
                found.push((jar.clone(), version));
            }
        }
        if let Some(version) = version_in_name(jar, CONNECTOR_ARTIFACT) {
            found.push((jar.clone(), version));
        }
    }
    Ok(found)
}

/// `4.0`, `4.0.1`, `4.0-SNAPSHOT` → `4.0`.
fn major_minor(version: &str) -> String {
    version
        .split(|c: char| !c.is_ascii_digit())
        .take(2)
        .collect::<Vec<_>>()
        .join(".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A jar holding `entries` (name, text).
    fn jar(path: &Path, entries: &[(&str, &str)]) {
        let mut writer = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
        for (name, text) in entries {
            writer
                .start_file(*name, zip::write::SimpleFileOptions::default())
                .unwrap();
            writer.write_all(text.as_bytes()).unwrap();
        }
        writer.finish().unwrap();
    }

    fn pom(group: &str, artifact: &str, version: &str) -> (String, String) {
        (
            format!("META-INF/maven/{group}/{artifact}/pom.properties"),
            format!("groupId={group}\nartifactId={artifact}\nversion={version}\n"),
        )
    }

    #[test]
    fn a_folder_with_the_provider_is_a_connector_with_its_versions() {
        let dir = tempfile::tempdir().unwrap();
        let (pom_name, pom_text) = pom("org.odpi.egeria", CONNECTOR_ARTIFACT, "4.0");
        jar(
            &dir.path().join("egeria-connector-xtdb-4.0.jar"),
            &[(PROVIDER_ENTRY, ""), (&pom_name, &pom_text)],
        );
        jar(
            &dir.path().join("xtdb-core-1.23.0.jar"),
            &[("xtdb/core.clj", "")],
        );
        let connector = inspect_for(dir.path(), "4.0").unwrap();
        assert_eq!(connector.jars.len(), 2);
        assert_eq!(connector.version.as_deref(), Some("4.0"));
        assert_eq!(connector.xtdb_version.as_deref(), Some("1.23.0"));
        assert!(connector.origin.contains("your build at"));
    }

    #[test]
    fn what_is_not_the_connector_for_this_platform_is_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty");
        std::fs::create_dir(&empty).unwrap();
        let error = inspect_for(&empty, "4.0").unwrap_err().to_string();
        assert!(error.contains("the folder holds no jar"), "{error}");
        assert!(error.contains(&empty.display().to_string()), "{error}");

        let other = dir.path().join("other.jar");
        jar(&other, &[("org/example/Thing.class", "")]);
        let error = inspect_for(&other, "4.0").unwrap_err().to_string();
        assert!(error.contains("not the XTDB connector"), "{error}");
        assert!(
            error.contains("XtdbOMRSRepositoryConnectorProvider"),
            "{error}"
        );

        let text = dir.path().join("notes.jar");
        std::fs::write(&text, "not a zip").unwrap();
        let error = inspect_for(&text, "4.0").unwrap_err().to_string();
        assert!(error.contains("is not a readable jar"), "{error}");

        let newer = dir
            .path()
            .join("egeria-connector-xtdb-4.2-jar-with-dependencies.jar");
        jar(&newer, &[(PROVIDER_ENTRY, "")]);
        let error = inspect_for(&newer, "4.0").unwrap_err().to_string();
        assert!(
            error.contains("is of Egeria 4.2, but the lab's platform is Egeria 4.0"),
            "{error}"
        );

        let error = inspect_for(&dir.path().join("absent"), "4.0")
            .unwrap_err()
            .to_string();
        assert!(error.contains("no such file or folder"), "{error}");
    }

    #[test]
    fn versions_are_read_from_file_names_too() {
        let name = |n: &str| PathBuf::from(n);
        assert_eq!(
            version_in_name(
                &name("egeria-connector-xtdb-4.0-jar-with-dependencies.jar"),
                CONNECTOR_ARTIFACT
            ),
            Some("4.0".into())
        );
        assert_eq!(
            version_in_name(&name("xtdb-core-1.24.3.jar"), "xtdb-core"),
            Some("1.24.3".into())
        );
        assert_eq!(
            version_in_name(&name("xtdb-core-extras-1.jar"), "xtdb-core"),
            None
        );
        assert_eq!(major_minor("4.0-SNAPSHOT"), "4.0");
        assert_eq!(major_minor("4.2.1"), "4.2");
    }
}
