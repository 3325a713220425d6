//! Sharing the parsing of one large profile document between two threads.
//!
//! The document is cut into parts at guessed starts of evidence items (`{` after `},`,
//! about every [`PART_BYTES`]). One thread walks the whole document from its start, as
//! [`read_profile`](super::profile::read_profile) does; the other, when it has nothing
//! else to do, parses parts from the end of the document backwards
//! ([`read_part`]). When the walk reaches exactly the start of a part as its next evidence
//! item, it takes the part's outcome instead of parsing the part itself (waiting if the
//! part is being parsed), or claims the part to walk it on its own if nobody started it:
//! the two threads meet wherever the work divides evenly, whatever the sizes.
//!
//! The outcome is the one the walk alone would give, errors included: a part is adopted
//! only where the walk, in its own context, would have read the same items with the same
//! code (a guess inside something else — a string, a nested list — is never reached
//! exactly, and is dropped when the walk passes it); items are merged in document order;
//! and an error before a part's start is found by the walk first.

use super::json::Result;
use super::profile::{Part, read_part};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// About how much of a document one part is: small enough that the walk seldom waits
/// long for a part being parsed, large enough that its set-up is nothing.
const PART_BYTES: usize = 1024 * 1024;
/// How far past a part's share of the document its first item is looked for.
const SEARCH_BYTES: usize = 64 * 1024;

/// The parts of one document after its first.
pub(crate) struct Parts {
    slots: Vec<Slot>,
}

struct Slot {
    start: usize,
    /// Where the next part starts (its items are not this part's).
    stop: usize,
    /// Set once the walk has passed `start` without reaching it: a wrong guess, whose
    /// parsing can stop.
    abandoned: AtomicBool,
    state: Mutex<State>,
    parsed: Condvar,
}

enum State {
    Open,
    Parsing,
    Parsed(Result<Part>),
    /// Walked, adopted or abandoned: the walk is at or past it.
    Taken,
}

impl Parts {
    /// The parts of `bytes`; `None` when it is too small to split.
    pub fn plan(bytes: &[u8]) -> Option<Parts> {
        Parts::plan_every(bytes, PART_BYTES)
    }

    /// The parts of `bytes`, about `part_bytes` each; none unless there are two at least.
    fn plan_every(bytes: &[u8], part_bytes: usize) -> Option<Parts> {
        if bytes.len() < 2 * part_bytes {
            return None;
        }
        let mut starts: Vec<usize> = Vec::new();
        for share in (part_bytes..bytes.len()).step_by(part_bytes) {
            let from = starts.last().map_or(share, |&last| share.max(last + 1));
            let end = from.saturating_add(SEARCH_BYTES).min(bytes.len());
            starts.extend((from..end).find(|&at| is_item_start(bytes, at)));
        }
        let stops = starts.iter().skip(1).copied().chain([usize::MAX]);
        let slots: Vec<Slot> = (starts.iter().zip(stops))
            .map(|(&start, stop)| Slot {
                start,
                stop,
                abandoned: AtomicBool::new(false),
                state: Mutex::new(State::Open),
                parsed: Condvar::new(),
            })
            .collect();
        (!slots.is_empty()).then_some(Parts { slots })
    }

    /// For the walk, about to read an evidence item at `at`: the outcome of the part
    /// starting there, if another thread parsed it (waiting for it if need be); `None`
    /// when the walk is to read on itself. `next` is the walk's first part not yet reached.
    pub fn reach(&self, next: &mut usize, at: usize) -> Option<Result<Part>> {
        while let Some(passed) = self.slots.get(*next).filter(|slot| slot.start < at) {
            passed.abandon();
            *next += 1;
        }
        let slot = self.slots.get(*next).filter(|slot| slot.start == at)?;
        *next += 1;
        let mut state = lock(&slot.state);
        loop {
            match std::mem::replace(&mut *state, State::Taken) {
                State::Open | State::Taken => return None,
                State::Parsed(outcome) => {
                    #[cfg(test)]
                    tests::ADOPTED.with(|adopted| adopted.set(adopted.get() + 1));
                    return Some(outcome);
                }
                State::Parsing => {
                    *state = State::Parsing;
                    state = slot
                        .parsed
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner);
                }
            }
        }
    }

    /// For the walk, once over (or failed): the parts from `next` on are not wanted.
    pub fn abandon_from(&self, next: usize) {
        for slot in self.slots.iter().skip(next) {
            slot.abandon();
        }
    }

    /// For the other thread: parses the last part nobody has started, of `text` (the
    /// document planned); false when none is left (the walk has caught up).
    pub fn help(&self, text: &str) -> bool {
        for slot in self.slots.iter().rev() {
            let mut state = lock(&slot.state);
            match *state {
                State::Open => *state = State::Parsing,
                // The walk is here, so at or past every part before this one.
                State::Taken => return false,
                State::Parsing | State::Parsed(_) => continue,
            }
            drop(state);
            let parsing = Parsing(slot);
            let outcome = read_part(text, slot.start, slot.stop, &slot.abandoned);
            *lock(&slot.state) = State::Parsed(outcome);
            drop(parsing);
            return true;
        }
        false
    }
}

/// A part being parsed. Dropped, it wakes the walk, should it wait for the part — also
/// if the parsing panicked, leaving the part to the walk then: a panic on one thread is
/// not to leave the other waiting for ever.
struct Parsing<'s>(&'s Slot);

impl Drop for Parsing<'_> {
    fn drop(&mut self) {
        let mut state = lock(&self.0.state);
        if matches!(*state, State::Parsing) {
            *state = State::Taken;
        }
        self.0.parsed.notify_all();
    }
}

impl Slot {
    fn abandon(&self) {
        self.abandoned.store(true, Ordering::Relaxed);
        let mut state = lock(&self.state);
        if !matches!(*state, State::Parsing) {
            *state = State::Taken;
        }
    }
}

/// A slot's state: no thread panics while holding it, but a poisoned lock is no reason
/// to fail.
fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Whether an object that follows another in a list starts at `at`: `},{`, give or take
/// whitespace. (Inside a string it only looks like one: the walk will not adopt it.)
fn is_item_start(bytes: &[u8], at: usize) -> bool {
    // The last byte before `at` that is not whitespace, and where it is.
    let token_before = |at: usize| {
        let (&token, before) = bytes[..at].trim_ascii_end().split_last()?;
        Some((before.len(), token))
    };
    bytes.get(at) == Some(&b'{')
        && token_before(at).is_some_and(|(comma, byte)| {
            byte == b',' && token_before(comma).is_some_and(|(_, byte)| byte == b'}')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::{read_profile, read_profile_text};
    use proptest::prelude::*;
    use serde_json::{Value, json};
    use std::cell::Cell;

    thread_local! {
        /// Parts the walk on this thread adopted.
        pub(super) static ADOPTED: Cell<usize> = const { Cell::new(0) };
    }

    #[test]
    fn the_walk_adopts_every_part_parsed_ahead() {
        let items: Vec<Value> = (0..300)
            .map(|n| {
                json!({"testEvidenceType": "SUCCESSFUL_ASSERTION", "assertionId": format!("a-{n}"),
                "methodName": "m", "elapsedTime": n % 7})
            })
            .collect();
        let text = json!({"profileResult": {"name": "P", "requirementResults": [
            {"positiveTestEvidence": items}]}})
        .to_string();
        let parts = Parts::plan_every(text.as_bytes(), 512).unwrap();
        while parts.help(&text) {}
        ADOPTED.set(0);
        let shared = read_profile_text(&text, Some(&parts));
        assert!(parts.slots.len() > 20);
        assert_eq!(ADOPTED.get(), parts.slots.len());
        assert_eq!(outcome(shared), outcome(read_profile(text.as_bytes())));
    }

    #[test]
    fn item_starts_follow_an_object_and_a_comma() {
        let bytes = br#"[{"a":1},{"b":2}, { "c":"},{"}]"#;
        let starts: Vec<usize> = (0..bytes.len())
            .filter(|&at| is_item_start(bytes, at))
            .collect();
        // The last only looks like one: it is inside a string.
        assert_eq!(starts, [9, 18, 27]);
        for edge in [&b"{"[..], b",{", b" , {", b"}{", b"},"] {
            assert!(!is_item_start(edge, edge.len() - 1) && !is_item_start(edge, 0));
        }
    }

    /// An evidence item: timed (with ties across parts), untimed, a property, or one with
    /// strings and nested lists that look like item starts inside.
    fn evidence() -> impl Strategy<Value = Value> {
        prop_oneof![
            4 => (0..3usize, 0..4u64, 0..20u32).prop_map(|(method, elapsed, id)| json!({
                "profileId": 1, "testEvidenceType": "SUCCESSFUL_ASSERTION",
                "assertionId": format!("a-{id}"), "methodName": format!("m{method}"),
                "elapsedTime": elapsed})),
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
                    json!({"id": 1, "notes": notes, "positiveTestEvidence": items})
                } else {
                    json!({"id": 1, "positiveTestEvidence": items, "notes": notes})
                }
            },
        );
        (prop::collection::vec(requirement, 1..4), any::<bool>()).prop_map(
            |(requirements, pretty)| {
                let document = json!({"class": "ProfileReportResponse", "profileResult": {
                    "id": 1, "name": "P", "conformanceStatus": "CONFORMANT_FULL_SUPPORT",
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

    /// What parsing gives, comparably: the details or the error, as text.
    fn outcome(parsed: Result<crate::profile::ProfileDetails>) -> String {
        match parsed {
            Ok(details) => format!("{details:?}"),
            Err(error) => format!("error: {error}"),
        }
    }

    proptest! {
        /// Parts parsed before the walk, as many as `helped`: the walk's own outcome.
        #[test]
        fn parts_parsed_ahead_change_nothing(
            text in maybe_spoilt(), part_bytes in 8usize..200, helped in 0usize..40,
        ) {
            let alone = outcome(read_profile(text.as_bytes()));
            if let Some(parts) = Parts::plan_every(text.as_bytes(), part_bytes) {
                for _ in 0..helped {
                    parts.help(&text);
                }
                prop_assert_eq!(outcome(read_profile_text(&text, Some(&parts))), alone);
            }
        }

        /// Any text at all, cut into tiny parts: no panic, and the walk's own outcome.
        #[test]
        fn parts_of_any_text_change_nothing(
            text in r#"[ \[\]{}",:0-9a-zA-Z_\\\x00-\x1fé]{0,300}"#, part_bytes in 2usize..20,
        ) {
            let alone = outcome(read_profile(text.as_bytes()));
            if let Some(parts) = Parts::plan_every(text.as_bytes(), part_bytes) {
                while parts.help(&text) {}
                prop_assert_eq!(outcome(read_profile_text(&text, Some(&parts))), alone);
            }
        }

        /// Parts parsed meanwhile on another thread: still the walk's own outcome.
        #[test]
        fn parts_parsed_meanwhile_change_nothing(text in maybe_spoilt(), part_bytes in 8usize..200) {
            let alone = outcome(read_profile(text.as_bytes()));
            if let Some(parts) = Parts::plan_every(text.as_bytes(), part_bytes) {
                let shared = std::thread::scope(|scope| {
                    scope.spawn(|| while parts.help(&text) {});
                    outcome(read_profile_text(&text, Some(&parts)))
                });
                prop_assert_eq!(shared, alone);
            }
        }
    }
}
