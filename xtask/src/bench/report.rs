//! `cargo xtask bench report`: `cargo xtask report` as a user types it, timed as a whole
//! process, against a plain Python baseline (`report_baseline.py`), the two in turn, on a
//! result set as large as upstream's 80-instances-per-type runs; peak memory, and whether
//! both give the same figures. The same check runs on a real result set when one is at
//! hand.

use anyhow::Context;
use lab::report::archive::TarGzWriter;
use lab::report::{Pair, Summary, analyse};
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SPEED_UP_TARGET: f64 = 10.0;
const PEAK_MEMORY_TARGET_MIB: f64 = 64.0;

#[derive(Debug, clap::Args)]
pub struct ReportBench {
    /// Timed calls to synthesise (upstream's runs at 80 instances per type have about
    /// 0.6 million).
    #[arg(long, default_value_t = 600_000)]
    calls: usize,
    /// Seed of the synthetic timings: the same seed gives the same archive.
    #[arg(long, default_value_t = 2021)]
    seed: u64,
    /// Repetitions of each command, the two in turn; the medians are reported.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// A real result set (a folder with pd.tar.gz) to check the figures on as well.
    #[arg(long, default_value_os_t = default_real_set())]
    real: PathBuf,
}

fn default_real_set() -> PathBuf {
    crate::paths::workspace_root().join("../shared/data/pts-results/crux-2.11-pts-05-02")
}

/// The profiles and methods of a real PTS run (ARCHITECTURE §3).
const PROFILES: &[(&str, &[&str])] = &[
    ("Entity creation", &["addEntity", "saveEntityReferenceCopy"]),
    (
        "Entity retrieval",
        &["isEntityKnown", "getEntitySummary", "getEntityDetail"],
    ),
    (
        "Entity history retrieval",
        &["getEntityDetail", "getEntityDetailHistory"],
    ),
    ("Entity update", &["updateEntityProperties", "reTypeEntity"]),
    ("Entity undo", &["undoEntityUpdate"]),
    ("Entity search", ENTITY_SEARCHES),
    ("Entity history search", ENTITY_SEARCHES),
    (
        "Entity classification",
        &["classifyEntity", "saveClassificationReferenceCopy"],
    ),
    ("Classification update", &["updateEntityClassification"]),
    ("Classification search", &["findEntitiesByClassification"]),
    (
        "Entity declassify",
        &["declassifyEntity", "purgeClassificationReferenceCopy"],
    ),
    ("Entity re-home", &["reHomeEntity"]),
    ("Entity re-identify", &["reIdentifyEntity"]),
    ("Entity retype", &["reTypeEntity"]),
    ("Entity delete", &["deleteEntity"]),
    ("Entity restore", &["restoreEntity"]),
    ("Entity purge", &["purgeEntity", "purgeEntityReferenceCopy"]),
    (
        "Relationship creation",
        &["addRelationship", "saveRelationshipReferenceCopy"],
    ),
    (
        "Relationship retrieval",
        &["isRelationshipKnown", "getRelationship"],
    ),
    (
        "Relationship history retrieval",
        &["getRelationship", "getRelationshipHistory"],
    ),
    ("Relationship update", &["updateRelationshipProperties"]),
    ("Relationship undo", &["undoRelationshipUpdate"]),
    ("Relationship search", RELATIONSHIP_SEARCHES),
    ("Relationship history search", RELATIONSHIP_SEARCHES),
    ("Relationship re-home", &["reHomeRelationship"]),
    ("Relationship re-identify", &["reIdentifyRelationship"]),
    ("Relationship delete", &["deleteRelationship"]),
    ("Relationship restore", &["restoreRelationship"]),
    (
        "Relationship purge",
        &["purgeRelationship", "purgeRelationshipReferenceCopy"],
    ),
    ("Graph queries", GRAPH_QUERIES),
    ("Graph history queries", GRAPH_QUERIES),
];
const ENTITY_SEARCHES: &[&str] = &[
    "findEntities",
    "findEntitiesByProperty",
    "findEntitiesByPropertyValue",
];
const RELATIONSHIP_SEARCHES: &[&str] = &[
    "findRelationships",
    "findRelationshipsByProperty",
    "findRelationshipsByPropertyValue",
];
const GRAPH_QUERIES: &[&str] = &[
    "getRelationshipsForEntity",
    "getEntityNeighborhood",
    "getRelatedEntities",
    "getLinkingEntities",
];
/// A profile present in every real run that did not run (no requirement results).
const NOT_RUN_PROFILE: &str = "Relationship retype";
const INSTANCES_PER_TYPE: usize = 80;
const TYPES: usize = 256;
const DOCS: &str =
    "https://egeria.odpi.org/open-metadata-conformance-suite/docs/performance-workbench";

/// SplitMix64: a tiny, well-mixed generator, so the archive depends on the seed alone.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    fn unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        (-2.0 * self.unit().ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos()
    }

    /// A call time: log-normal around `typical_ms`, with rare slow outliers as real runs have.
    fn elapsed_ms(&mut self, typical_ms: f64) -> u64 {
        let outlier = if self.next_u64().is_multiple_of(1000) {
            15.0
        } else {
            1.0
        };
        (typical_ms * (0.45 * self.normal()).exp() * outlier).round() as u64
    }
}

fn slug(profile: &str) -> String {
    profile.to_lowercase().replace(' ', "-")
}

fn file_name(profile: &str) -> String {
    format!("profile-details/{}.json", profile.replace(' ', "_"))
}

/// The opening of a profile-details document, up to its evidence list.
fn profile_head(id: usize, name: &str, status: &str) -> String {
    let url = format!("{DOCS}/profiles/{}", slug(name));
    format!(
        r#"{{"class":"ProfileReportResponse","relatedHTTPCode":200,"profileResult":{{"id":{id},"name":"{name}","description":"Performance tests for the technology under test: {name}.","documentationURL":"{url}","profilePriority":"OPTIONAL_PROFILE","conformanceStatus":"{status}""#
    )
}

fn requirement_head(id: usize, name: &str) -> String {
    let url = format!("{DOCS}/profiles/{}", slug(name));
    format!(
        r#","requirementResults":[{{"class":"OpenMetadataConformanceRequirementResults","id":{id},"name":"{name}","description":"Performance tests for the technology under test: {name}.","documentationURL":"{url}","conformanceStatus":"CONFORMANT_FULL_SUPPORT","positiveTestEvidence":["#
    )
}

const DOCUMENT_TAIL: &str = "]}]}}";

/// A timed profile with `calls` calls spread over its methods and test cases.
fn timed_profile(
    id: usize,
    name: &str,
    methods: &[&str],
    calls: usize,
    rng: &mut SplitMix64,
) -> String {
    let slug = slug(name);
    let typical_ms: Vec<f64> = methods
        .iter()
        .map(|_| 5.0 + (rng.next_u64() % 300) as f64)
        .collect();
    let mut json = profile_head(id, name, "CONFORMANT_FULL_SUPPORT") + &requirement_head(id, name);
    for call in 0..calls {
        let method_index = call % methods.len();
        let type_index = call / (methods.len() * INSTANCES_PER_TYPE) % TYPES;
        let variant = rng.next_u64() % 3;
        let elapsed = rng.elapsed_ms(typical_ms[method_index]);
        let method = methods[method_index];
        if call > 0 {
            json.push(',');
        }
        // Writing to a String cannot fail.
        let _ = write!(
            json,
            r#"{{"profileId":{id},"testCaseId":"repository-{slug}-performance-Type{type_index}","testCaseName":"Repository {name} performance test case","testCaseDescriptionURL":"{DOCS}/test-cases/repository-{slug}-performance-test-case.md","testEvidenceType":"SUCCESSFUL_ASSERTION","assertionId":"repository-{slug}-performance-{method}-{variant}","methodName":"{method}","elapsedTime":{elapsed}}}"#
        );
    }
    json + DOCUMENT_TAIL
}

fn environment_profile(total_calls: usize) -> String {
    let properties = json!({
        "instancesPerType": INSTANCES_PER_TYPE,
        "maxSearchResults": 10,
        "totalCalls": total_calls,
        "operatingSystem": "Linux (synthetic)",
        "heapUsage": "934320072/7635730432",
    });
    let mut json = profile_head(999, "Environment", "CONFORMANT_FULL_SUPPORT")
        + &requirement_head(999, "Environment");
    json.push_str(r#"{"profileId":999,"testCaseId":"repository-performance-environment","testEvidenceType":"SUCCESSFUL_ASSERTION","assertionId":"repository-performance-environment-properties"}"#);
    for (name, value) in properties.as_object().into_iter().flatten() {
        let _ = write!(
            json,
            r#",{{"profileId":999,"testCaseId":"repository-performance-environment","testEvidenceType":"DISCOVERED_PROPERTY","propertyName":"{name}","propertyValue":{value}}}"#
        );
    }
    json + DOCUMENT_TAIL
}

/// Writes the synthetic `pd.tar.gz`; returns its size in bytes.
fn synthesise(path: &Path, calls: usize, seed: u64) -> anyhow::Result<u64> {
    let mut rng = SplitMix64(seed);
    let pairs: usize = PROFILES.iter().map(|(_, methods)| methods.len()).sum();
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut archive = TarGzWriter::new(std::io::BufWriter::new(file));
    for (index, (name, methods)) in PROFILES.iter().enumerate() {
        // Every pair gets calls / pairs; the first pairs take the remainder.
        let pairs_before: usize = PROFILES[..index].iter().map(|(_, m)| m.len()).sum();
        let profile_calls: usize = (pairs_before..pairs_before + methods.len())
            .map(|pair| calls / pairs + usize::from(pair < calls % pairs))
            .sum();
        let document = timed_profile(index + 1, name, methods, profile_calls, &mut rng);
        archive.add_file(&file_name(name), document.as_bytes())?;
    }
    let not_run = profile_head(PROFILES.len() + 1, NOT_RUN_PROFILE, "UNKNOWN_STATUS") + "}}";
    archive.add_file(&file_name(NOT_RUN_PROFILE), not_run.as_bytes())?;
    archive.add_file(
        &file_name("Environment"),
        environment_profile(calls).as_bytes(),
    )?;
    archive
        .finish()?
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    Ok(std::fs::metadata(path)?.len())
}

/// Runs `a` and `b` in turn, `runs` times each, so a drift of the machine's speed
/// touches both alike; returns their median wall times.
fn timed_in_turn(
    runs: u32,
    mut a: impl FnMut(u32) -> anyhow::Result<()>,
    mut b: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<(Duration, Duration)> {
    let (mut a_times, mut b_times) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let started = Instant::now();
        a(run)?;
        a_times.push(started.elapsed());
        let started = Instant::now();
        b()?;
        b_times.push(started.elapsed());
    }
    let median = |mut times: Vec<Duration>| {
        times.sort();
        times.get(times.len() / 2).copied().unwrap_or_default()
    };
    Ok((median(a_times), median(b_times)))
}

/// `cargo xtask report ARCHIVE --out OUT`, exactly as a user runs it: cargo's own start
/// and the freshness check of the build included.
fn report_as_typed(archive: &Path, out: &Path) -> anyhow::Result<std::process::Output> {
    let output = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
        .current_dir(crate::paths::workspace_root())
        .args(["xtask", "report"])
        .arg(archive)
        .arg("--out")
        .arg(out)
        .stderr(Stdio::inherit())
        .output()
        .context("running `cargo xtask report` on the synthetic set")?;
    anyhow::ensure!(
        output.status.success(),
        "`cargo xtask report` failed: {}",
        output.status
    );
    Ok(output)
}

/// Runs `cargo xtask report` on `archive`; returns the peak memory it states.
fn report_peak_mib(archive: &Path, out: &Path) -> anyhow::Result<f64> {
    let output = report_as_typed(archive, out)?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stated = stdout
        .lines()
        .find_map(|line| line.strip_prefix(crate::report::PEAK_MEMORY_LABEL))
        .context("`cargo xtask report` stated no peak memory")?;
    stated
        .trim()
        .trim_end_matches("MiB")
        .trim()
        .parse()
        .with_context(|| format!("reading the peak memory {stated:?}"))
}

/// What the Python baseline prints.
struct Baseline {
    pairs: Vec<Pair>,
    peak_rss_kib: f64,
}

fn run_baseline(pd_tar_gz: &Path) -> anyhow::Result<Baseline> {
    let script = crate::paths::workspace_root().join("xtask/src/bench/report_baseline.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(pd_tar_gz)
        .stderr(Stdio::inherit())
        .output()
        .context("running python3 (is it installed?)")?;
    anyhow::ensure!(
        output.status.success(),
        "{} failed: {}",
        script.display(),
        output.status
    );
    let mut printed: serde_json::Value =
        serde_json::from_slice(&output.stdout).context("reading the Python baseline's output")?;
    Ok(Baseline {
        pairs: serde_json::from_value(printed["pairs"].take()).context("the baseline's pairs")?,
        peak_rss_kib: printed["peak_rss_kib"]
            .as_f64()
            .context("the baseline's peak memory")?,
    })
}

/// Differences between the Rust summary and the baseline, one line each (empty: identical).
fn differences(summary: &Summary, baseline: &[Pair]) -> Vec<String> {
    let key = |pair: &Pair| (pair.profile.clone(), pair.method.clone());
    let mut expected: BTreeMap<_, _> = baseline.iter().map(|pair| (key(pair), pair)).collect();
    let mut found = Vec::new();
    for pair in &summary.pairs {
        match expected.remove(&key(pair)) {
            None => found.push(format!(
                "{} / {}: only in the Rust report",
                pair.profile, pair.method
            )),
            Some(theirs) if theirs != pair => {
                found.push(format!("Rust {pair:?}, Python {theirs:?}"));
            }
            Some(_) => {}
        }
    }
    found.extend(
        expected
            .into_keys()
            .map(|(profile, method)| format!("{profile} / {method}: only in Python")),
    );
    found
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

pub fn run(bench: ReportBench) -> anyhow::Result<()> {
    let root = crate::paths::lab_dir(None).root().join("bench/report");
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let archive = root.join(format!(
        "synthetic-{}-calls-seed-{}.pd.tar.gz",
        bench.calls, bench.seed
    ));
    let started = Instant::now();
    let archive_bytes = synthesise(&archive, bench.calls, bench.seed)?;
    println!(
        "synthesised {} timed calls in {} ({:.1} MiB) in {:.1} s",
        bench.calls,
        archive.display(),
        archive_bytes as f64 / (1024.0 * 1024.0),
        started.elapsed().as_secs_f64()
    );

    // `report` never overwrites a report folder: each run gets a new one.
    let out = |run: u32| root.join(format!("synthetic-report-{run}"));
    for run in 0..bench.runs {
        let _ = std::fs::remove_dir_all(out(run));
    }
    let _ = std::fs::remove_dir_all(root.join("synthetic-report"));
    let rust_peak_mib = report_peak_mib(&archive, &root.join("synthetic-report"))?;
    // The timed baseline runs' last answer is the one the figures are checked against.
    let mut last_baseline = None;
    let (rust_time, python_time) = timed_in_turn(
        bench.runs,
        |run| report_as_typed(&archive, &out(run)).map(drop),
        || {
            last_baseline = Some(run_baseline(&archive)?);
            Ok(())
        },
    )?;
    let baseline = last_baseline.context("the baseline never ran")?;
    let summary = analyse(&archive)?;
    let speed_up = python_time.as_secs_f64() / rust_time.as_secs_f64();
    let python_peak_mib = baseline.peak_rss_kib / 1024.0;
    let synthetic_differences = differences(&summary, &baseline.pairs);
    let real_check = check_real_set(&bench.real)?;

    // The report parses on two threads when it can: say how many cores it had.
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    println!(
        "report benchmark: {} pairs, median of {} runs each, {cores} cores",
        summary.pairs.len(),
        bench.runs
    );
    println!(
        "  `cargo xtask report`, whole command  {:>8.3} s",
        rust_time.as_secs_f64()
    );
    println!(
        "  Python baseline, whole command       {:>8.3} s  (peak memory {python_peak_mib:.1} MiB)",
        python_time.as_secs_f64()
    );
    println!(
        "target: at least {SPEED_UP_TARGET}x faster than the baseline: {speed_up:.1}x — {}",
        verdict(speed_up >= SPEED_UP_TARGET)
    );
    println!(
        "target: peak memory of `cargo xtask report` under {PEAK_MEMORY_TARGET_MIB} MiB: {rust_peak_mib:.1} MiB — {}",
        verdict(rust_peak_mib < PEAK_MEMORY_TARGET_MIB)
    );
    let synthetic_matched =
        report_differences("synthetic set", summary.pairs.len(), &synthetic_differences);
    let real_matched = match &real_check {
        Some((pairs, found)) => report_differences("real set", *pairs, found),
        None => {
            println!("real set {} not found: not checked", bench.real.display());
            true
        }
    };
    let figures = json!({
        "calls": bench.calls,
        "seed": bench.seed,
        "archive_bytes": archive_bytes,
        "rust_seconds": rust_time.as_secs_f64(),
        "python_seconds": python_time.as_secs_f64(),
        "speed_up": speed_up,
        "rust_peak_mib": rust_peak_mib,
        "cores": cores,
        "python_peak_mib": python_peak_mib,
        "synthetic_figures_match": synthetic_matched,
        "real_figures_match": real_check.as_ref().map(|(_, found)| found.is_empty()),
    });
    let path = root.join("report.json");
    lab::state::write_json(&path, &figures)?;
    println!("figures saved to {}", path.display());
    anyhow::ensure!(
        synthetic_matched && real_matched,
        "the Rust report and the Python baseline disagree"
    );
    Ok(())
}

/// Pairs compared and differences found on the real set, if it is there.
fn check_real_set(real: &Path) -> anyhow::Result<Option<(usize, Vec<String>)>> {
    let pd_tar_gz = real.join("pd.tar.gz");
    if !pd_tar_gz.is_file() {
        return Ok(None);
    }
    let summary = analyse(real)?;
    let baseline = run_baseline(&pd_tar_gz)?;
    Ok(Some((
        summary.pairs.len(),
        differences(&summary, &baseline.pairs),
    )))
}

/// Prints whether the figures matched; returns true when they did.
fn report_differences(label: &str, pairs: usize, found: &[String]) -> bool {
    if found.is_empty() {
        println!(
            "{label}: count, median, p90, p99, max and slowest call identical to Python for all {pairs} pairs"
        );
        return true;
    }
    println!("{label}: {} differences from Python:", found.len());
    for line in found {
        println!("  {line}");
    }
    false
}
