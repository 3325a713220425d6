//! Writing result sets as upstream packages them (`pd.tar.gz`, release tarballs): for
//! benchmarks and tests that need result sets of a chosen shape and size.

use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::{self, Write};

/// A `.tar.gz` written entry by entry into any writer.
pub struct TarGzWriter<W: Write> {
    builder: tar::Builder<GzEncoder<W>>,
}

impl<W: Write> TarGzWriter<W> {
    pub fn new(writer: W) -> Self {
        TarGzWriter {
            builder: tar::Builder::new(GzEncoder::new(writer, Compression::default())),
        }
    }

    /// Adds a regular file at `path` inside the archive.
    pub fn add_file(&mut self, path: &str, contents: &[u8]) -> io::Result<()> {
        let mut header = tar::Header::new_gnu();
        header.set_size(contents.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        self.builder.append_data(&mut header, path, contents)
    }

    /// Writes the tar trailer and the gzip footer; returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        self.builder.into_inner()?.finish()
    }
}
