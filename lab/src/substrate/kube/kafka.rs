//! The one question the runner asks Kafka: which broker leads the transaction log's
//! partition (the target of a `leader` or `follower` step). One Metadata request
//! (API key 3) at version 4, written from the protocol guide
//! (<https://kafka.apache.org/protocol>): every broker from Kafka 1.0 to 4.x serves that
//! version, and one request does not justify a client library.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const METADATA_API_KEY: i16 = 3;
const METADATA_VERSION: i16 = 4;
const CLIENT_ID: &str = "egeria-ha-lab";
/// A metadata answer about one topic is a few hundred bytes; anything near this is not one.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// The broker leading a partition, as the cluster describes it.
#[derive(Debug, PartialEq, Eq)]
pub struct PartitionLeader {
    pub node_id: i32,
    /// The broker's advertised host (the chart advertises `<pod>.<headless service>`).
    pub host: String,
}

/// Asks the brokers of `bootstrap` (`host:port,…`, tried in turn) which broker leads
/// partition `partition` of `topic`; each broker gets at most `timeout`.
pub async fn partition_leader(
    bootstrap: &str,
    topic: &str,
    partition: i32,
    timeout: Duration,
) -> Result<PartitionLeader, String> {
    let mut failures = Vec::new();
    for broker in crate::golden_store::bootstrap_entries(bootstrap) {
        let answer = match tokio::time::timeout(timeout, metadata(broker, topic)).await {
            Ok(answer) => answer,
            Err(_) => Err(Refusal::Broker(format!("no answer within {timeout:?}"))),
        };
        match answer.and_then(|response: Vec<u8>| leader_in(&response, topic, partition)) {
            Ok(leader) => return Ok(leader),
            // The cluster's own answer (no such topic, no leader) is the same from
            // every broker: asking the next one would only hide it.
            Err(Refusal::Cluster(detail)) => return Err(format!("{broker}: {detail}")),
            Err(Refusal::Broker(detail)) => failures.push(format!("{broker}: {detail}")),
        }
    }
    if failures.is_empty() {
        return Err("no Kafka bootstrap servers given".into());
    }
    Err(failures.join("; "))
}

enum Refusal {
    /// This broker could not be asked or answered nonsense.
    Broker(String),
    /// The cluster answered, and the answer is no.
    Cluster(String),
}

impl From<String> for Refusal {
    fn from(detail: String) -> Self {
        Refusal::Broker(detail)
    }
}

/// Sends one Metadata request for `topic`; returns the response body after the
/// correlation id.
async fn metadata(broker: &str, topic: &str) -> Result<Vec<u8>, Refusal> {
    let mut stream = TcpStream::connect(broker)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    stream
        .write_all(&metadata_request(topic, 1))
        .await
        .map_err(|e| format!("sending the metadata request: {e}"))?;
    let mut size = [0u8; 4];
    stream
        .read_exact(&mut size)
        .await
        .map_err(|e| format!("reading the metadata response: {e}"))?;
    let size = usize::try_from(i32::from_be_bytes(size)).unwrap_or(usize::MAX);
    if !(4..=MAX_RESPONSE_BYTES).contains(&size) {
        return Err(format!("not a Kafka metadata response (frame of {size} bytes)").into());
    }
    let mut frame = vec![0u8; size];
    stream
        .read_exact(&mut frame)
        .await
        .map_err(|e| format!("reading the metadata response: {e}"))?;
    let correlation = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
    if correlation != 1 {
        return Err(format!("answer to another request (correlation id {correlation})").into());
    }
    frame.drain(..4);
    Ok(frame)
}

/// A size-prefixed Metadata v4 request: header v1 (key, version, correlation id,
/// client id), then the topic list and `allow_auto_topic_creation` (false: asking must
/// not create the topic).
fn metadata_request(topic: &str, correlation_id: i32) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend(METADATA_API_KEY.to_be_bytes());
    body.extend(METADATA_VERSION.to_be_bytes());
    body.extend(correlation_id.to_be_bytes());
    put_string(&mut body, CLIENT_ID);
    body.extend(1i32.to_be_bytes());
    put_string(&mut body, topic);
    body.push(0);
    let mut frame = (body.len() as i32).to_be_bytes().to_vec();
    frame.extend(body);
    frame
}

fn put_string(buffer: &mut Vec<u8>, text: &str) {
    buffer.extend((text.len() as i16).to_be_bytes());
    buffer.extend(text.as_bytes());
}

/// Reads a Metadata v4 response body: throttle time, brokers (id, host, port, rack),
/// cluster id, controller id, topics (error, name, internal, partitions (error, index,
/// leader, replicas, in-sync replicas)).
fn leader_in(body: &[u8], topic: &str, partition: i32) -> Result<PartitionLeader, Refusal> {
    let mut reader = Cursor { bytes: body, at: 0 };
    reader.i32()?;
    let mut brokers = Vec::new();
    for _ in 0..reader.count()? {
        let node_id = reader.i32()?;
        let host = reader.string()?.unwrap_or_default();
        reader.i32()?;
        reader.string()?;
        brokers.push((node_id, host));
    }
    reader.string()?;
    reader.i32()?;
    for _ in 0..reader.count()? {
        let error = reader.i16()?;
        let name = reader.string()?.unwrap_or_default();
        reader.i8()?;
        let mut leader = None;
        for _ in 0..reader.count()? {
            let partition_error = reader.i16()?;
            let index = reader.i32()?;
            let leader_id = reader.i32()?;
            for _ in 0..2 {
                for _ in 0..reader.count()? {
                    reader.i32()?;
                }
            }
            if index == partition {
                leader = Some((partition_error, leader_id));
            }
        }
        if name != topic {
            continue;
        }
        if error != 0 {
            return Err(Refusal::Cluster(format!(
                "topic {topic}: {}",
                error_name(error)
            )));
        }
        return match leader {
            None => Err(Refusal::Cluster(format!(
                "topic {topic} has no partition {partition}"
            ))),
            Some((error, leader_id)) if error != 0 || leader_id < 0 => {
                Err(Refusal::Cluster(format!(
                    "partition {partition} of {topic} has no leader right now ({})",
                    error_name(error)
                )))
            }
            Some((_, leader_id)) => brokers
                .into_iter()
                .find(|(id, _)| *id == leader_id)
                .map(|(node_id, host)| PartitionLeader { node_id, host })
                .ok_or_else(|| {
                    Refusal::Cluster(format!(
                        "partition {partition} of {topic} is led by broker {leader_id}, \
                         which the cluster does not list"
                    ))
                }),
        };
    }
    Err(Refusal::Cluster(format!(
        "the cluster did not describe topic {topic}"
    )))
}

/// The errors a metadata answer about one topic can carry, by Kafka's names.
fn error_name(code: i16) -> String {
    match code {
        0 => "no error code".into(),
        3 => "UNKNOWN_TOPIC_OR_PARTITION (the topic does not exist)".into(),
        5 => "LEADER_NOT_AVAILABLE (a leader election is under way)".into(),
        29 => "TOPIC_AUTHORIZATION_FAILED".into(),
        other => format!("Kafka error code {other}"),
    }
}

/// Big-endian reads that fail, rather than panic, on a short answer.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn take<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let taken = self
            .bytes
            .get(self.at..self.at + N)
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or_else(|| format!("metadata response cut short at byte {}", self.at))?;
        self.at += N;
        Ok(taken)
    }

    fn i8(&mut self) -> Result<i8, String> {
        self.take::<1>().map(i8::from_be_bytes)
    }

    fn i16(&mut self) -> Result<i16, String> {
        self.take::<2>().map(i16::from_be_bytes)
    }

    fn i32(&mut self) -> Result<i32, String> {
        self.take::<4>().map(i32::from_be_bytes)
    }

    /// An array's length; a null array (-1) is empty.
    fn count(&mut self) -> Result<usize, String> {
        let count = self.i32()?;
        Ok(usize::try_from(count).unwrap_or(0))
    }

    /// A (nullable) string: its length as an int16, then UTF-8; -1 is null.
    fn string(&mut self) -> Result<Option<String>, String> {
        let Ok(length) = usize::try_from(self.i16()?) else {
            return Ok(None);
        };
        let bytes = self
            .bytes
            .get(self.at..self.at + length)
            .ok_or_else(|| format!("metadata response cut short at byte {}", self.at))?;
        self.at += length;
        String::from_utf8(bytes.to_vec())
            .map(Some)
            .map_err(|_| format!("a string that is not UTF-8 at byte {}", self.at))
    }
}

/// A Kafka broker for tests, answering Metadata requests with a chosen partition leader.
#[cfg(test)]
pub(crate) mod fake_broker {
    use std::sync::{Arc, Mutex};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Builds response bodies field by field, in the order the protocol guide lists them.
    #[derive(Default)]
    struct Body(Vec<u8>);

    impl Body {
        fn i8(mut self, value: i8) -> Self {
            self.0.extend(value.to_be_bytes());
            self
        }
        fn i16(mut self, value: i16) -> Self {
            self.0.extend(value.to_be_bytes());
            self
        }
        fn i32(mut self, value: i32) -> Self {
            self.0.extend(value.to_be_bytes());
            self
        }
        fn string(self, text: &str) -> Self {
            let mut body = self.i16(text.len() as i16);
            body.0.extend(text.as_bytes());
            body
        }
        fn broker(self, id: i32, host: &str) -> Self {
            self.i32(id).string(host).i32(9092).i16(-1)
        }
        /// One partition, replicas 0..3, all in sync.
        fn partition(self, index: i32, leader: i32) -> Self {
            let mut body = self.i16(0).i32(index).i32(leader);
            for _ in 0..2 {
                body = body.i32(3).i32(0).i32(1).i32(2);
            }
            body
        }
    }

    pub const HEADLESS: &str = "lab-kafka-headless.ns.svc.cluster.local";

    /// A Metadata v4 response body of the chart's three brokers of release `lab`, then one
    /// topic with `error` and its `(partition, leader)` pairs.
    pub fn response(topic: &str, error: i16, partitions: &[(i32, i32)]) -> Vec<u8> {
        let mut body = Body::default().i32(0).i32(3);
        for id in 0..3 {
            body = body.broker(id, &format!("lab-kafka-{id}.{HEADLESS}"));
        }
        body = body.i16(-1).i32(1).i32(1).i16(error).string(topic).i8(0);
        body = body.i32(partitions.len() as i32);
        for &(index, leader) in partitions {
            body = body.partition(index, leader);
        }
        body.0
    }

    /// Answers every request with `body` (correlation id 1 prepended); returns its address
    /// and the requests it read.
    pub async fn serve(body: Vec<u8>) -> (String, Arc<Mutex<Vec<Vec<u8>>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut size = [0u8; 4];
                stream.read_exact(&mut size).await.unwrap();
                let mut request = vec![0u8; i32::from_be_bytes(size) as usize];
                stream.read_exact(&mut request).await.unwrap();
                seen.lock().unwrap().push(request);
                let mut frame = ((body.len() + 4) as i32).to_be_bytes().to_vec();
                frame.extend(1i32.to_be_bytes());
                frame.extend(&body);
                stream.write_all(&frame).await.unwrap();
            }
        });
        (address, requests)
    }
}

#[cfg(test)]
mod tests {
    use super::fake_broker::{HEADLESS, response, serve};
    use super::*;
    use tokio::net::TcpListener;

    #[test]
    fn the_request_is_metadata_v4_for_one_topic_without_auto_creation() {
        let request = metadata_request("crux-tx-log", 7);
        let expected: Vec<u8> = [
            &[0, 0, 0, 41][..],
            &[0, 3, 0, 4, 0, 0, 0, 7],
            &[0, 13],
            b"egeria-ha-lab",
            &[0, 0, 0, 1, 0, 11],
            b"crux-tx-log",
            &[0],
        ]
        .concat();
        assert_eq!(request, expected);
    }

    #[tokio::test]
    async fn the_leader_is_the_broker_the_partition_names() {
        let (address, requests) = serve(response("crux-tx-log", 0, &[(0, 2)])).await;

        let leader = partition_leader(&address, "crux-tx-log", 0, Duration::from_secs(5))
            .await
            .unwrap();

        assert_eq!(
            leader,
            PartitionLeader {
                node_id: 2,
                host: format!("lab-kafka-2.{HEADLESS}"),
            }
        );
        assert_eq!(&requests.lock().unwrap()[0][..4], &[0, 3, 0, 4]);
    }

    #[tokio::test]
    async fn a_dead_bootstrap_server_is_skipped() {
        let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let dead_address = dead.local_addr().unwrap().to_string();
        drop(dead);
        let (address, _served) = serve(response("crux-tx-log", 0, &[(0, 1)])).await;

        let leader = partition_leader(
            &format!("{dead_address},{address}"),
            "crux-tx-log",
            0,
            Duration::from_secs(5),
        )
        .await
        .unwrap();

        assert_eq!(leader.node_id, 1);
    }

    #[tokio::test]
    async fn the_clusters_refusals_are_named() {
        let cases = [
            (
                response("crux-tx-log", 3, &[]),
                "UNKNOWN_TOPIC_OR_PARTITION",
            ),
            (response("crux-tx-log", 5, &[]), "LEADER_NOT_AVAILABLE"),
            (
                response("crux-tx-log", 0, &[(0, -1)]),
                "no leader right now",
            ),
            (response("crux-tx-log", 0, &[(1, 0)]), "has no partition 0"),
            (response("crux-tx-log", 0, &[(0, 9)]), "broker 9"),
            (response("other-topic", 0, &[(0, 0)]), "did not describe"),
        ];
        for (body, expected) in cases {
            let (address, _served) = serve(body).await;
            let error = partition_leader(&address, "crux-tx-log", 0, Duration::from_secs(5))
                .await
                .unwrap_err();
            assert!(
                error.starts_with(&address) && error.contains(expected),
                "{error}"
            );
        }
    }

    #[tokio::test]
    async fn short_or_foreign_answers_are_errors_not_panics() {
        let full = response("crux-tx-log", 0, &[(0, 2)]);
        for cut in [0, 3, 10, full.len() / 2, full.len() - 1] {
            let (address, _served) = serve(full[..cut].to_vec()).await;
            let error = partition_leader(&address, "crux-tx-log", 0, Duration::from_secs(5))
                .await
                .unwrap_err();
            assert!(error.contains("cut short"), "cut at {cut}: {error}");
        }
        // An HTTP server's answer read as a Kafka frame: its size is absurd.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.unwrap();
            stream
                .write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n")
                .await
                .unwrap();
        });
        let error = partition_leader(&address, "crux-tx-log", 0, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(error.contains("not a Kafka metadata response"), "{error}");
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

        let error = partition_leader(&address, "crux-tx-log", 0, Duration::from_millis(200))
            .await
            .unwrap_err();

        assert!(error.contains("no answer within 200ms"), "{error}");
    }
}
