//! Finding and streaming the documents of a result set: a folder with `profile-details/`
//! (or `pd.tar.gz`) and `test-case-details/` (or `tcd.tar.gz`), or a tarball holding them,
//! possibly nested (a release tarball with `pd.tar.gz` inside a folder). Archives are read
//! as streams, entry by entry; nothing is unpacked to disk.

use super::ReportError;
use super::gzip::{Checksum, GzipMember};
use std::fmt;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

const PROFILE_DIR: &str = "profile-details";
const TEST_CASE_DIR: &str = "test-case-details";
const PROFILE_ARCHIVE: &str = "pd.tar.gz";
const TEST_CASE_ARCHIVE: &str = "tcd.tar.gz";
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
/// Release tarball → pd.tar.gz → documents; anything deeper is not a result set.
const MAX_NESTING: usize = 2;
const BUFFER_BYTES: usize = 64 * 1024;

/// Where a document came from: a file, and the archive entries that lead to it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origin {
    pub file: PathBuf,
    pub entries: Vec<String>,
}

impl Origin {
    fn file(file: &Path) -> Self {
        Origin {
            file: file.to_path_buf(),
            entries: Vec::new(),
        }
    }

    fn entry(&self, name: &str) -> Self {
        let mut inner = self.clone();
        inner.entries.push(name.to_owned());
        inner
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if !self.entries.is_empty() {
            write!(f, " (archive entry {})", self.entries.join(" › "))?;
        }
        Ok(())
    }
}

/// The two kinds of document the report reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DocumentKind {
    Profile,
    TestCase,
}

/// What an archive entry or folder file is, judged by its path.
enum Member {
    Document(DocumentKind),
    Archive(DocumentKind),
}

fn classify(path: &Path) -> Option<Member> {
    let name = path.file_name()?.to_str()?;
    match name {
        PROFILE_ARCHIVE => return Some(Member::Archive(DocumentKind::Profile)),
        TEST_CASE_ARCHIVE => return Some(Member::Archive(DocumentKind::TestCase)),
        _ => {}
    }
    if !name.ends_with(".json") {
        return None;
    }
    match path.parent()?.file_name()?.to_str()? {
        PROFILE_DIR => Some(Member::Document(DocumentKind::Profile)),
        TEST_CASE_DIR => Some(Member::Document(DocumentKind::TestCase)),
        _ => None,
    }
}

/// Walks a result set, handing every document to `visit` as a stream, with its size as
/// announced by the archive or the file system (a hint: a file may change meanwhile).
pub(crate) struct Scan<V> {
    visit: V,
    checksum: Checksum,
    pub profiles_seen: usize,
    /// Whether test-case details were there at all (none is different from none never ran).
    pub test_cases_present: bool,
}

impl<V> Scan<V>
where
    V: FnMut(DocumentKind, &Origin, &mut dyn Read, u64) -> Result<(), ReportError>,
{
    pub fn new(visit: V) -> Self {
        Scan {
            visit,
            checksum: Checksum::Verify,
            profiles_seen: 0,
            test_cases_present: false,
        }
    }

    /// Whether the archives' checksums are verified (`Skip`: another scan of the same set
    /// verifies them).
    pub fn checksum(mut self, checksum: Checksum) -> Self {
        self.checksum = checksum;
        self
    }

    /// Reads the result set at `path`, a folder or a tarball.
    pub fn run(&mut self, path: &Path) -> Result<(), ReportError> {
        let metadata = std::fs::metadata(path).map_err(|error| match error.kind() {
            io::ErrorKind::NotFound => ReportError::Missing {
                path: path.to_path_buf(),
            },
            _ => ReportError::Read {
                origin: Origin::file(path),
                error,
            },
        })?;
        if metadata.is_dir() {
            self.folder(path)?;
        } else {
            self.tarball_file(path, 0)?;
        }
        if self.profiles_seen == 0 {
            return Err(ReportError::NoProfiles {
                path: path.to_path_buf(),
            });
        }
        Ok(())
    }

    fn folder(&mut self, dir: &Path) -> Result<(), ReportError> {
        for (kind, documents, archive) in [
            (DocumentKind::Profile, PROFILE_DIR, PROFILE_ARCHIVE),
            (DocumentKind::TestCase, TEST_CASE_DIR, TEST_CASE_ARCHIVE),
        ] {
            if dir.join(documents).is_dir() {
                self.note_source(kind);
                self.document_folder(kind, &dir.join(documents))?;
            } else if dir.join(archive).is_file() {
                self.note_source(kind);
                self.tarball_file(&dir.join(archive), 1)?;
            }
        }
        Ok(())
    }

    fn note_source(&mut self, kind: DocumentKind) {
        if kind == DocumentKind::TestCase {
            self.test_cases_present = true;
        }
    }

    /// The `*.json` files of a folder, in name order so that results never depend on the
    /// file system's listing order.
    fn document_folder(&mut self, kind: DocumentKind, dir: &Path) -> Result<(), ReportError> {
        let listing_error = |error| ReportError::Read {
            origin: Origin::file(dir),
            error,
        };
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(listing_error)? {
            let path = entry.map_err(listing_error)?.path();
            if path.extension().is_some_and(|ext| ext == "json") && path.is_file() {
                files.push(path);
            }
        }
        files.sort();
        for path in files {
            let origin = Origin::file(&path);
            let file = File::open(&path).map_err(|error| ReportError::Read {
                origin: origin.clone(),
                error,
            })?;
            let size = file.metadata().map_or(0, |metadata| metadata.len());
            self.document(
                kind,
                &origin,
                &mut BufReader::with_capacity(BUFFER_BYTES, file),
                size,
            )?;
        }
        Ok(())
    }

    fn document(
        &mut self,
        kind: DocumentKind,
        origin: &Origin,
        reader: &mut dyn Read,
        size: u64,
    ) -> Result<(), ReportError> {
        match kind {
            DocumentKind::Profile => self.profiles_seen += 1,
            DocumentKind::TestCase => self.test_cases_present = true,
        }
        (self.visit)(kind, origin, reader, size)
    }

    fn tarball_file(&mut self, path: &Path, depth: usize) -> Result<(), ReportError> {
        let origin = Origin::file(path);
        let mut file = File::open(path).map_err(|error| ReportError::Read {
            origin: origin.clone(),
            error,
        })?;
        self.tarball(&mut file, &origin, depth)
    }

    /// Streams a `.tar.gz` entry by entry; nested result archives are streamed in turn
    /// (hence `dyn`: the nesting would otherwise make the reader type recursive).
    fn tarball(
        &mut self,
        compressed: &mut dyn Read,
        origin: &Origin,
        depth: usize,
    ) -> Result<(), ReportError> {
        let read_error = |error| ReportError::Read {
            origin: origin.clone(),
            error,
        };
        let mut compressed = BufReader::with_capacity(BUFFER_BYTES, compressed);
        if !compressed
            .fill_buf()
            .map_err(read_error)?
            .starts_with(&GZIP_MAGIC)
        {
            return Err(ReportError::NotGzip {
                origin: origin.clone(),
            });
        }
        let mut archive =
            tar::Archive::new(GzipMember::new(compressed, self.checksum).map_err(read_error)?);
        for entry in archive.entries().map_err(read_error)? {
            let mut entry = entry.map_err(read_error)?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let path = entry.path().map_err(read_error)?.into_owned();
            let inner = origin.entry(&path.to_string_lossy());
            match classify(&path) {
                Some(Member::Document(kind)) => {
                    let size = entry.size();
                    self.document(kind, &inner, &mut entry, size)?;
                }
                Some(Member::Archive(kind)) if depth < MAX_NESTING => {
                    self.note_source(kind);
                    self.tarball(&mut entry, &inner, depth + 1)?;
                }
                _ => {}
            }
        }
        // The archive ends before the gzip member does (its trailer, with the checksum):
        // read that too, or damage would go unseen.
        io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(read_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_recognised_by_path() {
        let kind = |path: &str| match classify(Path::new(path)) {
            Some(Member::Document(kind)) => format!("document {kind:?}"),
            Some(Member::Archive(kind)) => format!("archive {kind:?}"),
            None => "other".into(),
        };
        assert_eq!(
            kind("profile-details/Entity_creation.json"),
            "document Profile"
        );
        assert_eq!(kind("./run/test-case-details/x.json"), "document TestCase");
        assert_eq!(kind("release/pd.tar.gz"), "archive Profile");
        assert_eq!(kind("tcd.tar.gz"), "archive TestCase");
        assert_eq!(kind("openmetadata_cts_summary.json"), "other");
        assert_eq!(kind("profile-details/notes.txt"), "other");
    }

    #[test]
    fn origin_names_the_file_and_the_entries() {
        let origin = Origin::file(Path::new("/r/run.tar.gz"))
            .entry("run/pd.tar.gz")
            .entry("profile-details/A.json");
        assert_eq!(
            origin.to_string(),
            "/r/run.tar.gz (archive entry run/pd.tar.gz › profile-details/A.json)"
        );
    }
}
