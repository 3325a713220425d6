//! A large document read piece by piece into small buffers that stay in cache, instead of
//! whole into one that does not: inflating into fresh memory costs several times more
//! than into memory just used, and the parse of a piece finds it still warm.
//!
//! Each piece is checked to be UTF-8 as it is read (a character cut at its end is moved to
//! the next piece), so the parser reads it as text without checking it again. Its buffer
//! has room in front: the text a walk could not finish in the piece before is put there,
//! so the two read as one window without copying the piece.

use std::io::{self, Read};

/// A piece of a document's text, at `start..end` of its buffer.
pub(crate) struct Piece {
    buffer: Vec<u8>,
    start: usize,
    end: usize,
    last: bool,
}

/// Why a piece could not be read.
pub(crate) enum PieceError {
    Read(io::Error),
    /// Not UTF-8 at this offset in the document.
    NotUtf8(usize),
}

/// Cuts one document into pieces.
pub(crate) struct Pieces {
    /// Bytes in front of a piece's text, for the text carried over from the piece before.
    room: usize,
    /// Bytes of document text a piece holds at most.
    length: usize,
    /// The bytes of a character cut at the end of the last piece.
    cut: Vec<u8>,
    /// Document bytes read so far.
    read: usize,
}

impl Pieces {
    pub fn new(room: usize, length: usize) -> Self {
        Pieces {
            room,
            length: length.max(4),
            cut: Vec::new(),
            read: 0,
        }
    }

    /// The size of the buffers pieces are read into.
    pub fn buffer_len(&self) -> usize {
        self.room + self.length
    }

    /// Reads the next piece into `buffer` (reused as it is, grown if too small): up to
    /// `length` bytes, fewer only at the document's end, which the piece then says.
    pub fn read(
        &mut self,
        reader: &mut dyn Read,
        mut buffer: Vec<u8>,
    ) -> Result<Piece, (PieceError, Vec<u8>)> {
        if buffer.len() < self.buffer_len() {
            buffer.resize(self.buffer_len(), 0);
        }
        let start = self.room;
        let mut end = start + self.cut.len();
        buffer[start..end].copy_from_slice(&self.cut);
        let limit = start + self.length;
        let mut last = false;
        while end < limit {
            match reader.read(&mut buffer[end..limit]) {
                Ok(0) => {
                    last = true;
                    break;
                }
                Ok(read) => end += read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err((PieceError::Read(error), buffer)),
            }
        }
        self.cut.clear();
        let text = &buffer[start..end];
        // ASCII (most documents are) is UTF-8, and quicker to tell.
        let valid = match text.is_ascii() {
            true => text.len(),
            false => match std::str::from_utf8(text) {
                Ok(_) => text.len(),
                // A character cut at the piece's end: it goes to the next piece.
                Err(error) if error.error_len().is_none() && !last => error.valid_up_to(),
                Err(error) => {
                    let offset = self.read + error.valid_up_to();
                    return Err((PieceError::NotUtf8(offset), buffer));
                }
            },
        };
        self.cut.extend_from_slice(&text[valid..]);
        let end = start + valid;
        self.read += valid;
        Ok(Piece {
            buffer,
            start,
            end,
            last,
        })
    }
}

impl Piece {
    pub fn text(&self) -> &str {
        // SAFETY: `Pieces::read`, the only maker of a `Piece`, checked that these bytes
        // are UTF-8 (a character cut at the end was left out), and `prepend`, the only
        // change after, puts a whole `&str` right in front of them: text followed by text.
        unsafe { std::str::from_utf8_unchecked(&self.buffer[self.start..self.end]) }
    }

    /// Whether this piece ends the document.
    pub fn last(&self) -> bool {
        self.last
    }

    /// Puts `text` in front of the piece's text, when the room there holds it.
    pub fn prepend(&mut self, text: &str) -> bool {
        let Some(start) = self.start.checked_sub(text.len()) else {
            return false;
        };
        self.buffer[start..self.start].copy_from_slice(text.as_bytes());
        self.start = start;
        true
    }

    pub fn into_buffer(self) -> Vec<u8> {
        self.buffer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that gives a few bytes at a time.
    struct Trickle<'a>(&'a [u8]);

    impl Read for Trickle<'_> {
        fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
            let length = buffer.len().min(self.0.len()).min(3);
            buffer[..length].copy_from_slice(&self.0[..length]);
            self.0 = &self.0[length..];
            Ok(length)
        }
    }

    fn pieces(bytes: &[u8], length: usize) -> Result<Vec<String>, usize> {
        let mut pieces = Pieces::new(2, length);
        let mut reader = Trickle(bytes);
        let mut texts = Vec::new();
        loop {
            match pieces.read(&mut reader, Vec::new()) {
                Ok(piece) => {
                    texts.push(piece.text().to_owned());
                    if piece.last() {
                        return Ok(texts);
                    }
                }
                Err((PieceError::NotUtf8(offset), _)) => return Err(offset),
                Err((PieceError::Read(error), _)) => panic!("{error}"),
            }
        }
    }

    #[test]
    fn characters_cut_between_pieces_go_whole_to_the_next() {
        let text = "\"é\u{1F600}é\"".repeat(10);
        for length in [4, 5, 7, 64, 1000] {
            let texts = pieces(text.as_bytes(), length).unwrap();
            assert_eq!(texts.concat(), text, "pieces of {length}");
            assert!(texts.iter().all(|piece| piece.len() <= length));
        }
    }

    #[test]
    fn bytes_that_are_not_utf8_are_found_where_they_are() {
        let mut bytes = "\"é\u{1F600}é\"".repeat(10).into_bytes();
        // Inside the third emoji, which starts at 23.
        bytes[25] = 0xff;
        for length in [4, 9, 1000] {
            assert_eq!(pieces(&bytes, length), Err(23));
        }
        // A character cut by the document's end.
        assert_eq!(pieces("ab\u{e9}".as_bytes()[..3].as_ref(), 8), Err(2));
    }

    #[test]
    fn text_is_put_in_front_when_there_is_room() {
        let mut piece = Pieces::new(3, 8)
            .read(&mut &b"def"[..], Vec::new())
            .ok()
            .unwrap();
        assert!(piece.last());
        assert!(!piece.prepend("abcd"));
        assert!(piece.prepend("bc"));
        assert!(piece.prepend("a"));
        assert_eq!(piece.text(), "abcdef");
    }
}
