//! Reading one `profile-details/<Profile>.json` (ARCHITECTURE §3).
//!
//! The evidence lists are the bulk of a result set, so they are never built as a whole:
//! the reader walks `profileResult.requirementResults[].positiveTestEvidence[]` and hands
//! each item to the accumulator as it is read, its strings borrowed from the document.
//! Every field not needed is skipped unparsed (but checked). Parts of a large document's
//! evidence may be parsed on another thread meanwhile ([`read_part`]), for the walk to
//! adopt (see `parts`).

use super::json::{Reader, Result};
use super::parts::Parts;
use super::stats::Timings;
use std::borrow::Cow;
use std::collections::{BTreeMap, btree_map};
use std::sync::atomic::{AtomicBool, Ordering};

/// The status of a profile that did not run.
const NOT_RUN_STATUS: &str = "UNKNOWN_STATUS";
/// Evidence items are this deep: in the document, `profileResult`, `requirementResults`,
/// a requirement and its `positiveTestEvidence`.
const EVIDENCE_DEPTH: usize = 5;

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

/// Parses one profile-details document: `{class, relatedHTTPCode, profileResult}`.
pub(crate) fn read_profile(document: &[u8]) -> Result<ProfileDetails> {
    let mut walker = Walker::new(None);
    walker.walk(Reader::new(document)?)?;
    Ok(walker.details)
}

/// [`read_profile`] of a document known to be UTF-8, adopting the `parts` of it another
/// thread parses meanwhile: the same outcome, errors included.
pub(crate) fn read_profile_text(text: &str, parts: Option<&Parts>) -> Result<ProfileDetails> {
    let mut walker = Walker::new(parts);
    let walked = walker.walk(Reader::resume(text, 0, 0));
    if let Some(parts) = parts {
        parts.abandon_from(walker.next_part);
    }
    walked.map(|()| walker.details)
}

/// Whether a test-case-details document ran: one that never ran is only
/// `{class, relatedHTTPCode}`, with no `testCaseResult`.
pub(crate) fn read_test_case_ran(document: &[u8]) -> Result<bool> {
    test_case_ran(Reader::new(document)?)
}

/// [`read_test_case_ran`] of a document known to be UTF-8.
pub(crate) fn read_test_case_text(text: &str) -> Result<bool> {
    test_case_ran(Reader::resume(text, 0, 0))
}

fn test_case_ran(mut reader: Reader) -> Result<bool> {
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

/// The figures of the evidence items of a part of a document, and where the part ends.
pub(crate) struct Part {
    details: ProfileDetails,
    end: usize,
    /// Whether it ends at the end of its evidence list (else at the next part's start).
    closed: bool,
}

/// Parses evidence items from `start` of `text` (a whole document), as the walk does
/// inside an evidence list — the same code, at the same depth, so with the same figures
/// and errors — up to the end of the list or `stop`, where the next part starts.
/// `cancelled` says the walk will not adopt it: its outcome does not matter.
pub(crate) fn read_part(
    text: &str,
    start: usize,
    stop: usize,
    cancelled: &AtomicBool,
) -> Result<Part> {
    let mut reader = Reader::resume(text, start, EVIDENCE_DEPTH);
    let mut details = ProfileDetails::default();
    loop {
        if cancelled.load(Ordering::Relaxed) {
            return Err(reader.error("not wanted"));
        }
        let evidence = Evidence::read(&mut reader)?;
        details.take(evidence, &reader)?;
        if !reader.separator(b']')? {
            let end = reader.position();
            return Ok(Part {
                details,
                end,
                closed: true,
            });
        }
        if reader.position() == stop {
            return Ok(Part {
                details,
                end: stop,
                closed: false,
            });
        }
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

/// Sets a field read from `key`; a key given twice is an error, as serde makes it.
fn once<T>(field: &mut Option<T>, value: T, key: &str, reader: &Reader) -> Result<()> {
    if field.is_some() {
        return Err(reader.error(format_args!("duplicate field `{key}`")));
    }
    *field = Some(value);
    Ok(())
}

/// The walk of a whole document, adopting parts parsed elsewhere on the way.
struct Walker<'p> {
    details: ProfileDetails,
    parts: Option<&'p Parts>,
    /// The first of `parts` the walk has not reached yet.
    next_part: usize,
}

impl<'p> Walker<'p> {
    fn new(parts: Option<&'p Parts>) -> Self {
        Walker {
            details: ProfileDetails::default(),
            parts,
            next_part: 0,
        }
    }

    /// The document: `{class, relatedHTTPCode, profileResult}`.
    fn walk(&mut self, mut reader: Reader) -> Result<()> {
        let mut seen = false;
        reader.object(
            "a profile report (an object with `profileResult`)",
            |reader, key| {
                if key != "profileResult" {
                    return reader.skip();
                }
                seen = true;
                self.read_result(reader)
            },
        )?;
        if !seen {
            return Err(reader.error("missing field `profileResult`"));
        }
        reader.end()
    }

    /// `profileResult`: `name`, `conformanceStatus`, `requirementResults`.
    fn read_result(&mut self, reader: &mut Reader) -> Result<()> {
        let mut name = None;
        let mut status = None;
        let mut requirements = 0;
        reader.object("a profile result object", |reader, key| {
            match key.as_ref() {
                "name" => name = Some(reader.string("a string")?),
                "conformanceStatus" => status = Some(reader.string("a string")?),
                "requirementResults" => {
                    requirements = reader
                        .optional(|reader| {
                            reader.array("an array of requirement results", |reader| {
                                self.read_requirement(reader)
                            })
                        })?
                        .unwrap_or(0);
                }
                _ => {
                    reader.skip()?;
                }
            }
            Ok(())
        })?;
        let name = name.ok_or_else(|| reader.error("missing field `name`"))?;
        self.details.name = name.into_owned();
        self.details.ran = requirements > 0 && status.as_deref() != Some(NOT_RUN_STATUS);
        Ok(())
    }

    /// One requirement: only its `positiveTestEvidence` matters; each item goes to the
    /// accumulator as soon as it is read.
    fn read_requirement(&mut self, reader: &mut Reader) -> Result<()> {
        reader.object("a requirement result object", |reader, key| {
            if key != "positiveTestEvidence" {
                return reader.skip();
            }
            reader.optional(|reader| {
                reader.array("an array of test evidence", |reader| self.evidence(reader))
            })?;
            Ok(())
        })
    }

    /// The next evidence item — or, when a part another thread parsed starts right here,
    /// that part's items.
    fn evidence(&mut self, reader: &mut Reader) -> Result<()> {
        if let Some(parts) = self.parts
            && reader.depth() == EVIDENCE_DEPTH
        {
            let mut at = reader.position();
            while let Some(part) = parts.reach(&mut self.next_part, at) {
                let part = part?;
                self.details.absorb(part.details);
                reader.jump(part.end);
                if part.closed {
                    return Ok(());
                }
                at = part.end;
            }
        }
        let evidence = Evidence::read(reader)?;
        self.details.take(evidence, reader)
    }
}

impl ProfileDetails {
    /// Adds the evidence of a part read after this one.
    fn absorb(&mut self, later: ProfileDetails) {
        for (method, timings) in later.timings_by_method {
            match self.timings_by_method.entry(method) {
                btree_map::Entry::Vacant(slot) => {
                    slot.insert(timings);
                }
                btree_map::Entry::Occupied(mut slot) => slot.get_mut().absorb(timings),
            }
        }
        self.discovered.extend(later.discovered);
    }

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
    use proptest::prelude::*;
    use serde_json::json;

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

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = read_profile(&bytes);
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
