//! Kafka's wire format, as much of it as the lab speaks: size-prefixed frames, request
//! headers v1 (classic) and v2 (flexible), and big-endian readers that fail, rather than
//! panic, on a short or foreign answer. Written from the protocol guide
//! (<https://kafka.apache.org/protocol>).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CLIENT_ID: &str = "egeria-ha-lab";
/// The lab's answers are a few kilobytes at most; anything near this is not one.
const MAX_RESPONSE_BYTES: usize = 1 << 20;

/// One API at one version, and whether that version uses the flexible (compact,
/// tagged-field) encoding.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Api {
    pub key: i16,
    pub version: i16,
    pub flexible: bool,
    /// How the API is named in errors.
    pub name: &'static str,
}

/// A size-prefixed request: header (v1, or v2 for a flexible version), then `body`.
pub(crate) fn request(api: Api, correlation_id: i32, body: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(body.len() + 32);
    frame.extend([0; 4]);
    frame.extend(api.key.to_be_bytes());
    frame.extend(api.version.to_be_bytes());
    frame.extend(correlation_id.to_be_bytes());
    put_string(&mut frame, CLIENT_ID);
    if api.flexible {
        frame.push(0); // no tagged fields
    }
    frame.extend(body);
    let size = (frame.len() - 4) as i32;
    frame[..4].copy_from_slice(&size.to_be_bytes());
    frame
}

/// Sends one request to `broker` and returns the response body after its header.
pub(crate) async fn exchange(broker: &str, api: Api, body: &[u8]) -> Result<Vec<u8>, String> {
    const CORRELATION_ID: i32 = 1;
    let mut stream = TcpStream::connect(broker)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    stream
        .write_all(&request(api, CORRELATION_ID, body))
        .await
        .map_err(|e| format!("sending the {} request: {e}", api.name))?;
    let reading = |e: std::io::Error| format!("reading the {} response: {e}", api.name);
    let mut size = [0u8; 4];
    stream.read_exact(&mut size).await.map_err(reading)?;
    let size = usize::try_from(i32::from_be_bytes(size)).unwrap_or(usize::MAX);
    if !(4..=MAX_RESPONSE_BYTES).contains(&size) {
        return Err(format!(
            "not a Kafka {} response (frame of {size} bytes)",
            api.name
        ));
    }
    let mut frame = vec![0u8; size];
    stream.read_exact(&mut frame).await.map_err(reading)?;
    let mut reader = Cursor::new(&frame);
    let correlation = reader.i32()?;
    if correlation != CORRELATION_ID {
        return Err(format!(
            "answer to another request (correlation id {correlation})"
        ));
    }
    if api.flexible {
        reader.skip_tagged_fields()?;
    }
    Ok(frame[reader.at..].to_vec())
}

pub(crate) fn put_string(buffer: &mut Vec<u8>, text: &str) {
    buffer.extend((text.len() as i16).to_be_bytes());
    buffer.extend(text.as_bytes());
}

pub(crate) fn put_unsigned_varint(buffer: &mut Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        buffer.push((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    buffer.push(value as u8);
}

/// A compact string: its length plus one as an unsigned varint, then UTF-8.
pub(crate) fn put_compact_string(buffer: &mut Vec<u8>, text: &str) {
    put_unsigned_varint(buffer, text.len() as u32 + 1);
    buffer.extend(text.as_bytes());
}

/// Big-endian reads over one response body.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Self { bytes, at: 0 }
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], String> {
        let taken = self
            .bytes
            .get(self.at..self.at + count)
            .ok_or_else(|| format!("response cut short at byte {}", self.at))?;
        self.at += count;
        Ok(taken)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        Ok(self.take(N)?.try_into().expect("took N bytes"))
    }

    pub fn i8(&mut self) -> Result<i8, String> {
        self.array().map(i8::from_be_bytes)
    }

    pub fn i16(&mut self) -> Result<i16, String> {
        self.array().map(i16::from_be_bytes)
    }

    pub fn i32(&mut self) -> Result<i32, String> {
        self.array().map(i32::from_be_bytes)
    }

    /// An array's length; a null array (-1) is empty.
    pub fn count(&mut self) -> Result<usize, String> {
        Ok(usize::try_from(self.i32()?).unwrap_or(0))
    }

    /// An array of int32 (broker ids).
    pub fn i32_array(&mut self) -> Result<Vec<i32>, String> {
        (0..self.count()?).map(|_| self.i32()).collect()
    }

    /// A (nullable) string: its length as an int16, then UTF-8; -1 is null.
    pub fn string(&mut self) -> Result<Option<String>, String> {
        match usize::try_from(self.i16()?) {
            Ok(length) => self.utf8(length).map(Some),
            Err(_) => Ok(None),
        }
    }

    pub fn unsigned_varint(&mut self) -> Result<u32, String> {
        let mut value = 0u32;
        for shift in (0..35).step_by(7) {
            let byte = self.array::<1>()?[0];
            value |= u32::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(format!("a varint longer than 5 bytes at byte {}", self.at))
    }

    /// A compact array's length; null (0) is empty.
    pub fn compact_count(&mut self) -> Result<usize, String> {
        Ok(self.unsigned_varint()?.saturating_sub(1) as usize)
    }

    /// A compact (nullable) string.
    pub fn compact_string(&mut self) -> Result<Option<String>, String> {
        match self.unsigned_varint()? {
            0 => Ok(None),
            length => self.utf8(length as usize - 1).map(Some),
        }
    }

    pub fn skip_tagged_fields(&mut self) -> Result<(), String> {
        for _ in 0..self.unsigned_varint()? {
            self.unsigned_varint()?;
            let size = self.unsigned_varint()? as usize;
            self.take(size)?;
        }
        Ok(())
    }

    fn utf8(&mut self, length: usize) -> Result<String, String> {
        let at = self.at;
        let bytes = self.take(length)?;
        String::from_utf8(bytes.to_vec())
            .map_err(|_| format!("a string that is not UTF-8 at byte {at}"))
    }
}

/// Kafka's error codes that the lab's answers can carry, by Kafka's names.
pub(crate) fn error_name(code: i16) -> String {
    match code {
        3 => "UNKNOWN_TOPIC_OR_PARTITION (the topic does not exist)".into(),
        5 => "LEADER_NOT_AVAILABLE (a leader election is under way)".into(),
        6 => "NOT_LEADER_OR_FOLLOWER".into(),
        7 => "REQUEST_TIMED_OUT".into(),
        15 => "COORDINATOR_NOT_AVAILABLE".into(),
        19 => "NOT_ENOUGH_REPLICAS".into(),
        29 => "TOPIC_AUTHORIZATION_FAILED".into(),
        36 => "TOPIC_ALREADY_EXISTS".into(),
        38 => "INVALID_REPLICATION_FACTOR".into(),
        39 => "INVALID_REPLICA_ASSIGNMENT".into(),
        41 => "NOT_CONTROLLER".into(),
        other => format!("Kafka error code {other}"),
    }
}

/// Builds bodies field by field in the order the protocol guide lists them, for the
/// tests' fake brokers.
#[cfg(test)]
#[derive(Default)]
pub(crate) struct Body(pub Vec<u8>);

#[cfg(test)]
impl Body {
    pub fn i8(mut self, value: i8) -> Self {
        self.0.extend(value.to_be_bytes());
        self
    }
    pub fn i16(mut self, value: i16) -> Self {
        self.0.extend(value.to_be_bytes());
        self
    }
    pub fn i32(mut self, value: i32) -> Self {
        self.0.extend(value.to_be_bytes());
        self
    }
    pub fn i64(mut self, value: i64) -> Self {
        self.0.extend(value.to_be_bytes());
        self
    }
    pub fn string(self, text: &str) -> Self {
        let mut body = self.i16(text.len() as i16);
        body.0.extend(text.as_bytes());
        body
    }
    pub fn varint(mut self, value: u32) -> Self {
        put_unsigned_varint(&mut self.0, value);
        self
    }
    pub fn compact_string(mut self, text: &str) -> Self {
        put_compact_string(&mut self.0, text);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for value in [0, 1, 127, 128, 300, 16_384, u32::MAX] {
            let mut buffer = Vec::new();
            put_unsigned_varint(&mut buffer, value);
            assert_eq!(Cursor::new(&buffer).unsigned_varint(), Ok(value));
        }
        let endless = [0xff; 6];
        assert!(Cursor::new(&endless).unsigned_varint().is_err());
    }

    #[test]
    fn a_flexible_header_ends_with_empty_tagged_fields() {
        let api = Api {
            key: 55,
            version: 0,
            flexible: true,
            name: "test",
        };
        let frame = request(api, 7, &[9]);
        let expected: Vec<u8> = [
            &[0, 0, 0, 25][..],
            &[0, 55, 0, 0, 0, 0, 0, 7],
            &[0, 13],
            b"egeria-ha-lab",
            &[0, 9],
        ]
        .concat();
        assert_eq!(frame, expected);
    }

    #[test]
    fn short_bodies_are_errors() {
        let mut cursor = Cursor::new(&[0, 1]);
        assert!(cursor.i32().unwrap_err().contains("cut short at byte 0"));
        let mut cursor = Cursor::new(&[5, b'a']);
        assert!(cursor.compact_string().unwrap_err().contains("cut short"));
    }
}
