//! Which broker is the active controller: the leader of the KRaft metadata quorum, asked
//! with one DescribeQuorum request (API key 55, version 0, Kafka 3.3+), which a broker
//! forwards to the controllers. (A Metadata answer's controller id is a random broker
//! under KRaft, so it cannot tell.)

use super::wire::{Api, Cursor, error_name, put_compact_string, put_unsigned_varint};

const DESCRIBE_QUORUM: Api = Api {
    key: 55,
    version: 0,
    flexible: true,
    name: "describe-quorum",
};

/// The KRaft metadata log: its leader is the active controller.
const METADATA_TOPIC: &str = "__cluster_metadata";

/// The node id of the quorum's leader, as `broker` reports it; an error while the quorum
/// elects one.
pub(super) async fn leader(broker: &str) -> Result<i32, String> {
    let body = super::wire::exchange(broker, DESCRIBE_QUORUM, &request_body()).await?;
    parse(&body)
}

fn request_body() -> Vec<u8> {
    let mut body = Vec::new();
    put_unsigned_varint(&mut body, 2); // one topic
    put_compact_string(&mut body, METADATA_TOPIC);
    put_unsigned_varint(&mut body, 2); // one partition
    body.extend(0i32.to_be_bytes());
    body.extend([0, 0, 0]); // tagged fields: partition, topic, request
    body
}

/// A DescribeQuorum v0 response body: error, topics (name, partitions (index, error,
/// leader, epoch, high watermark, voters, observers)).
fn parse(body: &[u8]) -> Result<i32, String> {
    let mut reader = Cursor::new(body);
    let error = reader.i16()?;
    if error != 0 {
        return Err(format!(
            "the quorum cannot be described: {}",
            error_name(error)
        ));
    }
    // One topic with one partition was asked about: the first of each is the answer.
    if reader.compact_count()? > 0 {
        reader.compact_string()?;
        if reader.compact_count()? > 0 {
            reader.i32()?;
            let error = reader.i16()?;
            let leader = reader.i32()?;
            if error != 0 {
                return Err(format!("the quorum has no leader: {}", error_name(error)));
            }
            if leader < 0 {
                return Err("the quorum is electing its leader".into());
            }
            return Ok(leader);
        }
    }
    Err("the answer describes no quorum".into())
}

/// DescribeQuorum answers for the tests' fake brokers.
#[cfg(test)]
pub(crate) mod fake {
    use crate::kafka::wire::Body;

    /// A quorum of voters 0..3 led by `leader`.
    pub fn response(leader: i32) -> Vec<u8> {
        let mut body = Body::default()
            .i16(0)
            .varint(2)
            .compact_string(super::METADATA_TOPIC)
            .varint(2)
            .i32(0)
            .i16(0)
            .i32(leader)
            .i32(4)
            .i64(100)
            .varint(4);
        for voter in 0..3 {
            body = body.i32(voter).i64(100).varint(0);
        }
        body.varint(1).varint(0).varint(0).varint(0).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_leader_is_read() {
        assert_eq!(parse(&fake::response(2)), Ok(2));
        assert!(parse(&fake::response(-1)).unwrap_err().contains("electing"));
    }

    #[test]
    fn the_request_asks_for_the_metadata_partition() {
        let body = request_body();
        assert_eq!(body[0], 2);
        assert_eq!(&body[2..20], METADATA_TOPIC.as_bytes());
        assert_eq!(body.len(), 1 + 1 + 18 + 1 + 4 + 3);
    }

    #[test]
    fn a_short_answer_is_an_error() {
        let full = fake::response(1);
        assert!(parse(&full[..5]).unwrap_err().contains("cut short"));
    }
}
