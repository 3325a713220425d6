//! The connector jar's checksum, which the chart requires (`crux.connector.checksum.value`)
//! but does not ship: it has to come from the jar's publisher. When the values files do
//! not pin it, lab-up reads the `.sha1` that Maven Central publishes beside every
//! artifact, once, records it in `target/lab/kind/connector-checksum.json` and hands it
//! to the chart. Later runs use the recorded value without asking again, so a jar that
//! changed on the server fails the init container's check instead of being trusted anew.

use anyhow::{Context, bail};
use lab::state::{LabDir, read_json, write_json};
use serde::{Deserialize, Serialize};
use serde_norway::Value;
use std::path::PathBuf;
use std::time::Duration;

const FETCH_TIMEOUT: Duration = Duration::from_secs(30);

/// A checksum read from the repository, and where from.
#[derive(Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Recorded {
    url: String,
    algorithm: String,
    value: String,
}

fn record_path(lab_dir: &LabDir) -> PathBuf {
    lab_dir.root().join("kind").join("connector-checksum.json")
}

/// The `--set-string` arguments that give the chart the connector's checksum; none when
/// the install's `values` (all its files merged, as helm merges them) already pin it.
pub async fn chart_values(lab_dir: &LabDir, values: &Value) -> anyhow::Result<Vec<String>> {
    let connector = &values["crux"]["connector"];
    if connector["checksum"]["value"]
        .as_str()
        .is_some_and(|value| !value.is_empty())
    {
        return Ok(Vec::new());
    }
    let url = format!("{}.sha1", jar_url(connector)?);
    let path = record_path(lab_dir);
    let recorded = match read_json::<Recorded>(&path) {
        Ok(Some(recorded)) if recorded.url == url => recorded,
        _ => {
            let recorded = Recorded {
                value: fetch_sha1(&url).await.with_context(|| {
                    format!(
                        "cannot read the connector jar's checksum from {url}; pin it yourself \
                         with crux.connector.checksum.value in a --values file (the chart's \
                         README.md says how to obtain it)"
                    )
                })?,
                algorithm: "sha1".into(),
                url,
            };
            write_json(&path, &recorded)?;
            recorded
        }
    };
    eprintln!(
        "  connector jar checksum: {} {} (published at {}; recorded in {} on first use; pin \
         your own with crux.connector.checksum.value)",
        recorded.algorithm,
        recorded.value,
        recorded.url,
        path.display()
    );
    Ok(vec![
        "--set-string".into(),
        format!("crux.connector.checksum.algorithm={}", recorded.algorithm),
        "--set-string".into(),
        format!("crux.connector.checksum.value={}", recorded.value),
    ])
}

/// `<repository>/<group as a path>/<artifact>/<version>/<artifact>-<version>[-<classifier>].jar`.
fn jar_url(connector: &Value) -> anyhow::Result<String> {
    let field = |name: &str| {
        connector[name]
            .as_str()
            .filter(|value| !value.is_empty())
            .with_context(|| format!("crux.connector.{name} is not set in the chart's values"))
    };
    let (artifact, version) = (field("artifactId")?, field("version")?);
    let classifier = match connector["classifier"].as_str() {
        Some(classifier) if !classifier.is_empty() => format!("-{classifier}"),
        _ => String::new(),
    };
    Ok(format!(
        "{}/{}/{artifact}/{version}/{artifact}-{version}{classifier}.jar",
        field("repositoryUrl")?.trim_end_matches('/'),
        field("groupId")?.replace('.', "/"),
    ))
}

/// The hex digest of a published `.sha1` file (which may name the file after the digest).
async fn fetch_sha1(url: &str) -> anyhow::Result<String> {
    let client = reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .build()
        .context("cannot build an HTTP client")?;
    let response = client.get(url).send().await?;
    let status = response.status();
    if !status.is_success() {
        bail!("the repository answered {status}");
    }
    let text = response.text().await?;
    let digest = text.split_whitespace().next().unwrap_or_default();
    if digest.len() != 40 || !digest.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        bail!("the answer is not a sha1 digest: {:?}", truncate(&text, 80));
    }
    Ok(digest.to_ascii_lowercase())
}

fn truncate(text: &str, limit: usize) -> &str {
    match text.char_indices().nth(limit) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> Value {
        serde_norway::from_str(text).unwrap()
    }

    #[test]
    fn the_jar_url_follows_the_maven_layout() {
        let connector = yaml(
            "{repositoryUrl: 'https://repo1.maven.org/maven2/', groupId: org.odpi.egeria, \
             artifactId: egeria-connector-crux, version: '3.0', classifier: jar-with-dependencies}",
        );
        assert_eq!(
            jar_url(&connector).unwrap(),
            "https://repo1.maven.org/maven2/org/odpi/egeria/egeria-connector-crux/3.0/\
             egeria-connector-crux-3.0-jar-with-dependencies.jar"
        );
        let error = jar_url(&yaml("{groupId: g}")).unwrap_err().to_string();
        assert_eq!(
            error,
            "crux.connector.artifactId is not set in the chart's values"
        );
    }
}
