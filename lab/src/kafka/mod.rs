//! The golden store is Kafka on every substrate. The runner asks it three things, each
//! with one hand-written request (a client library, and the C build librdkafka needs,
//! would be out of proportion, and the runner image stays pure Rust): who leads which of
//! the lab's partitions ([`metadata`]), which broker is the active controller
//! ([`quorum`]), and to create the lab's topics ([`topics`]).

mod metadata;
mod quorum;
mod topics;
pub(crate) mod wire;

pub use metadata::{Broker, Metadata, Partition, Topic};
pub use topics::TopicSpec;

use crate::egeria::connector;
use crate::substrate::{Leadership, Role, Substrate, SubstrateError};
use std::future::Future;
use std::time::Duration;

/// Brokers of the golden store, as the chart's Kafka: replication factor 3 with min ISR 2
/// survives the loss of one.
pub const BROKERS: u16 = 3;

/// What [`Leadership::of`] says of the active controller (the KRaft quorum's leader).
pub const CONTROLLER: &str = "controller";

/// The `host:port` entries of a `bootstrap.servers` list (`host:port,host:port`).
pub fn bootstrap_entries(bootstrap: &str) -> impl Iterator<Item = &str> {
    bootstrap
        .split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
}

/// Why one broker's answer was no answer.
pub(crate) enum Refusal {
    /// This broker could not be asked, or answered nonsense: ask the next one.
    Broker(String),
    /// The cluster answered, and the answer is no: every broker would say the same.
    Cluster(String),
}

/// Asks the brokers of `bootstrap` in turn until one answers; each gets at most `timeout`.
async fn ask_any<T, F, Fut>(bootstrap: &str, timeout: Duration, ask: F) -> Result<T, String>
where
    F: Fn(String) -> Fut,
    Fut: Future<Output = Result<T, Refusal>>,
{
    let mut failures = Vec::new();
    for broker in bootstrap_entries(bootstrap) {
        let answer = tokio::time::timeout(timeout, ask(broker.to_string()))
            .await
            .unwrap_or_else(|_| Err(Refusal::Broker(format!("no answer within {timeout:?}"))));
        match answer {
            Ok(answer) => return Ok(answer),
            Err(Refusal::Cluster(detail)) => return Err(format!("{broker}: {detail}")),
            Err(Refusal::Broker(detail)) => failures.push(format!("{broker}: {detail}")),
        }
    }
    if failures.is_empty() {
        return Err("no Kafka bootstrap servers given".into());
    }
    Err(failures.join("; "))
}

/// What the cluster says of `topics` (every topic when `None`).
pub async fn metadata(
    bootstrap: &str,
    topics: Option<&[&str]>,
    timeout: Duration,
) -> Result<Metadata, String> {
    ask_any(bootstrap, timeout, |broker| async move {
        metadata::ask(&broker, topics)
            .await
            .map_err(Refusal::Broker)
    })
    .await
}

/// The node id of the active controller.
pub async fn active_controller(bootstrap: &str, timeout: Duration) -> Result<i32, String> {
    ask_any(bootstrap, timeout, |broker| async move {
        quorum::leader(&broker).await.map_err(Refusal::Broker)
    })
    .await
}

/// Creates every topic of `specs` that does not exist yet.
pub async fn create_topics(
    bootstrap: &str,
    specs: &[TopicSpec],
    timeout: Duration,
) -> Result<(), String> {
    let timeout_ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    ask_any(bootstrap, timeout, |broker| async move {
        topics::create(&broker, specs, timeout_ms).await
    })
    .await
}

/// Egeria 4's three topics of a cohort, one per kind of event (registrations, type
/// definitions, instances): `<topic root>.openmetadata.repositoryservices.cohort.<cohort>.OMRSTopic.<kind>`.
pub fn cohort_topics(cohort: &str) -> [String; 3] {
    COHORT_EVENT_KINDS.map(|kind| format!("{COHORT_TOPIC_PREFIX}{cohort}.OMRSTopic.{kind}"))
}

/// The topic a cohort's members register on.
pub fn cohort_registration_topic(cohort: &str) -> String {
    let [registration, ..] = cohort_topics(cohort);
    registration
}

const COHORT_EVENT_KINDS: [&str; 3] = ["registration", "types", "instances"];
const COHORT_TOPIC_PREFIX: &str = "egeria.openmetadata.repositoryservices.cohort.";
/// How XTDB creates its own topics: the broker stamps each record's time (the real
/// connector's topics as found after XTDB created them, REAL-EGERIA.md §5).
const XTDB_TIMESTAMPS: (&str, &str) = ("message.timestamp.type", "LogAppendTime");

/// The lab's own topics: XTDB's transaction log and document store, and the cohorts'.
pub fn is_lab_topic(name: &str) -> bool {
    name == connector::TX_LOG_TOPIC
        || name == connector::DOCUMENT_STORE_TOPIC
        || name.starts_with(COHORT_TOPIC_PREFIX)
}

/// The lab's topics as `lab-up` creates them, before any pod starts (so that XTDB never
/// races to create its own: REAL-EGERIA.md §6 item 8): one partition each, a copy on every
/// broker, the same replica order for all, starting at `preferred_leader`, so that one
/// broker leads them all and, after its loss, the same next one does. Some broker then
/// leads none of them, which is what a `follower` fault needs. The transaction log is kept
/// for ever (every node replays it from offset 0); the document store is compacted and
/// kept for ever, and both have the broker stamp record times, as XTDB configures them;
/// the cohort's three topics are replicated like the rest (left to Egeria, they would get
/// the broker's defaults).
pub fn lab_topics(cohort: &str, brokers: u16, preferred_leader: i32) -> Vec<TopicSpec> {
    let count = i32::from(brokers);
    let replicas: Vec<i32> = (0..count).map(|i| (preferred_leader + i) % count).collect();
    let mut topics = vec![
        TopicSpec {
            name: connector::TX_LOG_TOPIC.into(),
            replicas: replicas.clone(),
            configs: vec![
                ("retention.ms", "-1"),
                ("retention.bytes", "-1"),
                XTDB_TIMESTAMPS,
            ],
        },
        TopicSpec {
            name: connector::DOCUMENT_STORE_TOPIC.into(),
            replicas: replicas.clone(),
            configs: vec![
                ("cleanup.policy", "compact"),
                ("retention.ms", "-1"),
                XTDB_TIMESTAMPS,
            ],
        },
    ];
    topics.extend(cohort_topics(cohort).map(|name| TopicSpec {
        name,
        replicas: replicas.clone(),
        configs: Vec::new(),
    }));
    topics
}

/// How long one broker may take to answer the runner.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// Which golden-store pod leads what, now: the leader of every partition of the lab's
/// topics, and the active controller. Brokers are matched to pods by the address they
/// advertise, the same on every substrate (local: the pod's loopback address; kind: the
/// pod's headless DNS name); a broker that is no pod of this lab cannot be a fault target.
pub async fn leaderships<S: Substrate + ?Sized>(
    substrate: &S,
) -> Result<Vec<Leadership>, SubstrateError> {
    let bootstrap = &substrate.endpoints().golden_store_bootstrap;
    let refused = |detail: String| SubstrateError::Unreachable {
        substrate: substrate.name(),
        endpoint: bootstrap.clone(),
        detail: format!("find the golden store's leaders: {detail}"),
    };
    let (cluster, controller) = tokio::join!(
        metadata(bootstrap, None, CALL_TIMEOUT),
        active_controller(bootstrap, CALL_TIMEOUT)
    );
    let cluster = cluster.map_err(refused)?;
    let pods = substrate.list_pods().await?;
    let member = |node_id: i32| -> Result<String, SubstrateError> {
        let broker = cluster.broker(node_id).ok_or_else(|| {
            refused(format!(
                "broker {node_id} leads, but the cluster does not list it"
            ))
        })?;
        let address = broker.address();
        pods.with_role(Role::GoldenStore)
            .find(|pod| pod.address == address)
            .map(|pod| pod.name.clone())
            .ok_or_else(|| SubstrateError::Refused {
                substrate: substrate.name(),
                action: "find the golden store's leaders".into(),
                detail: format!(
                    "broker {node_id} ({address}) is not a pod of this lab: an external Kafka \
                     cannot be a fault target"
                ),
            })
    };
    let mut found = Vec::new();
    for topic in cluster.topics.iter().filter(|t| is_lab_topic(&t.name)) {
        for partition in topic.partitions.iter().filter(|p| p.leader >= 0) {
            found.push(Leadership {
                of: topic.name.clone(),
                member: member(partition.leader)?,
            });
        }
    }
    // The controller's loss forces an election too; when the quorum is electing one
    // right now, there is simply no such leadership to report.
    if let Ok(controller) = controller {
        found.push(Leadership {
            of: CONTROLLER.into(),
            member: member(controller)?,
        });
    }
    Ok(found)
}

/// Creates the lab's topics on the golden store of `brokers` brokers once its quorum has a
/// leader; returns the active controller's node id and the topics' names. They are led by the broker after the active
/// controller, so that losing their leader (`kafka-leader`) is not also losing the
/// controller, whose election would add its own stall; a run where the two coincide says
/// so in its leaderships.
pub async fn create_lab_topics(
    bootstrap: &str,
    cohort: &str,
    brokers: u16,
) -> Result<(i32, Vec<String>), String> {
    let controller = active_controller(bootstrap, CALL_TIMEOUT)
        .await
        .map_err(|e| format!("no quorum leader yet ({e})"))?;
    let topics = lab_topics(cohort, brokers, (controller + 1) % i32::from(brokers));
    create_topics(bootstrap, &topics, CALL_TIMEOUT)
        .await
        .map_err(|e| format!("creating the lab's topics: {e}"))?;
    Ok((
        controller,
        topics.into_iter().map(|topic| topic.name).collect(),
    ))
}

/// How far `topics` are from serving the lab: `Ok` once every replica of them is in sync.
pub async fn replicated(bootstrap: &str, topics: &[String]) -> Result<String, String> {
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let cluster = metadata(bootstrap, Some(&names), CALL_TIMEOUT).await?;
    let lagging: Vec<&str> = names
        .iter()
        .copied()
        .filter(|name| {
            cluster.topic(name).is_none_or(|topic| {
                topic.error != 0
                    || topic.partitions.is_empty()
                    || !topic.partitions.iter().all(Partition::fully_replicated)
            })
        })
        .collect();
    if lagging.is_empty() {
        Ok(format!("{} topics fully replicated", names.len()))
    } else {
        Err(format!("not fully replicated yet: {}", lagging.join(", ")))
    }
}

/// Fake brokers for tests: each answers every request by its API key.
#[cfg(test)]
pub(crate) mod fake_broker {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    pub use super::metadata::fake::{TopicAnswer, response as metadata_answer};
    pub use super::quorum::fake::response as quorum_answer;
    pub use super::topics::fake::response as created_answer;

    pub const METADATA: i16 = 3;
    pub const CREATE_TOPICS: i16 = 19;
    pub const DESCRIBE_QUORUM: i16 = 55;

    /// Answers each request with the body given for its API key (and closes the
    /// connection for any other); returns its address and the requests' API keys.
    pub async fn serve(bodies: HashMap<i16, Vec<u8>>) -> (String, Arc<Mutex<Vec<i16>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let keys = Arc::new(Mutex::new(Vec::new()));
        let seen = keys.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut size = [0u8; 4];
                if stream.read_exact(&mut size).await.is_err() {
                    continue;
                }
                let mut request = vec![0u8; i32::from_be_bytes(size) as usize];
                stream.read_exact(&mut request).await.unwrap();
                let key = i16::from_be_bytes([request[0], request[1]]);
                seen.lock().unwrap().push(key);
                let Some(body) = bodies.get(&key) else {
                    continue;
                };
                let mut header = 1i32.to_be_bytes().to_vec();
                if key == DESCRIBE_QUORUM {
                    header.push(0); // flexible response header: no tagged fields
                }
                let mut frame = ((header.len() + body.len()) as i32).to_be_bytes().to_vec();
                frame.extend(header);
                frame.extend(body);
                stream.write_all(&frame).await.unwrap();
            }
        });
        (address, keys)
    }
}

#[cfg(test)]
mod tests {
    use super::fake_broker::*;
    use super::*;
    use std::collections::HashMap;
    use tokio::net::TcpListener;

    #[tokio::test]
    async fn a_dead_bootstrap_server_is_skipped() {
        let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dead_address = dead.local_addr().unwrap().to_string();
        drop(dead);
        let bodies = HashMap::from([(DESCRIBE_QUORUM, quorum_answer(1))]);
        let (address, _keys) = serve(bodies).await;

        let leader = active_controller(&format!("{dead_address},{address}"), CALL_TIMEOUT)
            .await
            .unwrap();

        assert_eq!(leader, 1);
    }

    #[tokio::test]
    async fn a_silent_broker_ends_at_the_timeout() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let _held = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(stream);
        });

        let error = metadata(&address, None, Duration::from_millis(200))
            .await
            .unwrap_err();

        assert!(error.contains("no answer within 200ms"), "{error}");
    }

    #[tokio::test]
    async fn an_http_answer_is_not_taken_for_kafka() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let (mut stream, _) = listener.accept().await.unwrap();
            stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                .await
                .unwrap();
        });
        let error = metadata(&address, None, CALL_TIMEOUT).await.unwrap_err();
        assert!(error.contains("not a Kafka metadata response"), "{error}");
    }

    #[tokio::test]
    async fn topics_are_created_once_then_waited_for_until_every_replica_is_in_sync() {
        let topics = lab_topics("coco", 3, 0);
        let names: Vec<&str> = topics.iter().map(|t| t.name.as_str()).collect();
        let brokers = [(0, "a"), (1, "b"), (2, "c")];
        let all_led: Vec<TopicAnswer> = names.iter().map(|n| (*n, 0, &[(0, 0)][..])).collect();
        let created_all: Vec<(&str, i16)> = names.iter().map(|n| (*n, 36)).collect();
        let ready = HashMap::from([
            (DESCRIBE_QUORUM, quorum_answer(2)),
            (CREATE_TOPICS, created_answer(&created_all)),
            (METADATA, metadata_answer(&brokers, &all_led)),
        ]);
        let (address, keys) = serve(ready).await;
        let (controller, created) = create_lab_topics(&address, "coco", 3).await.unwrap();
        assert_eq!(controller, 2);
        assert_eq!(created, names);
        let said = replicated(&address, &created).await.unwrap();
        assert_eq!(said, "5 topics fully replicated");
        assert_eq!(
            *keys.lock().unwrap(),
            [DESCRIBE_QUORUM, CREATE_TOPICS, METADATA]
        );

        let mut electing = all_led.clone();
        electing[0] = (names[0], 0, &[(0, -1)]);
        let lagging = HashMap::from([(METADATA, metadata_answer(&brokers, &electing))]);
        let (address, _keys) = serve(lagging).await;
        let not_yet = replicated(&address, &created).await.unwrap_err();
        assert!(not_yet.contains(connector::TX_LOG_TOPIC), "{not_yet}");

        let (address, _keys) = serve(HashMap::from([(DESCRIBE_QUORUM, quorum_answer(-1))])).await;
        let no_quorum = create_lab_topics(&address, "coco", 3).await.unwrap_err();
        assert!(no_quorum.contains("no quorum leader"), "{no_quorum}");
    }

    #[tokio::test]
    async fn a_refused_topic_is_reported_by_the_first_broker() {
        let topics = lab_topics("coco", 3, 0);
        let (address, _keys) = serve(HashMap::from([(
            CREATE_TOPICS,
            created_answer(&[("crux-tx-log", 38)]),
        )]))
        .await;
        let error = create_topics(&format!("{address},{address}"), &topics, CALL_TIMEOUT)
            .await
            .unwrap_err();
        assert_eq!(
            error,
            format!("{address}: topic crux-tx-log: INVALID_REPLICATION_FACTOR")
        );
    }

    #[test]
    fn the_lab_topics_share_one_replica_order_from_the_preferred_leader() {
        let topics = lab_topics("coco", 3, 2);
        assert!(topics.iter().all(|t| t.replicas == [2, 0, 1]));
        assert!(topics.iter().all(|t| is_lab_topic(&t.name)));
        assert!(!is_lab_topic("__consumer_offsets"));
        assert_eq!(
            cohort_topics("coco"),
            [
                "egeria.openmetadata.repositoryservices.cohort.coco.OMRSTopic.registration",
                "egeria.openmetadata.repositoryservices.cohort.coco.OMRSTopic.types",
                "egeria.openmetadata.repositoryservices.cohort.coco.OMRSTopic.instances",
            ]
        );
        let timestamps = |name: &str| {
            topics
                .iter()
                .find(|t| t.name == name)
                .unwrap()
                .configs
                .contains(&XTDB_TIMESTAMPS)
        };
        assert!(timestamps(connector::TX_LOG_TOPIC));
        assert!(timestamps(connector::DOCUMENT_STORE_TOPIC));
    }
}
