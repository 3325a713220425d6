//! Outages on the local substrate: faults injected while the probe (and the PTS) send
//! traffic through the connector service; the report must say what really happened.

use e2e::TestLab;
use lab::substrate::Substrate;
use serde_json::Value;

fn latest_outage(lab: &TestLab) -> Value {
    let path = lab.latest_run().join("outage.json");
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[test]
fn crux_and_kafka_during_the_pts_loses_nothing_and_the_killed_pod_serves_again() {
    let lab = TestLab::new("127.97");
    lab.up(&["--replicas", "3", "--server-start-delay", "1s"])
        .assert_ok();
    lab.xtask(&["bootstrap"]).assert_ok();
    let run = lab.xtask(&[
        "outage",
        "--scenario",
        "crux-and-kafka",
        "--during-pts",
        "--max-gap",
        "5s",
    ]);
    run.assert_ok();
    assert!(run.stdout.contains("PASS"), "{}", run.stdout);
    let report = latest_outage(&lab);
    assert_eq!(report["lost_writes"], 0, "{report:#}");
    assert_eq!(report["healed"], true);
    assert_eq!(report["verdict"], "pass");
    // The faults waited for the PTS, so PTS calls flowed while pods were down.
    let pts_calls = report["pts_during_faults"]["calls"].as_u64().unwrap();
    assert!(pts_calls > 0, "{report:#}");
    assert!(
        run.stdout
            .contains(&format!("PTS during the faults: {pts_calls} calls")),
        "{}",
        run.stdout
    );
    let phases: Vec<&str> = report["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(phases, ["before", "during", "after"]);
    for phase in report["phases"].as_array().unwrap() {
        assert!(
            phase["total"].as_u64().unwrap() > 0,
            "no traffic in {phase}"
        );
    }
    // Both the connector pod and the golden-store member came back.
    let pods = report["pods"].as_array().unwrap();
    assert_eq!(pods.len(), 2, "{pods:?}");
    let victim = pods
        .iter()
        .find(|p| p["name"].as_str().unwrap().contains("-crux-"))
        .unwrap();
    let name = victim["name"].as_str().unwrap();
    let killed = victim["killed_at_ms"].as_u64().unwrap();
    let back = victim["ready_again_ms"]
        .as_u64()
        .expect("the killed pod came back");
    // Its traffic share dropped to zero while it was out, and came back after healing.
    let timeline = report["timeline"].as_array().unwrap();
    let answered_by = |from: u64, to: u64| {
        timeline
            .iter()
            .filter(|s| s["pod"] == name && s["ok"] == true)
            .filter(|s| (from..to).contains(&s["at_ms"].as_u64().unwrap()))
            .count()
    };
    // A request sent just before the kill may still be answered by the dying pod.
    assert_eq!(
        answered_by(killed + 100, back),
        0,
        "an unready pod answered"
    );
    assert!(
        answered_by(back, u64::MAX) > 0,
        "{name} got no traffic after healing"
    );
    assert!(
        answered_by(0, killed) > 0,
        "{name} got no traffic before the kill"
    );
    // The PTS ran through the outage and completed.
    assert!(
        lab.latest_run()
            .join("pts/openmetadata_cts_summary.json")
            .is_file()
    );
    assert!(lab.latest_run().join("outage.md").is_file());
    assert!(lab.latest_run().join("outage-timeline.svg").is_file());
}

#[test]
fn rolling_crux_heals_every_pod_in_turn() {
    let lab = TestLab::new("127.98");
    lab.up(&["--replicas", "3"]).assert_ok();
    lab.xtask(&["bootstrap"]).assert_ok();
    lab.xtask(&["outage", "--scenario", "rolling-crux"])
        .assert_ok();
    let report = latest_outage(&lab);
    let pods = report["pods"].as_array().unwrap();
    assert_eq!(pods.len(), 3, "{pods:?}");
    let mut previous_back = 0;
    for pod in pods {
        let killed = pod["killed_at_ms"].as_u64().unwrap();
        let back = pod["ready_again_ms"].as_u64().expect("healed");
        // Each pod is killed only once the one before it is back.
        assert!(killed >= previous_back, "{pods:?}");
        previous_back = back;
    }
    assert_eq!(report["lost_writes"], 0);
    assert_eq!(report["healed"], true);
}

/// Killing the broker that leads the transaction log stalls writes until Kafka fences it
/// and elects a new leader; the broker's own restart (a JVM start) may end before or after
/// that: the report's fault window must cover both, and say when writes were taken again.
#[test]
fn losing_the_log_leader_stalls_writes_until_an_election_and_the_window_covers_it() {
    let lab = TestLab::new("127.99");
    lab.up(&["--replicas", "3", "--server-start-delay", "1s"])
        .assert_ok();
    lab.xtask(&["bootstrap"]).assert_ok();
    let run = lab.xtask(&["outage", "--scenario", "kafka-leader"]);
    run.assert_ok();
    assert!(
        run.stdout.contains("(it led ") && run.stdout.contains("crux-tx-log"),
        "{}",
        run.stdout
    );
    let report = latest_outage(&lab);
    assert_eq!(report["lost_writes"], 0, "{report:#}");
    let killed = report["pods"][0]["killed_at_ms"].as_u64().unwrap();
    let member_back = report["pods"][0]["ready_again_ms"].as_u64().unwrap();
    let writes_back = report["writes_back_after_ms"]
        .as_u64()
        .expect("writes were taken again");
    let window_end = report["fault_window_ms"][1].as_u64().unwrap();
    assert!(window_end >= killed + writes_back, "{report:#}");
    assert!(window_end >= member_back, "{report:#}");
    // The write gap runs from the last acknowledgement before the kill, which may come a
    // moment after it (a write in flight), so it may fall short of writes_back by up to
    // one write interval (a write every 100 ms at the default 20 requests/s).
    assert!(
        report["longest_write_gap_ms"].as_u64().unwrap() + 100 >= writes_back,
        "{report:#}"
    );
    // Every failure falls inside the window; the after phase is steady again.
    let after = &report["phases"][2];
    assert_eq!(after["name"], "after");
    assert!(after["total"].as_u64().unwrap() > 0);
    assert_eq!(after["failed"], 0, "{report:#}");
}

#[test]
fn an_unknown_scenario_lists_the_built_ins() {
    let lab = TestLab::new("127.98");
    lab.up(&["--replicas", "1"]).assert_ok();
    lab.xtask(&["bootstrap"]).assert_ok();
    lab.xtask(&["outage", "--scenario", "meteor-strike"])
        .assert_fails_with("crux-and-kafka");
}

/// A process restarted in place keeps its pod (uid) and readiness gate but loses its
/// server, as a container after an OOM kill: the lab takes it out of the rotation,
/// configures and starts it again, and only then puts it back.
#[test]
fn a_pod_restarted_in_place_is_taken_out_healed_and_back_with_its_uid() {
    let lab = TestLab::new("127.83");
    lab.up(&["--replicas", "2", "--server-start-delay", "1s"])
        .assert_ok();
    lab.xtask(&["bootstrap"]).assert_ok();
    let (substrate, _) = lab.local_substrate();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let before = runtime.block_on(substrate.list_pods()).unwrap();
    let before = before.get("lab-crux-0").unwrap().clone();
    let scenario = lab.dir.path().join("oom.yaml");
    std::fs::write(
        &scenario,
        "name: oom\nsteps:\n  - action: restart\n    target: {role: connector, pod: 0}\n    then: wait-healed\n",
    )
    .unwrap();
    let run = lab.xtask(&["outage", "--scenario", scenario.to_str().unwrap()]);
    run.assert_ok();
    assert!(
        run.stderr.contains(
            "lab-crux-0 restarted in place (restart 1): out of the rotation until healed"
        ),
        "{}",
        run.stderr
    );
    let report = latest_outage(&lab);
    assert_eq!(report["healed"], true, "{report:#}");
    assert!(report["pods"][0]["ready_again_ms"].as_u64().is_some());
    let after = runtime.block_on(substrate.list_pods()).unwrap();
    let after = after.get("lab-crux-0").unwrap();
    assert_eq!(after.uid, before.uid, "the same pod");
    assert_eq!(after.restarts, before.restarts + 1);
    assert!(after.ready, "back in the rotation");
}

/// The stand-in's connector answers a failing transaction function as a sound one does
/// (404, and every pod goes on taking writes); the verdict says so with the answer and a
/// write on every pod, and a replaced pod serves again.
#[test]
fn a_failing_transaction_is_answered_404_and_every_pod_goes_on_writing() {
    let lab = TestLab::new("127.85");
    let up = lab.up(&["--replicas", "2"]);
    up.assert_ok();
    // With no connector to be had, the default says why it runs the stand-in, first and
    // last.
    let note = "real Egeria was not run";
    assert!(
        up.stderr.starts_with("note: ") && up.stderr.contains(note),
        "{}",
        up.stderr
    );
    assert!(
        up.stdout.contains(note) && up.stdout.contains("--connector PATH"),
        "{}",
        up.stdout
    );
    lab.xtask(&["bootstrap"]).assert_ok();
    let run = lab.xtask(&["outage", "--scenario", "failing-transaction"]);
    run.assert_ok();
    let report = latest_outage(&lab);
    assert_eq!(report["verdict"], "pass", "{report:#}");
    let sent = &report["failing_transactions"][0];
    assert_eq!(sent["related_http_code"], 404, "{sent}");
    assert!(
        sent["url"]
            .as_str()
            .unwrap()
            .contains("/instances/relationship/")
            && sent["url"].as_str().unwrap().ends_with("/purge"),
        "{sent}"
    );
    let writes = report["pod_writes"].as_array().unwrap();
    assert_eq!(writes.len(), 2, "{report:#}");
    assert!(writes.iter().all(|w| w["ok"] == true), "{writes:?}");
    assert_eq!(report["failed_writes_applied"], 0);
    assert!(report.get("ingester_stops").is_none(), "{report:#}");
    // Every failed probe request says why.
    let failed = report["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["ok"] == false);
    for sample in failed {
        assert!(sample["error"].is_string(), "{sample}");
    }
    let markdown = std::fs::read_to_string(lab.latest_run().join("outage.md")).unwrap();
    assert!(
        markdown.contains("## The connector's transactions"),
        "{markdown}"
    );
    assert!(
        markdown.contains("A write straight to lab-crux-1: acknowledged"),
        "{markdown}"
    );
}
