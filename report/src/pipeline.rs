//! Reading a result set on two cores. An archive can only be inflated in order, and
//! handing what one thread inflates to another costs more than it saves: every byte then
//! crosses between the cores' caches, and the inflating slows to a third of its speed. So
//! each thread reads the whole result set on its own (inflating is the cheap part: a
//! fifth of the parse), and parses only its share of the documents, skipping the others:
//! the share is dealt by the sizes the archive announces, the same way on both threads,
//! so that each parses about half.
//!
//! A profile document is parsed piece by piece as it is inflated (`piece`,
//! `ProfileStream`), in a buffer that stays in cache; a test-case document, small, is
//! read whole.
//!
//! Outcomes are merged strictly in document order, so the summary — down to which of two
//! equally slow calls is "the slowest", and which error is reported — is the one reading
//! the documents one by one would give. A document parsed in pieces only knows where it
//! failed as a byte offset: its error is worded again from the document read whole, by
//! line and column as ever.

use super::gzip::Checksum;
use super::json::JsonError;
use super::piece::{PieceError, Pieces};
use super::profile::{ProfileDetails, ProfileStream, read_profile, read_test_case_ran};
use super::source::{DocumentKind, Origin, Scan};
use super::{Collector, ReportError};
use std::collections::BTreeMap;
use std::io::{self, Read};
use std::panic::AssertUnwindSafe;
use std::path::Path;

/// The text of one piece: small enough to stay in cache while it is parsed.
const PIECE_BYTES: usize = 256 * 1024;
/// Room in front of a piece for the step the walk could not finish in the piece before
/// (an evidence item is about half a kilobyte).
const ROOM_BYTES: usize = 16 * 1024;
/// What a document costs to parse beyond its bytes, in bytes: the share of a run's
/// thousands of small test-case documents is dealt by their number as much as by size.
const DOCUMENT_COST: u64 = 4 * 1024;

/// What one document holds for the summary.
pub(crate) enum Parsed {
    Profile(ProfileDetails),
    TestCase { ran: bool },
}

/// Parses a whole document.
fn parse_bytes(kind: DocumentKind, document: &[u8]) -> Result<Parsed, JsonError> {
    match kind {
        DocumentKind::Profile => read_profile(document).map(Parsed::Profile),
        DocumentKind::TestCase => read_test_case_ran(document).map(|ran| Parsed::TestCase { ran }),
    }
}

/// A parse's outcome, a panic included: it is resumed on the merging thread, as if the
/// document had been parsed there.
type Outcome = std::thread::Result<Result<Parsed, JsonError>>;

/// Reads the result set at `path` into a [`Collector`]; also says whether test-case
/// details were there.
pub(crate) fn collect(path: &Path) -> Result<(Collector, bool), ReportError> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let shares = std::thread::scope(|scope| {
        // That thread verifies the archives' checksums; this one, which merges and writes
        // the report after, does not: about the same work for both.
        let other = (cores > 1)
            .then(|| {
                std::thread::Builder::new()
                    .name("report-read".into())
                    .spawn_scoped(scope, move || read_share(path, 0, 2, Checksum::Verify))
                    .ok()
            })
            .flatten();
        match other {
            Some(other) => {
                let mine = read_share(path, 1, 2, Checksum::Skip);
                let theirs = other
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
                vec![theirs, mine]
            }
            // On a single core, or without a thread, everything is done on this one.
            None => vec![read_share(path, 0, 1, Checksum::Verify)],
        }
    });
    let test_cases_present = shares.iter().any(|share| share.test_cases_present);
    let collector = merge(shares).map_err(|(error, index)| match error {
        ReportError::Json { origin, error } if !error.has_line() => {
            let error = reworded(path, index).unwrap_or(error);
            ReportError::Json { origin, error }
        }
        error => error,
    })?;
    Ok((collector, test_cases_present))
}

/// What one thread read: the outcomes of its share of the documents, and how its reading
/// of the whole set ended.
struct Share {
    /// Which reader parses each document handed out so far.
    owners: Vec<usize>,
    outcomes: BTreeMap<usize, (Origin, Outcome)>,
    scanned: Result<(), ReportError>,
    test_cases_present: bool,
}

/// Reads the whole result set, parsing the documents that fall to reader `me` of
/// `readers`.
fn read_share(path: &Path, me: usize, readers: usize, checksum: Checksum) -> Share {
    let mut loads = vec![0u64; readers];
    let mut owners = Vec::new();
    let mut outcomes = BTreeMap::new();
    let mut buffer = Vec::new();
    let mut scan = Scan::new(|kind, origin: &Origin, reader: &mut dyn Read, size: u64| {
        // The least loaded reader so far; the same on every thread.
        let (owner, load) = (loads.iter_mut().enumerate())
            .min_by_key(|(_, load)| **load)
            .expect("at least one reader");
        *load += size.saturating_add(DOCUMENT_COST);
        let index = owners.len();
        owners.push(owner);
        if owner != me {
            // Read past it here, in a buffer large enough for inflating to be quick (the
            // archive's own skipping inflates a few kilobytes at a time).
            return skip(reader, &mut buffer).map_err(|error| ReportError::Read {
                origin: origin.clone(),
                error,
            });
        }
        let read = std::panic::catch_unwind(AssertUnwindSafe(|| {
            parse_document(kind, reader, &mut buffer)
        }));
        let outcome = match read {
            Ok(Ok(parsed)) => Ok(parsed),
            Ok(Err(error)) => {
                return Err(ReportError::Read {
                    origin: origin.clone(),
                    error,
                });
            }
            Err(panic) => Err(panic),
        };
        outcomes.insert(index, (origin.clone(), outcome));
        Ok(())
    })
    .checksum(checksum);
    let scanned = scan.run(path);
    let test_cases_present = scan.test_cases_present;
    Share {
        owners,
        outcomes,
        scanned,
        test_cases_present,
    }
}

/// Reads a document to its end, unparsed, in `buffer`.
fn skip(reader: &mut dyn Read, buffer: &mut Vec<u8>) -> io::Result<()> {
    if buffer.len() < PIECE_BYTES {
        buffer.resize(PIECE_BYTES, 0);
    }
    loop {
        match reader.read(buffer) {
            Ok(0) => return Ok(()),
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
}

/// Reads and parses one document. A read error comes first: a document that cannot be
/// read is reported as such, whatever its text.
fn parse_document(
    kind: DocumentKind,
    reader: &mut dyn Read,
    buffer: &mut Vec<u8>,
) -> io::Result<Result<Parsed, JsonError>> {
    let parsed = match kind {
        DocumentKind::TestCase => {
            buffer.clear();
            reader.read_to_end(buffer)?;
            return Ok(parse_bytes(kind, buffer));
        }
        DocumentKind::Profile => parse_pieces(reader, buffer)?,
    };
    if parsed.is_err() {
        // The rest of the document, unparsed, must still read.
        skip(reader, buffer)?;
    }
    Ok(parsed.map(Parsed::Profile))
}

/// Parses a profile document piece by piece as it is read, in `buffer`.
fn parse_pieces(
    reader: &mut dyn Read,
    buffer: &mut Vec<u8>,
) -> io::Result<Result<ProfileDetails, JsonError>> {
    let mut pieces = Pieces::new(ROOM_BYTES, PIECE_BYTES);
    let mut stream = ProfileStream::default();
    loop {
        let mut piece = match pieces.read(reader, std::mem::take(buffer)) {
            Ok(piece) => piece,
            Err((error, kept)) => {
                *buffer = kept;
                return match error {
                    PieceError::Read(error) => Err(error),
                    PieceError::NotUtf8(offset) => Ok(Err(JsonError::not_utf8(offset))),
                };
            }
        };
        let walked = stream.walk(&mut piece);
        *buffer = piece.into_buffer();
        match walked {
            Ok(None) => {}
            Ok(Some(details)) => return Ok(Ok(details)),
            Err(error) => return Ok(Err(error)),
        }
    }
}

/// The readers' outcomes in document order, into one collector; or the first error in
/// that order, with the number of the document it is about.
fn merge(mut shares: Vec<Share>) -> Result<Collector, (ReportError, usize)> {
    let mut collector = Collector::default();
    let handed = shares
        .iter()
        .map(|share| share.owners.len())
        .max()
        .unwrap_or(0);
    for index in 0..handed {
        let owner = shares
            .iter()
            .find_map(|share| share.owners.get(index).copied())
            .unwrap_or(0);
        let share = &mut shares[owner];
        let Some((origin, outcome)) = share.outcomes.remove(&index) else {
            // Its reader stopped before it (a read error), or the set changed meanwhile.
            let scanned = std::mem::replace(&mut share.scanned, Ok(()));
            let error = scanned.err().unwrap_or_else(|| ReportError::Read {
                origin: Origin::default(),
                error: io::Error::other("the result set changed while it was read"),
            });
            return Err((error, index));
        };
        match outcome {
            Ok(Ok(parsed)) => collector.add(parsed),
            Ok(Err(error)) => return Err((ReportError::Json { origin, error }, index)),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
    for share in shares {
        share.scanned.map_err(|error| (error, handed))?;
    }
    Ok(collector)
}

/// The error of document number `index` of the result set, read whole this time: worded
/// by line and column. `None` if it reads without one now (it changed meanwhile).
fn reworded(path: &Path, index: usize) -> Option<JsonError> {
    let mut seen = 0;
    let mut error = None;
    let mut scan = Scan::new(|kind, origin: &Origin, reader: &mut dyn Read, _| {
        if seen < index {
            seen += 1;
            return Ok(());
        }
        let mut document = Vec::new();
        if reader.read_to_end(&mut document).is_ok() {
            error = parse_bytes(kind, &document).err();
        }
        // Nothing after it is needed: end the scan here.
        Err(ReportError::Read {
            origin: origin.clone(),
            error: io::Error::other("found"),
        })
    });
    let _ = scan.run(path);
    error
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Summary;
    use crate::archive::TarGzWriter;
    use std::fmt::Write as _;
    use std::path::PathBuf;

    /// A profile document of `calls` timed calls over three methods, with many ties.
    fn profile(name: &str, calls: usize, seed: usize) -> String {
        let mut text = format!(
            r#"{{"class":"ProfileReportResponse","profileResult":{{"name":"{name}","requirementResults":[{{"positiveTestEvidence":["#
        );
        for call in 0..calls {
            let separator = if call == 0 { "" } else { "," };
            let _ = write!(
                text,
                r#"{separator}{{"testCaseId":"tc-{call}","testEvidenceType":"SUCCESSFUL_ASSERTION","assertionId":"{name}-{seed}-{call}","methodName":"m{}","elapsedTime":{}}}"#,
                call % 3,
                (call * seed) % 101
            );
        }
        text + "]}]}}"
    }

    fn tarball(dir: &Path, entries: &[(String, Vec<u8>)]) -> PathBuf {
        let path = dir.join("pd.tar.gz");
        let mut archive = TarGzWriter::new(Vec::new());
        for (name, contents) in entries {
            archive.add_file(name, contents).unwrap();
        }
        std::fs::write(&path, archive.finish().unwrap()).unwrap();
        path
    }

    /// What reading the documents one by one, in order, gives.
    fn one_by_one(path: &Path, entries: &[(String, Vec<u8>)]) -> Summary {
        let mut collector = Collector::default();
        for (name, contents) in entries {
            let kind = match name.starts_with("profile-details/") {
                true => DocumentKind::Profile,
                false => DocumentKind::TestCase,
            };
            collector.add(parse_bytes(kind, contents).unwrap());
        }
        collector.into_summary(path, Vec::new())
    }

    fn collected(path: &Path) -> Result<Summary, ReportError> {
        collect(path).map(|(collector, _)| collector.into_summary(path, Vec::new()))
    }

    #[test]
    fn documents_read_on_two_threads_add_up_as_one_by_one() {
        let dir = tempfile::tempdir().unwrap();
        // Large ones (many pieces), middling ones (one piece), small ones (parsed whole, on
        // this thread); one profile in two documents, whose ties the first wins.
        let mut entries = Vec::new();
        for (index, calls) in [22_000, 900, 30, 25_000, 1_200, 20_000]
            .into_iter()
            .enumerate()
        {
            let name = ["A", "B", "A"][index % 3];
            let document = profile(name, calls, index + 3);
            entries.push((
                format!("profile-details/{name}{index}.json"),
                document.into_bytes(),
            ));
        }
        for ran in [true, false] {
            let document = match ran {
                true => r#"{"class":"x","testCaseResult":{}}"#,
                false => r#"{"class":"x"}"#,
            };
            entries.push((format!("test-case-details/{ran}.json"), document.into()));
        }
        let path = tarball(dir.path(), &entries);
        let summary = collected(&path).unwrap();
        assert_eq!(summary, one_by_one(&path, &entries));
        assert_eq!(summary.pairs.len(), 6);
        assert_eq!(summary.not_run_test_cases, 1);
        // Whatever the cores here: two readers, each with a share, merge to the same.
        let shares = vec![
            read_share(&path, 0, 2, Checksum::Verify),
            read_share(&path, 1, 2, Checksum::Skip),
        ];
        let parsed: Vec<usize> = shares.iter().map(|share| share.outcomes.len()).collect();
        assert!(parsed.iter().all(|&count| count >= 3), "{parsed:?}");
        let merged = merge(shares).ok().unwrap();
        assert_eq!(merged.into_summary(&path, Vec::new()), summary);
    }

    #[test]
    fn a_damaged_checksum_is_found_though_one_reader_trusts_it() {
        let dir = tempfile::tempdir().unwrap();
        let entries: Vec<_> = (0..4)
            .map(|index| {
                let name = format!("P{index}");
                let document = profile(&name, 5_000, index + 2).into_bytes();
                (format!("profile-details/{name}.json"), document)
            })
            .collect();
        let path = tarball(dir.path(), &entries);
        let mut damaged = std::fs::read(&path).unwrap();
        let crc = damaged.len() - 8;
        damaged[crc] ^= 1;
        std::fs::write(&path, damaged).unwrap();
        match collected(&path) {
            Err(ReportError::Read { origin, error }) => {
                assert_eq!(origin.file, path);
                assert_eq!(
                    error.to_string(),
                    "gzip checksum mismatch: the archive is damaged"
                );
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn the_first_error_in_document_order_is_the_one_reported() {
        let dir = tempfile::tempdir().unwrap();
        // Both many pieces long, their errors far into them.
        let mut broken = profile("B", 20_000, 5).into_bytes();
        let at = broken.len() / 2;
        broken[at] = b'!';
        let mut not_utf8 = profile("C", 20_000, 7).into_bytes();
        not_utf8[at] = 0xff;
        let entries = [
            (
                "profile-details/A.json".to_owned(),
                profile("A", 22_000, 3).into_bytes(),
            ),
            ("profile-details/B.json".to_owned(), broken.clone()),
            ("profile-details/C.json".to_owned(), not_utf8),
            (
                "profile-details/D.json".to_owned(),
                profile("D", 22_000, 3).into_bytes(),
            ),
        ];
        let path = tarball(dir.path(), &entries);
        // Cut short in the last document too: the error of the second still comes first.
        let whole = std::fs::read(&path).unwrap();
        std::fs::write(&path, &whole[..whole.len() * 9 / 10]).unwrap();
        let expected = read_profile(&broken).err().unwrap().to_string();
        match collected(&path) {
            Err(ReportError::Json { origin, error }) => {
                assert_eq!(origin.entries, ["profile-details/B.json"]);
                assert_eq!(error.to_string(), expected);
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
        // Without it, the third: not UTF-8, worded as the parser words it.
        let entries = [entries[0].clone(), entries[2].clone()];
        let path = tarball(dir.path(), &entries);
        let expected = read_profile(&entries[1].1).err().unwrap().to_string();
        match collected(&path) {
            Err(ReportError::Json { origin, error }) => {
                assert_eq!(origin.entries, ["profile-details/C.json"]);
                assert_eq!(error.to_string(), expected);
                assert!(expected.starts_with("invalid UTF-8"), "{expected}");
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
}
