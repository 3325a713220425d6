//! The PTS flow end to end on the local substrate: the stand-in PTS drives its workload
//! through the load-balancing service, and the lab collects the results in the upstream
//! layout.

use e2e::TestLab;
use lab::substrate::{Role, Substrate};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

const INSTANCES_PER_TYPE: usize = 2;
const ENTITY_TYPES: usize = 4;
const RELATIONSHIP_TYPES: usize = 2;

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not clean JSON: {e}", path.display()))
}

/// Timed evidence of one profile, by method.
fn calls_by_method(profile: &Value) -> std::collections::BTreeMap<String, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for requirement in profile["profileResult"]["requirementResults"]
        .as_array()
        .unwrap()
    {
        assert!(
            requirement.get("negativeTestEvidence").is_none(),
            "failed calls: {requirement}"
        );
        for evidence in requirement["positiveTestEvidence"].as_array().unwrap() {
            assert!(evidence["elapsedTime"].is_u64(), "{evidence}");
            assert!(evidence["assertionId"].is_string(), "{evidence}");
            *counts
                .entry(evidence["methodName"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    counts
}

fn client() -> reqwest::Client {
    e2e::lab_endpoint_client()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pts_runs_through_the_balancer_and_results_come_back_in_upstream_format() {
    let lab = TestLab::new("127.82");
    lab.up(&["--replicas", "3"]).assert_ok();
    lab.xtask(&["bootstrap"]).assert_ok();
    lab.xtask(&["pts", "--skip-profile", "Entity teleport"])
        .assert_fails_with("valid names: Entity creation, Entity search");
    let run = lab.xtask(&[
        "pts",
        "--instances-per-type",
        &INSTANCES_PER_TYPE.to_string(),
    ]);
    run.assert_ok();
    assert!(run.stdout.contains("0 failed calls"), "{}", run.stdout);

    let pts = lab.latest_run().join("pts");
    for file in [
        "openmetadata_cts_summary.json",
        "omag.server.pts.config",
        "omag.server.crux.config",
        "cohort.coco.pts.local",
        "cohort.coco.pts.remote",
        "cohort.coco.crux.local",
        "cohort.coco.crux.remote",
    ] {
        assert_eq!(read(&pts.join(file))["relatedHTTPCode"], 200, "{file}");
    }
    for archive in ["pd.tar.gz", "tcd.tar.gz", "lab.tar.gz"] {
        assert!(pts.join(archive).metadata().unwrap().len() > 0, "{archive}");
    }
    // The PTS found the connector through the cohort; the connector sees the PTS.
    let remote = read(&pts.join("cohort.coco.crux.remote"));
    assert_eq!(remote["cohortMembers"][0]["serverName"], "pts");

    // Evidence counts follow instancesPerType and the number of types.
    let profile = |name: &str| {
        read(
            &pts.join("profile-details")
                .join(format!("{}.json", name.replace(' ', "_"))),
        )
    };
    let n = INSTANCES_PER_TYPE;
    let expected: [(&str, &[(&str, usize)]); 11] = [
        ("Entity creation", &[("addEntity", n * ENTITY_TYPES)]),
        (
            "Entity search",
            &[("findEntitiesByPropertyValue", 3 * ENTITY_TYPES)],
        ),
        (
            "Relationship creation",
            &[("addRelationship", n * RELATIONSHIP_TYPES)],
        ),
        (
            "Relationship search",
            &[("findRelationshipsByPropertyValue", RELATIONSHIP_TYPES)],
        ),
        (
            "Entity retrieval",
            &[
                ("getEntityDetail", n * ENTITY_TYPES),
                ("isEntityKnown", n * ENTITY_TYPES),
            ],
        ),
        (
            "Relationship retrieval",
            &[
                ("getRelationship", n * RELATIONSHIP_TYPES),
                ("isRelationshipKnown", n * RELATIONSHIP_TYPES),
            ],
        ),
        (
            "Entity update",
            &[("updateEntityProperties", n * ENTITY_TYPES)],
        ),
        ("Entity delete", &[("deleteEntity", n * ENTITY_TYPES)]),
        ("Entity purge", &[("purgeEntity", n * ENTITY_TYPES)]),
        (
            "Relationship delete",
            &[("deleteRelationship", n * RELATIONSHIP_TYPES)],
        ),
        (
            "Relationship purge",
            &[("purgeRelationship", n * RELATIONSHIP_TYPES)],
        ),
    ];
    for (name, methods) in expected {
        let counts = calls_by_method(&profile(name));
        let wanted: std::collections::BTreeMap<String, usize> =
            methods.iter().map(|(m, c)| (m.to_string(), *c)).collect();
        assert_eq!(counts, wanted, "{name}");
    }
    let environment = profile("Environment");
    let discovered: Vec<&Value> =
        environment["profileResult"]["requirementResults"][0]["positiveTestEvidence"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["propertyName"] == "instancesPerType")
            .collect();
    assert_eq!(discovered[0]["propertyValue"], json!(n));
    // A profile the stand-in does not run is reported as not run, as real PTS does.
    let graph = profile("Graph queries");
    assert_eq!(
        graph["profileResult"]["conformanceStatus"],
        "UNKNOWN_STATUS"
    );
    for entry in std::fs::read_dir(pts.join("test-case-details")).unwrap() {
        let case = read(&entry.unwrap().path());
        assert_eq!(
            case["testCaseResult"]["unsuccessfulAssertions"],
            json!([]),
            "{case}"
        );
    }

    // Every connector pod served part of the traffic.
    let (substrate, _) = lab.local_substrate();
    let stats = substrate.connector_service_stats().await.unwrap();
    let pods = substrate.list_pods().await.unwrap();
    for pod in pods.with_role(Role::Connector) {
        assert!(
            stats.connections.get(&pod.name).copied().unwrap_or(0) > 0,
            "{} got no traffic: {stats:?}",
            pod.name
        );
    }

    // A write through one pod becomes readable through every other pod.
    let connectors: Vec<_> = pods.with_role(Role::Connector).cloned().collect();
    let rs = "/servers/crux/open-metadata/repository-services/users/myuser";
    let created: Value = client()
        .post(format!("{}{rs}/instances/entity", connectors[0].platform_url()))
        .json(&json!({"class": "EntityCreateRequest", "entityTypeGUID": "36f66863-9726-4b41-97ee-714fd0dc6fe4"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let guid = created["entity"]["guid"]
        .as_str()
        .expect("created entity")
        .to_string();
    for pod in &connectors[1..] {
        let url = format!("{}{rs}/instances/entity/{guid}", pod.platform_url());
        lab::wait::poll_until(
            &format!("{guid} on {}", pod.name),
            Duration::from_secs(10),
            || async {
                let body: Value = client()
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?
                    .json()
                    .await
                    .map_err(|e| e.to_string())?;
                if body["relatedHTTPCode"] == 200 {
                    Ok(())
                } else {
                    Err(body["exceptionErrorMessage"].to_string())
                }
            },
        )
        .await
        .unwrap();
    }

    // The results parse back, and a run's results are never overwritten.
    let report = lab.xtask(&["report", pts.to_str().unwrap()]);
    report.assert_ok();
    let summary = read(&pts.join("report/summary.json"));
    let add_entity = summary["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["method"] == "addEntity")
        .unwrap();
    assert_eq!(add_entity["count"], json!(n * ENTITY_TYPES));
    // The built binary's form of the command (what the README types, for speed) reads the
    // latest run by default and gives the very same figures.
    let binary_out = lab.dir.path().join("report-by-lab-binary");
    lab.lab_binary(&["report", "--out", binary_out.to_str().unwrap()])
        .assert_ok();
    let by_binary = read(&binary_out.join("summary.json"));
    assert_eq!(by_binary["pairs"], summary["pairs"]);
    lab.xtask(&["pts"]).assert_fails_with("never overwritten");
}

/// Counts failed calls recorded in a run's profile details.
fn negative_evidence(pts: &Path) -> usize {
    std::fs::read_dir(pts.join("profile-details"))
        .unwrap()
        .map(|entry| read(&entry.unwrap().path()))
        .flat_map(|profile| {
            profile["profileResult"]["requirementResults"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|requirement| {
            requirement["negativeTestEvidence"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_dying_mid_run_and_a_deadline_are_reported_honestly() {
    let lab = TestLab::new("127.84");
    lab.up(&["--replicas", "3"]).assert_ok();
    lab.xtask(&["bootstrap"]).assert_ok();
    let (substrate, _) = lab.local_substrate();

    // Kill a connector pod while the workload runs: the run completes and its failed-call
    // count is exactly what the evidence records.
    let out = lab.dir.path().join("with-kill");
    let pts = lab
        .command(&[
            "pts",
            "--instances-per-type",
            "30",
            "--skip-profile",
            "Entity search",
            "--out",
            out.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let victim = substrate
        .list_pods()
        .await
        .unwrap()
        .with_role(Role::Connector)
        .next()
        .unwrap()
        .name
        .clone();
    let stats_before = substrate.connector_service_stats().await.unwrap();
    lab::wait::poll_until(
        "the PTS workload to reach the connectors",
        Duration::from_secs(30),
        || async {
            let stats = substrate
                .connector_service_stats()
                .await
                .map_err(|e| e.to_string())?;
            let total: u64 = stats.connections.values().sum();
            let before: u64 = stats_before.connections.values().sum();
            if total > before + 20 {
                Ok(())
            } else {
                Err(format!("{total} connections"))
            }
        },
    )
    .await
    .unwrap();
    substrate.kill_pod(&victim).await.unwrap();
    let output = tokio::task::spawn_blocking(move || pts.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let failed = negative_evidence(&out);
    assert!(
        stdout.contains(&format!("{failed} failed calls")),
        "{stdout}"
    );
    assert!(!out.join("INCOMPLETE.json").exists());
    // The replacement was healed while the PTS ran: configured, started, back in rotation.
    assert!(
        stdout.contains(&format!("healed during the run: {victim}")),
        "{stdout}"
    );
    let after = substrate.list_pods().await.unwrap();
    assert!(
        after.get(&victim).unwrap().ready,
        "{victim} not back in rotation"
    );
    // The skipped profile did not run, and its test cases are listed as never run.
    let search = read(&out.join("profile-details/Entity_search.json"));
    assert_eq!(
        search["profileResult"]["conformanceStatus"], "UNKNOWN_STATUS",
        "{stdout}"
    );
    let never_ran =
        read(&out.join("test-case-details/repository-entity-search-performance-Glossary.json"));
    assert!(never_ran.get("testCaseResult").is_none(), "{never_ran}");
    assert!(stdout.contains("4 never ran"), "{stdout}");

    // A PTS that cannot finish before the deadline: partial results, marked, non-zero exit.
    let partial = lab.dir.path().join("partial");
    lab.xtask(&[
        "pts",
        "--instances-per-type",
        "500",
        "--timeout",
        "1s",
        "--out",
        partial.to_str().unwrap(),
    ])
    .assert_fails_with("did not complete within 1s");
    assert!(partial.join("INCOMPLETE.json").exists());
    assert_eq!(
        read(&partial.join("openmetadata_cts_summary.json"))["relatedHTTPCode"],
        200
    );
}
