//! A small pull reader of JSON text held in memory, for walking the few paths the report
//! needs. It validates everything it passes over, as a full parser would, but builds
//! nothing it is not asked for: profile documents are hundreds of megabytes of evidence
//! of which a handful of fields per item matter, and skipping the rest unparsed is what
//! makes the report fast.

use serde::de::Unexpected;
use std::borrow::Cow;
use std::fmt;

/// Deeper nesting than this is refused, so no input can exhaust the stack (serde_json's
/// limit).
const MAX_DEPTH: usize = 128;
const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);

/// What is wrong with a document, and where. Boxed, so that results in the reader's hot
/// paths stay a register or two wide.
#[derive(Debug)]
pub struct JsonError(Box<Located>);

#[derive(Debug)]
struct Located {
    message: String,
    place: Place,
}

#[derive(Debug)]
enum Place {
    /// 1-based, in bytes: known when the reader holds the whole document.
    LineColumn { line: usize, column: usize },
    /// The byte offset in the document: all a reader of one window of it can tell.
    Byte(usize),
}

impl JsonError {
    /// Bytes that are not UTF-8 at `offset` of a document read in pieces.
    pub(crate) fn not_utf8(offset: usize) -> Self {
        JsonError(Box::new(Located {
            message: "invalid UTF-8".to_owned(),
            place: Place::Byte(offset),
        }))
    }

    /// What is wrong, without where.
    #[cfg(test)]
    pub(crate) fn message(&self) -> &str {
        &self.0.message
    }

    /// Whether the error names a line and column (else only a byte offset).
    pub(crate) fn has_line(&self) -> bool {
        matches!(self.0.place, Place::LineColumn { .. })
    }
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Located { message, place } = &*self.0;
        match place {
            Place::LineColumn { line, column } => {
                write!(f, "{message} at line {line} column {column}")
            }
            Place::Byte(offset) => write!(f, "{message} at byte {offset}"),
        }
    }
}

impl std::error::Error for JsonError {}

pub(crate) type Result<T> = std::result::Result<T, JsonError>;

/// A position in a JSON document, moved forward by reading or skipping values.
///
/// The reader holds the whole document, or one window of it as the document streams in.
/// A window that is not the document's last may end in the middle of a value: a read
/// that reaches its end marks the reader *starved* (its outcome, error or not, is void),
/// and the caller reads the same value again from a longer window.
pub(crate) struct Reader<'a> {
    text: &'a str,
    at: usize,
    depth: usize,
    /// The document offset of `text`'s first byte.
    base: usize,
    /// Whether `text` runs to the document's end.
    last: bool,
    starved: bool,
}

/// Where a reader was: its position and depth, to read again from.
#[derive(Clone, Copy)]
pub(crate) struct Mark {
    at: usize,
    depth: usize,
}

impl<'a> Reader<'a> {
    /// A reader of a whole document; fails when `document` is not UTF-8 (checked once
    /// here, so strings need no check).
    pub fn new(document: &'a [u8]) -> Result<Self> {
        match std::str::from_utf8(document) {
            Ok(text) => Ok(Reader::window(text, 0, 0, true)),
            Err(error) => Err(error_at(document, error.valid_up_to(), "invalid UTF-8")),
        }
    }

    /// A reader of `text`, the document from offset `base` on, inside `depth` open objects
    /// and arrays; `last` when `text` runs to the document's end.
    pub fn window(text: &'a str, base: usize, depth: usize, last: bool) -> Self {
        Reader {
            text,
            at: 0,
            depth,
            base,
            last,
            starved: false,
        }
    }

    /// Whether a read reached the end of a window that is not the document's last: what
    /// it gave, error or not, is void.
    pub fn starved(&self) -> bool {
        self.starved
    }

    pub fn mark(&self) -> Mark {
        Mark {
            at: self.at,
            depth: self.depth,
        }
    }

    /// Back to `mark`, to read from there again (in a longer window).
    pub fn rewind(&mut self, mark: Mark) {
        self.at = mark.at;
        self.depth = mark.depth;
    }

    /// How far into the window the reader is.
    pub fn consumed(&self) -> usize {
        self.at
    }

    /// How many objects and arrays are open here.
    pub fn depth(&self) -> usize {
        self.depth
    }

    fn bytes(&self) -> &'a [u8] {
        self.text.as_bytes()
    }

    /// The byte at `at`, noting when the window ends before it.
    #[inline(always)]
    fn byte_at(&mut self, at: usize) -> Option<u8> {
        let byte = self.bytes().get(at).copied();
        if byte.is_none() {
            self.starved |= !self.last;
        }
        byte
    }

    /// The bytes `at..end`, noting when the window ends before `end`.
    fn bytes_at(&mut self, at: usize, end: usize) -> Option<&'a [u8]> {
        let bytes = self.bytes().get(at..end);
        if bytes.is_none() {
            self.starved |= !self.last;
        }
        bytes
    }

    pub fn error(&self, message: impl fmt::Display) -> JsonError {
        self.error_at(self.at, message)
    }

    /// An error at `at`: by line and column when the window is the whole document.
    fn error_at(&self, at: usize, message: impl fmt::Display) -> JsonError {
        if self.base == 0 && self.last {
            return error_at(self.bytes(), at, message);
        }
        JsonError(Box::new(Located {
            message: message.to_string(),
            place: Place::Byte(self.base + at),
        }))
    }

    /// Moves past whitespace; returns the byte after it, if any.
    fn skip_whitespace(&mut self) -> Option<u8> {
        while let Some(byte) = self.byte_at(self.at) {
            if !matches!(byte, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(byte);
            }
            self.at += 1;
        }
        None
    }

    /// The next byte that is not whitespace, not consumed.
    fn peek(&mut self) -> Result<u8> {
        self.skip_whitespace()
            .ok_or_else(|| self.error("EOF while parsing a value"))
    }

    /// Fails unless only whitespace is left.
    pub fn end(&mut self) -> Result<()> {
        match self.skip_whitespace() {
            Some(_) => Err(self.error("trailing characters")),
            None => Ok(()),
        }
    }

    /// `None` for `null`, else what `read` makes of the value.
    pub fn optional<T>(&mut self, read: impl FnOnce(&mut Self) -> Result<T>) -> Result<Option<T>> {
        if self.peek()? == b'n' {
            self.literal("null")?;
            return Ok(None);
        }
        read(self).map(Some)
    }

    /// An object, handing each key to `field`, which must read or skip its value.
    pub fn object(
        &mut self,
        expected: &str,
        mut field: impl FnMut(&mut Self, Cow<'a, str>) -> Result<()>,
    ) -> Result<()> {
        self.nested(b'{', b'}', expected, |reader| {
            let key = reader.key()?;
            field(reader, key)
        })
    }

    /// An object's key, and the `:` after it.
    pub fn key(&mut self) -> Result<Cow<'a, str>> {
        let key = self.string("a string key")?;
        if self.peek()? != b':' {
            return Err(self.error("expected `:`"));
        }
        self.at += 1;
        Ok(key)
    }

    /// An array, handing each item to `item`; returns how many there were.
    pub fn array(
        &mut self,
        expected: &str,
        mut item: impl FnMut(&mut Self) -> Result<()>,
    ) -> Result<usize> {
        let mut count = 0;
        self.nested(b'[', b']', expected, |reader| {
            count += 1;
            item(reader)
        })?;
        Ok(count)
    }

    /// `open`, then members separated by commas, then `close`.
    fn nested(
        &mut self,
        open: u8,
        close: u8,
        expected: &str,
        mut member: impl FnMut(&mut Self) -> Result<()>,
    ) -> Result<()> {
        if self.open(open, close, expected)? {
            loop {
                member(self)?;
                if !self.separator(close)? {
                    break;
                }
            }
            self.close();
        }
        Ok(())
    }

    /// Past the `open` of an object or array; true when a member follows, false when it
    /// is empty (then past its `close` too).
    pub fn open(&mut self, open: u8, close: u8, expected: &str) -> Result<bool> {
        if self.peek()? != open {
            return Err(self.unexpected(expected));
        }
        if self.depth == MAX_DEPTH {
            return Err(self.error("recursion limit exceeded"));
        }
        self.depth += 1;
        self.at += 1;
        if self.peek()? != close {
            return Ok(true);
        }
        self.close();
        Ok(false)
    }

    /// Past the closing byte that [`Reader::separator`] found.
    pub fn close(&mut self) {
        self.at += 1;
        self.depth -= 1;
    }

    /// After a member: true past a `,` (another member follows), false before `close`.
    pub fn separator(&mut self, close: u8) -> Result<bool> {
        match self.peek()? {
            b',' => {
                self.at += 1;
                Ok(true)
            }
            byte if byte == close => Ok(false),
            _ => {
                let close = char::from(close);
                Err(self.error(format_args!("expected `,` or `{close}`")))
            }
        }
    }

    /// A string, borrowed from the document unless it has escapes.
    pub fn string(&mut self, expected: &str) -> Result<Cow<'a, str>> {
        if self.peek()? != b'"' {
            return Err(self.unexpected(expected));
        }
        let start = self.at;
        if !self.skip_string()? {
            return Ok(Cow::Borrowed(&self.text[start + 1..self.at - 1]));
        }
        // Escapes are rare: serde_json decodes them, surrogate pairs and all.
        serde_json::from_str(&self.text[start..self.at])
            .map(Cow::Owned)
            .map_err(|error| self.error_at(start, error))
    }

    /// An unsigned integer, as serde reads a `u64`.
    pub fn u64(&mut self) -> Result<u64> {
        if !self.peek()?.is_ascii_digit() {
            return Err(self.unexpected("u64"));
        }
        let start = self.at;
        self.skip_number()?;
        let digits = &self.text[start..self.at];
        match digits.parse() {
            Ok(value) => Ok(value),
            Err(_) => {
                self.at = start;
                Err(self.unexpected("u64"))
            }
        }
    }

    /// Skips one value of any kind, checking it is well formed.
    pub fn skip(&mut self) -> Result<()> {
        match self.peek()? {
            b'"' => self.skip_string().map(drop),
            b'{' => self.object("a value", |reader, _| reader.skip()),
            b'[' => self.array("a value", Reader::skip).map(drop),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => Err(self.error("expected value")),
        }
    }

    /// [`Reader::skip`], returning the value's text.
    pub fn skip_text(&mut self) -> Result<&'a str> {
        self.skip_whitespace();
        let start = self.at;
        self.skip()?;
        Ok(&self.text[start..self.at])
    }

    fn literal(&mut self, word: &str) -> Result<()> {
        let end = self.at + word.len();
        if self.bytes_at(self.at, end) != Some(word.as_bytes()) {
            return Err(self.error("expected value"));
        }
        self.at = end;
        Ok(())
    }

    /// Past the closing quote of the string starting here; returns whether it had escapes.
    /// Always inlined: strings are most of a document, and the call cost more than the scan
    /// of a short one (measured: about 7% of a profile's parse).
    #[inline(always)]
    fn skip_string(&mut self) -> Result<bool> {
        let mut escaped = false;
        self.at += 1;
        loop {
            self.at += special_offset(&self.bytes()[self.at..]);
            match self.byte_at(self.at) {
                Some(b'"') => {
                    self.at += 1;
                    return Ok(escaped);
                }
                Some(b'\\') => {
                    escaped = true;
                    self.skip_escape()?;
                }
                Some(_) => {
                    return Err(self.error(
                        "control character (\\u0000-\\u001F) found while parsing a string",
                    ));
                }
                None => return Err(self.error("EOF while parsing a string")),
            }
        }
    }

    /// Past `\x` or `\uXXXX`.
    fn skip_escape(&mut self) -> Result<()> {
        let length = match self.byte_at(self.at + 1) {
            Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => 2,
            Some(b'u') => 6,
            Some(_) => return Err(self.error("invalid escape")),
            None => return Err(self.error("EOF while parsing a string")),
        };
        let hex = self.bytes_at(self.at + 2, self.at + length);
        match hex {
            Some(hex) if hex.iter().all(u8::is_ascii_hexdigit) => {
                self.at += length;
                Ok(())
            }
            Some(_) => Err(self.error("invalid escape")),
            None => Err(self.error("EOF while parsing a string")),
        }
    }

    /// Past a number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn skip_number(&mut self) -> Result<()> {
        self.skip_if(|byte| byte == b'-');
        match self.byte_at(self.at) {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.skip_digits(),
            Some(_) => return Err(self.error("invalid number")),
            None => return Err(self.error("EOF while parsing a value")),
        }
        if self.skip_if(|byte| byte == b'.') {
            self.require_digits()?;
        }
        if self.skip_if(|byte| byte == b'e' || byte == b'E') {
            self.skip_if(|byte| byte == b'+' || byte == b'-');
            self.require_digits()?;
        }
        Ok(())
    }

    fn skip_if(&mut self, wanted: impl Fn(u8) -> bool) -> bool {
        let found = self.byte_at(self.at).is_some_and(wanted);
        self.at += usize::from(found);
        found
    }

    fn skip_digits(&mut self) {
        while self.skip_if(|byte| byte.is_ascii_digit()) {}
    }

    fn require_digits(&mut self) -> Result<()> {
        if !self.skip_if(|byte| byte.is_ascii_digit()) {
            return Err(self.error("invalid number"));
        }
        self.skip_digits();
        Ok(())
    }

    /// "invalid type: string "slow", expected u64", serde's wording for a value of the
    /// wrong kind, naming the value found here.
    fn unexpected(&mut self, expected: &str) -> JsonError {
        let start = self.at;
        let message = match self.byte_at(start) {
            Some(b'"') => self
                .string("a string")
                .map(|text| invalid_type(Unexpected::Str(&text), expected)),
            Some(b'-' | b'0'..=b'9') => self.skip_number().map(|()| {
                let number = &self.text[start..self.at];
                let found = match number.parse() {
                    Ok(integer) => Unexpected::Signed(integer),
                    Err(_) => Unexpected::Float(number.parse().unwrap_or(f64::NAN)),
                };
                invalid_type(found, expected)
            }),
            Some(b'{') => Ok(invalid_type(Unexpected::Map, expected)),
            Some(b'[') => Ok(invalid_type(Unexpected::Seq, expected)),
            Some(byte @ (b't' | b'f')) => {
                Ok(invalid_type(Unexpected::Bool(byte == b't'), expected))
            }
            Some(b'n') => Ok(invalid_type(Unexpected::Unit, expected)),
            _ => Ok("expected value".to_owned()),
        };
        self.at = start;
        match message {
            Ok(message) => self.error(message),
            Err(error) => error,
        }
    }
}

fn invalid_type(found: Unexpected, expected: &str) -> String {
    format!("invalid type: {found}, expected {expected}")
}

fn error_at(bytes: &[u8], at: usize, message: impl fmt::Display) -> JsonError {
    let before = &bytes[..at.min(bytes.len())];
    let line_start = before
        .iter()
        .rposition(|&byte| byte == b'\n')
        .map_or(0, |n| n + 1);
    JsonError(Box::new(Located {
        message: message.to_string(),
        place: Place::LineColumn {
            line: 1 + before.iter().filter(|&&byte| byte == b'\n').count(),
            column: 1 + before.len() - line_start,
        },
    }))
}

/// The offset of the first `"`, `\\` or control character in `bytes` (its length if
/// none): strings are most of a document, so they are scanned sixteen bytes at a time
/// with SSE2 (part of every x86_64 CPU, so no runtime detection), eight at a time
/// elsewhere, and byte by byte in the last few bytes.
fn special_offset(bytes: &[u8]) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        let (blocks, rest) = bytes.as_chunks::<16>();
        for (index, block) in blocks.iter().enumerate() {
            let found = special_mask_sse2(block);
            if found != 0 {
                return index * 16 + found.trailing_zeros() as usize;
            }
        }
        blocks.len() * 16 + special_offset_swar(rest)
    }
    #[cfg(not(target_arch = "x86_64"))]
    special_offset_swar(bytes)
}

/// One bit per byte of `block` (bit `n` for byte `n`) that is `"`, `\\` or below 0x20.
#[cfg(target_arch = "x86_64")]
fn special_mask_sse2(block: &[u8; 16]) -> u32 {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of the x86_64 baseline (this is compiled for x86_64 only), so
    // its intrinsics can run on any CPU this code runs on; the unaligned load reads
    // exactly the 16 bytes of `block` and needs no alignment.
    unsafe {
        let chunk = _mm_loadu_si128(block.as_ptr().cast());
        let quote = _mm_cmpeq_epi8(chunk, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(chunk, _mm_set1_epi8(b'\\' as i8));
        // Unsigned `byte < 0x20` is `min(byte, 0x1f) == byte`.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(chunk, _mm_set1_epi8(0x1f)), chunk);
        _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u32
    }
}

/// [`special_offset`] eight bytes at a time in a `u64`, for any target.
fn special_offset_swar(bytes: &[u8]) -> usize {
    let (words, rest) = bytes.as_chunks::<8>();
    for (index, word) in words.iter().enumerate() {
        let word = u64::from_le_bytes(*word);
        // The lowest flagged byte of each mask is the first match (borrows only carry up).
        let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
        let found = zero_bytes(word ^ (ONES * u64::from(b'"')))
            | zero_bytes(word ^ (ONES * u64::from(b'\\')))
            | below_space;
        if found != 0 {
            return index * 8 + (found.trailing_zeros() / 8) as usize;
        }
    }
    let tail = rest.iter().position(|&byte| is_special(byte));
    words.len() * 8 + tail.unwrap_or(rest.len())
}

fn is_special(byte: u8) -> bool {
    byte == b'"' || byte == b'\\' || byte < 0x20
}

fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGHS
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn special_bytes_are_found_anywhere_in_a_word() {
        for length in 0..40 {
            for at in 0..length {
                for special in [b'"', b'\\', 0x00, 0x1f] {
                    let mut bytes = vec![b'a'; length];
                    bytes[at] = special;
                    if at + 1 < length {
                        bytes[at + 1] = b'"';
                    }
                    assert_eq!(special_offset(&bytes), at, "{bytes:?}");
                    assert_eq!(special_offset_swar(&bytes), at, "{bytes:?}");
                }
            }
            for plain in [b' ', b'a', 0x7f, 0x80, 0xe9, 0xff] {
                assert_eq!(special_offset(&vec![plain; length]), length);
                assert_eq!(special_offset_swar(&vec![plain; length]), length);
            }
        }
    }

    #[test]
    fn errors_name_line_and_column() {
        let mut reader = Reader::new(b"{\n  \"a\": tru }").unwrap();
        let error = reader
            .object("an object", |reader, _| reader.skip())
            .unwrap_err();
        assert_eq!(error.to_string(), "expected value at line 2 column 8");
        let error = Reader::new(b"\"a\xff\"").err().unwrap();
        assert_eq!(error.to_string(), "invalid UTF-8 at line 1 column 3");
    }

    #[test]
    fn a_value_cut_by_a_window_end_starves_the_reader() {
        // Cut short: what the read gave is void, error or not.
        let mut number = Reader::window("12", 0, 0, false);
        assert!(number.u64().is_ok() && number.starved());
        for cut in ["\"ab", "tr", "[1,", "{\"a\":", "\"a\\u00"] {
            let mut reader = Reader::window(cut, 0, 0, false);
            assert!(reader.skip().is_err() && reader.starved(), "{cut}");
        }
        // Whole within the window, or the window is the document's last: not starved.
        let mut number = Reader::window("12,", 0, 0, false);
        assert_eq!(number.u64().unwrap(), 12);
        assert!(!number.starved());
        let mut number = Reader::window("12", 0, 0, true);
        assert_eq!(number.u64().unwrap(), 12);
        assert!(!number.starved());
        // An error inside a window is placed by its byte in the document.
        let mut reader = Reader::window(" x", 100, 0, false);
        let error = reader.skip().unwrap_err();
        assert!(!reader.starved() && !error.has_line());
        assert_eq!(error.to_string(), "expected value at byte 101");
    }

    #[test]
    fn strings_with_escapes_are_decoded() {
        let mut reader = Reader::new(br#""a\"b\u00e9\ud83d\ude00""#).unwrap();
        assert_eq!(reader.string("a string").unwrap(), "a\"bé😀");
    }

    /// Bytes around the edges of what `special_offset` looks for, and any others.
    fn scanned_byte() -> impl Strategy<Value = u8> {
        prop_oneof![
            prop::sample::select(vec![b'"', b'\\', 0x00, 0x1f, 0x20, 0x21, 0x7f, 0x80, 0xff]),
            any::<u8>(),
            Just(b'a'),
        ]
    }

    proptest! {
        /// The vector and word-at-a-time scans find what a byte-by-byte scan finds.
        #[test]
        fn special_offset_agrees_with_a_byte_scan(
            bytes in prop::collection::vec(scanned_byte(), 0..80),
            start in 0usize..16,
        ) {
            let bytes = &bytes[start.min(bytes.len())..];
            let expected = bytes.iter().position(|&byte| is_special(byte)).unwrap_or(bytes.len());
            prop_assert_eq!(special_offset(bytes), expected);
            prop_assert_eq!(special_offset_swar(bytes), expected);
        }

        /// Skipping accepts exactly what serde_json accepts as a whole document.
        #[test]
        fn skip_agrees_with_serde_json(text in r#"[ \[\]{}",:0-9.eE+\-a-z\\/\x00-\x1f]{0,24}"#) {
            let skipped = Reader::new(text.as_bytes())
                .and_then(|mut reader| reader.skip().and_then(|()| reader.end()));
            let parsed = serde_json::from_str::<serde::de::IgnoredAny>(&text);
            prop_assert_eq!(skipped.is_ok(), parsed.is_ok(), "{:?} {:?}", skipped, parsed);
        }

        #[test]
        fn skip_agrees_on_json_values(value in any::<i32>().prop_map(serde_json::Value::from)
            .prop_recursive(4, 32, 4, |inner| prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map("[a-z\"\\\\\u{e9}]{0,3}", inner, 0..4)
                    .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
            ])) {
            let text = value.to_string();
            let mut reader = Reader::new(text.as_bytes()).unwrap();
            prop_assert_eq!(reader.skip_text().unwrap(), text.as_str());
        }
    }
}
