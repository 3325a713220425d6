//! The local substrate's golden store (a NATS JetStream cluster standing in for Kafka):
//! the streams that play Kafka topics, how they are named and configured, and their
//! provisioning when the store comes up — as a Kafka deployment provisions its topics.
//! The stand-in platform uses the same definitions, so both sides agree on them.

use crate::egeria::crux;
use crate::substrate::{Leadership, META_GROUP};
use async_nats::jetstream;
use std::time::Duration;

/// Members of the golden store (three brokers, as the chart's Kafka).
pub const MEMBERS: u16 = 3;

/// Every stream keeps three copies, so one member can die with no loss.
pub const REPLICAS: usize = 3;

/// Each member's monitoring port (`/healthz`, `/jsz`), on the member's own address.
pub const MONITOR_PORT: u16 = 8222;

/// A stream named after the topic it stands for, holding that one subject.
pub fn stream_config(name: &str, subject: &str) -> jetstream::stream::Config {
    jetstream::stream::Config {
        name: name.to_string(),
        subjects: vec![subject.to_string()],
        num_replicas: REPLICAS,
        storage: jetstream::stream::StorageType::File,
        ..Default::default()
    }
}

/// The cohort's registration topic (Egeria's `…cohort.<name>.OMRSTopic`); stream names
/// cannot hold dots, so the stream gets a name of its own.
pub fn cohort_stream(cohort: &str) -> (String, String) {
    (
        format!("egeria-cohort-{cohort}"),
        format!("egeria.omag.openmetadata.repositoryservices.cohort.{cohort}.OMRSTopic"),
    )
}

/// The `host:port` entries of a `bootstrap.servers`-style list (`host:port,host:port`).
pub fn bootstrap_entries(bootstrap: &str) -> impl Iterator<Item = &str> {
    bootstrap
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
}

/// `host:port,host:port` → NATS server addresses.
pub fn servers(bootstrap: &str) -> Result<Vec<async_nats::ServerAddr>, String> {
    let servers: Vec<async_nats::ServerAddr> = bootstrap_entries(bootstrap)
        .map(|server| {
            format!("nats://{server}")
                .parse()
                .map_err(|e| format!("bad golden-store address {server:?}: {e}"))
        })
        .collect::<Result<_, _>>()?;
    if servers.is_empty() {
        return Err("no golden-store servers given".into());
    }
    Ok(servers)
}

pub async fn connect(bootstrap: &str, timeout: Duration) -> Result<jetstream::Context, String> {
    let client = async_nats::ConnectOptions::new()
        .connection_timeout(timeout)
        .connect(servers(bootstrap)?)
        .await
        .map_err(|e| format!("cannot connect to {bootstrap}: {e}"))?;
    Ok(jetstream::new(client))
}

/// Creates the transaction-log, document-store and cohort streams (idempotent). Creating
/// them here, once, spares N connector pods racing to create the same streams at start.
pub async fn provision(bootstrap: &str, cohort: &str, deadline: Duration) -> Result<(), String> {
    let work = async {
        let context = connect(bootstrap, Duration::from_secs(2)).await?;
        let (cohort_name, cohort_subject) = cohort_stream(cohort);
        for (name, subject) in [
            (crux::TX_LOG_TOPIC, crux::TX_LOG_TOPIC),
            (crux::DOCUMENT_STORE_TOPIC, crux::DOCUMENT_STORE_TOPIC),
            (cohort_name.as_str(), cohort_subject.as_str()),
        ] {
            context
                .create_stream(stream_config(name, subject))
                .await
                .map_err(|e| format!("cannot create stream {name}: {e}"))?;
        }
        Ok(())
    };
    tokio::time::timeout(deadline, work)
        .await
        .map_err(|_| format!("the golden store did not create its streams within {deadline:?}"))?
}

/// Which member leads what (server names are pod names): every stream, and the JetStream
/// meta group (the store's own metadata, which creating a replay consumer needs), as the
/// first member whose monitoring endpoint answers says.
pub async fn leaderships(bootstrap: &str) -> Result<Vec<Leadership>, String> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))?;
    let mut failures = Vec::new();
    for server in bootstrap_entries(bootstrap) {
        let host = server.rsplit_once(':').map_or(server, |(host, _)| host);
        let url = format!("http://{host}:{MONITOR_PORT}/jsz?accounts=true&streams=true");
        let answer = async {
            let response = http.get(&url).send().await?.error_for_status()?;
            response.json::<serde_json::Value>().await
        };
        match answer.await {
            Ok(body) => return Ok(leaderships_in(&body)),
            Err(error) => failures.push(format!("{url}: {error}")),
        }
    }
    Err(failures.join("; "))
}

/// The leaders a `/jsz?accounts=true&streams=true` answer names; a group electing its
/// leader right now has none.
fn leaderships_in(jsz: &serde_json::Value) -> Vec<Leadership> {
    let led = |of: &str, leader: &serde_json::Value| {
        leader
            .as_str()
            .filter(|member| !member.is_empty())
            .map(|member| Leadership {
                of: of.to_string(),
                member: member.to_string(),
            })
    };
    let mut found: Vec<Leadership> = led(META_GROUP, &jsz["meta_cluster"]["leader"])
        .into_iter()
        .collect();
    let accounts = jsz["account_details"].as_array().into_iter().flatten();
    for stream in
        accounts.flat_map(|account| account["stream_detail"].as_array().into_iter().flatten())
    {
        if let Some(name) = stream["name"].as_str() {
            found.extend(led(name, &stream["cluster"]["leader"]));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_lists_parse_and_bad_ones_are_named() {
        assert_eq!(servers("127.0.0.1:4222, 127.0.0.2:4222").unwrap().len(), 2);
        assert!(servers("").unwrap_err().contains("no golden-store servers"));
    }

    #[test]
    fn leaders_are_read_from_the_monitoring_answer() {
        let jsz = serde_json::json!({
            "meta_cluster": {"leader": "lab-kafka-0"},
            "account_details": [{"stream_detail": [
                {"name": "crux-tx-log", "cluster": {"leader": "lab-kafka-2"}},
                {"name": "crux-doc-store", "cluster": {}},
            ]}],
        });
        let found: Vec<(String, String)> = leaderships_in(&jsz)
            .into_iter()
            .map(|l| (l.of, l.member))
            .collect();
        assert_eq!(
            found,
            [
                ("meta".to_string(), "lab-kafka-0".to_string()),
                ("crux-tx-log".to_string(), "lab-kafka-2".to_string()),
            ]
        );
        assert!(leaderships_in(&serde_json::json!({})).is_empty());
    }

    #[test]
    fn cohort_streams_have_dotless_names() {
        let (name, subject) = cohort_stream("coco");
        assert!(!name.contains('.'));
        assert!(subject.ends_with(".coco.OMRSTopic"));
    }
}
