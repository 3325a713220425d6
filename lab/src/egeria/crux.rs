//! The Crux plugin repository connector's connection, as ARCHITECTURE.md §2 step 2 gives it.

use serde_json::{Value, json};

pub const SERVER_TYPE: &str = "Crux";
pub const PROVIDER_CLASS: &str =
    "org.odpi.egeria.connectors.juxt.crux.repositoryconnector.CruxOMRSRepositoryConnectorProvider";
pub const TX_LOG_TOPIC: &str = "crux-tx-log";
pub const DOCUMENT_STORE_TOPIC: &str = "crux-doc-store";
/// The topic root of the Egeria event bus (cohort topics hang below it).
pub const TOPIC_URL_ROOT: &str = "egeria";

/// The connection every connector pod shares: local RocksDB index and Lucene store, the
/// transaction log and document store in the golden store, and `syncIndex` so a write is
/// answered only once this node's index has it.
pub fn connection(server: &str, golden_store_bootstrap: &str) -> Value {
    let data = format!("data/servers/{server}");
    json!({
        "class": "Connection",
        "connectorType": {
            "class": "ConnectorType",
            "connectorProviderClassName": PROVIDER_CLASS,
        },
        "configurationProperties": {
            "cruxConfig": {
                "crux/index-store": {
                    "kv-store": {
                        "crux/module": "crux.rocksdb/->kv-store",
                        "db-dir": format!("{data}/rdb-index"),
                    }
                },
                "kafka-config": {
                    "crux/module": "crux.kafka/->kafka-config",
                    "bootstrap-servers": golden_store_bootstrap,
                },
                "crux/document-store": {
                    "crux/module": "crux.kafka/->document-store",
                    "kafka-config": "kafka-config",
                    // Crux creates its topics with one replica unless told: the golden
                    // store must survive a broker's loss.
                    "doc-topic-opts": { "topic-name": DOCUMENT_STORE_TOPIC, "replication-factor": 3 },
                    "local-document-store": {
                        "kv-store": {
                            "crux/module": "crux.rocksdb/->kv-store",
                            "db-dir": format!("{data}/rdb-docs"),
                        }
                    },
                },
                "crux/tx-log": {
                    "crux/module": "crux.kafka/->tx-log",
                    "kafka-config": "kafka-config",
                    "tx-topic-opts": { "topic-name": TX_LOG_TOPIC, "replication-factor": 3 },
                    "poll-wait-duration": "PT0.050S",
                },
                "egeria.crux.lucene/lucene-store": { "db-dir": format!("{data}/lucene") },
            },
            "syncIndex": true,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connection_points_both_stores_at_the_golden_store() {
        let connection = connection("crux", "k0:9092,k1:9092");
        let config = &connection["configurationProperties"]["cruxConfig"];
        assert_eq!(
            config["kafka-config"]["bootstrap-servers"],
            "k0:9092,k1:9092"
        );
        assert_eq!(config["crux/tx-log"]["kafka-config"], "kafka-config");
        assert_eq!(
            config["crux/document-store"]["kafka-config"],
            "kafka-config"
        );
        assert_eq!(
            config["crux/tx-log"]["tx-topic-opts"]["topic-name"],
            TX_LOG_TOPIC
        );
        assert_eq!(connection["configurationProperties"]["syncIndex"], true);
        assert_eq!(
            connection["connectorType"]["connectorProviderClassName"],
            PROVIDER_CLASS
        );
    }
}
