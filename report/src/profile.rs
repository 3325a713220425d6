//! Reading one `profile-details/<Profile>.json` (ARCHITECTURE §3).
//!
//! The evidence lists are the bulk of a result set, so they are never built as a whole:
//! the walk goes through `profileResult.requirementResults[].positiveTestEvidence[]` and
//! hands each item to the accumulator as it is read, its strings borrowed from the text.
//! Every field not needed is skipped unparsed (but checked).
//!
//! A document need not be held whole: the walk is a machine that takes one step at a time
//! (a key and its value, an evidence item, a comma), so it can stop where a window of the
//! text ends and go on from there in the next ([`ProfileStream`]). Steps change nothing
//! until their reading is done, so a step cut short by the window's end is simply taken
//! again.

use super::json::{Reader, Result};
use super::piece::Piece;
use super::stats::Timings;
use std::borrow::Cow;
use std::collections::BTreeMap;

/// The status of a profile that did not run.
const NOT_RUN_STATUS: &str = "UNKNOWN_STATUS";

/// What one profile-details file holds, reduced to what the report needs.
#[derive(Debug, Default)]
pub(crate) struct ProfileDetails {
    pub name: String,
    /// False when the file has no requirement results or its status is `UNKNOWN_STATUS`.
    pub ran: bool,
    pub timings_by_method: BTreeMap<String, Timings>,
    /// `DISCOVERED_PROPERTY` evidence, in the order read.
    pub discovered: Vec<(String, serde_json::Value)>,
}

/// Parses one whole profile-details document: `{class, relatedHTTPCode, profileResult}`.
pub(crate) fn read_profile(document: &[u8]) -> Result<ProfileDetails> {
    let mut walk = Walk::default();
    walk.walk(&mut Reader::new(document)?)?;
    Ok(walk.details)
}

/// Whether a test-case-details document ran: one that never ran is only
/// `{class, relatedHTTPCode}`, with no `testCaseResult`.
pub(crate) fn read_test_case_ran(document: &[u8]) -> Result<bool> {
    let mut reader = Reader::new(document)?;
    let mut ran = false;
    reader.object("a test case report", |reader, key| {
        if key == "testCaseResult" {
            ran = reader.optional(Reader::skip)?.is_some();
        } else {
            reader.skip()?;
        }
        Ok(())
    })?;
    reader.end()?;
    Ok(ran)
}

/// A profile document read as it streams in, window by window: each window is the text
/// the walk did not finish (a step cut short) followed by the next piece of the document.
#[derive(Default)]
pub(crate) struct ProfileStream {
    walk: Walk,
    /// The text from where the walk stopped.
    unread: String,
    /// The document offset of `unread`.
    base: usize,
    /// How long a window must be before the walk is tried again: a step that did not fit
    /// in a window waits for one twice as long, so a huge value is not read over and over.
    wanted: usize,
}

impl ProfileStream {
    /// Walks the document's next `piece`, after what is left of the piece before. Returns
    /// the document's details once its last piece is walked.
    pub fn walk(&mut self, piece: &mut Piece) -> Result<Option<ProfileDetails>> {
        let last = piece.last();
        if self.unread.len() + piece.text().len() < self.wanted && !last {
            self.unread.push_str(piece.text());
        } else if piece.prepend(&self.unread) {
            // What was left (a step cut short) fits in front of the piece: no copy of it.
            let consumed = self.walk_window(piece.text(), last)?;
            self.unread.clear();
            self.unread.push_str(&piece.text()[consumed..]);
        } else {
            self.unread.push_str(piece.text());
            let window = std::mem::take(&mut self.unread);
            let consumed = self.walk_window(&window, last)?;
            self.unread = window;
            self.unread.drain(..consumed);
        }
        Ok(last.then(|| std::mem::take(&mut self.walk.details)))
    }

    /// Walks `window`, the document from `self.base` on; returns how much of it was walked.
    fn walk_window(&mut self, window: &str, last: bool) -> Result<usize> {
        let mut reader = Reader::window(window, self.base, self.walk.depth, last);
        self.walk.walk(&mut reader)?;
        let consumed = reader.consumed();
        self.walk.depth = reader.depth();
        self.base += consumed;
        self.wanted = match consumed {
            0 => window.len().saturating_mul(2),
            _ => 0,
        };
        Ok(consumed)
    }
}

enum EvidenceType {
    SuccessfulAssertion,
    DiscoveredProperty,
    Other,
}

/// The fields of one evidence item that the report reads; `None` when absent (the inner
/// `None` of a nullable field: present but null).
#[derive(Default)]
struct Evidence<'a> {
    kind: Option<EvidenceType>,
    assertion_id: Option<Option<Cow<'a, str>>>,
    method_name: Option<Option<Cow<'a, str>>>,
    elapsed_ms: Option<Option<u64>>,
    property_name: Option<Option<Cow<'a, str>>>,
    /// The value's JSON text, parsed only for a discovered property.
    property_value: Option<&'a str>,
}

impl<'a> Evidence<'a> {
    fn read(reader: &mut Reader<'a>) -> Result<Self> {
        let mut evidence = Evidence::default();
        reader.object("an evidence object", |reader, key| {
            let string = |reader: &mut Reader<'a>| reader.optional(|r| r.string("a string"));
            match key.as_ref() {
                "testEvidenceType" => {
                    let kind = match reader.string("an evidence type")?.as_ref() {
                        "SUCCESSFUL_ASSERTION" => EvidenceType::SuccessfulAssertion,
                        "DISCOVERED_PROPERTY" => EvidenceType::DiscoveredProperty,
                        _ => EvidenceType::Other,
                    };
                    once(&mut evidence.kind, kind, &key, reader)
                }
                "assertionId" => once(&mut evidence.assertion_id, string(reader)?, &key, reader),
                "methodName" => once(&mut evidence.method_name, string(reader)?, &key, reader),
                "elapsedTime" => {
                    let elapsed_ms = reader.optional(Reader::u64)?;
                    once(&mut evidence.elapsed_ms, elapsed_ms, &key, reader)
                }
                "propertyName" => once(&mut evidence.property_name, string(reader)?, &key, reader),
                "propertyValue" => once(
                    &mut evidence.property_value,
                    reader.skip_text()?,
                    &key,
                    reader,
                ),
                _ => reader.skip(),
            }
        })?;
        Ok(evidence)
    }
}

/// Sets a field read from `key`; a key given twice is an error, as serde makes it. Always
/// inlined: it runs for most fields of every evidence item (measured: 2.5% of a parse).
#[inline(always)]
fn once<T>(field: &mut Option<T>, value: T, key: &str, reader: &Reader) -> Result<()> {
    if field.is_some() {
        return Err(reader.error(format_args!("duplicate field `{key}`")));
    }
    *field = Some(value);
    Ok(())
}

/// Where the walk is: the containers open around it, innermost last.
enum Frame {
    /// The document object; whether it had `profileResult`.
    Document { seen: bool },
    /// `profileResult`: `name`, `conformanceStatus`, `requirementResults`.
    Result {
        name: Option<String>,
        status: Option<String>,
        requirements: usize,
    },
    /// `requirementResults`, and how many so far.
    Requirements { count: usize },
    /// One requirement: only its `positiveTestEvidence` matters.
    Requirement,
    /// `positiveTestEvidence`: each item goes to the accumulator as soon as it is read.
    Evidence,
}

impl Frame {
    /// The byte that ends the container.
    fn close(&self) -> u8 {
        match self {
            Frame::Requirements { .. } | Frame::Evidence => b']',
            Frame::Document { .. } | Frame::Result { .. } | Frame::Requirement => b'}',
        }
    }
}

/// What comes next in the innermost container (or, with none open, in the document).
#[derive(Default, Clone, Copy)]
enum Phase {
    /// The document's value.
    #[default]
    Start,
    Member,
    /// After a member: a comma, or the end of the container.
    Separator,
    /// After the document's value: only whitespace.
    End,
    Done,
}

/// The walk of a profile document, one step at a time.
#[derive(Default)]
struct Walk {
    details: ProfileDetails,
    frames: Vec<Frame>,
    phase: Phase,
    /// Objects and arrays open where the walk stopped (a window's reader starts there).
    depth: usize,
}

/// Whether a step was taken, or cut short by the end of the window.
enum Step {
    Taken,
    Starved,
}

impl Walk {
    /// Takes steps until the document is walked or the window ends mid-step; the reader
    /// is left where the walk stopped.
    fn walk(&mut self, reader: &mut Reader) -> Result<()> {
        while !matches!(self.phase, Phase::Done) {
            let mark = reader.mark();
            match self.step(reader) {
                Ok(Step::Taken) => {}
                Err(error) if !reader.starved() => return Err(error),
                // Cut short by the window's end: taken again in the next window.
                Ok(Step::Starved) | Err(_) => {
                    reader.rewind(mark);
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    /// One step: it reads first, and changes the walk only once the reading is whole.
    fn step(&mut self, reader: &mut Reader) -> Result<Step> {
        macro_rules! settled {
            () => {
                if reader.starved() {
                    return Ok(Step::Starved);
                }
            };
        }
        match (self.phase, self.frames.last_mut()) {
            (Phase::Start, _) => {
                let members = reader.open(
                    b'{',
                    b'}',
                    "a profile report (an object with `profileResult`)",
                )?;
                settled!();
                self.enter(members, Frame::Document { seen: false }, reader)?;
            }
            (Phase::End, _) => {
                reader.end()?;
                settled!();
                self.phase = Phase::Done;
            }
            (Phase::Separator, Some(frame)) => {
                let more = reader.separator(frame.close())?;
                settled!();
                if more {
                    self.phase = Phase::Member;
                } else {
                    reader.close();
                    let frame = self.frames.pop().expect("a frame is open");
                    self.leave(frame, reader)?;
                }
            }
            (Phase::Member, Some(Frame::Evidence)) => {
                let evidence = Evidence::read(reader)?;
                settled!();
                self.details.take(evidence, reader)?;
                self.phase = Phase::Separator;
            }
            (Phase::Member, Some(Frame::Document { seen })) => {
                let key = reader.key()?;
                if key != "profileResult" {
                    reader.skip()?;
                    settled!();
                    self.phase = Phase::Separator;
                } else {
                    let members = reader.open(b'{', b'}', "a profile result object")?;
                    settled!();
                    *seen = true;
                    let result = Frame::Result {
                        name: None,
                        status: None,
                        requirements: 0,
                    };
                    self.enter(members, result, reader)?;
                }
            }
            (
                Phase::Member,
                Some(Frame::Result {
                    name,
                    status,
                    requirements,
                }),
            ) => {
                let key = reader.key()?;
                match key.as_ref() {
                    "name" | "conformanceStatus" => {
                        let value = reader.string("a string")?;
                        settled!();
                        let field = if key == "name" { name } else { status };
                        *field = Some(value.into_owned());
                        self.phase = Phase::Separator;
                    }
                    "requirementResults" => {
                        let members = reader.optional(|reader| {
                            reader.open(b'[', b']', "an array of requirement results")
                        })?;
                        settled!();
                        *requirements = 0;
                        match members {
                            Some(members) => {
                                self.enter(members, Frame::Requirements { count: 0 }, reader)?
                            }
                            None => self.phase = Phase::Separator,
                        }
                    }
                    _ => {
                        reader.skip()?;
                        settled!();
                        self.phase = Phase::Separator;
                    }
                }
            }
            (Phase::Member, Some(Frame::Requirements { count })) => {
                let members = reader.open(b'{', b'}', "a requirement result object")?;
                settled!();
                *count += 1;
                self.enter(members, Frame::Requirement, reader)?;
            }
            (Phase::Member, Some(Frame::Requirement)) => {
                let key = reader.key()?;
                if key != "positiveTestEvidence" {
                    reader.skip()?;
                    settled!();
                    self.phase = Phase::Separator;
                } else {
                    let members = reader
                        .optional(|reader| reader.open(b'[', b']', "an array of test evidence"))?;
                    settled!();
                    match members {
                        Some(members) => self.enter(members, Frame::Evidence, reader)?,
                        None => self.phase = Phase::Separator,
                    }
                }
            }
            (Phase::Member | Phase::Separator, None) | (Phase::Done, _) => {
                unreachable!("members and commas are read inside a container; a walk done stops")
            }
        }
        Ok(Step::Taken)
    }

    /// Into a container just opened: to its first member, or, when it is empty, out of it
    /// again (its end is read already).
    fn enter(&mut self, members: bool, frame: Frame, reader: &Reader) -> Result<()> {
        if !members {
            return self.leave(frame, reader);
        }
        self.frames.push(frame);
        self.phase = Phase::Member;
        Ok(())
    }

    /// Out of a container whose end the reader has just passed.
    fn leave(&mut self, frame: Frame, reader: &Reader) -> Result<()> {
        self.phase = Phase::Separator;
        match frame {
            Frame::Document { seen } => {
                if !seen {
                    return Err(reader.error("missing field `profileResult`"));
                }
                self.phase = Phase::End;
            }
            Frame::Result {
                name,
                status,
                requirements,
            } => {
                let name = name.ok_or_else(|| reader.error("missing field `name`"))?;
                self.details.name = name;
                self.details.ran = requirements > 0 && status.as_deref() != Some(NOT_RUN_STATUS);
            }
            Frame::Requirements { count } => {
                if let Some(Frame::Result { requirements, .. }) = self.frames.last_mut() {
                    *requirements = count;
                }
            }
            Frame::Requirement | Frame::Evidence => {}
        }
        Ok(())
    }
}

impl ProfileDetails {
    fn take(&mut self, evidence: Evidence, reader: &Reader) -> Result<()> {
        let Some(kind) = evidence.kind else {
            return Err(reader.error("missing field `testEvidenceType`"));
        };
        match kind {
            EvidenceType::SuccessfulAssertion => {
                // Untimed assertions (the environment's, for one) carry no figures.
                let Some(elapsed_ms) = evidence.elapsed_ms.flatten() else {
                    return Ok(());
                };
                let method = evidence
                    .method_name
                    .flatten()
                    .ok_or_else(|| reader.error("timed evidence without `methodName`"))?;
                let assertion = evidence
                    .assertion_id
                    .flatten()
                    .ok_or_else(|| reader.error("timed evidence without `assertionId`"))?;
                // Look up before inserting: most calls are of a method already seen.
                let timings = match self.timings_by_method.get_mut(method.as_ref()) {
                    Some(timings) => timings,
                    None => self
                        .timings_by_method
                        .entry(method.into_owned())
                        .or_default(),
                };
                timings.record(elapsed_ms, &assertion);
            }
            EvidenceType::DiscoveredProperty => {
                let name = evidence
                    .property_name
                    .flatten()
                    .ok_or_else(|| reader.error("discovered property without `propertyName`"))?;
                let value = match evidence.property_value {
                    Some(text) => {
                        serde_json::from_str(text).map_err(|error| reader.error(error))?
                    }
                    None => serde_json::Value::Null,
                };
                self.discovered.push((name.into_owned(), value));
            }
            EvidenceType::Other => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::JsonError;
    use crate::piece::{PieceError, Pieces};
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn timed(method: &str, assertion: &str, elapsed: u64) -> serde_json::Value {
        json!({"profileId": 1, "testCaseId": "tc", "testEvidenceType": "SUCCESSFUL_ASSERTION",
               "assertionId": assertion, "methodName": method, "elapsedTime": elapsed})
    }

    fn parse(document: &serde_json::Value) -> Result<ProfileDetails> {
        read_profile(document.to_string().as_bytes())
    }

    #[test]
    fn reads_timed_evidence_and_properties() {
        let document = json!({"class": "ProfileReportResponse", "relatedHTTPCode": 200,
            "profileResult": {"id": 1, "requirementResults": [{"positiveTestEvidence": [
                timed("addEntity", "a-1", 12), timed("addEntity", "a-2", 30),
                {"testEvidenceType": "SUCCESSFUL_ASSERTION", "assertionId": "untimed"},
                {"testEvidenceType": "DISCOVERED_PROPERTY", "propertyName": "instancesPerType",
                 "propertyValue": 5},
            ]}], "name": "Entity creation", "conformanceStatus": "CONFORMANT_FULL_SUPPORT"}});
        let details = parse(&document).unwrap();
        assert_eq!(details.name, "Entity creation");
        assert!(details.ran);
        let figures = details
            .timings_by_method
            .into_values()
            .next()
            .unwrap()
            .figures()
            .unwrap();
        assert_eq!((figures.count, figures.max), (2, 30));
        assert_eq!(
            details.discovered,
            vec![("instancesPerType".into(), json!(5))]
        );
    }

    #[test]
    fn a_profile_without_results_did_not_run() {
        let absent = json!({"profileResult": {"name": "Relationship retype",
            "conformanceStatus": "UNKNOWN_STATUS"}});
        let empty = json!({"profileResult": {"name": "X", "conformanceStatus": "CONFORMANT_FULL_SUPPORT",
            "requirementResults": []}});
        let unknown = json!({"profileResult": {"name": "Y", "conformanceStatus": "UNKNOWN_STATUS",
            "requirementResults": [{"positiveTestEvidence": null}]}});
        for document in [absent, empty, unknown] {
            assert!(!parse(&document).unwrap().ran, "{document}");
        }
    }

    #[test]
    fn unexpected_shapes_are_errors_with_a_location() {
        let cases = [
            (
                json!({"profileResult": {"name": "P", "requirementResults": [{"positiveTestEvidence":
                [{"testEvidenceType": "SUCCESSFUL_ASSERTION", "methodName": "m",
                  "assertionId": "a", "elapsedTime": "slow"}]}]}}),
                "invalid type",
            ),
            (
                json!({"profileResult": {"name": "P", "requirementResults": [{"positiveTestEvidence":
                [timed("m", "a", 1).as_object().unwrap().clone().into_iter()
                    .filter(|(k, _)| k != "methodName").collect::<serde_json::Map<_, _>>()]}]}}),
                "methodName",
            ),
            (
                json!({"profileResult": {"requirementResults": []}}),
                "missing field `name`",
            ),
            (
                json!({"class": "ProfileReportResponse"}),
                "missing field `profileResult`",
            ),
            (json!([1, 2]), "invalid type"),
        ];
        for (document, expected) in cases {
            let message = parse(&document).unwrap_err().to_string();
            assert!(message.contains(expected), "{message}");
            assert!(message.contains("line 1 column"), "{message}");
        }
    }

    #[test]
    fn truncated_input_is_an_error() {
        let text = json!({"profileResult": {"name": "P"}}).to_string();
        let error = read_profile(&text.as_bytes()[..text.len() - 3]).unwrap_err();
        assert!(error.to_string().contains("EOF while parsing"), "{error}");
    }

    /// Any JSON scalar, or one of the values the parser looks for.
    fn field_value() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            Just(serde_json::Value::Null),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<f64>().prop_map(serde_json::Value::from),
            any::<bool>().prop_map(serde_json::Value::from),
            "[a-zA-Z_ ]{0,12}".prop_map(serde_json::Value::from),
            Just(json!("SUCCESSFUL_ASSERTION")),
            Just(json!("DISCOVERED_PROPERTY")),
            Just(json!([])),
        ]
    }

    /// Objects with any subset of `fields`, each holding any value.
    fn object(fields: &'static [&'static str]) -> impl Strategy<Value = serde_json::Value> {
        prop::collection::btree_map(
            prop::sample::select(fields),
            field_value(),
            0..=fields.len(),
        )
        .prop_map(|map| map.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
    }

    /// Documents shaped roughly like profile details, with fields missing or mistyped.
    fn profile_document() -> impl Strategy<Value = serde_json::Value> {
        let evidence = object(&[
            "testEvidenceType",
            "assertionId",
            "methodName",
            "elapsedTime",
            "propertyName",
            "propertyValue",
        ]);
        let requirements = prop::collection::vec(prop::collection::vec(evidence, 0..6), 0..3);
        (
            object(&["name", "conformanceStatus", "id"]),
            prop::option::of(requirements),
        )
            .prop_map(|(mut result, requirements)| {
                if let Some(requirements) = requirements {
                    let requirements: Vec<_> = requirements
                        .into_iter()
                        .map(|evidence| json!({"positiveTestEvidence": evidence}))
                        .collect();
                    result["requirementResults"] = json!(requirements);
                }
                json!({"class": "ProfileReportResponse", "profileResult": result})
            })
    }

    /// An evidence item: timed (with ties), untimed, a property, or one with strings and
    /// nested lists inside.
    fn evidence() -> impl Strategy<Value = Value> {
        prop_oneof![
            // Numbers of several digits, to be cut by a piece's end; few, to tie.
            4 => (0..3usize, 0..4u64, 0..20u32).prop_map(|(method, elapsed, id)| json!({
                "profileId": 12345, "testEvidenceType": "SUCCESSFUL_ASSERTION",
                "assertionId": format!("a-{id}"), "methodName": format!("m{method}"),
                "elapsedTime": elapsed * 1001})),
            1 => Just(json!({"testEvidenceType": "SUCCESSFUL_ASSERTION", "assertionId": "u"})),
            1 => (0..3u32).prop_map(|n| json!({"testEvidenceType": "DISCOVERED_PROPERTY",
                "propertyName": format!("p{n}"), "propertyValue": [{"x": n}, {"y": "},{"}]})),
            1 => Just(json!({"testEvidenceType": "SUCCESSFUL_ASSERTION", "assertionId": "s},{",
                "methodName": "m0", "elapsedTime": 2, "testCaseName": "},{\"a\":1},{"})),
        ]
    }

    /// A profile document of a few requirements, compact or pretty-printed.
    fn document() -> impl Strategy<Value = String> {
        let requirement = (prop::collection::vec(evidence(), 0..12), any::<bool>()).prop_map(
            |(items, notes_first)| {
                let notes = json!([{"n": 1}, {"n": "},{"}]);
                if notes_first {
                    json!({"id": 2.5e-3, "notes": notes, "positiveTestEvidence": items})
                } else {
                    json!({"id": true, "positiveTestEvidence": items, "notes": notes})
                }
            },
        );
        (prop::collection::vec(requirement, 1..4), any::<bool>()).prop_map(
            |(requirements, pretty)| {
                let document = json!({"class": "ProfileReportResponse", "profileResult": {
                    "id": 98765, "name": "P", "conformanceStatus": "CONFORMANT_FULL_SUPPORT",
                    "requirementResults": requirements}});
                if pretty {
                    serde_json::to_string_pretty(&document).unwrap_or_default()
                } else {
                    document.to_string()
                }
            },
        )
    }

    /// A document, possibly spoilt: cut short, or one byte replaced.
    fn maybe_spoilt() -> impl Strategy<Value = String> {
        let spoiler = prop::sample::select(vec!["", ",", "}", "]", "{", "\"", "x", "\u{1}", "1"]);
        (document(), 0.0..1.0f64, spoiler, 0..3u8).prop_map(|(text, at, by, how)| {
            let at = (text.len() as f64 * at) as usize;
            match how {
                0 => text,
                1 => text[..at].to_owned(),
                _ if text.is_char_boundary(at) && text.is_char_boundary(at + 1) => {
                    format!("{}{by}{}", &text[..at], &text[at + 1..])
                }
                _ => text,
            }
        })
    }

    /// `document` read in pieces of `length` bytes with `room` in front, as the report
    /// reads a large one.
    fn streamed(document: &[u8], length: usize, room: usize) -> Result<ProfileDetails> {
        let mut pieces = Pieces::new(room, length);
        let mut reader = document;
        let mut stream = ProfileStream::default();
        loop {
            let mut piece = match pieces.read(&mut reader, Vec::new()) {
                Ok(piece) => piece,
                Err((PieceError::NotUtf8(offset), _)) => return Err(JsonError::not_utf8(offset)),
                Err((PieceError::Read(error), _)) => panic!("{error}"),
            };
            if let Some(details) = stream.walk(&mut piece)? {
                return Ok(details);
            }
        }
    }

    /// What parsing gives, comparably: the details, or the error's message (a document
    /// read in pieces places it by byte, a whole one by line and column).
    fn outcome(parsed: Result<ProfileDetails>) -> String {
        match parsed {
            Ok(details) => format!("{details:?}"),
            Err(error) => format!("error: {}", error.message()),
        }
    }

    #[test]
    fn a_document_in_pieces_gives_what_it_gives_whole() {
        let items: Vec<_> = (0..300)
            .map(|n| timed(&format!("m{}", n % 3), &format!("a-{n}"), n % 7))
            .collect();
        let text = json!({"profileResult": {"name": "P", "requirementResults": [
            {"positiveTestEvidence": items}]}})
        .to_string();
        let whole = outcome(read_profile(text.as_bytes()));
        assert!(
            whole.contains("\"m2\"") && !whole.starts_with("error"),
            "{whole}"
        );
        for (length, room) in [(4, 0), (7, 3), (100, 16), (1000, 1000), (text.len(), 0)] {
            assert_eq!(outcome(streamed(text.as_bytes(), length, room)), whole);
        }
    }

    #[test]
    fn an_error_in_pieces_is_placed_by_byte() {
        let text = json!({"profileResult": {"name": "P", "requirementResults": [
            {"positiveTestEvidence": [timed("m", "a", 1), {"testEvidenceType": 3}]}]}})
        .to_string();
        let whole = read_profile(text.as_bytes()).unwrap_err();
        let pieces = streamed(text.as_bytes(), 16, 8).unwrap_err();
        assert!(whole.has_line() && !pieces.has_line());
        assert_eq!(pieces.message(), whole.message());
        let column: usize = whole
            .to_string()
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            pieces
                .to_string()
                .ends_with(&format!("at byte {}", column - 1)),
            "{pieces}"
        );
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = read_profile(&bytes);
        }

        /// Any document, spoilt or not, in any pieces: what it gives whole.
        #[test]
        fn pieces_change_nothing(
            text in maybe_spoilt(), length in 4usize..64, room in 0usize..32,
        ) {
            let whole = outcome(read_profile(text.as_bytes()));
            prop_assert_eq!(outcome(streamed(text.as_bytes(), length, room)), whole);
        }

        /// Any text at all, in tiny pieces: no panic, and what it gives whole.
        #[test]
        fn pieces_of_any_text_change_nothing(
            text in r#"[ \[\]{}",:0-9a-zA-Z_\\\x00-\x1fé]{0,300}"#, length in 4usize..20,
        ) {
            let whole = outcome(read_profile(text.as_bytes()));
            prop_assert_eq!(outcome(streamed(text.as_bytes(), length, 2)), whole);
        }

        #[test]
        fn profile_shaped_documents_never_panic(document in profile_document(), cut in 0.0..=1.0f64) {
            let text = document.to_string();
            let _ = read_profile(text.as_bytes());
            let truncated = &text.as_bytes()[..(text.len() as f64 * cut) as usize];
            prop_assert!(read_profile(truncated).is_err() || cut == 1.0);
        }
    }
}
