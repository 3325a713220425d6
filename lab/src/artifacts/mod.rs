//! The jars the local substrate runs, pinned by sha256 in `lab/artifacts.lock` and kept
//! in a per-user cache (see [`cache`]). The lock is compiled into the lab, so a binary
//! always runs exactly the jars it was built against.
//!
//! The lock is plain text, one entry a line:
//! - `root <set> <coordinates>`: what a set is resolved from (`cargo xtask artifacts lock`);
//! - `bom <set> <coordinates>`: a bill of materials whose versions the resolution follows
//!   (a release's modules are meant to run at the versions it names);
//! - `exclude <set> <group>:<artifact>`: a module left out of the closure (one the
//!   registry does not serve, which the lab replaces or never loads);
//! - `jar <set> <coordinates> <sha256>`: one jar of the set's runtime closure;
//! - `published <set> <coordinates>`: a jar pinned by its coordinates alone, because it
//!   could not be read where the lab is built; its digest is recorded at its first fetch
//!   ([`cache::Cache::ensure_published`]).
//!
//! Coordinates are `group:artifact:version` or `group:artifact:version:classifier`.

pub mod cache;
pub mod tools;

use std::fmt;

/// The lock as this build of the lab was made with.
pub const EMBEDDED_LOCK: &str = include_str!("../../artifacts.lock");

/// The set of jars a Kafka broker runs (with its logging binding).
pub const KAFKA: &str = "kafka";

/// The set of jars an OMAG Server Platform runs: Egeria's released modules of one
/// release and the Spring Boot they were built for (the lab's own launcher completes it).
pub const EGERIA: &str = "egeria";

/// The released plugin repository connector that pairs with the `egeria` set.
pub const CONNECTOR: &str = "connector";

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Coordinates {
    pub group: String,
    pub artifact: String,
    pub version: String,
    pub classifier: Option<String>,
}

impl Coordinates {
    /// Where the jar lies in a Maven repository, e.g.
    /// `org/apache/kafka/kafka_2.13/3.9.1/kafka_2.13-3.9.1.jar`.
    pub fn repository_path(&self) -> String {
        let classifier = self
            .classifier
            .as_deref()
            .map(|c| format!("-{c}"))
            .unwrap_or_default();
        format!(
            "{}/{artifact}/{version}/{artifact}-{version}{classifier}.jar",
            self.group.replace('.', "/"),
            artifact = self.artifact,
            version = self.version,
        )
    }

    /// The coordinates of a jar from its path in a Maven repository (the inverse of
    /// [`Coordinates::repository_path`]).
    pub fn from_repository_path(path: &str) -> Option<Self> {
        let parts: Vec<&str> = path.split('/').collect();
        let [group @ .., artifact, version, file] = parts.as_slice() else {
            return None;
        };
        if group.is_empty() {
            return None;
        }
        let stem = file
            .strip_suffix(".jar")?
            .strip_prefix(&format!("{artifact}-{version}"))?;
        let classifier = match stem {
            "" => None,
            rest => Some(rest.strip_prefix('-')?.to_string()),
        };
        Some(Self {
            group: group.join("."),
            artifact: artifact.to_string(),
            version: version.to_string(),
            classifier,
        })
    }
}

impl fmt::Display for Coordinates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.group, self.artifact, self.version)?;
        if let Some(classifier) = &self.classifier {
            write!(f, ":{classifier}")?;
        }
        Ok(())
    }
}

impl std::str::FromStr for Coordinates {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split(':').collect();
        let valid = |part: &&str| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        };
        match parts.as_slice() {
            [group, artifact, version] | [group, artifact, version, _]
                if parts.iter().all(valid) =>
            {
                Ok(Self {
                    group: group.to_string(),
                    artifact: artifact.to_string(),
                    version: version.to_string(),
                    classifier: parts.get(3).map(|c| c.to_string()),
                })
            }
            _ => Err(format!(
                "{text:?} is not group:artifact:version[:classifier]"
            )),
        }
    }
}

/// One pinned jar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Jar {
    pub set: String,
    pub coordinates: Coordinates,
    /// Lower-case hex.
    pub sha256: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Lock {
    /// `(set, coordinates)` each set is resolved from.
    pub roots: Vec<(String, Coordinates)>,
    /// `(set, coordinates)` of the bills of materials a set's resolution imports.
    pub boms: Vec<(String, Coordinates)>,
    /// `(set, "group:artifact")` left out of a set's closure.
    pub excludes: Vec<(String, String)>,
    /// `(set, coordinates)` of jars pinned by coordinates alone.
    pub published: Vec<(String, Coordinates)>,
    pub jars: Vec<Jar>,
}

#[derive(Debug, thiserror::Error)]
#[error("artifacts lock, line {line}: {detail}")]
pub struct LockError {
    pub line: usize,
    pub detail: String,
}

impl Lock {
    /// The lock this lab was built with.
    pub fn embedded() -> Result<Self, LockError> {
        Self::parse(EMBEDDED_LOCK)
    }

    pub fn parse(text: &str) -> Result<Self, LockError> {
        let mut lock = Lock::default();
        for (index, line) in text.lines().enumerate() {
            let fail = |detail: String| LockError {
                line: index + 1,
                detail,
            };
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                ["root", set, coordinates] => lock
                    .roots
                    .push((set.to_string(), coordinates.parse().map_err(fail)?)),
                ["bom", set, coordinates] => lock
                    .boms
                    .push((set.to_string(), coordinates.parse().map_err(fail)?)),
                ["published", set, coordinates] => lock
                    .published
                    .push((set.to_string(), coordinates.parse().map_err(fail)?)),
                ["exclude", set, module] => {
                    let valid = matches!(module.split(':').collect::<Vec<_>>().as_slice(),
                        [group, artifact] if !group.is_empty() && !artifact.is_empty());
                    if !valid {
                        return Err(fail(format!("{module:?} is not group:artifact")));
                    }
                    lock.excludes.push((set.to_string(), module.to_string()));
                }
                ["jar", set, coordinates, sha256] => {
                    let is_digest = sha256.len() == 64
                        && sha256
                            .bytes()
                            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                    if !is_digest {
                        return Err(fail(format!(
                            "{sha256:?} is not a lower-case hex sha256 digest"
                        )));
                    }
                    lock.jars.push(Jar {
                        set: set.to_string(),
                        coordinates: coordinates.parse().map_err(fail)?,
                        sha256: sha256.to_string(),
                    });
                }
                _ => {
                    return Err(fail(format!(
                        "expected `root|bom SET COORDINATES`, `exclude SET GROUP:ARTIFACT`, `published SET COORDINATES` or `jar SET COORDINATES SHA256`, found {line:?}"
                    )));
                }
            }
        }
        Ok(lock)
    }

    /// The lock as text, sets and jars sorted, so a regenerated lock diffs cleanly.
    pub fn render(&self) -> String {
        let mut text = String::from(
            "# Every jar the local substrate runs, pinned by sha256 (see lab/src/artifacts/mod.rs).\n\
             # Regenerate after changing a root: cargo xtask artifacts lock\n",
        );
        let mut roots = self.roots.clone();
        roots.sort();
        for (set, coordinates) in &roots {
            text.push_str(&format!("root {set} {coordinates}\n"));
        }
        let mut boms = self.boms.clone();
        boms.sort();
        for (set, coordinates) in &boms {
            text.push_str(&format!("bom {set} {coordinates}\n"));
        }
        let mut excludes = self.excludes.clone();
        excludes.sort();
        for (set, module) in &excludes {
            text.push_str(&format!("exclude {set} {module}\n"));
        }
        let mut published = self.published.clone();
        published.sort();
        for (set, coordinates) in &published {
            text.push_str(&format!("published {set} {coordinates}\n"));
        }
        let mut jars = self.jars.clone();
        jars.sort_by(|a, b| (&a.set, &a.coordinates).cmp(&(&b.set, &b.coordinates)));
        for jar in &jars {
            text.push_str(&format!(
                "jar {} {} {}\n",
                jar.set, jar.coordinates, jar.sha256
            ));
        }
        text
    }

    /// Every jar of `set`.
    pub fn set(&self, set: &str) -> Vec<&Jar> {
        self.jars.iter().filter(|jar| jar.set == set).collect()
    }

    /// The jar of `set` pinned by coordinates alone, if the lock has one.
    pub fn published(&self, set: &str) -> Option<&Coordinates> {
        self.published
            .iter()
            .find(|(s, _)| s == set)
            .map(|(_, coordinates)| coordinates)
    }

    /// The names of the sets the lock has.
    pub fn sets(&self) -> Vec<&str> {
        let mut sets: Vec<&str> = self.roots.iter().map(|(set, _)| set.as_str()).collect();
        // A hand-edited lock may interleave its sets' roots.
        sets.sort_unstable();
        sets.dedup();
        sets
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_lock_parses_and_pins_the_charts_kafka() {
        let lock = Lock::embedded().unwrap();
        let kafka = lock.set(KAFKA);
        assert!(kafka.len() > 20, "{} jars", kafka.len());
        let broker = kafka
            .iter()
            .find(|jar| jar.coordinates.artifact == "kafka_2.13")
            .expect("the broker jar");
        let chart = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../charts/ec-ha-crux/values.yaml"
        ))
        .unwrap();
        let chart: serde_json::Value = serde_norway::from_str(&chart).unwrap();
        assert_eq!(
            chart["kafka"]["image"]["tag"].as_str(),
            Some(broker.coordinates.version.as_str()),
            "the local brokers and the chart's Kafka image must be one version"
        );
        assert!(
            kafka
                .iter()
                .any(|jar| jar.coordinates.artifact.starts_with("slf4j-reload4j")),
            "a logging binding"
        );
        // The file is as `cargo xtask artifacts lock` writes it.
        assert_eq!(lock.render(), EMBEDDED_LOCK);
    }

    #[test]
    fn repository_paths_round_trip() {
        for text in [
            "org.apache.kafka:kafka_2.13:3.9.1",
            "org.odpi.egeria:egeria-connector-crux:3.0:jar-with-dependencies",
        ] {
            let coordinates: Coordinates = text.parse().unwrap();
            let path = coordinates.repository_path();
            assert_eq!(
                Coordinates::from_repository_path(&path),
                Some(coordinates.clone())
            );
            assert_eq!(coordinates.to_string(), text);
        }
        assert_eq!(
            "org.apache.kafka:kafka_2.13:3.9.1"
                .parse::<Coordinates>()
                .unwrap()
                .repository_path(),
            "org/apache/kafka/kafka_2.13/3.9.1/kafka_2.13-3.9.1.jar"
        );
        assert_eq!(Coordinates::from_repository_path("a/b-1.jar"), None);
    }

    #[test]
    fn bad_lines_are_named_by_number() {
        let error = Lock::parse("# fine\njar kafka a:b:1 XYZ\n").unwrap_err();
        assert_eq!(error.line, 2);
        assert!(error.to_string().contains("sha256"), "{error}");
        let error = Lock::parse("root kafka a:b\n").unwrap_err();
        assert!(
            error.to_string().contains("group:artifact:version"),
            "{error}"
        );
        let error = Lock::parse("exclude kafka a:b:1\n").unwrap_err();
        assert!(error.to_string().contains("group:artifact"), "{error}");
        let error = Lock::parse("pin kafka a:b:1\n").unwrap_err();
        assert!(error.to_string().contains("expected `root"), "{error}");
    }
}
