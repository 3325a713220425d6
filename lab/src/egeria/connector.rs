//! The connection of the plugin repository connector every connector pod shares: Egeria's
//! XTDB connector (the successor of the Crux connector the seed describes; XTDB is Crux
//! renamed), as the real connector reads it (REAL-EGERIA.md §5 and §6). The one generator
//! of it: the local substrate's bootstrap and the chart's runner pod both send this.
//!
//! The real connector ignores, without a word, keys it does not know: a `cruxConfig`, or
//! `xtdbConfig` lacking the Kafka stores, starts an in-memory XTDB node, and the golden
//! store is silently not used. [`check`] refuses any such connection, so that the lab
//! never deploys one, whoever built it.

use serde_json::{Value, json};

pub const SERVER_TYPE: &str = "Crux";
pub const PROVIDER_CLASS: &str =
    "org.odpi.egeria.connectors.juxt.xtdb.repositoryconnector.XtdbOMRSRepositoryConnectorProvider";
/// The `configurationProperties` key the connector reads XTDB's configuration from.
pub const CONFIG_KEY: &str = "xtdbConfig";
pub const TX_LOG_TOPIC: &str = "crux-tx-log";
pub const DOCUMENT_STORE_TOPIC: &str = "crux-doc-store";
/// The topic root of the Egeria event bus (cohort topics hang below it).
pub const TOPIC_URL_ROOT: &str = "egeria";
/// Copies of each golden-store topic: the store must survive a broker's loss.
pub const REPLICATION_FACTOR: u16 = 3;
/// The only key the connector gives its own Lucene indexer and analyser.
const LUCENE_KEY: &str = "xtdb.lucene/lucene-store";

/// The connection: a local RocksDB index and Lucene store per pod, the transaction log
/// and document store in the golden store, and `syncIndex`, so that a write is answered
/// only once this node's index has it.
pub fn connection(server: &str, golden_store_bootstrap: &str) -> Value {
    let data = format!("data/servers/{server}");
    let rocksdb = |dir: &str| json!({"xtdb/module": "xtdb.rocksdb/->kv-store", "db-dir": format!("{data}/{dir}")});
    json!({
        "class": "Connection",
        "connectorType": {
            "class": "ConnectorType",
            "connectorProviderClassName": PROVIDER_CLASS,
        },
        "configurationProperties": {
            CONFIG_KEY: {
                "xtdb/index-store": { "kv-store": rocksdb("rdb-index") },
                "kafka-config": {
                    "xtdb/module": "xtdb.kafka/->kafka-config",
                    "bootstrap-servers": golden_store_bootstrap,
                },
                "xtdb/document-store": {
                    "xtdb/module": "xtdb.kafka/->document-store",
                    "kafka-config": "kafka-config",
                    "doc-topic-opts": { "topic-name": DOCUMENT_STORE_TOPIC, "replication-factor": REPLICATION_FACTOR },
                    "local-document-store": { "kv-store": rocksdb("rdb-docs") },
                },
                "xtdb/tx-log": {
                    "xtdb/module": "xtdb.kafka/->tx-log",
                    "kafka-config": "kafka-config",
                    "tx-topic-opts": { "topic-name": TX_LOG_TOPIC, "replication-factor": REPLICATION_FACTOR },
                    "poll-wait-duration": "PT0.050S",
                },
                LUCENE_KEY: { "db-dir": format!("{data}/lucene") },
            },
            "syncIndex": true,
        },
    })
}

/// What the golden store's clients are told to reach, read from a checked connection.
#[derive(Debug, PartialEq, Eq)]
pub struct GoldenStoreUse<'a> {
    pub bootstrap: &'a str,
    pub tx_log_topic: &'a str,
    pub document_store_topic: &'a str,
}

/// Refuses a connection the real connector would run without the golden store (on a
/// private in-memory node, or failing to start), naming what is wrong; returns where its
/// transaction log and documents go.
pub fn check(connection: &Value) -> Result<GoldenStoreUse<'_>, String> {
    let provider = connection
        .pointer("/connectorType/connectorProviderClassName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if provider != PROVIDER_CLASS {
        return Err(format!(
            "connector provider {provider:?} is not the XTDB connector's {PROVIDER_CLASS}"
        ));
    }
    let properties = &connection["configurationProperties"];
    if properties.get("cruxConfig").is_some() {
        return Err(
            "configurationProperties has a `cruxConfig`, which the XTDB connector ignores (it would start in memory)"
                .into(),
        );
    }
    let config = properties.get(CONFIG_KEY).ok_or_else(|| {
        format!("configurationProperties lacks `{CONFIG_KEY}`: the connector would start in memory")
    })?;
    let text = |pointer: &str| config.pointer(pointer).and_then(Value::as_str);
    let module = |component: &str, expected: &str| -> Result<(), String> {
        let found = text(&format!("/{}/xtdb~1module", component.replace('/', "~1")));
        if found == Some(expected) {
            Ok(())
        } else {
            Err(format!(
                "`{component}` must use module {expected} (found {found:?}): anything else keeps it off the golden store"
            ))
        }
    };
    module("xtdb/tx-log", "xtdb.kafka/->tx-log")?;
    module("xtdb/document-store", "xtdb.kafka/->document-store")?;
    module("kafka-config", "xtdb.kafka/->kafka-config")?;
    if text("/xtdb~1index-store/kv-store/xtdb~1module") != Some("xtdb.rocksdb/->kv-store") {
        return Err("`xtdb/index-store` must be a RocksDB kv-store (a local index that survives a restart of the server)".into());
    }
    if config.get(LUCENE_KEY).is_none() {
        return Err(format!(
            "no Lucene store under `{LUCENE_KEY}`, the only key the connector honours: no text search index"
        ));
    }
    if let Some(stray) = config
        .as_object()
        .into_iter()
        .flat_map(|object| object.keys())
        .find(|key| key.starts_with("crux") || key.starts_with("egeria.crux"))
    {
        return Err(format!(
            "`{stray}` is a Crux-era key: XTDB fails to locate its module"
        ));
    }
    if properties.get("syncIndex") != Some(&Value::Bool(true)) {
        return Err(
            "`syncIndex` must be true: a write would be answered before this pod's index has it"
                .into(),
        );
    }
    let (Some(bootstrap), Some(tx_log_topic), Some(document_store_topic)) = (
        text("/kafka-config/bootstrap-servers"),
        text("/xtdb~1tx-log/tx-topic-opts/topic-name"),
        text("/xtdb~1document-store/doc-topic-opts/topic-name"),
    ) else {
        return Err("the Kafka stores lack bootstrap-servers or a topic name".into());
    };
    Ok(GoldenStoreUse {
        bootstrap,
        tx_log_topic,
        document_store_topic,
    })
}

/// The local repository connection of a server's configuration document.
pub fn of_configuration(document: &Value) -> &Value {
    document
        .pointer("/repositoryServicesConfig/localRepositoryConfig/localRepositoryLocalConnection")
        .unwrap_or(&Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_puts_both_stores_on_the_golden_store_under_xtdb_names() {
        let connection = connection("crux", "k0:9092,k1:9092");
        let used = check(&connection).expect("the generator's connection passes its own check");
        assert_eq!(
            used,
            GoldenStoreUse {
                bootstrap: "k0:9092,k1:9092",
                tx_log_topic: TX_LOG_TOPIC,
                document_store_topic: DOCUMENT_STORE_TOPIC,
            }
        );
        let config = &connection["configurationProperties"][CONFIG_KEY];
        assert_eq!(
            config["xtdb/tx-log"]["tx-topic-opts"]["replication-factor"],
            3
        );
        assert_eq!(
            config["xtdb/document-store"]["doc-topic-opts"]["replication-factor"],
            3
        );
        assert_eq!(
            config["xtdb/index-store"]["kv-store"]["db-dir"],
            "data/servers/crux/rdb-index"
        );
        assert_eq!(config[LUCENE_KEY]["db-dir"], "data/servers/crux/lucene");
        // No Crux-era name anywhere (REAL-EGERIA.md §6, items 1-5).
        let text = connection.to_string();
        for crux_era in ["\"crux/", "\"crux.", "egeria.crux", "cruxConfig", ".crux."] {
            assert!(!text.contains(crux_era), "{crux_era} in {text}");
        }
    }

    type Change = fn(&mut Value);

    /// Every way REAL-EGERIA.md §5-§6 saw a connection silently run in memory, or fail, is
    /// refused with its reason.
    #[test]
    fn connections_the_connector_would_run_off_the_golden_store_are_refused() {
        let good = connection("crux", "k0:9092");
        let broken = |change: &dyn Fn(&mut Value)| {
            let mut connection = good.clone();
            change(&mut connection);
            check(&connection).unwrap_err()
        };
        fn config(c: &mut Value) -> &mut Value {
            &mut c["configurationProperties"][CONFIG_KEY]
        }
        let cases: [(&str, Change); 8] = [
            (
                "is not the XTDB connector",
                (|c: &mut Value| {
                    c["connectorType"]["connectorProviderClassName"] = json!(
                        "org.odpi.egeria.connectors.juxt.crux.repositoryconnector.CruxOMRSRepositoryConnectorProvider"
                    )
                }),
            ),
            (
                "would start in memory",
                (|c: &mut Value| {
                    let properties = c["configurationProperties"].as_object_mut().unwrap();
                    let xtdb = properties.remove(CONFIG_KEY).unwrap();
                    properties.insert("cruxConfig".into(), xtdb);
                }),
            ),
            (
                "lacks `xtdbConfig`",
                (|c: &mut Value| {
                    c["configurationProperties"]
                        .as_object_mut()
                        .unwrap()
                        .remove(CONFIG_KEY);
                }),
            ),
            (
                "must use module xtdb.kafka/->tx-log",
                (|c: &mut Value| {
                    config(c).as_object_mut().unwrap().remove("xtdb/tx-log");
                }),
            ),
            (
                "must use module xtdb.kafka/->document-store",
                (|c: &mut Value| {
                    config(c)["xtdb/document-store"]["xtdb/module"] =
                        json!("xtdb.rocksdb/->document-store");
                }),
            ),
            (
                "only key the connector honours",
                (|c: &mut Value| {
                    let object = config(c).as_object_mut().unwrap();
                    let lucene = object.remove(LUCENE_KEY).unwrap();
                    object.insert("egeria.xtdb.lucene/lucene-store".into(), lucene);
                }),
            ),
            (
                "Crux-era key",
                (|c: &mut Value| {
                    config(c)["crux/index-store"] = json!({});
                }),
            ),
            (
                "`syncIndex` must be true",
                (|c: &mut Value| {
                    c["configurationProperties"]["syncIndex"] = json!(false);
                }),
            ),
        ];
        for (reason, change) in cases {
            let error = broken(&change);
            assert!(error.contains(reason), "expected {reason:?}, got {error:?}");
        }
    }

    #[test]
    fn the_connection_is_found_in_a_configuration_document() {
        let document = json!({"repositoryServicesConfig": {"localRepositoryConfig": {
            "localRepositoryLocalConnection": connection("crux", "k:1")}}});
        assert!(check(of_configuration(&document)).is_ok());
        assert!(check(of_configuration(&json!({}))).is_err());
    }
}
