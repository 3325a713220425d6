//! Which broker leads which partition, and which replicas are in sync: one Metadata
//! request (API key 3) at version 4, which every broker from Kafka 1.0 to 4.x serves.

use super::wire::{Api, Cursor, put_string};

const METADATA: Api = Api {
    key: 3,
    version: 4,
    flexible: false,
    name: "metadata",
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Broker {
    pub node_id: i32,
    pub host: String,
    pub port: i32,
}

impl Broker {
    /// `host:port`, as the broker advertises itself.
    pub fn address(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    pub index: i32,
    pub error: i16,
    /// -1 while a leader is being elected.
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub in_sync: Vec<i32>,
}

impl Partition {
    /// Every replica is in sync, under a leader.
    pub fn fully_replicated(&self) -> bool {
        self.leader >= 0
            && !self.replicas.is_empty()
            && self.replicas.iter().all(|r| self.in_sync.contains(r))
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topic {
    pub name: String,
    pub error: i16,
    pub partitions: Vec<Partition>,
}

/// What one broker said of the cluster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    pub brokers: Vec<Broker>,
    pub topics: Vec<Topic>,
}

impl Metadata {
    pub fn broker(&self, node_id: i32) -> Option<&Broker> {
        self.brokers.iter().find(|b| b.node_id == node_id)
    }

    pub fn topic(&self, name: &str) -> Option<&Topic> {
        self.topics.iter().find(|t| t.name == name)
    }
}

/// Asks `broker` about `topics` (every topic when `None`); asking never creates one.
pub(super) async fn ask(broker: &str, topics: Option<&[&str]>) -> Result<Metadata, String> {
    let body = super::wire::exchange(broker, METADATA, &request_body(topics)).await?;
    parse(&body)
}

fn request_body(topics: Option<&[&str]>) -> Vec<u8> {
    let mut body = Vec::new();
    match topics {
        None => body.extend((-1i32).to_be_bytes()),
        Some(topics) => {
            body.extend((topics.len() as i32).to_be_bytes());
            for topic in topics {
                put_string(&mut body, topic);
            }
        }
    }
    body.push(0); // allow_auto_topic_creation: false
    body
}

/// A Metadata v4 response body: throttle time, brokers (id, host, port, rack), cluster
/// id, controller id (in KRaft a random broker, not the controller), topics (error, name,
/// internal, partitions (error, index, leader, replicas, in-sync replicas)).
fn parse(body: &[u8]) -> Result<Metadata, String> {
    let mut reader = Cursor::new(body);
    reader.i32()?;
    let mut brokers = Vec::new();
    for _ in 0..reader.count()? {
        let node_id = reader.i32()?;
        let host = reader.string()?.unwrap_or_default();
        let port = reader.i32()?;
        reader.string()?;
        brokers.push(Broker {
            node_id,
            host,
            port,
        });
    }
    reader.string()?;
    reader.i32()?;
    let mut topics = Vec::new();
    for _ in 0..reader.count()? {
        let error = reader.i16()?;
        let name = reader.string()?.unwrap_or_default();
        reader.i8()?;
        let mut partitions = Vec::new();
        for _ in 0..reader.count()? {
            partitions.push(Partition {
                error: reader.i16()?,
                index: reader.i32()?,
                leader: reader.i32()?,
                replicas: reader.i32_array()?,
                in_sync: reader.i32_array()?,
            });
        }
        topics.push(Topic {
            name,
            error,
            partitions,
        });
    }
    Ok(Metadata { brokers, topics })
}

/// Metadata answers for the tests' fake brokers.
#[cfg(test)]
pub(crate) mod fake {
    use crate::kafka::wire::Body;

    /// A topic's name, error code and `(partition, leader)` pairs.
    pub type TopicAnswer<'a> = (&'a str, i16, &'a [(i32, i32)]);

    /// A Metadata v4 response body: `brokers` as `(id, host)` on port 9092, then each
    /// topic with its error and `(partition, leader)` pairs, all three replicas in sync.
    pub fn response(brokers: &[(i32, &str)], topics: &[TopicAnswer]) -> Vec<u8> {
        let mut body = Body::default().i32(0).i32(brokers.len() as i32);
        for (id, host) in brokers {
            body = body.i32(*id).string(host).i32(9092).i16(-1);
        }
        body = body.i16(-1).i32(1).i32(topics.len() as i32);
        for (name, error, partitions) in topics {
            body = body
                .i16(*error)
                .string(name)
                .i8(0)
                .i32(partitions.len() as i32);
            for &(index, leader) in *partitions {
                body = body.i16(0).i32(index).i32(leader);
                for _ in 0..2 {
                    body = body.i32(3).i32(0).i32(1).i32(2);
                }
            }
        }
        body.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::wire::request;

    #[test]
    fn the_request_is_metadata_v4_without_auto_creation() {
        let frame = request(METADATA, 7, &request_body(Some(&["crux-tx-log"])));
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
        assert_eq!(frame, expected);
        assert_eq!(request_body(None), [0xff, 0xff, 0xff, 0xff, 0]);
    }

    #[test]
    fn brokers_topics_and_replicas_are_read() {
        let body = fake::response(
            &[(0, "a"), (1, "b"), (2, "c")],
            &[("crux-tx-log", 0, &[(0, 2)]), ("gone", 3, &[])],
        );
        let metadata = parse(&body).unwrap();
        assert_eq!(metadata.broker(2).unwrap().address(), "c:9092");
        let log = metadata.topic("crux-tx-log").unwrap();
        assert_eq!(log.partitions[0].leader, 2);
        assert!(log.partitions[0].fully_replicated());
        assert_eq!(metadata.topic("gone").unwrap().error, 3);
    }

    #[test]
    fn a_short_answer_is_an_error_not_a_panic() {
        let full = fake::response(&[(0, "a")], &[("t", 0, &[(0, 0)])]);
        for cut in [0, 3, 10, full.len() / 2, full.len() - 1] {
            let error = parse(&full[..cut]).unwrap_err();
            assert!(error.contains("cut short"), "cut at {cut}: {error}");
        }
    }
}
