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
    short_lab_run(&lab, &["--substrate", "kind"]);
}

/// A short `lab-run` (2 instances per type, no graph queries) with `substrate` flags; checks
/// that the PTS results came back and nothing is left up.
fn short_lab_run(lab: &TestLab, substrate: &[&str]) -> e2e::Run {
    let short = [
        "--instances-per-type",
        "2",
        "--skip-profile",
        "Graph queries",
    ];
    let run = lab.xtask(&[&["lab-run"], substrate, &short].concat());
    run.assert_ok();
    let pts = lab.latest_run().join("pts");
    assert!(pts.join("openmetadata_cts_summary.json").is_file());
    assert!(pts.join("pd.tar.gz").is_file());
    assert!(lab.state().is_none(), "lab-run leaves nothing up");
    run
}

/// The same flow on an existing cluster the user names. Never runs in CI: it needs a
/// cluster, a context for it and a runner image pushed where it can pull from.
#[test]
#[ignore = "installs the chart into a namespace of an existing cluster; run with \
            EGERIA_HA_LAB_CLUSTER_CONTEXT=<context> EGERIA_HA_LAB_RUNNER_IMAGE=<repo:tag> \
            cargo test -p e2e --test kind_cluster -- --ignored on_an_existing_cluster"]
fn lab_run_on_an_existing_cluster_collects_pts_results_and_removes_what_it_created() {
    let (Ok(context), Ok(image)) = (
        std::env::var("EGERIA_HA_LAB_CLUSTER_CONTEXT"),
        std::env::var("EGERIA_HA_LAB_RUNNER_IMAGE"),
    ) else {
        panic!(
            "set EGERIA_HA_LAB_CLUSTER_CONTEXT (the context of the cluster to use) and \
             EGERIA_HA_LAB_RUNNER_IMAGE (built with `cargo xtask runner-image`, pushed)"
        );
    };
    let lab = TestLab::new("127.96");
    // A namespace of its own, which the lab creates and so deletes again.
    let namespace = format!("egeria-ha-lab-test-{}", std::process::id());
    let run = short_lab_run(
        &lab,
        &[
            "--substrate",
            "cluster",
            "--context",
            &context,
            "--runner-image",
            &image,
            "--namespace",
            &namespace,
        ],
    );
    assert!(
        run.stdout
            .contains(&format!("removed Namespace/{namespace}")),
        "{}",
        run.stdout
    );
}
