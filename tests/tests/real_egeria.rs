//! Real Egeria end to end on the local substrate: `lab-run --egeria real` assembles an OMAG
//! Server Platform from Egeria's released modules (fetched into the artefact cache, the
//! lab's launcher compiled), bootstraps the connector server on Egeria's in-memory
//! repository, runs the real Performance Test Suite at its trimmed volume through the
//! `crux` service, collects the results and reports them. Slow (minutes): a test binary of
//! its own, so that it runs alone.

use e2e::TestLab;
use serde_json::Value;
use std::path::Path;

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// `(calls, failed calls)` recorded in one profile report.
fn evidence(profile: &Value) -> (usize, usize) {
    let requirements = profile["profileResult"]["requirementResults"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let count = |key: &str| -> usize {
        requirements
            .iter()
            .map(|r| r[key].as_array().map_or(0, Vec::len))
            .sum()
    };
    (count("positiveTestEvidence"), count("negativeTestEvidence"))
}

/// Profiles this test skips: the two graph profiles (as by default on real Egeria), and
/// "Relationship purge", whose first test case in Egeria 4.0's workbench searches each
/// relationship type's reference copies outside its own error handling: when a type has
/// none left (a matter of chance), the workbench gives up half-way. The lab reports that
/// (`CONFORMANCE-SUITE-0009`); it is not what this test is about.
const SKIPPED: [&str; 3] = [
    "Graph queries",
    "Graph history queries",
    "Relationship purge",
];

#[test]
fn lab_run_on_real_egeria_bootstraps_runs_the_real_pts_and_reports_it() {
    let lab = TestLab::new("127.89");
    let mut args = vec!["--egeria", "real", "--replicas", "1", "--scenario", "none"];
    for profile in SKIPPED {
        args.extend(["--skip-profile", profile]);
    }
    let run = lab.lab_run(&args);
    run.assert_ok();
    // What the user is told: which Egeria ran, and the PTS's table.
    assert!(
        run.stdout
            .contains("real Egeria 4.0 with its in-memory repository"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("0 failed calls"), "{}", run.stdout);
    assert!(run.stdout.contains("Entity creation"), "{}", run.stdout);
    let run_dir = std::fs::read_dir(lab.dir.path().join("runs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.join("bootstrap.json").is_file())
        .expect("the run's folder");

    // The platform is Egeria's own, in its own words.
    let bootstrap = read(&run_dir.join("bootstrap.json"));
    let pod = &bootstrap["pods"][0];
    assert_eq!(pod["ready"], true, "{bootstrap}");
    assert_eq!(
        pod["platform_origin"], "Egeria OMAG Server Platform (version 4.0)",
        "{bootstrap}"
    );

    // The real PTS ran every profile it was not told to skip, through the service, with
    // no failed call; the skipped ones are reported as not run.
    let pts = run_dir.join("pts");
    let summary = read(&pts.join("openmetadata_cts_summary.json"));
    assert_eq!(summary["relatedHTTPCode"], 200);
    let mut profiles_with_calls = 0;
    for entry in std::fs::read_dir(pts.join("profile-details")).unwrap() {
        let path = entry.unwrap().path();
        let profile = read(&path);
        let (calls, failed) = evidence(&profile);
        assert_eq!(failed, 0, "{}", path.display());
        let name = profile["profileResult"]["name"]
            .as_str()
            .unwrap_or_default();
        if SKIPPED.contains(&name) {
            assert_eq!(calls, 0, "{name} was to be skipped");
            assert_eq!(
                profile["profileResult"]["conformanceStatus"],
                "UNKNOWN_STATUS"
            );
        }
        if calls > 0 {
            profiles_with_calls += 1;
        }
    }
    assert!(
        profiles_with_calls >= 25,
        "{profiles_with_calls} profiles made calls"
    );
    let environment = read(&pts.join("profile-details/Environment.json"));
    let discovered = environment.to_string();
    assert!(discovered.contains("instancesPerType"), "{discovered}");
    for archive in ["pd.tar.gz", "tcd.tar.gz", "lab.tar.gz"] {
        assert!(pts.join(archive).metadata().unwrap().len() > 0, "{archive}");
    }

    // The report reads the real results: a table of (profile, method) medians.
    let report = lab.xtask(&["report", pts.to_str().unwrap()]);
    report.assert_ok();
    let analysed = read(&pts.join("report/summary.json"));
    let pairs = analysed["pairs"].as_array().unwrap();
    let add_entity = pairs
        .iter()
        .find(|p| p["profile"] == "Entity creation" && p["method"] == "addEntity")
        .unwrap_or_else(|| panic!("no addEntity in {analysed}"));
    assert!(add_entity["count"].as_u64().unwrap() > 0, "{add_entity}");
    assert!(
        pairs.iter().any(|p| p["method"] == "purgeEntity"),
        "the entity purge profile runs"
    );
    // Nothing the lab started is left running.
    assert!(lab.state().is_none());
}
