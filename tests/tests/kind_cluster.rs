//! The real thing, for laptops with Docker: a kind cluster, real Egeria and Kafka, the
//! whole flow, torn down again. Never runs in CI (no container registry there).

use e2e::TestLab;

#[test]
#[ignore = "creates the kind cluster egeria-ha-lab and pulls several GiB of images; \
            run with EGERIA_HA_LAB_KIND_E2E=1 cargo test -p e2e --test kind_cluster -- --ignored"]
fn lab_run_on_kind_collects_pts_results_and_tears_down() {
    assert_eq!(
        std::env::var("EGERIA_HA_LAB_KIND_E2E").as_deref(),
        Ok("1"),
        "set EGERIA_HA_LAB_KIND_E2E=1 to confirm that a kind cluster may be created"
    );
    let lab = TestLab::new("127.96");
    let run = lab.xtask(&[
        "lab-run",
        "--substrate",
        "kind",
        "--instances-per-type",
        "2",
        "--skip-profile",
        "Graph queries",
    ]);
    run.assert_ok();
    let pts = lab.latest_run().join("pts");
    assert!(pts.join("openmetadata_cts_summary.json").is_file());
    assert!(pts.join("pd.tar.gz").is_file());
    assert!(lab.state().is_none(), "lab-run leaves nothing up");
}
