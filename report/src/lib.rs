//! The PTS report behind `cargo xtask report`, a crate of its own so that it is built
//! optimised even in the debug builds the README's commands make (see the workspace's
//! `[profile.dev.package.pts-report]`): per-(profile, method) figures of a PTS result set (ARCHITECTURE §3)
//! — count, median, nearest-rank p90 and p99, max and the slowest call — with Markdown,
//! JSON and SVG output, and the comparison of two runs.
//!
//! A result set is a run folder or upstream-style folder (`profile-details/` or
//! `pd.tar.gz`, optionally `test-case-details/` or `tcd.tar.gz`), or a tarball holding
//! them. Archives are streamed entry by entry, and the documents parsed on two cores as
//! they come (`pipeline`); memory is bounded by a budget of document buffers (or the
//! largest single profile file), not by the size of the run.

pub mod archive;
#[cfg(feature = "cli")]
pub mod cli;
mod compare;
mod gzip;
pub mod html;
mod json;
mod piece;
mod pipeline;
pub mod plot;
mod profile;
mod render;
mod source;
mod stats;
mod svg;

pub use compare::{Comparison, PairChange, PairKey, Spread, compare};
pub use json::JsonError;
pub use source::Origin;
pub use stats::Figures;

use pipeline::Parsed;
use profile::ProfileDetails;
use serde::{Deserialize, Serialize};
use stats::Timings;
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

/// The profile whose discovered properties describe the run's environment.
const ENVIRONMENT_PROFILE: &str = "Environment";

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{path}: no such file or folder")]
    Missing { path: PathBuf },
    #[error(
        "{path}: no profile details found (expected profile-details/ or pd.tar.gz, or a tarball holding them)"
    )]
    NoProfiles { path: PathBuf },
    #[error("{origin}: not a gzip file (a result tarball must be a .tar.gz)")]
    NotGzip { origin: Origin },
    #[error("{origin}: cannot read: {error}")]
    Read { origin: Origin, error: io::Error },
    #[error("{origin}: not a PTS document of the expected shape: {error}")]
    Json { origin: Origin, error: JsonError },
    #[error("cannot write {path}: {error}")]
    Write { path: PathBuf, error: io::Error },
}

/// One (profile, method) pair and its figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pair {
    pub profile: String,
    pub method: String,
    #[serde(flatten)]
    pub figures: Figures,
}

/// Everything the report says about one result set (written as `summary.json`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub source: String,
    /// The Environment profile's discovered properties.
    pub environment: BTreeMap<String, serde_json::Value>,
    /// Sorted by profile, then method.
    pub pairs: Vec<Pair>,
    pub not_run_profiles: Vec<String>,
    pub not_run_test_cases: usize,
    /// Caveats about what could not be read (no test-case details, for one).
    pub notes: Vec<String>,
}

/// Reads the result set at `path` and computes its figures.
pub fn analyse(path: &Path) -> Result<Summary, ReportError> {
    let (collector, test_cases_present) = pipeline::collect(path)?;
    let mut notes = Vec::new();
    if !test_cases_present {
        notes.push(
            "no test-case-details/ or tcd.tar.gz: test cases that never ran were not counted"
                .into(),
        );
    }
    Ok(collector.into_summary(path, notes))
}

/// The figures of the documents read so far, merged in document order.
#[derive(Default)]
struct Collector {
    timings: BTreeMap<(String, String), Timings>,
    environment: BTreeMap<String, serde_json::Value>,
    not_run_profiles: BTreeSet<String>,
    not_run_test_cases: usize,
}

impl Collector {
    /// Adds the next document's figures.
    fn add(&mut self, parsed: Parsed) {
        match parsed {
            Parsed::Profile(details) => self.add_profile(details),
            Parsed::TestCase { ran } => self.not_run_test_cases += usize::from(!ran),
        }
    }

    fn add_profile(&mut self, details: ProfileDetails) {
        if !details.ran {
            self.not_run_profiles.insert(details.name.clone());
        }
        if details.name == ENVIRONMENT_PROFILE {
            self.environment.extend(details.discovered);
        }
        for (method, timings) in details.timings_by_method {
            match self.timings.entry((details.name.clone(), method)) {
                std::collections::btree_map::Entry::Vacant(slot) => {
                    slot.insert(timings);
                }
                std::collections::btree_map::Entry::Occupied(mut slot) => {
                    slot.get_mut().absorb(timings)
                }
            }
        }
    }

    fn into_summary(self, path: &Path, notes: Vec<String>) -> Summary {
        let pairs = self
            .timings
            .into_iter()
            .filter_map(|((profile, method), timings)| {
                Some(Pair {
                    profile,
                    method,
                    figures: timings.figures()?,
                })
            })
            .collect();
        Summary {
            source: path.display().to_string(),
            environment: self.environment,
            pairs,
            not_run_profiles: self.not_run_profiles.into_iter().collect(),
            not_run_test_cases: self.not_run_test_cases,
            notes,
        }
    }
}

/// `<PATH>/report/` for a folder; `<name>-report/` beside a tarball.
pub fn default_out_dir(path: &Path) -> PathBuf {
    if path.is_dir() {
        return path.join("report");
    }
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy())
        .unwrap_or_default();
    let stem = [".tar.gz", ".tgz"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix))
        .unwrap_or(&name);
    path.with_file_name(format!("{stem}-report"))
}

/// The plot file of a profile: `plots/Entity_creation.svg` for "Entity creation".
pub fn plot_path(prefix: &str, profile: &str) -> String {
    let name: String = profile
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("plots/{prefix}{name}.svg")
}

/// Writes `summary.json`, `report.md` and one plot per profile into `out_dir`.
pub fn write_report(summary: &Summary, out_dir: &Path) -> Result<(), ReportError> {
    write_json(&out_dir.join("summary.json"), summary)?;
    write_text(
        &out_dir.join("report.md"),
        &render::summary_markdown(summary),
    )?;
    for (profile, pairs) in render::by_profile(&summary.pairs, |pair| pair.profile.as_str()) {
        let rows: Vec<svg::Row> = pairs
            .iter()
            .map(|pair| svg::Row {
                label: &pair.method,
                bars: vec![Some(svg::Bar {
                    median: pair.figures.median,
                    p90: pair.figures.p90 as f64,
                })],
            })
            .collect();
        let chart = svg::chart(profile, &[summary.source.as_str()], &rows);
        write_text(&out_dir.join(plot_path("", profile)), &chart)?;
    }
    Ok(())
}

/// Writes `comparison.json`, `comparison.md` and one side-by-side plot per profile.
pub fn write_comparison(comparison: &Comparison, out_dir: &Path) -> Result<(), ReportError> {
    write_json(&out_dir.join("comparison.json"), comparison)?;
    write_text(
        &out_dir.join("comparison.md"),
        &render::comparison_markdown(comparison),
    )?;
    for (profile, changes) in
        render::by_profile(&comparison.pairs, |change| change.profile.as_str())
    {
        let bar = |spread: &Spread| {
            Some(svg::Bar {
                median: spread.median,
                p90: spread.p90 as f64,
            })
        };
        let rows: Vec<svg::Row> = changes
            .iter()
            .map(|change| svg::Row {
                label: &change.method,
                bars: vec![bar(&change.baseline), bar(&change.run)],
            })
            .collect();
        let series = [comparison.baseline.as_str(), comparison.run.as_str()];
        let chart = svg::chart(profile, &series, &rows);
        write_text(&out_dir.join(plot_path("compare-", profile)), &chart)?;
    }
    Ok(())
}

fn write_json(path: &Path, value: &impl Serialize) -> Result<(), ReportError> {
    let mut text = serde_json::to_string_pretty(value).map_err(|error| ReportError::Write {
        path: path.to_path_buf(),
        error: io::Error::other(error),
    })?;
    text.push('\n');
    write_text(path, &text)
}

fn write_text(path: &Path, text: &str) -> Result<(), ReportError> {
    let fail = |error| ReportError::Write {
        path: path.to_path_buf(),
        error,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(fail)?;
    }
    std::fs::write(path, text).map_err(fail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_dir_defaults() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(default_out_dir(dir.path()), dir.path().join("report"));
        assert_eq!(
            default_out_dir(Path::new("/x/crux-2.11.tar.gz")),
            Path::new("/x/crux-2.11-report")
        );
        assert_eq!(
            default_out_dir(Path::new("run.tgz")),
            Path::new("run-report")
        );
    }

    #[test]
    fn plot_paths_use_underscores() {
        assert_eq!(plot_path("", "Entity re-home"), "plots/Entity_re-home.svg");
        assert_eq!(plot_path("compare-", "A/B"), "plots/compare-A_B.svg");
    }
}
