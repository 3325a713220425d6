//! The PTS report end to end: the trimmed real result set in `tests/data/`, and small
//! result sets written here, as folders and as tarballs.

use pts_report::archive::TarGzWriter;
use pts_report::{ReportError, Summary, analyse, compare, write_comparison, write_report};
use serde_json::json;
use std::path::{Path, PathBuf};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/pts-crux-2.11-trimmed")
}

/// One timed call: method, assertion id, elapsed milliseconds.
type Call<'a> = (&'a str, &'a str, u64);

/// A profile-details document with one timed call per entry of `calls`.
fn profile_json(name: &str, calls: &[Call]) -> String {
    let evidence: Vec<_> = calls
        .iter()
        .map(|(method, assertion, elapsed)| {
            json!({"profileId": 1, "testCaseId": "tc", "testEvidenceType": "SUCCESSFUL_ASSERTION",
                   "assertionId": assertion, "methodName": method, "elapsedTime": elapsed})
        })
        .collect();
    json!({"class": "ProfileReportResponse", "relatedHTTPCode": 200, "profileResult": {
        "name": name, "conformanceStatus": "CONFORMANT_FULL_SUPPORT",
        "requirementResults": [{"positiveTestEvidence": evidence}]}})
    .to_string()
}

fn write(path: &Path, contents: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// A result folder with one profile-details file per `(profile, calls)`.
fn result_folder(dir: &Path, profiles: &[(&str, &[Call])]) -> PathBuf {
    for (name, calls) in profiles {
        let file = format!("profile-details/{}.json", name.replace(' ', "_"));
        write(&dir.join(file), profile_json(name, calls));
    }
    dir.to_path_buf()
}

/// The files under `dir/sub`, as a `.tar.gz` with paths starting at `sub/`.
fn tar_gz_of(dir: &Path, sub: &str) -> Vec<u8> {
    let mut archive = TarGzWriter::new(Vec::new());
    let mut files: Vec<_> = std::fs::read_dir(dir.join(sub))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    for file in files {
        let name = format!("{sub}/{}", file.file_name().unwrap().to_string_lossy());
        archive
            .add_file(&name, &std::fs::read(&file).unwrap())
            .unwrap();
    }
    archive.finish().unwrap()
}

fn without_source(mut summary: Summary) -> Summary {
    summary.source.clear();
    summary
}

#[test]
fn real_trimmed_set_gives_hand_computed_figures() {
    let summary = analyse(&fixture()).unwrap();
    let figures: Vec<_> = summary
        .pairs
        .iter()
        .map(|pair| {
            let f = &pair.figures;
            (
                pair.profile.as_str(),
                pair.method.as_str(),
                f.count,
                f.median,
                f.p90,
                f.p99,
                f.max,
            )
        })
        .collect();
    assert_eq!(
        figures,
        vec![
            ("Entity creation", "addEntity", 14, 155.0, 237, 293, 293),
            (
                "Entity creation",
                "saveEntityReferenceCopy",
                10,
                186.5,
                210,
                244,
                244
            ),
            ("Entity retrieval", "getEntityDetail", 10, 16.0, 19, 19, 19),
            ("Entity retrieval", "getEntitySummary", 10, 15.0, 18, 23, 23),
            ("Entity retrieval", "isEntityKnown", 10, 15.0, 25, 25, 25),
        ]
    );
    assert_eq!(
        summary.pairs[0].figures.slowest_assertion,
        "repository-entity-creation-performance-addEntity"
    );
    assert_eq!(summary.environment["instancesPerType"], json!(5));
    assert_eq!(
        summary.environment["operatingSystemArchitecture"],
        json!("amd64")
    );
    assert_eq!(summary.not_run_profiles, vec!["Relationship retype"]);
    assert_eq!(summary.not_run_test_cases, 1);
    assert!(summary.notes.is_empty(), "{:?}", summary.notes);
}

#[test]
fn synthetic_set_figures_are_exact() {
    let dir = tempfile::tempdir().unwrap();
    let odd: Vec<Call> = [40, 10, 30, 20, 50, 60, 70, 80, 90, 100, 10]
        .into_iter()
        .map(|ms| ("odd", "odd-call", ms))
        .collect();
    let even = [
        ("even", "first-4", 4),
        ("even", "b", 1),
        ("even", "second-4", 4),
        ("even", "d", 2),
    ];
    let folder = result_folder(dir.path(), &[("P", &odd), ("Q", &even)]);
    let summary = analyse(&folder).unwrap();
    let [odd, even] = summary.pairs.as_slice() else {
        panic!("two pairs expected: {:?}", summary.pairs)
    };
    // Sorted odd: 10 10 20 30 40 50 60 70 80 90 100 — median the 6th; p90 rank ⌈9.9⌉ = 10.
    assert_eq!((odd.figures.count, odd.figures.median), (11, 50.0));
    assert_eq!(
        (odd.figures.p90, odd.figures.p99, odd.figures.max),
        (90, 100, 100)
    );
    // Sorted even: 1 2 4 4 — median (2 + 4) / 2; the first 4 seen is the slowest.
    assert_eq!(
        (even.figures.median, even.figures.p90, even.figures.p99),
        (3.0, 4, 4)
    );
    assert_eq!(even.figures.slowest_assertion, "first-4");
    assert_eq!(summary.not_run_test_cases, 0);
    assert!(
        summary.notes[0].contains("test-case-details"),
        "absent test cases are noted"
    );
}

#[test]
fn tarballs_and_folders_give_identical_summaries() {
    let from_folder = without_source(analyse(&fixture()).unwrap());
    let dir = tempfile::tempdir().unwrap();

    // Upstream-style folder: pd.tar.gz and tcd.tar.gz beside the summary.
    let upstream = dir.path().join("upstream");
    write(
        &upstream.join("pd.tar.gz"),
        tar_gz_of(&fixture(), "profile-details"),
    );
    write(
        &upstream.join("tcd.tar.gz"),
        tar_gz_of(&fixture(), "test-case-details"),
    );
    assert_eq!(without_source(analyse(&upstream).unwrap()), from_folder);

    // Release tarball: the same, nested in a folder inside the tarball.
    let mut release = TarGzWriter::new(Vec::new());
    for name in ["pd.tar.gz", "tcd.tar.gz"] {
        let inner = std::fs::read(upstream.join(name)).unwrap();
        release
            .add_file(&format!("crux-2.11/{name}"), &inner)
            .unwrap();
    }
    let summary_file = std::fs::read(fixture().join("openmetadata_cts_summary.json")).unwrap();
    release
        .add_file("crux-2.11/openmetadata_cts_summary.json", &summary_file)
        .unwrap();
    let tarball = dir.path().join("crux-2.11.tar.gz");
    write(&tarball, release.finish().unwrap());
    assert_eq!(without_source(analyse(&tarball).unwrap()), from_folder);

    // pd.tar.gz given directly: same pairs, and a note that test cases were not counted.
    let profiles_only = analyse(&upstream.join("pd.tar.gz")).unwrap();
    assert_eq!(profiles_only.pairs, from_folder.pairs);
    assert_eq!(profiles_only.not_run_test_cases, 0);
    assert_eq!(profiles_only.notes.len(), 1);
}

#[test]
fn report_files_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let summary = analyse(&fixture()).unwrap();
    write_report(&summary, dir.path()).unwrap();
    let written: Summary =
        serde_json::from_slice(&std::fs::read(dir.path().join("summary.json")).unwrap()).unwrap();
    assert_eq!(written, summary);
    let markdown = std::fs::read_to_string(dir.path().join("report.md")).unwrap();
    assert!(
        markdown.contains("| addEntity | 14 | 155 | 237 | 293 | 293 |"),
        "{markdown}"
    );
    assert!(markdown.contains("Profiles that did not run: Relationship retype"));
    assert!(markdown.contains("Test cases that never ran: 1"));
    let plot = std::fs::read_to_string(dir.path().join("plots/Entity_creation.svg")).unwrap();
    assert!(plot.starts_with("<svg") && plot.contains("saveEntityReferenceCopy"));
}

#[test]
fn comparison_flags_regressions_and_lists_one_sided_pairs() {
    let dir = tempfile::tempdir().unwrap();
    let first = result_folder(
        &dir.path().join("first"),
        &[
            (
                "A",
                &[
                    ("slower", "s", 10),
                    ("slower", "s", 10),
                    ("steady", "t", 10),
                ],
            ),
            ("B", &[("gone", "g", 5)]),
        ],
    );
    let second = result_folder(
        &dir.path().join("second"),
        &[
            // +20%, then exactly +10% (not past a 10% threshold).
            (
                "A",
                &[
                    ("slower", "s", 12),
                    ("slower", "s", 12),
                    ("steady", "t", 11),
                ],
            ),
            ("C", &[("new", "n", 1)]),
        ],
    );
    let comparison = compare(&analyse(&first).unwrap(), &analyse(&second).unwrap(), 10.0);
    let regressed: Vec<_> = comparison
        .regressions()
        .map(|pair| pair.method.as_str())
        .collect();
    assert_eq!(regressed, vec!["slower"]);
    assert_eq!(comparison.pairs[0].ratio, Some(1.2));
    let one_sided = |keys: &[pts_report::PairKey]| {
        keys.iter()
            .map(|key| format!("{} / {}", key.profile, key.method))
            .collect::<Vec<_>>()
    };
    assert_eq!(one_sided(&comparison.only_in_baseline), vec!["B / gone"]);
    assert_eq!(one_sided(&comparison.only_in_run), vec!["C / new"]);

    let out = dir.path().join("out");
    write_comparison(&comparison, &out).unwrap();
    let markdown = std::fs::read_to_string(out.join("comparison.md")).unwrap();
    assert!(
        markdown.contains("**1 pairs regressed past the threshold.**"),
        "{markdown}"
    );
    assert!(
        markdown.contains("## Only in the baseline\n\n- B / gone"),
        "{markdown}"
    );
    assert!(
        markdown.contains("## Only in the run under judgement\n\n- C / new"),
        "{markdown}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("comparison.json")).unwrap()).unwrap();
    assert_eq!(json["only_in_run"][0]["method"], "new");
    assert!(out.join("plots/compare-A.svg").is_file());
}

fn error_message(path: &Path) -> String {
    let error = analyse(path).unwrap_err();
    error.to_string()
}

#[test]
fn a_missing_path_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-run");
    assert!(matches!(
        analyse(&missing),
        Err(ReportError::Missing { .. })
    ));
    assert!(error_message(&missing).contains("no-such-run: no such file or folder"));
    let empty = dir.path();
    assert!(error_message(empty).contains("no profile details found"));
}

#[test]
fn a_file_that_is_not_gzip_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let not_gzip = dir.path().join("run.tar.gz");
    write(&not_gzip, "plain text, not an archive");
    assert!(matches!(
        analyse(&not_gzip),
        Err(ReportError::NotGzip { .. })
    ));
    assert!(error_message(&not_gzip).contains("run.tar.gz: not a gzip file"));
}

#[test]
fn truncated_json_names_the_file_and_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let folder = dir.path().join("run");
    let text = profile_json("P", &[("m", "a", 3)]);
    write(
        &folder.join("profile-details/P.json"),
        &text[..text.len() - 10],
    );
    let message = error_message(&folder);
    assert!(message.contains("profile-details/P.json"), "{message}");
    assert!(
        message.contains("EOF while parsing") && message.contains("line 1 column"),
        "{message}"
    );

    // The same inside a tarball: the tarball and the entry are both named.
    let tarball = dir.path().join("pd.tar.gz");
    write(&tarball, tar_gz_of(&folder, "profile-details"));
    let message = error_message(&tarball);
    assert!(
        message.contains("pd.tar.gz (archive entry profile-details/P.json)"),
        "{message}"
    );
    assert!(message.contains("line 1 column"), "{message}");
}

#[test]
fn an_error_deep_in_a_large_document_is_placed_by_line_and_column() {
    // Larger than the pieces a document is parsed in, with its error near the end.
    let dir = tempfile::tempdir().unwrap();
    let calls: Vec<(String, u64)> = (0..20_000).map(|n| (format!("a-{n}"), n % 97)).collect();
    let calls: Vec<Call> = calls
        .iter()
        .map(|(id, ms)| ("m", id.as_str(), *ms))
        .collect();
    let text = profile_json("P", &calls);
    let last = text.rfind("\"elapsedTime\":96,").unwrap() + "\"elapsedTime\":".len();
    let document = format!("{}true{}", &text[..last], &text[last + 2..]);
    assert!(document.len() > 2 << 20 && last > 2 << 20);
    // Columns count from 1: the `t` of `true`, one past its offset.
    let at = last + 1;
    let folder = dir.path().join("run");
    write(&folder.join("profile-details/P.json"), &document);
    let message = error_message(&folder);
    assert!(
        message.ends_with(&format!(
            "invalid type: boolean `true`, expected u64 at line 1 column {at}"
        )),
        "{message}"
    );
    let tarball = dir.path().join("pd.tar.gz");
    write(&tarball, tar_gz_of(&folder, "profile-details"));
    assert!(error_message(&tarball).ends_with(&format!("line 1 column {at}")));
}

#[test]
fn a_truncated_archive_is_a_read_error() {
    let dir = tempfile::tempdir().unwrap();
    let folder = result_folder(&dir.path().join("run"), &[("P", &[("m", "a", 3)])]);
    let archive = tar_gz_of(&folder, "profile-details");
    let tarball = dir.path().join("cut.tar.gz");
    write(&tarball, &archive[..archive.len() / 2]);
    assert!(matches!(analyse(&tarball), Err(ReportError::Read { .. })));
    assert!(error_message(&tarball).contains("cut.tar.gz"));
}

#[test]
fn an_unexpected_shape_names_the_field_and_the_position() {
    let dir = tempfile::tempdir().unwrap();
    let document = json!({"profileResult": {"name": "P", "requirementResults": [
        {"positiveTestEvidence": [{"testEvidenceType": "SUCCESSFUL_ASSERTION",
          "methodName": "m", "assertionId": "a", "elapsedTime": "slow"}]}]}});
    write(
        &dir.path().join("profile-details/P.json"),
        document.to_string(),
    );
    let message = error_message(dir.path());
    assert!(
        message.contains("P.json: not a PTS document of the expected shape"),
        "{message}"
    );
    assert!(
        message.contains("invalid type: string \"slow\", expected u64"),
        "{message}"
    );
    assert!(message.contains("line 1 column"), "{message}");
}
