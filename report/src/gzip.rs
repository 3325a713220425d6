//! Reading one gzip member (RFC 1952): its header, the deflate stream, and the trailer
//! that checks both the CRC-32 and the length of what was inflated.
//!
//! flate2's `GzDecoder` does the same, but checksums with zlib-rs's CRC-32, which on
//! this machine took as long again as inflating itself (20 ms for 0.3 GB; crc32fast
//! takes 6 ms): on the report's critical path, where one thread inflates while the other
//! parses, that difference is most of the margin.

use flate2::bufread::DeflateDecoder;
use std::io::{self, BufRead, Read};

const MAGIC: [u8; 2] = [0x1f, 0x8b];
const DEFLATE: u8 = 8;
const FLAG_HEADER_CRC: u8 = 0x02;
const FLAG_EXTRA: u8 = 0x04;
const FLAG_NAME: u8 = 0x08;
const FLAG_COMMENT: u8 = 0x10;
const FLAGS_RESERVED: u8 = 0xe0;

/// Whether the trailer's CRC-32 is checked (its length always is).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Checksum {
    Verify,
    /// Another reader of the same archive verifies it.
    Skip,
}

/// The inflated contents of the gzip member at the start of a reader; bytes after the
/// member (another member, or padding) are left unread.
pub(crate) struct GzipMember<R> {
    inflated: DeflateDecoder<R>,
    /// `None` when the checksum is not verified.
    crc: Option<crc32fast::Hasher>,
    length: u32,
    /// Set once the trailer has been checked: reads give end of file.
    done: bool,
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

/// Reads exactly `buffer.len()` bytes, naming what was cut short if the input ends.
fn read_part(reader: &mut impl Read, buffer: &mut [u8], part: &str) -> io::Result<()> {
    reader
        .read_exact(buffer)
        .map_err(|error| match error.kind() {
            io::ErrorKind::UnexpectedEof => io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("the gzip {part} is cut short"),
            ),
            _ => error,
        })
}

impl<R: BufRead> GzipMember<R> {
    /// Reads and checks the member's header.
    pub fn new(mut reader: R, checksum: Checksum) -> io::Result<Self> {
        let mut header = [0; 10];
        read_part(&mut reader, &mut header, "header")?;
        if header[..2] != MAGIC {
            return Err(invalid("not a gzip member (no gzip magic number)"));
        }
        if header[2] != DEFLATE {
            return Err(invalid("gzip member not compressed with deflate"));
        }
        let flags = header[3];
        if flags & FLAGS_RESERVED != 0 {
            return Err(invalid("gzip header with reserved flags set"));
        }
        if flags & FLAG_EXTRA != 0 {
            let mut length = [0; 2];
            read_part(&mut reader, &mut length, "header")?;
            let mut extra = vec![0; usize::from(u16::from_le_bytes(length))];
            read_part(&mut reader, &mut extra, "header")?;
        }
        for flag in [FLAG_NAME, FLAG_COMMENT] {
            if flags & flag != 0 {
                let mut text = Vec::new();
                reader.read_until(0, &mut text)?;
                if text.last() != Some(&0) {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the gzip header is cut short",
                    ));
                }
            }
        }
        if flags & FLAG_HEADER_CRC != 0 {
            read_part(&mut reader, &mut [0; 2], "header")?;
        }
        Ok(GzipMember {
            inflated: DeflateDecoder::new(reader),
            crc: (checksum == Checksum::Verify).then(crc32fast::Hasher::new),
            length: 0,
            done: false,
        })
    }

    /// Checks the trailer against what was inflated.
    fn check_trailer(&mut self) -> io::Result<()> {
        let mut trailer = [0; 8];
        read_part(self.inflated.get_mut(), &mut trailer, "trailer")?;
        let [c0, c1, c2, c3, l0, l1, l2, l3] = trailer;
        if let Some(crc) = &self.crc
            && u32::from_le_bytes([c0, c1, c2, c3]) != crc.clone().finalize()
        {
            return Err(invalid("gzip checksum mismatch: the archive is damaged"));
        }
        if u32::from_le_bytes([l0, l1, l2, l3]) != self.length {
            return Err(invalid("gzip length mismatch: the archive is damaged"));
        }
        self.done = true;
        Ok(())
    }
}

impl<R: BufRead> Read for GzipMember<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        if self.done || buffer.is_empty() {
            return Ok(0);
        }
        let read = self.inflated.read(buffer)?;
        if read == 0 {
            self.check_trailer()?;
            return Ok(0);
        }
        if let Some(crc) = &mut self.crc {
            crc.update(&buffer[..read]);
        }
        // The trailer holds the length modulo 2³².
        self.length = self.length.wrapping_add(read as u32);
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compression, GzBuilder};
    use std::io::Write;

    fn gzip(contents: &[u8], named: bool) -> Vec<u8> {
        let mut builder = GzBuilder::new().extra(b"xx".to_vec()).comment("c");
        if named {
            builder = builder.filename("pd.tar");
        }
        let mut encoder = builder.write(Vec::new(), Compression::default());
        encoder.write_all(contents).unwrap();
        encoder.finish().unwrap()
    }

    fn inflate(member: &[u8], checksum: Checksum) -> io::Result<Vec<u8>> {
        let mut inflated = Vec::new();
        GzipMember::new(member, checksum)?.read_to_end(&mut inflated)?;
        Ok(inflated)
    }

    #[test]
    fn a_member_with_every_header_field_inflates_and_stops_at_its_end() {
        let contents = b"{\"profileResult\":{}}".repeat(1000);
        let mut two = gzip(&contents, true);
        let first_length = two.len();
        two.extend(gzip(b"next", false));
        let mut reader = &two[..];
        let mut inflated = Vec::new();
        GzipMember::new(&mut reader, Checksum::Verify)
            .unwrap()
            .read_to_end(&mut inflated)
            .unwrap();
        assert_eq!(inflated, contents);
        assert_eq!(reader.len(), two.len() - first_length);
    }

    #[test]
    fn damage_is_an_error_never_silent() {
        let contents = b"0123456789".repeat(100);
        let member = gzip(&contents, false);
        let message = |member: &[u8]| inflate(member, Checksum::Verify).unwrap_err().to_string();
        // A changed checksum, a changed length, a cut trailer, a cut header.
        let mut bad_crc = member.clone();
        let at = bad_crc.len() - 8;
        bad_crc[at] ^= 1;
        assert_eq!(
            message(&bad_crc),
            "gzip checksum mismatch: the archive is damaged"
        );
        let mut bad_length = member.clone();
        let at = bad_length.len() - 1;
        bad_length[at] ^= 1;
        assert_eq!(
            message(&bad_length),
            "gzip length mismatch: the archive is damaged"
        );
        assert_eq!(
            message(&member[..member.len() - 3]),
            "the gzip trailer is cut short"
        );
        assert_eq!(message(&member[..6]), "the gzip header is cut short");
        // Skipped, a changed checksum passes; a changed length still does not.
        assert_eq!(inflate(&bad_crc, Checksum::Skip).unwrap(), contents);
        assert!(inflate(&bad_length, Checksum::Skip).is_err());
        assert!(message(b"PK\x03\x04 not gzip").contains("no gzip magic"));
    }
}
