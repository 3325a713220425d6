//! The local substrate's golden store, administered: its streams are provisioned when it
//! comes up, as a Kafka deployment provisions its topics, with three replicas each so
//! that one member can die with no loss.

use crate::egeria::crux;
use async_nats::jetstream;
use std::time::Duration;

const REPLICAS: usize = 3;

/// Creates the transaction-log and document-store streams (idempotent). Creating them
/// here, once, spares N connector pods racing to create the same streams at start.
pub async fn provision(bootstrap: &str, deadline: Duration) -> Result<(), String> {
    let servers: Vec<async_nats::ServerAddr> = bootstrap
        .split(',')
        .map(|server| format!("nats://{server}").parse())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("bad golden-store address in {bootstrap:?}: {e}"))?;
    let work = async {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(2))
            .connect(servers)
            .await
            .map_err(|e| format!("cannot connect to {bootstrap}: {e}"))?;
        let context = jetstream::new(client);
        for name in [crux::TX_LOG_TOPIC, crux::DOCUMENT_STORE_TOPIC] {
            context
                .create_stream(jetstream::stream::Config {
                    name: name.to_string(),
                    subjects: vec![name.to_string()],
                    num_replicas: REPLICAS,
                    storage: jetstream::stream::StorageType::File,
                    ..Default::default()
                })
                .await
                .map_err(|e| format!("cannot create stream {name}: {e}"))?;
        }
        Ok(())
    };
    tokio::time::timeout(deadline, work)
        .await
        .map_err(|_| format!("the golden store did not create its streams within {deadline:?}"))?
}
