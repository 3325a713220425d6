//! Run folders: `runs/<run-id>/` under the lab folder, with `runs/latest` pointing at
//! the newest.

use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

/// A run id sorts by time and says which release it belongs to: `20261126T220147Z-lab`.
pub fn new_run_id(release: &str, now: SystemTime) -> String {
    let stamp = humantime::format_rfc3339_seconds(now).to_string();
    let compact: String = stamp.chars().filter(|c| *c != '-' && *c != ':').collect();
    format!("{compact}-{release}")
}

/// Creates a fresh run folder (with `logs/`) and points `latest` at it.
pub fn create_run(runs_dir: &Path, release: &str) -> io::Result<(String, PathBuf)> {
    std::fs::create_dir_all(runs_dir)?;
    let base = new_run_id(release, SystemTime::now());
    let mut id = base.clone();
    let mut attempt = 1;
    let dir = loop {
        let candidate = runs_dir.join(&id);
        match std::fs::create_dir(&candidate) {
            Ok(()) => break candidate,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                attempt += 1;
                id = format!("{base}.{attempt}");
            }
            Err(e) => return Err(e),
        }
    };
    std::fs::create_dir_all(dir.join("logs"))?;
    point_latest(runs_dir, &id)?;
    Ok((id, dir))
}

fn point_latest(runs_dir: &Path, id: &str) -> io::Result<()> {
    let link = runs_dir.join("latest");
    let temporary = runs_dir.join(format!(".latest-{}", std::process::id()));
    let _ = std::fs::remove_file(&temporary);
    std::os::unix::fs::symlink(id, &temporary)?;
    std::fs::rename(&temporary, &link)
}

/// `bootstrap.json` the first time, then `bootstrap.2.json`, … so no result is overwritten.
pub fn unused_path(dir: &Path, stem: &str, extension: &str) -> PathBuf {
    let first = dir.join(format!("{stem}.{extension}"));
    if !first.exists() {
        return first;
    }
    (2..)
        .map(|n| dir.join(format!("{stem}.{n}.{extension}")))
        .find(|path| !path.exists())
        .expect("an unbounded range always yields a free name")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn run_ids_are_compact_utc_stamps() {
        let when = UNIX_EPOCH + Duration::from_secs(1_795_723_307);
        assert_eq!(new_run_id("lab", when), "20261126T200147Z-lab");
    }

    #[test]
    fn runs_never_share_a_folder_and_latest_follows() {
        let dir = tempfile::tempdir().unwrap();
        let (first, _) = create_run(dir.path(), "lab").unwrap();
        let (second, second_dir) = create_run(dir.path(), "lab").unwrap();
        assert_ne!(first, second);
        assert!(second_dir.join("logs").is_dir());
        let latest = std::fs::read_link(dir.path().join("latest")).unwrap();
        assert_eq!(latest, PathBuf::from(second));
    }

    #[test]
    fn unused_path_never_returns_an_existing_file() {
        let dir = tempfile::tempdir().unwrap();
        let first = unused_path(dir.path(), "bootstrap", "json");
        std::fs::write(&first, "{}").unwrap();
        let second = unused_path(dir.path(), "bootstrap", "json");
        assert_eq!(second.file_name().unwrap(), "bootstrap.2.json");
    }
}
