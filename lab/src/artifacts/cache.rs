//! The per-user artefact cache: jars fetched once from Maven Central into the XDG cache
//! folder, shared by every lab and checkout, and checked against the lock's sha256 before
//! every use. A partial or altered file is fetched again; once every jar is there, the lab
//! needs no network.

use super::{Coordinates, Jar};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

/// Overrides the cache folder (default: `$XDG_CACHE_HOME/egeria-ha-lab`, else
/// `~/.cache/egeria-ha-lab`).
pub const CACHE_ENV: &str = "EGERIA_HA_LAB_CACHE";
/// Overrides the Maven repository jars are fetched from (a mirror of Maven Central).
pub const REPOSITORY_ENV: &str = "EGERIA_HA_LAB_MAVEN_REPO";
pub const MAVEN_CENTRAL: &str = "https://repo1.maven.org/maven2";
/// Downloads at once: enough to hide each request's latency, few enough to be polite.
const CONCURRENT_FETCHES: usize = 4;
/// One jar's whole download, however large (the biggest are tens of MiB).
const FETCH_TIMEOUT: Duration = Duration::from_secs(300);

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error(
        "cannot fetch {coordinates} from {url}: {detail}\n  The artefact cache {cache} lacks it and the registry is out of reach. On a machine that reaches Maven Central, run `cargo xtask artifacts fetch`, then copy its cache folder to {cache} here (or point {CACHE_ENV} at a copy, or {REPOSITORY_ENV} at a Maven mirror you can reach)."
    )]
    Unreachable {
        coordinates: String,
        url: String,
        detail: String,
        cache: PathBuf,
    },
    #[error(
        "refused {coordinates} from {url}: its sha256 is {actual}, but the lock pins {expected}; nothing was run"
    )]
    DigestMismatch {
        coordinates: String,
        url: String,
        expected: String,
        actual: String,
    },
    #[error("the registry does not publish {coordinates} ({url} answered 404)")]
    NotPublished { coordinates: String, url: String },
    #[error("the disk holding {path} is full; free some space and try again")]
    DiskFull { path: PathBuf },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no cache folder: neither {CACHE_ENV}, XDG_CACHE_HOME nor HOME is set")]
    NoHome,
}

pub(crate) fn io_error(path: &Path, source: std::io::Error) -> CacheError {
    if source.kind() == std::io::ErrorKind::StorageFull {
        CacheError::DiskFull {
            path: path.to_path_buf(),
        }
    } else {
        CacheError::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}

/// Where [`Cache::ensure_published`] keeps the digests it recorded, in the cache's root.
const RECORDED_DIGESTS: &str = "recorded-digests.json";

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct RecordedDigest {
    url: String,
    /// As the registry published it at the first fetch.
    sha1: String,
    /// Of the file fetched then: what every later use is checked against.
    sha256: String,
}

#[derive(Clone, Debug)]
pub struct Cache {
    /// Jars live below `root/maven/` in the repository layout.
    root: PathBuf,
    repository: String,
    http: reqwest::Client,
}

impl Cache {
    /// The user's cache, fetching from Maven Central unless told otherwise.
    pub fn from_env() -> Result<Self, CacheError> {
        let root = match std::env::var_os(CACHE_ENV) {
            Some(explicit) => PathBuf::from(explicit),
            None => std::env::var_os("XDG_CACHE_HOME")
                .map(PathBuf::from)
                .filter(|path| path.is_absolute())
                .or_else(|| std::env::var_os("HOME").map(|home| Path::new(&home).join(".cache")))
                .ok_or(CacheError::NoHome)?
                .join("egeria-ha-lab"),
        };
        let repository =
            std::env::var(REPOSITORY_ENV).unwrap_or_else(|_| MAVEN_CENTRAL.to_string());
        Ok(Self::new(root, &repository))
    }

    pub fn new(root: PathBuf, repository: &str) -> Self {
        Self {
            root,
            repository: repository.trim_end_matches('/').to_string(),
            http: reqwest::Client::builder()
                .timeout(FETCH_TIMEOUT)
                .connect_timeout(Duration::from_secs(10))
                .build()
                .expect("a plain HTTPS client always builds"),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path_of(&self, coordinates: &Coordinates) -> PathBuf {
        self.root.join("maven").join(coordinates.repository_path())
    }

    fn url_of(&self, coordinates: &Coordinates) -> String {
        format!("{}/{}", self.repository, coordinates.repository_path())
    }

    /// Makes sure every jar is in the cache with the digest the lock pins, fetching what
    /// is missing, partial or altered; returns their paths in the order given. `what`
    /// names the set in the progress line.
    pub async fn ensure(&self, what: &str, jars: &[&Jar]) -> Result<Vec<PathBuf>, CacheError> {
        // Checking digests is the bulk of a warm start: both cores at it.
        let checks = futures::stream::iter(jars.iter().map(|jar| async move {
            let path = self.path_of(&jar.coordinates);
            let digest = file_digest(path.clone()).await?;
            Ok::<_, CacheError>((digest.as_deref() == Some(jar.sha256.as_str()), digest))
        }))
        .buffered(2)
        .collect::<Vec<_>>()
        .await;
        let mut missing = Vec::new();
        for (jar, check) in jars.iter().zip(checks) {
            let (good, digest) = check?;
            if !good {
                if digest.is_some() {
                    eprintln!(
                        "  {}: the cached copy is partial or altered; fetching it again",
                        jar.coordinates
                    );
                }
                missing.push(*jar);
            }
        }
        if !missing.is_empty() {
            self.fetch_all(what, &missing).await?;
        }
        Ok(jars
            .iter()
            .map(|jar| self.path_of(&jar.coordinates))
            .collect())
    }

    async fn fetch_all(&self, what: &str, jars: &[&Jar]) -> Result<(), CacheError> {
        let done = AtomicUsize::new(0);
        let bytes = AtomicU64::new(0);
        let total = jars.len();
        let progress = Progress::new(format!(
            "fetching {total} {what} jars into {}",
            self.root.display()
        ));
        let outcomes: Vec<Result<(), CacheError>> =
            futures::stream::iter(jars.iter().map(|jar| async {
                let size = self.fetch(jar).await?;
                let done = done.fetch_add(1, Ordering::SeqCst) + 1;
                let bytes = bytes.fetch_add(size, Ordering::SeqCst) + size;
                progress.update(done, total, bytes);
                Ok(())
            }))
            .buffer_unordered(CONCURRENT_FETCHES)
            .collect()
            .await;
        progress.finish();
        // The first failure in the lock's order, so the message names the first missing jar.
        outcomes.into_iter().collect()
    }

    /// Downloads one jar into its place in the cache; returns its size.
    async fn fetch(&self, jar: &Jar) -> Result<u64, CacheError> {
        let download = Download {
            what: jar.coordinates.to_string(),
            url: self.url_of(&jar.coordinates),
            expected: Expected::Sha256(jar.sha256.clone()),
        };
        self.download(&download, &self.path_of(&jar.coordinates))
            .await
            .map(|(size, _)| size)
    }

    /// Downloads a file next to `path`, checking its digest on the way, and moves it to
    /// `path` only when it matches; returns its size and sha256.
    pub(super) async fn download(
        &self,
        download: &Download,
        path: &Path,
    ) -> Result<(u64, String), CacheError> {
        let Download {
            what,
            url,
            expected,
        } = download;
        let folder = path.parent().expect("cache paths have folders");
        tokio::fs::create_dir_all(folder)
            .await
            .map_err(|e| io_error(folder, e))?;
        let unreachable = |detail: String| CacheError::Unreachable {
            coordinates: what.clone(),
            url: url.clone(),
            detail,
            cache: self.root.clone(),
        };
        let mut response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| unreachable(error_chain(&e)))?;
        if !response.status().is_success() {
            return Err(unreachable(format!("HTTP {}", response.status())));
        }
        // Unique per process: two labs filling one cache never share a part file.
        let mut part = path.as_os_str().to_owned();
        part.push(format!(".part-{}", std::process::id()));
        let part = PathBuf::from(part);
        let mut file = tokio::fs::File::create(&part)
            .await
            .map_err(|e| io_error(&part, e))?;
        let mut hasher = Sha256::new();
        let mut sha1 = sha1::Sha1::new();
        let mut size = 0u64;
        let outcome = async {
            use tokio::io::AsyncWriteExt;
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| unreachable(error_chain(&e)))?
            {
                hasher.update(&chunk);
                sha1.update(&chunk);
                size += chunk.len() as u64;
                file.write_all(&chunk)
                    .await
                    .map_err(|e| io_error(&part, e))?;
            }
            file.sync_all().await.map_err(|e| io_error(&part, e))?;
            let sha256 = hex(&hasher.finalize());
            let (expected, actual) = match expected {
                Expected::Sha256(pinned) => (pinned.clone(), sha256.clone()),
                Expected::Sha1(published) => (published.clone(), hex(&sha1.finalize())),
            };
            if actual != expected {
                return Err(CacheError::DigestMismatch {
                    coordinates: what.clone(),
                    url: url.clone(),
                    expected,
                    actual,
                });
            }
            tokio::fs::rename(&part, path)
                .await
                .map_err(|e| io_error(path, e))?;
            Ok(sha256)
        }
        .await;
        if outcome.is_err() {
            let _ = tokio::fs::remove_file(&part).await;
        }
        outcome.map(|sha256| (size, sha256))
    }

    /// A jar the lab cannot pin ahead (it was never readable where the lab is built): its
    /// digest is recorded at the first fetch, checked then against the `.sha1` the
    /// registry publishes beside it, and every later use checks the recorded sha256, so a
    /// jar that changes on the server is refused rather than trusted anew. A registry
    /// that does not have it answers [`CacheError::NotPublished`].
    pub async fn ensure_published(&self, coordinates: &Coordinates) -> Result<PathBuf, CacheError> {
        let path = self.path_of(coordinates);
        let records_path = self.root.join(RECORDED_DIGESTS);
        let mut records: std::collections::BTreeMap<String, RecordedDigest> =
            match std::fs::read_to_string(&records_path) {
                Ok(text) => serde_json::from_str(&text).unwrap_or_default(),
                Err(_) => Default::default(),
            };
        let key = coordinates.to_string();
        let url = self.url_of(coordinates);
        if let Some(record) = records.get(&key) {
            if file_digest(path.clone()).await?.as_deref() == Some(record.sha256.as_str()) {
                return Ok(path);
            }
            let download = Download {
                what: key.clone(),
                url,
                expected: Expected::Sha256(record.sha256.clone()),
            };
            self.download(&download, &path).await?;
            return Ok(path);
        }
        let published = self.published_sha1(coordinates, &url).await?;
        let download = Download {
            what: key.clone(),
            url: url.clone(),
            expected: Expected::Sha1(published.clone()),
        };
        eprintln!("  fetching {key} (digest recorded at this first fetch)");
        let (_, sha256) = self.download(&download, &path).await?;
        records.insert(
            key,
            RecordedDigest {
                url,
                sha1: published,
                sha256,
            },
        );
        let text = serde_json::to_string_pretty(&records).expect("plain records");
        std::fs::write(&records_path, text).map_err(|e| io_error(&records_path, e))?;
        Ok(path)
    }

    async fn published_sha1(
        &self,
        coordinates: &Coordinates,
        url: &str,
    ) -> Result<String, CacheError> {
        let sha1_url = format!("{url}.sha1");
        let unreachable = |detail: String| CacheError::Unreachable {
            coordinates: coordinates.to_string(),
            url: sha1_url.clone(),
            detail,
            cache: self.root.clone(),
        };
        let response = self
            .http
            .get(&sha1_url)
            .send()
            .await
            .map_err(|e| unreachable(error_chain(&e)))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Err(CacheError::NotPublished {
                coordinates: coordinates.to_string(),
                url: url.to_string(),
            });
        }
        if !status.is_success() {
            return Err(unreachable(format!("HTTP {status}")));
        }
        let text = response
            .text()
            .await
            .map_err(|e| unreachable(error_chain(&e)))?;
        let digest = text
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        if digest.len() != 40 || !digest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(unreachable(format!("{sha1_url} is not a sha1 digest")));
        }
        Ok(digest)
    }
}

/// One file to fetch: what it is (for messages), where from, and the digest it must have.
pub(super) struct Download {
    pub what: String,
    pub url: String,
    pub expected: Expected,
}

/// The digest a download is checked against.
pub(super) enum Expected {
    /// Pinned by the lab (the lock, or recorded at a first fetch).
    Sha256(String),
    /// Published by the registry beside the file (`.sha1`), for a first fetch.
    Sha1(String),
}

/// The sha256 of a file, `None` when it does not exist.
pub(super) async fn file_digest(path: PathBuf) -> Result<Option<String>, CacheError> {
    tokio::task::spawn_blocking(move || {
        let mut file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(&path, e)),
        };
        digest_of(&mut file)
            .map(Some)
            .map_err(|e| io_error(&path, e))
    })
    .await
    .expect("hashing does not panic")
}

/// The sha256 of a file, as the lock writes it.
pub fn sha256_of(path: &Path) -> std::io::Result<String> {
    digest_of(&mut std::fs::File::open(path)?)
}

pub(super) fn digest_of(reader: &mut impl std::io::Read) -> std::io::Result<String> {
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        match reader.read(&mut buffer)? {
            0 => return Ok(hex(&hasher.finalize())),
            read => hasher.update(&buffer[..read]),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// An error with its causes: reqwest's own message hides why a connection failed.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// One progress line: rewritten in place on a terminal, a line per quarter elsewhere.
struct Progress {
    title: String,
    terminal: bool,
    printed_quarters: AtomicUsize,
}

impl Progress {
    fn new(title: String) -> Self {
        let terminal = std::io::stderr().is_terminal();
        if !terminal {
            eprintln!("  {title}");
        }
        Self {
            title,
            terminal,
            printed_quarters: AtomicUsize::new(0),
        }
    }

    fn update(&self, done: usize, total: usize, bytes: u64) {
        let state = format!(
            "{done}/{total}, {:.1} MiB",
            bytes as f64 / (1024.0 * 1024.0)
        );
        if self.terminal {
            eprint!("\r  {}: {state}  ", self.title);
            let _ = std::io::stderr().flush();
            return;
        }
        let quarter = done * 4 / total.max(1);
        if self.printed_quarters.fetch_max(quarter, Ordering::SeqCst) < quarter {
            eprintln!("  {state}");
        }
    }

    fn finish(&self) {
        if self.terminal {
            eprintln!();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    /// A Maven repository on loopback serving `files` (repository path → bytes); returns
    /// its URL and the paths requested.
    async fn repository(files: HashMap<String, Vec<u8>>) -> (String, Arc<Mutex<Vec<String>>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let requested = Arc::new(Mutex::new(Vec::new()));
        let seen = requested.clone();
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let path = uri.path().trim_start_matches("/maven2/").to_string();
            seen.lock().unwrap().push(path.clone());
            let body = files.get(&path).cloned();
            async move {
                match body {
                    Some(bytes) => (axum::http::StatusCode::OK, bytes),
                    None => (axum::http::StatusCode::NOT_FOUND, Vec::new()),
                }
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{address}/maven2"), requested)
    }

    fn jar(coordinates: &str, content: &[u8]) -> Jar {
        let mut hasher = Sha256::new();
        hasher.update(content);
        Jar {
            set: "kafka".into(),
            coordinates: coordinates.parse().unwrap(),
            sha256: hex(&hasher.finalize()),
        }
    }

    #[tokio::test]
    async fn jars_are_fetched_once_then_used_offline() {
        let a = jar("org.example:a:1", b"jar a");
        let b = jar("org.example:b:2:all", b"jar b");
        let files = HashMap::from([
            (a.coordinates.repository_path(), b"jar a".to_vec()),
            (b.coordinates.repository_path(), b"jar b".to_vec()),
        ]);
        let (url, requested) = repository(files).await;
        let folder = tempfile::tempdir().unwrap();
        let cache = Cache::new(folder.path().to_path_buf(), &url);

        let paths = cache.ensure("test", &[&a, &b]).await.unwrap();
        assert_eq!(std::fs::read(&paths[1]).unwrap(), b"jar b");
        assert_eq!(requested.lock().unwrap().len(), 2);

        // Offline: the registry is gone, the cache serves.
        let offline = Cache::new(folder.path().to_path_buf(), "http://127.0.0.1:9/maven2");
        assert_eq!(offline.ensure("test", &[&a, &b]).await.unwrap(), paths);
    }

    #[tokio::test]
    async fn an_altered_or_partial_copy_is_fetched_again() {
        let a = jar("org.example:a:1", b"jar a");
        let files = HashMap::from([(a.coordinates.repository_path(), b"jar a".to_vec())]);
        let (url, requested) = repository(files).await;
        let folder = tempfile::tempdir().unwrap();
        let cache = Cache::new(folder.path().to_path_buf(), &url);
        let path = cache.path_of(&a.coordinates);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, b"jar").unwrap();

        cache.ensure("test", &[&a]).await.unwrap();

        assert_eq!(std::fs::read(&path).unwrap(), b"jar a");
        assert_eq!(requested.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_registry_answer_with_another_digest_is_refused_and_not_kept() {
        let a = jar("org.example:a:1", b"jar a");
        let files = HashMap::from([(a.coordinates.repository_path(), b"evil a".to_vec())]);
        let (url, _requested) = repository(files).await;
        let folder = tempfile::tempdir().unwrap();
        let cache = Cache::new(folder.path().to_path_buf(), &url);

        let error = cache.ensure("test", &[&a]).await.unwrap_err();

        let message = error.to_string();
        assert!(
            message.starts_with("refused org.example:a:1 from http://"),
            "{message}"
        );
        assert!(message.contains(&a.sha256), "{message}");
        let folder_of_a = cache.path_of(&a.coordinates);
        let leftovers: Vec<_> = std::fs::read_dir(folder_of_a.parent().unwrap())
            .unwrap()
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[tokio::test]
    async fn an_unreachable_registry_names_the_first_missing_jar_and_the_way_out() {
        let a = jar("org.example:a:1", b"jar a");
        let folder = tempfile::tempdir().unwrap();
        let cache = Cache::new(folder.path().to_path_buf(), "http://127.0.0.1:9/maven2");

        let message = cache.ensure("test", &[&a]).await.unwrap_err().to_string();

        assert!(message.starts_with("cannot fetch org.example:a:1 from http://127.0.0.1:9/maven2/org/example/a/1/a-1.jar"), "{message}");
        assert!(message.contains("cargo xtask artifacts fetch"), "{message}");
        assert!(
            message.contains(&folder.path().display().to_string()),
            "{message}"
        );
    }
}
