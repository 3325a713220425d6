//! Reading one `profile-details/<Profile>.json` (ARCHITECTURE §3).
//!
//! The evidence lists are the bulk of a result set, so they are never built as a whole: a
//! chain of serde seeds walks `profileResult.requirementResults[].positiveTestEvidence[]`
//! and hands each item to the accumulator as it is read, its strings borrowed from the
//! document. Every field not needed is skipped unparsed.

use super::stats::Timings;
use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

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

/// Parses one profile-details document.
pub(crate) fn read_profile(document: &[u8]) -> Result<ProfileDetails, serde_json::Error> {
    let mut details = ProfileDetails::default();
    let mut deserializer = serde_json::Deserializer::from_slice(document);
    ProfileFileSeed(&mut details).deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(details)
}

#[derive(Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
enum EvidenceType {
    SuccessfulAssertion,
    DiscoveredProperty,
    #[serde(other)]
    Other,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Evidence<'a> {
    test_evidence_type: EvidenceType,
    #[serde(borrow)]
    assertion_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    method_name: Option<Cow<'a, str>>,
    elapsed_time: Option<u64>,
    property_name: Option<String>,
    property_value: Option<serde_json::Value>,
}

impl ProfileDetails {
    fn take<E: de::Error>(&mut self, evidence: Evidence) -> Result<(), E> {
        match evidence.test_evidence_type {
            EvidenceType::SuccessfulAssertion => {
                // Untimed assertions (the environment's, for one) carry no figures.
                let Some(elapsed_ms) = evidence.elapsed_time else {
                    return Ok(());
                };
                let method = evidence
                    .method_name
                    .ok_or_else(|| E::custom("timed evidence without `methodName`"))?;
                let assertion = evidence
                    .assertion_id
                    .ok_or_else(|| E::custom("timed evidence without `assertionId`"))?;
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
                    .ok_or_else(|| E::custom("discovered property without `propertyName`"))?;
                let value = evidence.property_value.unwrap_or_default();
                self.discovered.push((name, value));
            }
            EvidenceType::Other => {}
        }
        Ok(())
    }
}

/// Visits a JSON object, handing each key to `on_key`, which reads its value.
fn visit_object<'de, A: MapAccess<'de>>(
    mut map: A,
    mut on_key: impl FnMut(&str, &mut A) -> Result<(), A::Error>,
) -> Result<(), A::Error> {
    while let Some(key) = map.next_key::<Cow<'de, str>>()? {
        on_key(&key, &mut map)?;
    }
    Ok(())
}

/// The document: `{class, relatedHTTPCode, profileResult}`.
struct ProfileFileSeed<'a>(&'a mut ProfileDetails);

impl<'de> DeserializeSeed<'de> for ProfileFileSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ProfileFileSeed<'_> {
    type Value = ();
    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a profile report (an object with `profileResult`)")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let details = self.0;
        let mut seen = false;
        visit_object(map, |key, map| {
            if key == "profileResult" {
                seen = true;
                map.next_value_seed(ProfileResultSeed(&mut *details))
            } else {
                map.next_value::<IgnoredAny>().map(drop)
            }
        })?;
        if !seen {
            return Err(de::Error::missing_field("profileResult"));
        }
        Ok(())
    }
}

/// `profileResult`: `name`, `conformanceStatus`, `requirementResults`.
struct ProfileResultSeed<'a>(&'a mut ProfileDetails);

impl<'de> DeserializeSeed<'de> for ProfileResultSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ProfileResultSeed<'_> {
    type Value = ();
    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a profile result object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let details = self.0;
        let mut name = None;
        let mut status = None;
        let mut requirements = 0;
        visit_object(map, |key, map| {
            match key {
                "name" => name = Some(map.next_value::<String>()?),
                "conformanceStatus" => status = Some(map.next_value::<String>()?),
                "requirementResults" => {
                    requirements = map.next_value_seed(RequirementListSeed(&mut *details))?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(())
        })?;
        details.name = name.ok_or_else(|| de::Error::missing_field("name"))?;
        details.ran = requirements > 0 && status.as_deref() != Some(NOT_RUN_STATUS);
        Ok(())
    }
}

/// `requirementResults`: an array of requirements, or null; yields how many there were.
struct RequirementListSeed<'a>(&'a mut ProfileDetails);

impl<'de> DeserializeSeed<'de> for RequirementListSeed<'_> {
    type Value = usize;
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for RequirementListSeed<'_> {
    type Value = usize;
    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an array of requirement results")
    }
    fn visit_none<E: de::Error>(self) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_unit<E: de::Error>(self) -> Result<usize, E> {
        Ok(0)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut count = 0;
        while seq
            .next_element_seed(RequirementSeed(&mut *self.0))?
            .is_some()
        {
            count += 1;
        }
        Ok(count)
    }
}

/// One requirement: only its `positiveTestEvidence` matters.
struct RequirementSeed<'a>(&'a mut ProfileDetails);

impl<'de> DeserializeSeed<'de> for RequirementSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RequirementSeed<'_> {
    type Value = ();
    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a requirement result object")
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let details = self.0;
        visit_object(map, |key, map| {
            if key == "positiveTestEvidence" {
                map.next_value_seed(EvidenceListSeed(&mut *details))
            } else {
                map.next_value::<IgnoredAny>().map(drop)
            }
        })
    }
}

/// `positiveTestEvidence`: each item goes to the accumulator as soon as it is read.
struct EvidenceListSeed<'a>(&'a mut ProfileDetails);

impl<'de> DeserializeSeed<'de> for EvidenceListSeed<'_> {
    type Value = ();
    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_option(self)
    }
}

impl<'de> Visitor<'de> for EvidenceListSeed<'_> {
    type Value = ();
    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("an array of test evidence")
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(evidence) = seq.next_element::<Evidence<'de>>()? {
            self.0.take(evidence)?;
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

    fn parse(document: &serde_json::Value) -> Result<ProfileDetails, serde_json::Error> {
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
        assert!(error.is_eof(), "{error}");
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
