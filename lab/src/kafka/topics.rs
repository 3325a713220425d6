//! Creating the lab's topics: one CreateTopics request (API key 19, version 2), which a
//! KRaft broker forwards to the active controller. An existing topic is left as it is.

use super::wire::{Api, Cursor, error_name, put_string};

const CREATE_TOPICS: Api = Api {
    key: 19,
    version: 2,
    flexible: false,
    name: "create-topics",
};

const TOPIC_ALREADY_EXISTS: i16 = 36;

/// One single-partition topic, its replicas on `replicas` in that order: the first is
/// its preferred leader.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub replicas: Vec<i32>,
    pub configs: Vec<(&'static str, &'static str)>,
}

/// Creates every topic of `specs` that does not exist yet.
pub(super) async fn create(
    broker: &str,
    specs: &[TopicSpec],
    timeout_ms: i32,
) -> Result<(), super::Refusal> {
    let body = super::wire::exchange(broker, CREATE_TOPICS, &request_body(specs, timeout_ms))
        .await
        .map_err(super::Refusal::Broker)?;
    let refused = parse(&body).map_err(super::Refusal::Broker)?;
    if refused.is_empty() {
        Ok(())
    } else {
        Err(super::Refusal::Cluster(refused.join("; ")))
    }
}

fn request_body(specs: &[TopicSpec], timeout_ms: i32) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend((specs.len() as i32).to_be_bytes());
    for spec in specs {
        put_string(&mut body, &spec.name);
        // Partitions and replication factor follow from the explicit assignment.
        body.extend((-1i32).to_be_bytes());
        body.extend((-1i16).to_be_bytes());
        body.extend(1i32.to_be_bytes());
        body.extend(0i32.to_be_bytes());
        body.extend((spec.replicas.len() as i32).to_be_bytes());
        for replica in &spec.replicas {
            body.extend(replica.to_be_bytes());
        }
        body.extend((spec.configs.len() as i32).to_be_bytes());
        for (name, value) in &spec.configs {
            put_string(&mut body, name);
            put_string(&mut body, value);
        }
    }
    body.extend(timeout_ms.to_be_bytes());
    body.push(0); // validate_only: false
    body
}

/// The topics the cluster refused, each with its reason; an existing topic is no refusal.
fn parse(body: &[u8]) -> Result<Vec<String>, String> {
    let mut reader = Cursor::new(body);
    reader.i32()?;
    let mut refused = Vec::new();
    for _ in 0..reader.count()? {
        let name = reader.string()?.unwrap_or_default();
        let error = reader.i16()?;
        let message = reader.string()?;
        if error != 0 && error != TOPIC_ALREADY_EXISTS {
            let detail = message.map(|m| format!(": {m}")).unwrap_or_default();
            refused.push(format!("topic {name}: {}{detail}", error_name(error)));
        }
    }
    Ok(refused)
}

/// CreateTopics answers for the tests' fake brokers.
#[cfg(test)]
pub(crate) mod fake {
    use crate::kafka::wire::Body;

    /// Every topic of `outcomes` with its error code (0: created).
    pub fn response(outcomes: &[(&str, i16)]) -> Vec<u8> {
        let mut body = Body::default().i32(0).i32(outcomes.len() as i32);
        for (name, error) in outcomes {
            body = body.string(name).i16(*error).i16(-1);
        }
        body.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn existing_topics_are_no_refusal_and_others_are_named() {
        let body = fake::response(&[("a", 0), ("b", TOPIC_ALREADY_EXISTS), ("c", 38)]);
        assert_eq!(
            parse(&body).unwrap(),
            ["topic c: INVALID_REPLICATION_FACTOR"]
        );
    }

    #[test]
    fn the_request_assigns_the_replicas_and_configs() {
        let spec = TopicSpec {
            name: "t".into(),
            replicas: vec![0, 1, 2],
            configs: vec![("retention.ms", "-1")],
        };
        let body = request_body(&[spec], 5000);
        let expected: Vec<u8> = [
            &[0, 0, 0, 1, 0, 1, b't'][..],
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            &[
                0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 2,
            ],
            &[0, 0, 0, 1, 0, 12],
            b"retention.ms",
            &[0, 2, b'-', b'1'],
            &[0, 0, 0x13, 0x88, 0],
        ]
        .concat();
        assert_eq!(body, expected);
    }
}
