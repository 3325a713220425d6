//! Reading a result set on two cores. This thread decompresses the archive (it can only
//! be read in order) while another parses the document read before. Profile documents
//! are few and large, so the parsing of each is shared (`parts`): the other thread walks
//! it from its start, and this one, whenever it would otherwise wait for a buffer, parses
//! parts of it from its end, until they meet.
//!
//! Results are merged strictly in document order, so the summary — down to which of two
//! equally slow calls is "the slowest", and which error is reported — is the one reading
//! the documents one by one would give.
//!
//! Memory stays bounded: a document is read only while the buffers alive, plus its
//! announced size, stay within [`BUDGET_BYTES`] (or when no other document is in flight,
//! so a single larger document still works); buffers are reused, not freed and faulted in
//! again.

use super::json::JsonError;
use super::parts::Parts;
use super::profile::{
    ProfileDetails, read_profile, read_profile_text, read_test_case_ran, read_test_case_text,
};
use super::source::{DocumentKind, Origin, Scan};
use super::{Collector, ReportError};
use checked::{Document, Text};
use std::collections::{BTreeMap, VecDeque};
use std::io::{self, Read};
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};

/// Documents smaller than this are parsed where they are read: handing them to another
/// thread costs more than parsing them (a run's test-case details are thousands of these).
const INLINE_BYTES: u64 = 64 * 1024;
/// Bytes of document buffers alive at once, unless a single document is larger.
const BUDGET_BYTES: usize = 32 * 1024 * 1024;
/// How much a document buffer grows by when a document does not fit.
const GROWTH_BYTES: usize = 1024 * 1024;
/// One document being parsed, the next being read.
const MAX_BUFFERS: usize = 2;

/// What one document holds for the summary.
pub(crate) enum Parsed {
    Profile(ProfileDetails),
    TestCase { ran: bool },
}

/// Parses a document not yet known to be UTF-8.
fn parse_bytes(kind: DocumentKind, document: &[u8]) -> Result<Parsed, JsonError> {
    match kind {
        DocumentKind::Profile => read_profile(document).map(Parsed::Profile),
        DocumentKind::TestCase => read_test_case_ran(document).map(|ran| Parsed::TestCase { ran }),
    }
}

/// Parses a document known to be UTF-8, sharing its `parts` with this thread.
fn parse_text(kind: DocumentKind, text: &str, parts: Option<&Parts>) -> Result<Parsed, JsonError> {
    match kind {
        DocumentKind::Profile => read_profile_text(text, parts).map(Parsed::Profile),
        DocumentKind::TestCase => read_test_case_text(text).map(|ran| Parsed::TestCase { ran }),
    }
}

/// A parse's outcome, a panic included: it is resumed on the reading thread, as if the
/// document had been parsed there.
type Outcome = std::thread::Result<Result<Parsed, JsonError>>;

struct Job {
    index: usize,
    kind: DocumentKind,
    text: Arc<Text>,
    parts: Option<Arc<Parts>>,
}

struct Done {
    index: usize,
    outcome: Outcome,
    text: Arc<Text>,
}

/// Reads the result set at `path` into a [`Collector`]; also says whether test-case
/// details were there.
pub(crate) fn collect(path: &Path) -> Result<(Collector, bool), ReportError> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let (jobs, queue) = channel::<Job>();
    let (done, finished) = channel::<Done>();
    std::thread::scope(|scope| {
        // On a single core, everything is done in turn on this thread.
        let parser = (cores > 1).then(|| {
            std::thread::Builder::new()
                .name("report-parse".into())
                .spawn_scoped(scope, move || parse_jobs(queue, done))
        });
        // Without that thread (none could be started), the same, only slower.
        let jobs = matches!(parser, Some(Ok(_))).then_some(jobs);
        let mut pipeline = Pipeline::new(jobs, finished);
        let mut scan = Scan::new(|kind, origin: &Origin, reader: &mut dyn Read, size| {
            pipeline.document(kind, origin, reader, size)
        });
        let scanned = scan.run(path);
        let test_cases_present = scan.test_cases_present;
        // Dropping the pipeline's sender (in `finish`, or on the way out) ends the thread.
        let collector = pipeline.finish(scanned)?;
        Ok((collector, test_cases_present))
    })
}

/// The parsing thread: parses documents until the reading thread has no more.
fn parse_jobs(queue: Receiver<Job>, done: Sender<Done>) {
    for job in queue {
        let Job {
            index,
            kind,
            text,
            parts,
        } = job;
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
            parse_text(kind, text.as_str(), parts.as_deref())
        }));
        if done
            .send(Done {
                index,
                outcome,
                text,
            })
            .is_err()
        {
            return;
        }
    }
}

/// The reading thread's side: hands documents out, takes results back, merges them in
/// document order.
struct Pipeline {
    collector: Collector,
    /// `None` when there is no parsing thread: every document is parsed inline.
    jobs: Option<Sender<Job>>,
    finished: Receiver<Done>,
    /// The number of the next document read.
    next: usize,
    /// The number of the next document to merge into the collector.
    next_merged: usize,
    /// Where the documents `next_merged..next` came from.
    origins: VecDeque<Origin>,
    /// Outcomes of documents after `next_merged`, waiting for it.
    outcomes: BTreeMap<usize, Outcome>,
    /// Documents in flight whose parts this thread may help with, oldest first.
    helping: VecDeque<(usize, Arc<Text>, Arc<Parts>)>,
    /// Buffers not in use, kept for the next documents.
    free: Vec<Vec<u8>>,
    /// Buffers alive (free or in flight).
    buffers: usize,
    /// Bytes of all buffers alive.
    held: usize,
    /// The buffer of the documents parsed on this thread, as they are read.
    inline: Vec<u8>,
    /// Whether a merge failed: its error ends the scan, and nothing after it counts.
    failed: bool,
}

impl Pipeline {
    fn new(jobs: Option<Sender<Job>>, finished: Receiver<Done>) -> Self {
        Pipeline {
            collector: Collector::default(),
            jobs,
            finished,
            next: 0,
            next_merged: 0,
            origins: VecDeque::new(),
            outcomes: BTreeMap::new(),
            helping: VecDeque::new(),
            free: Vec::new(),
            buffers: 0,
            held: 0,
            inline: Vec::new(),
            failed: false,
        }
    }

    /// Reads one document of about `size` bytes and parses it, here or on the other thread.
    fn document(
        &mut self,
        kind: DocumentKind,
        origin: &Origin,
        reader: &mut dyn Read,
        size: u64,
    ) -> Result<(), ReportError> {
        let read_error = |error| ReportError::Read {
            origin: origin.clone(),
            error,
        };
        let Some(jobs) = self.jobs.clone().filter(|_| size >= INLINE_BYTES) else {
            let buffer = std::mem::take(&mut self.inline);
            let (outcome, buffer) = match Document::read(reader, buffer, size) {
                Document::Text(text) => (parse_text(kind, text.as_str(), None), text.into_buffer()),
                Document::NotUtf8 { buffer, length } => {
                    (parse_bytes(kind, &buffer[..length]), buffer)
                }
                Document::Failed { buffer, error } => {
                    self.inline = buffer;
                    return Err(read_error(error));
                }
            };
            self.inline = buffer;
            let index = self.pending(origin);
            self.outcomes.insert(index, Ok(outcome));
            return self.merge_ready();
        };
        let buffer = self.admit(size)?;
        let before = buffer.len();
        let document = Document::read(reader, buffer, size);
        self.held += document.buffer_len() - before;
        let text = match document {
            Document::Text(text) => Arc::new(text),
            Document::NotUtf8 { buffer, length } => {
                // The parser words the error.
                let outcome = parse_bytes(kind, &buffer[..length]);
                self.free.push(buffer);
                let index = self.pending(origin);
                self.outcomes.insert(index, Ok(outcome));
                return self.merge_ready();
            }
            Document::Failed { buffer, error } => {
                self.free.push(buffer);
                return Err(read_error(error));
            }
        };
        let index = self.pending(origin);
        let parts = match kind {
            DocumentKind::Profile => Parts::plan(text.as_str().as_bytes()).map(Arc::new),
            DocumentKind::TestCase => None,
        };
        if let Some(parts) = &parts {
            self.helping
                .push_back((index, Arc::clone(&text), Arc::clone(parts)));
        }
        let job = Job {
            index,
            kind,
            text: Arc::clone(&text),
            parts,
        };
        if let Err(unsent) = jobs.send(job) {
            // The parsing thread is gone (it never ends early): parse here instead.
            drop(unsent);
            self.helping.retain(|(helped, ..)| *helped != index);
            let outcome = parse_text(kind, text.as_str(), None);
            self.outcomes.insert(index, Ok(outcome));
            self.release(text);
        }
        self.merge_ready()
    }

    /// Numbers the next document, from `origin`.
    fn pending(&mut self, origin: &Origin) -> usize {
        self.origins.push_back(origin.clone());
        self.next += 1;
        self.next - 1
    }

    /// Takes back the buffer of a parsed document.
    fn release(&mut self, text: Arc<Text>) {
        match Arc::try_unwrap(text) {
            Ok(text) => self.free.push(text.into_buffer()),
            // Still shared (this thread drops its share before asking): let it go.
            Err(text) => {
                self.held -= text.buffer_len();
                self.buffers -= 1;
            }
        }
    }

    /// A buffer for a document of about `size` bytes, once the budget allows one; waits
    /// for documents in flight to be parsed until it does.
    fn admit(&mut self, size: u64) -> Result<Vec<u8>, ReportError> {
        let needed = usize::try_from(size)
            .unwrap_or(usize::MAX)
            .min(BUDGET_BYTES);
        loop {
            let in_flight = self.buffers - self.free.len();
            // The smallest free buffer that holds the document as it is; else the largest,
            // to grow.
            let fitting = (self.free.iter().enumerate())
                .filter(|(_, buffer)| buffer.len() > needed)
                .min_by_key(|(_, buffer)| buffer.len())
                .or_else(|| (self.free.iter().enumerate()).max_by_key(|(_, buffer)| buffer.len()))
                .map(|(at, buffer)| (at, buffer.len()));
            if let Some((at, length)) = fitting {
                let alone = in_flight == 0 && self.free.len() == 1;
                if alone || self.held - length + needed.max(length) <= BUDGET_BYTES {
                    return Ok(self.free.swap_remove(at));
                }
                // Too small to grow within the budget (beside the others): free it, and
                // think again.
                self.free.swap_remove(at);
                self.held -= length;
                self.buffers -= 1;
                continue;
            }
            if in_flight == 0 || (self.buffers < MAX_BUFFERS && self.held + needed <= BUDGET_BYTES)
            {
                self.buffers += 1;
                return Ok(Vec::new());
            }
            self.wait_helping()?;
        }
    }

    /// Until a document is parsed, helps parse those in flight; merges what can be merged.
    fn wait_helping(&mut self) -> Result<(), ReportError> {
        loop {
            match self.finished.try_recv() {
                Ok(done) => return self.done(done),
                Err(TryRecvError::Empty) if self.help() => {}
                Err(_) => return self.wait(),
            }
        }
    }

    /// Parses a part of the oldest document in flight that has one left; false if none has.
    fn help(&mut self) -> bool {
        while let Some((_, text, parts)) = self.helping.front() {
            if parts.help(text.as_str()) {
                return true;
            }
            self.helping.pop_front();
        }
        false
    }

    /// Waits for one document to be parsed, and merges what can be merged.
    fn wait(&mut self) -> Result<(), ReportError> {
        let Ok(done) = self.finished.recv() else {
            // The parsing thread ends only once the sender is dropped, and never while a
            // document is in flight: this is not expected, but no reason to hang.
            self.failed = true;
            return Err(ReportError::Read {
                origin: self.origins.front().cloned().unwrap_or_default(),
                error: io::Error::other("the parsing thread stopped"),
            });
        };
        self.done(done)
    }

    /// Takes in a parsed document, and merges what can be merged.
    fn done(&mut self, done: Done) -> Result<(), ReportError> {
        self.helping.retain(|(helped, ..)| *helped != done.index);
        self.outcomes.insert(done.index, done.outcome);
        self.release(done.text);
        self.merge_ready()
    }

    /// Merges the outcomes of the next documents in order, as far as they are there.
    fn merge_ready(&mut self) -> Result<(), ReportError> {
        while let Some(entry) = self.outcomes.first_entry()
            && *entry.key() == self.next_merged
        {
            let outcome = entry.remove();
            self.next_merged += 1;
            let origin = self.origins.pop_front().unwrap_or_default();
            match outcome {
                Ok(Ok(parsed)) => self.collector.add(parsed),
                Ok(Err(error)) => {
                    // Nothing after it may be merged: its error is the one to report.
                    self.failed = true;
                    return Err(ReportError::Json { origin, error });
                }
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        Ok(())
    }

    /// Merges every document still in flight, then gives the collector — or the first
    /// error in document order: one in a document read before `scanned` failed comes first
    /// (after a failed merge, `scanned` is that failure).
    fn finish(mut self, scanned: Result<(), ReportError>) -> Result<Collector, ReportError> {
        self.jobs = None;
        while !self.failed && self.next_merged < self.next {
            self.wait_helping()?;
        }
        scanned?;
        Ok(self.collector)
    }
}

/// Documents known to be UTF-8, so that both threads can read them as text without
/// checking them again.
mod checked {
    use super::{BUDGET_BYTES, GROWTH_BYTES};
    use std::io::{self, Read};

    /// How much is read (and checked) at a time: little enough to be still in cache.
    const STEP_BYTES: usize = 1024 * 1024;

    /// A document read into a buffer.
    pub(super) enum Document {
        Text(Text),
        NotUtf8 { buffer: Vec<u8>, length: usize },
        Failed { buffer: Vec<u8>, error: io::Error },
    }

    /// The first `length` bytes of a buffer, checked to be UTF-8.
    pub(super) struct Text {
        buffer: Vec<u8>,
        length: usize,
    }

    impl Document {
        /// Reads `reader` to its end into the start of `buffer`, checking that it is UTF-8
        /// as it comes. Unlike `read_to_end` into a cleared vector, this does not zero the
        /// buffer again for every document, only when it grows: to the announced `size` at
        /// once when that is within the budget (a tar entry's size is exact), else a step
        /// at a time, so no untouched tail becomes resident.
        pub fn read(reader: &mut dyn Read, mut buffer: Vec<u8>, size: u64) -> Document {
            // One byte more than the document, to see its end without growing again.
            let announced = usize::try_from(size).map_or(usize::MAX, |size| size.saturating_add(1));
            if buffer.len() < announced && announced <= BUDGET_BYTES {
                if buffer.capacity() == 0 {
                    // Fresh memory comes zeroed: no need to zero it again.
                    buffer = vec![0; announced];
                } else {
                    buffer.reserve_exact(announced - buffer.len());
                    buffer.resize(announced, 0);
                }
            }
            let mut length = 0;
            // The bytes before `checked` are UTF-8 (`None`: some are not).
            let mut checked = Some(0);
            loop {
                if length == buffer.len() {
                    buffer.reserve_exact(GROWTH_BYTES);
                    buffer.resize(length + GROWTH_BYTES, 0);
                }
                let step = buffer.len().min(length + STEP_BYTES);
                match reader.read(&mut buffer[length..step]) {
                    Ok(0) => break,
                    Ok(read) => length += read,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => return Document::Failed { buffer, error },
                }
                checked = checked.and_then(|from| {
                    let fresh = &buffer[from..length];
                    // ASCII (most documents are) is UTF-8, and quicker to tell.
                    if fresh.is_ascii() {
                        return Some(length);
                    }
                    match std::str::from_utf8(fresh) {
                        Ok(_) => Some(length),
                        // A character cut at the end of what was read: checked with the rest.
                        Err(error) if error.error_len().is_none() => {
                            Some(from + error.valid_up_to())
                        }
                        Err(_) => None,
                    }
                });
            }
            if checked == Some(length) {
                Document::Text(Text { buffer, length })
            } else {
                Document::NotUtf8 { buffer, length }
            }
        }

        /// The buffer's size, what it holds in memory.
        pub fn buffer_len(&self) -> usize {
            match self {
                Document::Text(text) => text.buffer.len(),
                Document::NotUtf8 { buffer, .. } | Document::Failed { buffer, .. } => buffer.len(),
            }
        }
    }

    impl Text {
        pub fn as_str(&self) -> &str {
            // SAFETY: `Document::read`, the only maker of a `Text`, checked that these
            // bytes are UTF-8 (every byte up to `length`, each exactly once, a character
            // cut between two reads checked whole), and they cannot have changed since:
            // the buffer is private to this module, which never changes it after, and
            // gives it back only by value (`into_buffer`).
            unsafe { std::str::from_utf8_unchecked(&self.buffer[..self.length]) }
        }

        /// The buffer's size, what it holds in memory.
        pub fn buffer_len(&self) -> usize {
            self.buffer.len()
        }

        pub fn into_buffer(self) -> Vec<u8> {
            self.buffer
        }
    }
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
        // Large ones (split into parts), middling ones (parsed on the other thread), small
        // ones (parsed inline); one profile in two documents, whose ties the first wins.
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
    }

    #[test]
    fn the_first_error_in_document_order_is_the_one_reported() {
        let dir = tempfile::tempdir().unwrap();
        let mut broken = profile("B", 2_000, 5).into_bytes();
        let at = broken.len() / 2;
        broken[at] = b'!';
        let mut not_utf8 = profile("C", 2_000, 7).into_bytes();
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

    #[test]
    fn a_character_cut_between_reads_is_still_utf8() {
        // "é" across every step boundary of a reader that gives a few bytes at a time.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
                let length = buffer.len().min(self.0.len()).min(3);
                buffer[..length].copy_from_slice(&self.0[..length]);
                self.0 = &self.0[length..];
                Ok(length)
            }
        }
        let text = "\"é\u{1F600}é\"".repeat(10);
        for size in [0, 7, text.len() as u64] {
            match Document::read(&mut Trickle(text.as_bytes()), Vec::new(), size) {
                Document::Text(read) => assert_eq!(read.as_str(), text),
                _ => panic!("not read as text"),
            }
        }
        let mut bytes = text.into_bytes();
        bytes[5] = 0xff;
        assert!(matches!(
            Document::read(&mut Trickle(&bytes), Vec::new(), 0),
            Document::NotUtf8 { length: 100, .. }
        ));
    }
}
