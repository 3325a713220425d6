//! `cargo xtask bench report`: the report as the README types it (the built `lab report`,
//! and `cargo xtask report`), each timed as a whole process, against a plain Python
//! baseline (`report_baseline.py`), all in turn, on a result set as large as upstream's
//! 80-instances-per-type runs and shaped like the real ones; peak memory, and whether both
//! give the same figures. The same check runs on a real result set when one is at hand.

use anyhow::Context;
use lab::report::archive::TarGzWriter;
use lab::report::{Figures, Pair, Summary, analyse};
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SPEED_UP_TARGET: f64 = 10.0;
/// What writing the run's page may add to the report's time, in percent.
const HTML_COST_TARGET_PCT: f64 = 10.0;
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
    /// How the synthetic calls are spread: the speed target must hold on each.
    #[arg(long, value_enum, default_value_t = Shape::Crux211)]
    shape: Shape,
    /// Also time `report --html` (the run's page) beside `report`: its cost, in percent.
    #[arg(long)]
    html: bool,
}

/// The shapes of result set the bench synthesises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// The crux-2.11 set's calls per profile and method, over 256 types.
    #[value(name = "crux-2.11")]
    Crux211,
    /// One profile (Entity search) weighted twenty times: one document holds most of
    /// the calls, as searches do at a large volume.
    OneHeavyProfile,
    /// The same calls over 16 types: few test cases, each with many calls.
    FewTypes,
}

impl Shape {
    fn types(self) -> usize {
        match self {
            Shape::FewTypes => 16,
            _ => TYPES,
        }
    }

    /// How much more a profile weighs than in the crux-2.11 set.
    fn weight(self, profile: &str) -> usize {
        match (self, profile) {
            (Shape::OneHeavyProfile, "Entity search") => 20,
            _ => 1,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Shape::Crux211 => "crux-2.11",
            Shape::OneHeavyProfile => "one-heavy-profile",
            Shape::FewTypes => "few-types",
        }
    }
}

fn default_real_set() -> PathBuf {
    crate::paths::workspace_root().join("../shared/data/pts-results/crux-2.11-pts-05-02")
}

/// The profiles and methods of a real PTS run (ARCHITECTURE §3), each method with its
/// timed calls in the crux-2.11 result set (`../shared/data/pts-results/`, published by
/// the Egeria project): the synthetic set spreads its calls in the same proportions, so
/// its documents have the real set's relative sizes (searches and graph queries large,
/// re-homes small).
const PROFILES: &[(&str, &[(&str, usize)])] = &[
    (
        "Classification search",
        &[("findEntitiesByClassification", 524)],
    ),
    (
        "Classification update",
        &[("updateEntityClassification", 485)],
    ),
    (
        "Entity classification",
        &[
            ("classifyEntity", 485),
            ("saveClassificationReferenceCopy", 485),
        ],
    ),
    (
        "Entity creation",
        &[("addEntity", 1280), ("saveEntityReferenceCopy", 1280)],
    ),
    (
        "Entity declassify",
        &[
            ("declassifyEntity", 485),
            ("purgeClassificationReferenceCopy", 236),
        ],
    ),
    ("Entity delete", &[("deleteEntity", 2517)]),
    (
        "Entity history retrieval",
        &[("getEntityDetail", 1280), ("getEntityDetailHistory", 1280)],
    ),
    (
        "Entity history search",
        &[
            ("findEntities", 6217),
            ("findEntitiesByProperty", 827),
            ("findEntitiesByPropertyValue", 1177),
        ],
    ),
    (
        "Entity purge",
        &[("purgeEntity", 1280), ("purgeEntityReferenceCopy", 714)],
    ),
    ("Entity re-home", &[("reHomeEntity", 512)]),
    ("Entity re-identify", &[("reIdentifyEntity", 1270)]),
    ("Entity restore", &[("restoreEntity", 1280)]),
    (
        "Entity retrieval",
        &[
            ("isEntityKnown", 1280),
            ("getEntitySummary", 1280),
            ("getEntityDetail", 1280),
        ],
    ),
    ("Entity retype", &[("reTypeEntity", 600)]),
    (
        "Entity search",
        &[
            ("findEntities", 6983),
            ("findEntitiesByProperty", 2952),
            ("findEntitiesByPropertyValue", 1154),
        ],
    ),
    ("Entity undo", &[("undoEntityUpdate", 1275)]),
    (
        "Entity update",
        &[("updateEntityProperties", 1270), ("reTypeEntity", 300)],
    ),
    ("Graph history queries", GRAPH_QUERIES),
    ("Graph queries", GRAPH_QUERIES),
    (
        "Relationship creation",
        &[
            ("addRelationship", 1035),
            ("saveRelationshipReferenceCopy", 1035),
        ],
    ),
    ("Relationship delete", &[("deleteRelationship", 2070)]),
    (
        "Relationship history retrieval",
        &[("getRelationship", 1035), ("getRelationshipHistory", 1035)],
    ),
    (
        "Relationship history search",
        &[
            ("findRelationships", 1242),
            ("findRelationshipsByProperty", 187),
            ("findRelationshipsByPropertyValue", 395),
        ],
    ),
    (
        "Relationship purge",
        &[
            ("purgeRelationship", 1035),
            ("purgeRelationshipReferenceCopy", 621),
        ],
    ),
    ("Relationship re-home", &[("reHomeRelationship", 414)]),
    (
        "Relationship re-identify",
        &[("reIdentifyRelationship", 1035)],
    ),
    ("Relationship restore", &[("restoreRelationship", 1035)]),
    (
        "Relationship retrieval",
        &[("isRelationshipKnown", 1035), ("getRelationship", 1035)],
    ),
    (
        "Relationship search",
        &[
            ("findRelationships", 1338),
            ("findRelationshipsByProperty", 1738),
            ("findRelationshipsByPropertyValue", 395),
        ],
    ),
    ("Relationship undo", &[("undoRelationshipUpdate", 480)]),
    (
        "Relationship update",
        &[("updateRelationshipProperties", 480)],
    ),
];
const GRAPH_QUERIES: &[(&str, usize)] = &[
    ("getEntityNeighborhood", 3840),
    ("getRelatedEntities", 1280),
    ("getLinkingEntities", 2047),
    ("getRelationshipsForEntity", 776),
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

/// A timed profile: each method with its number of calls, spread evenly over the test
/// cases (one per type), grouped by test case as the PTS writes them.
fn timed_profile(
    id: usize,
    name: &str,
    methods: &[(&str, usize)],
    types: usize,
    rng: &mut SplitMix64,
) -> String {
    let slug = slug(name);
    let typical_ms: Vec<f64> = methods
        .iter()
        .map(|_| 5.0 + (rng.next_u64() % 300) as f64)
        .collect();
    let mut json = profile_head(id, name, "CONFORMANT_FULL_SUPPORT") + &requirement_head(id, name);
    let mut first = true;
    for type_index in 0..types {
        for (&(method, calls), &typical_ms) in methods.iter().zip(&typical_ms) {
            for _ in calls * type_index / types..calls * (type_index + 1) / types {
                let variant = rng.next_u64() % 3;
                let elapsed = rng.elapsed_ms(typical_ms);
                if !std::mem::take(&mut first) {
                    json.push(',');
                }
                // Writing to a String cannot fail.
                let _ = write!(
                    json,
                    r#"{{"profileId":{id},"testCaseId":"repository-{slug}-performance-Type{type_index}","testCaseName":"Repository {name} performance test case","testCaseDescriptionURL":"{DOCS}/test-cases/repository-{slug}-performance-test-case.md","testEvidenceType":"SUCCESSFUL_ASSERTION","assertionId":"repository-{slug}-performance-{method}-{variant}","methodName":"{method}","elapsedTime":{elapsed}}}"#
                );
            }
        }
    }
    json + DOCUMENT_TAIL
}

/// `calls` shared among the pairs of [`PROFILES`] in proportion to their real counts
/// (weighted by `shape`), adding up to exactly `calls`: per profile, each method with its
/// share.
fn scaled_profiles(calls: usize, shape: Shape) -> Vec<(&'static str, Vec<(&'static str, usize)>)> {
    let real_total: usize = PROFILES
        .iter()
        .flat_map(|(name, methods)| methods.iter().map(|(_, count)| count * shape.weight(name)))
        .sum();
    let mut counted = 0;
    let mut share = |count: usize| {
        let before = calls * counted / real_total;
        counted += count;
        calls * counted / real_total - before
    };
    PROFILES
        .iter()
        .map(|&(name, methods)| {
            let methods = methods
                .iter()
                .map(|&(method, count)| (method, share(count * shape.weight(name))))
                .collect();
            (name, methods)
        })
        .collect()
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
fn synthesise(path: &Path, calls: usize, seed: u64, shape: Shape) -> anyhow::Result<u64> {
    let mut rng = SplitMix64(seed);
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let mut archive = TarGzWriter::new(std::io::BufWriter::new(file));
    // In file-name order, as upstream's archives list them: the timed profiles, the one
    // that did not run, and the environment.
    let timed = scaled_profiles(calls, shape);
    let mut names: Vec<&str> = (timed.iter().map(|(name, _)| *name))
        .chain([NOT_RUN_PROFILE, "Environment"])
        .collect();
    names.sort_by_key(|name| file_name(name));
    for (index, &name) in names.iter().enumerate() {
        let document = match timed.iter().find(|(timed_name, _)| *timed_name == name) {
            Some((_, methods)) => timed_profile(index + 1, name, methods, shape.types(), &mut rng),
            None if name == NOT_RUN_PROFILE => {
                profile_head(index + 1, name, "UNKNOWN_STATUS") + "}}"
            }
            None => environment_profile(calls),
        };
        archive.add_file(&file_name(name), document.as_bytes())?;
    }
    archive
        .finish()?
        .into_inner()
        .map_err(|e| e.into_error())?
        .sync_all()?;
    Ok(std::fs::metadata(path)?.len())
}

/// Runs each command in turn, `runs` times, so a drift of the machine's speed touches
/// all alike; returns their median wall times, in the commands' order.
fn timed_in_turn(
    runs: u32,
    commands: &mut [&mut dyn FnMut(u32) -> anyhow::Result<()>],
) -> anyhow::Result<Vec<Duration>> {
    let mut times = vec![Vec::new(); commands.len()];
    for run in 0..runs {
        for (command, times) in commands.iter_mut().zip(&mut times) {
            let started = Instant::now();
            command(run)?;
            times.push(started.elapsed());
        }
    }
    Ok(times
        .into_iter()
        .map(|mut times| {
            times.sort();
            times.get(times.len() / 2).copied().unwrap_or_default()
        })
        .collect())
}

/// The two ways the README types the report: the built `lab` binary, and `cargo xtask`
/// (which pays cargo's own start and its freshness check of the front door on every run).
#[derive(Clone, Copy)]
enum Typed {
    LabBinary,
    CargoXtask,
}

impl Typed {
    fn label(self) -> &'static str {
        match self {
            Typed::LabBinary => "`target/debug/lab report`",
            Typed::CargoXtask => "`cargo xtask report`",
        }
    }

    /// Runs the report on `archive` into `out`, exactly as a user types it.
    fn run(self, archive: &Path, out: &Path) -> anyhow::Result<std::process::Output> {
        self.run_with(archive, out, &[])
    }

    /// The same, with more arguments (`--html`).
    fn run_with(
        self,
        archive: &Path,
        out: &Path,
        extra: &[&str],
    ) -> anyhow::Result<std::process::Output> {
        let mut command = match self {
            Typed::LabBinary => Command::new(lab_binary()),
            Typed::CargoXtask => {
                let mut cargo =
                    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
                cargo.arg("xtask");
                cargo
            }
        };
        let output = command
            .current_dir(crate::paths::workspace_root())
            .arg("report")
            .arg(archive)
            .arg("--out")
            .arg(out)
            .args(extra)
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("running {} on the synthetic set", self.label()))?;
        anyhow::ensure!(
            output.status.success(),
            "{} failed: {}",
            self.label(),
            output.status
        );
        Ok(output)
    }

    /// Runs the report on `archive`; returns the peak memory it states.
    fn peak_mib(self, archive: &Path, out: &Path) -> anyhow::Result<f64> {
        let output = self.run(archive, out)?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stated = stdout
            .lines()
            .find_map(|line| line.strip_prefix(lab::report::cli::PEAK_MEMORY_LABEL))
            .with_context(|| format!("{} stated no peak memory", self.label()))?;
        stated
            .trim()
            .trim_end_matches("MiB")
            .trim()
            .parse()
            .with_context(|| format!("reading the peak memory {stated:?}"))
    }
}

/// The `lab` binary beside this one, built now (untimed) so that it is the current code.
fn lab_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.with_file_name(format!("lab{}", std::env::consts::EXE_SUFFIX))
}

/// Builds both typed forms (untimed): the `lab` binary, and the front door `cargo xtask`
/// runs the report in (a workspace of its own, built at its first call).
fn build_typed_forms() -> anyhow::Result<()> {
    let root = crate::paths::workspace_root();
    for (what, args) in [
        ("the lab binary", &["--package", "lab", "--bin", "lab"][..]),
        (
            "cargo xtask's front door",
            &["--manifest-path", "xtask/Cargo.toml"][..],
        ),
    ] {
        let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(&root)
            .args(["build", "--quiet"])
            .args(args)
            .status()
            .with_context(|| format!("building {what} (cargo build {})", args.join(" ")))?;
        anyhow::ensure!(status.success(), "building {what} failed: {status}");
    }
    anyhow::ensure!(
        lab_binary().is_file(),
        "{} is missing after the build (were the tasks built into another target folder?)",
        lab_binary().display()
    );
    Ok(())
}

/// What the Python baseline prints.
struct Baseline {
    pairs: Vec<Pair>,
    peak_rss_kib: f64,
}

fn run_baseline(pd_tar_gz: &Path) -> anyhow::Result<Baseline> {
    let script = crate::paths::workspace_root().join("tasks/src/bench/report_baseline.py");
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
            // The plain reader computes the figures, not the page's pictures.
            Some(theirs) if !same_figures(&theirs.figures, &pair.figures) => {
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

fn same_figures(theirs: &Figures, ours: &Figures) -> bool {
    (
        theirs.count,
        theirs.median,
        theirs.p90,
        theirs.p99,
        theirs.max,
    ) == (ours.count, ours.median, ours.p90, ours.p99, ours.max)
        && theirs.slowest_assertion == ours.slowest_assertion
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

pub fn run(bench: ReportBench) -> anyhow::Result<()> {
    let root = crate::paths::lab_dir(None).root().join("bench/report");
    std::fs::create_dir_all(&root).with_context(|| format!("creating {}", root.display()))?;
    let archive = root.join(format!(
        "synthetic-{}-{}-calls-seed-{}.pd.tar.gz",
        bench.shape.label(),
        bench.calls,
        bench.seed
    ));
    let started = Instant::now();
    let archive_bytes = synthesise(&archive, bench.calls, bench.seed, bench.shape)?;
    println!(
        "synthesised {} timed calls, shaped {}, in {} ({:.1} MiB) in {:.1} s",
        bench.calls,
        bench.shape.label(),
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
    build_typed_forms()?;
    let rust_peak_mib = Typed::LabBinary.peak_mib(&archive, &root.join("synthetic-report"))?;
    // Every report run writes its own folder: `report` never overwrites one.
    let cargo_out = |run: u32| root.join(format!("synthetic-report-cargo-{run}"));
    for run in 0..bench.runs {
        let _ = std::fs::remove_dir_all(cargo_out(run));
    }
    let html_out = |run: u32| root.join(format!("synthetic-report-html-{run}"));
    for run in 0..bench.runs {
        let _ = std::fs::remove_dir_all(html_out(run));
    }
    // The timed baseline runs' last answer is the one the figures are checked against.
    let mut last_baseline = None;
    let mut with_page = |run| {
        if bench.html {
            Typed::LabBinary
                .run_with(&archive, &html_out(run), &["--html"])
                .map(drop)
        } else {
            Ok(())
        }
    };
    let times = timed_in_turn(
        bench.runs,
        &mut [
            &mut |run| Typed::LabBinary.run(&archive, &out(run)).map(drop),
            &mut |run| Typed::CargoXtask.run(&archive, &cargo_out(run)).map(drop),
            &mut |_| {
                last_baseline = Some(run_baseline(&archive)?);
                Ok(())
            },
            &mut with_page,
        ],
    )?;
    let [lab_time, cargo_time, python_time, html_time] = times[..] else {
        anyhow::bail!("expected four timings, got {}", times.len());
    };
    let baseline = last_baseline.context("the baseline never ran")?;
    let summary = analyse(&archive)?;
    let speed_up = python_time.as_secs_f64() / lab_time.as_secs_f64();
    let cargo_speed_up = python_time.as_secs_f64() / cargo_time.as_secs_f64();
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
    for (typed, time, ratio) in [
        (Typed::LabBinary, lab_time, speed_up),
        (Typed::CargoXtask, cargo_time, cargo_speed_up),
    ] {
        println!(
            "  {:<28} whole command {:>7.3} s  ({ratio:.1}x the baseline)",
            typed.label(),
            time.as_secs_f64()
        );
    }
    println!(
        "  {:<28} whole command {:>7.3} s  (peak memory {python_peak_mib:.1} MiB)",
        "Python baseline",
        python_time.as_secs_f64()
    );
    for (typed, ratio) in [
        (Typed::LabBinary, speed_up),
        (Typed::CargoXtask, cargo_speed_up),
    ] {
        println!(
            "target: {} at least {SPEED_UP_TARGET}x faster than the baseline: {ratio:.1}x — {}",
            typed.label(),
            verdict(ratio >= SPEED_UP_TARGET)
        );
    }
    println!(
        "target: the report's peak memory under {PEAK_MEMORY_TARGET_MIB} MiB: {rust_peak_mib:.1} MiB — {}",
        verdict(rust_peak_mib < PEAK_MEMORY_TARGET_MIB)
    );
    let page = if bench.html {
        let cost_pct = (html_time.as_secs_f64() / lab_time.as_secs_f64() - 1.0) * 100.0;
        let page = html_out(0).join("index.html");
        let page_bytes = std::fs::metadata(&page)
            .with_context(|| format!("{} was not written", page.display()))?
            .len();
        println!(
            "  {:<28} whole command {:>7.3} s",
            "`target/debug/lab report --html`",
            html_time.as_secs_f64()
        );
        println!(
            "target: the page adds at most {HTML_COST_TARGET_PCT}% to the report's time: {cost_pct:+.1}% — {}",
            verdict(cost_pct <= HTML_COST_TARGET_PCT)
        );
        println!(
            "target: the page at most 2 MiB: {:.2} MiB — {}",
            page_bytes as f64 / (1024.0 * 1024.0),
            verdict(page_bytes <= 2 * 1024 * 1024)
        );
        Some(
            json!({"html_seconds": html_time.as_secs_f64(), "html_cost_pct": cost_pct, "page_bytes": page_bytes}),
        )
    } else {
        None
    };
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
        "shape": bench.shape.label(),
        "page": page,
        "calls": bench.calls,
        "seed": bench.seed,
        "archive_bytes": archive_bytes,
        "lab_report_seconds": lab_time.as_secs_f64(),
        "cargo_xtask_report_seconds": cargo_time.as_secs_f64(),
        "python_seconds": python_time.as_secs_f64(),
        "speed_up": speed_up,
        "cargo_xtask_speed_up": cargo_speed_up,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_synthetic_calls_add_up_and_keep_the_real_proportions() {
        let profiles = scaled_profiles(600_000, Shape::Crux211);
        let count = |profile: &str, method: &str| {
            profiles
                .iter()
                .find(|(name, _)| *name == profile)
                .and_then(|(_, methods)| methods.iter().find(|(m, _)| *m == method))
                .map(|(_, calls)| *calls)
                .unwrap()
        };
        let total: usize = profiles
            .iter()
            .flat_map(|(_, methods)| methods.iter().map(|(_, calls)| calls))
            .sum();
        assert_eq!(total, 600_000);
        // 6,983 and 414 of the real set's 76,549 calls, give or take one for the rounding.
        assert!(count("Entity search", "findEntities").abs_diff(54_733) <= 1);
        assert!(count("Relationship re-home", "reHomeRelationship").abs_diff(3_245) <= 1);
        // One heavy profile: Entity search weighs twenty times as much.
        let heavy = scaled_profiles(600_000, Shape::OneHeavyProfile);
        let search: usize = heavy
            .iter()
            .filter(|(name, _)| *name == "Entity search")
            .flat_map(|(_, methods)| methods.iter().map(|(_, calls)| calls))
            .sum();
        assert!(search > 300_000, "{search}");
    }

    #[test]
    fn a_synthetic_document_is_the_json_the_report_reads() {
        let mut rng = SplitMix64(7);
        let document = timed_profile(
            3,
            "Entity search",
            &[("findEntities", 600)],
            TYPES,
            &mut rng,
        );
        let parsed: serde_json::Value = serde_json::from_str(&document).unwrap();
        let evidence = &parsed["profileResult"]["requirementResults"][0]["positiveTestEvidence"];
        assert_eq!(evidence.as_array().unwrap().len(), 600);
        assert_eq!(
            evidence[0]["testCaseId"],
            "repository-entity-search-performance-Type0"
        );
        assert_eq!(
            evidence[599]["testCaseId"],
            "repository-entity-search-performance-Type255"
        );
    }
}
