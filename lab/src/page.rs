//! A run's page, `runs/<run-id>/index.html`: the verdict, the figures and the pictures of
//! one `lab-run` together, in one self-contained file (see `report::html`). Each section
//! reads its own part of the run folder; a part that is missing or damaged gives a
//! section saying so, never a missing page.

use crate::bootstrap::{BootstrapReport, PodOutcome};
use crate::outage::OutageReport;
use crate::report::html::{self, facts, missing_section, section, table, verdict_badge};
use crate::report::plot::escape;
use crate::state::{EgeriaKind, LabState};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What only the command that ran knows: how long it took, which outage it asked for,
/// and how it ended.
pub struct RunFacts<'a> {
    pub state: &'a LabState,
    pub wall: Duration,
    /// The outage scenario, or `None` for `--scenario none`.
    pub scenario: Option<&'a str>,
    /// `Err` with the run's error when it failed.
    pub outcome: Result<(), String>,
}

/// Failed probe requests listed one by one; the rest are counted.
const FAILED_REQUESTS_LISTED: usize = 200;

/// Writes the page into the run folder; returns its path.
pub fn write(facts: &RunFacts) -> std::io::Result<PathBuf> {
    let run_dir = &facts.state.run_dir;
    let path = run_dir.join("index.html");
    std::fs::write(&path, render(facts))?;
    Ok(path)
}

pub fn render(facts: &RunFacts) -> String {
    let run_dir = &facts.state.run_dir;
    let bootstrap = read_json::<BootstrapReport>(&run_dir.join("bootstrap.json"));
    let mut body = header(facts, bootstrap.as_ref().ok());
    body.push_str(&match &bootstrap {
        Ok(report) => section("bootstrap", "Bootstrap", &bootstrap_body(report)),
        Err(why) => missing_section("bootstrap", "Bootstrap", why),
    });
    body.push_str(&outage_section(run_dir, facts.scenario));
    body.push_str(&pts_section(&run_dir.join("pts")));
    html::page(&format!("egeria-ha-lab run {}", facts.state.run_id), &body)
}

/// Reads and parses one part of the run folder, or says why it cannot.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("{} could not be read: {error}", path.display()))?;
    serde_json::from_str(&text).map_err(|error| format!("{} is damaged: {error}", path.display()))
}

fn header(facts: &RunFacts, bootstrap: Option<&BootstrapReport>) -> String {
    let state = facts.state;
    let egeria = &state.egeria;
    let verdict = if facts.outcome.is_ok() {
        "pass"
    } else {
        "fail"
    };
    let mut html = format!(
        "<h1>egeria-ha-lab run {} {}</h1>\n",
        escape(&state.run_id),
        verdict_badge(verdict)
    );
    if let Err(error) = &facts.outcome {
        let _ = writeln!(html, "<p class=\"missing\">{}</p>", escape(error));
    }
    if egeria.kind == EgeriaKind::StandIn {
        html.push_str(
            "<p class=\"banner\"><strong>The stand-in ran, not Egeria:</strong> egeria-standin \
             is the lab's own test fixture. Its figures say nothing about Egeria or the \
             connector.</p>\n",
        );
    }
    if let Some(note) = &egeria.note {
        let _ = writeln!(html, "<p class=\"banner\">{}</p>", escape(note));
    }
    let origins: std::collections::BTreeSet<&str> = bootstrap
        .into_iter()
        .flat_map(|report| &report.pods)
        .filter_map(|pod| pod.platform_origin.as_deref())
        .collect();
    let origin = if origins.is_empty() {
        "(not known: no pod answered)".to_string()
    } else {
        origins.into_iter().collect::<Vec<_>>().join("; ")
    };
    let versions = [
        egeria.release.as_deref().map(|r| format!("Egeria {r}")),
        egeria
            .connector_version
            .as_deref()
            .map(|v| format!("connector {v}")),
        egeria.xtdb_version.as_deref().map(|v| format!("XTDB {v}")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>();
    html.push_str(&facts_list(&[
        ("substrate", state.kind().label().to_string()),
        ("Egeria", egeria.describe()),
        ("platform origin", origin),
        (
            "connector",
            egeria.connector.clone().unwrap_or_else(|| "none".into()),
        ),
        (
            "versions",
            if versions.is_empty() {
                "not recorded".into()
            } else {
                versions.join(", ")
            },
        ),
        ("connector replicas", state.settings.replicas.to_string()),
        ("run", state.run_id.clone()),
        (
            "wall time",
            humantime::format_duration(Duration::from_secs(facts.wall.as_secs())).to_string(),
        ),
        ("verdict", verdict.to_uppercase()),
    ]));
    html
}

/// Plain-text facts, escaped.
fn facts_list(pairs: &[(&str, String)]) -> String {
    facts(pairs.iter().map(|(term, value)| (*term, escape(value))))
}

fn bootstrap_body(report: &BootstrapReport) -> String {
    let ready = report.pods.iter().filter(|pod| pod.ready).count();
    let mut html = format!(
        "<p>{ready}/{} connector pods ready in {} ms; common configuration {} \
         (metadataCollectionId <code>{}</code>).</p>\n",
        report.pods.len(),
        report.total_ms,
        escape(&report.configuration),
        escape(&report.metadata_collection_id)
    );
    html.push_str(&steps_svg(&report.pods));
    let step = |ms: Option<u64>| ms.map_or_else(|| "#–".to_string(), |ms| format!("#{ms}"));
    html.push_str(&table(
        &[
            "pod",
            "#platform up ms",
            "#configured ms",
            "#started ms",
            "#ready ms",
            "XTDB",
            "outcome",
        ],
        report.pods.iter().map(|pod| {
            vec![
                escape(&pod.name),
                step(pod.steps.platform_ms),
                step(pod.steps.configured_ms),
                step(pod.steps.started_ms),
                step(pod.steps.ready_ms),
                escape(pod.xtdb_version.as_deref().unwrap_or("")),
                escape(
                    pod.error
                        .as_deref()
                        .or(pod.note.as_deref())
                        .unwrap_or(if pod.ready { "ready" } else { "not ready" }),
                ),
            ]
        }),
    ));
    html
}

/// Each pod's bootstrap as a bar of its steps: waiting for the platform, configuring,
/// starting, catching up until ready.
fn steps_svg(pods: &[PodOutcome]) -> String {
    const WIDTH: f64 = 640.0;
    const LABEL: f64 = 110.0;
    const ROW: f64 = 20.0;
    let end = pods
        .iter()
        .filter_map(|pod| {
            let steps = pod.steps;
            [
                steps.ready_ms,
                steps.started_ms,
                steps.configured_ms,
                steps.platform_ms,
            ]
            .into_iter()
            .flatten()
            .max()
        })
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let x = |ms: u64| LABEL + ms as f64 / end * (WIDTH - LABEL - 10.0);
    let axis = ROW * pods.len() as f64 + 18.0;
    let height = axis + 22.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"11\" role=\"img\">"
    );
    let colours = [
        ("waiting for the platform", "#bbbbbb"),
        ("configuring", "#e0a030"),
        ("starting the server", "#4a78b5"),
        ("catching up, then ready", "#2a7d2a"),
    ];
    for (row, pod) in pods.iter().enumerate() {
        let y = ROW * row as f64 + 4.0;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{:.0}\">{}</text>",
            y + 12.0,
            escape(&pod.name)
        );
        let steps = pod.steps;
        let mut from = 0;
        for (to, (what, colour)) in [
            steps.platform_ms,
            steps.configured_ms,
            steps.started_ms,
            steps.ready_ms,
        ]
        .into_iter()
        .zip(colours)
        {
            let Some(to) = to else { continue };
            let _ = write!(
                svg,
                "<rect x=\"{:.1}\" y=\"{y:.0}\" width=\"{:.1}\" height=\"14\" fill=\"{colour}\">\
                 <title>{}: {what} until {to} ms</title></rect>",
                x(from),
                (x(to) - x(from)).max(1.0),
                escape(&pod.name)
            );
            from = to;
        }
    }
    let _ = write!(
        svg,
        "<text x=\"{LABEL}\" y=\"{axis:.0}\">0 s</text><text x=\"{:.0}\" y=\"{axis:.0}\" \
         text-anchor=\"end\">{:.1} s</text>",
        WIDTH - 10.0,
        end / 1000.0
    );
    let mut legend_x = LABEL;
    for (what, colour) in colours {
        let _ = write!(
            svg,
            "<rect x=\"{legend_x:.0}\" y=\"{:.0}\" width=\"10\" height=\"10\" fill=\"{colour}\"/>\
             <text x=\"{:.0}\" y=\"{:.0}\">{what}</text>",
            axis + 6.0,
            legend_x + 13.0,
            axis + 15.0
        );
        legend_x += 13.0 + what.len() as f64 * 5.6 + 12.0;
    }
    svg.push_str("</svg>");
    svg
}

fn outage_section(run_dir: &Path, scenario: Option<&str>) -> String {
    const TITLE: &str = "Outage";
    let Some(scenario) = scenario else {
        return section(
            "outage",
            TITLE,
            "<p>No outage was run (<code>--scenario none</code>).</p>\n",
        );
    };
    let report = match read_json::<OutageReport>(&run_dir.join("outage.json")) {
        Ok(report) => report,
        Err(why) => {
            return missing_section(
                "outage",
                TITLE,
                &format!("The outage {scenario} left no report: {why}"),
            );
        }
    };
    let mut html = format!(
        "<p>{} scenario <code>{}</code> on {}</p>\n",
        verdict_badge(&report.verdict),
        escape(&report.scenario),
        escape(&report.substrate)
    );
    if !report.failures.is_empty() {
        html.push_str("<ul>");
        for failure in &report.failures {
            let _ = write!(html, "<li>{}</li>", escape(failure));
        }
        html.push_str("</ul>\n");
    }
    let ms =
        |value: Option<u64>| value.map_or_else(|| "never".to_string(), |ms| format!("{ms} ms"));
    html.push_str(&facts_list(&[
        (
            "requests",
            format!(
                "{} sent, {} failed",
                report.requests.total, report.requests.failed
            ),
        ),
        (
            "longest gap",
            format!(
                "{} ms ({} ms for writes)",
                report.longest_gap_ms, report.longest_write_gap_ms
            ),
        ),
        (
            "writes acknowledged again",
            format!("{} after the last fault", ms(report.writes_back_after_ms)),
        ),
        ("lost writes", report.lost_writes.to_string()),
        ("stale reads", report.stale_reads.to_string()),
        (
            "failed writes applied anyway",
            format!(
                "{} answered as failed, {} unanswered",
                report.failed_writes_applied, report.unanswered_writes_applied
            ),
        ),
        (
            "PTS calls during the faults",
            report.pts_during_faults.map_or_else(
                || "no PTS ran".into(),
                |pts| format!("{} ({} failed)", pts.calls, pts.failed),
            ),
        ),
    ]));
    html.push_str("<h3>Heal times</h3>\n");
    html.push_str(&table(
        &["pod", "#down at ms", "#back in rotation after ms"],
        report.pods.iter().map(|pod| {
            vec![
                escape(&pod.name),
                format!("#{}", pod.killed_at_ms),
                pod.ready_again_ms.map_or_else(
                    || "never".into(),
                    |ready| format!("#{}", ready.saturating_sub(pod.killed_at_ms)),
                ),
            ]
        }),
    ));
    html.push_str("<h3>Timeline</h3>\n");
    // The picture the outage command drew; drawn again from the report if it is gone.
    let svg = std::fs::read_to_string(run_dir.join("outage-timeline.svg"))
        .unwrap_or_else(|_| crate::outage::render::timeline_svg(&report));
    let svg = match svg.find("<svg") {
        Some(start) => &svg[start..],
        None => svg.as_str(),
    };
    html.push_str(svg.trim());
    html.push('\n');
    html.push_str("<h3>Phases</h3>\n");
    html.push_str(&table(
        &["phase", "#requests", "#failed", "#p50 ms", "#p99 ms"],
        report.phases.iter().map(|phase| {
            vec![
                escape(&phase.name),
                format!("#{}", phase.total),
                format!("#{}", phase.failed),
                format!("#{}", phase.p50_ms),
                format!("#{}", phase.p99_ms),
            ]
        }),
    ));
    for stop in &report.ingester_stops {
        let _ = writeln!(
            html,
            "<p class=\"missing\">{}</p>",
            escape(&stop.stop.describe(&stop.pod))
        );
    }
    let failed: Vec<_> = report.timeline.iter().filter(|sample| !sample.ok).collect();
    let _ = writeln!(html, "<h3>Failed requests ({})</h3>", failed.len());
    if !failed.is_empty() {
        html.push_str(&table(
            &["#at ms", "kind", "pod", "#latency ms", "why"],
            failed.iter().take(FAILED_REQUESTS_LISTED).map(|sample| {
                vec![
                    format!("#{}", sample.at_ms),
                    format!("{:?}", sample.kind).to_lowercase(),
                    escape(sample.pod.as_deref().unwrap_or("")),
                    format!("#{}", sample.latency_ms),
                    escape(sample.error.as_deref().unwrap_or("(no reason recorded)")),
                ]
            }),
        ));
        if failed.len() > FAILED_REQUESTS_LISTED {
            let _ = writeln!(
                html,
                "<p class=\"note\">… and {} more, in outage.json</p>",
                failed.len() - FAILED_REQUESTS_LISTED
            );
        }
    }
    section("outage", TITLE, &html)
}

/// The PTS's figures, analysed from the run's results (the report's files are written
/// beside them, as `report` writes them).
fn pts_section(pts: &Path) -> String {
    const TITLE: &str = "Performance Test Suite";
    if !pts.exists() {
        return missing_section(
            "pts",
            TITLE,
            &format!("No PTS results: {} does not exist.", pts.display()),
        );
    }
    let summary = match crate::report::analyse(pts) {
        Ok(summary) => summary,
        Err(error) => {
            return missing_section(
                "pts",
                TITLE,
                &format!("The PTS results could not be read: {error}"),
            );
        }
    };
    let mut html = String::new();
    if let Ok(incomplete) = read_json::<serde_json::Value>(&pts.join("INCOMPLETE.json")) {
        let _ = writeln!(
            html,
            "<p class=\"missing\">Partial results: {}</p>",
            escape(
                incomplete["reason"]
                    .as_str()
                    .unwrap_or("(no reason recorded)")
            )
        );
    }
    if let Err(error) = crate::report::write_report(&summary, &pts.join("report")) {
        let _ = writeln!(html, "<p class=\"note\">{}</p>", escape(&error.to_string()));
    }
    html.push_str(&html::pts_section(&summary));
    html.push_str(&failed_calls(&pts.join("profile-details")));
    section("pts", TITLE, &html)
}

/// The PTS's failed calls, in the workbench's words, from its profile reports (a run's
/// own, trimmed: read whole).
fn failed_calls(details: &Path) -> String {
    let mut failures = Vec::new();
    for entry in std::fs::read_dir(details).into_iter().flatten().flatten() {
        let Ok(report) = read_json::<serde_json::Value>(&entry.path()) else {
            continue;
        };
        let name = report["profileResult"]["name"].as_str().unwrap_or_default();
        let line = crate::pts::profile_line(name, &report);
        failures.extend(line.failures.into_iter().map(|f| (line.profile.clone(), f)));
    }
    failures.sort_by(|a, b| a.0.cmp(&b.0));
    let mut html = format!("<h3>Failed PTS calls ({})</h3>\n", failures.len());
    if !failures.is_empty() {
        html.push_str(&table(
            &["profile", "what failed"],
            failures
                .iter()
                .map(|(profile, failure)| vec![escape(profile), escape(&failure.describe())]),
        ));
    }
    html
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(run_dir: &Path) -> LabState {
        serde_json::from_value(serde_json::json!({
            "settings": crate::settings::LabSettings::default(),
            "run_id": "20261206T101010Z-lab",
            "run_dir": run_dir,
            "created_at": "2026-12-06T10:10:10Z",
            "endpoints": {"connector_service_url": "https://127.9.0.2:9443",
                          "golden_store_bootstrap": "127.9.1.1:9092"},
            "substrate": {"kind": "local", "control_plane_pid": 1,
                          "api_address": "127.9.0.1:7070", "bin_dir": "/bin"},
            "egeria": {"kind": "stand-in"},
        }))
        .expect("a lab state")
    }

    #[test]
    fn missing_and_damaged_parts_give_sections_that_say_so() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("outage.json"), "{\"scenario\": ").unwrap();
        let state = state(dir.path());
        let html = render(&RunFacts {
            state: &state,
            wall: Duration::from_secs(75),
            scenario: Some("crux-and-kafka"),
            outcome: Err("outage crux-and-kafka: FAIL".into()),
        });
        assert!(
            html.contains("<span class=\"verdict fail\">FAIL</span>"),
            "{html}"
        );
        assert!(html.contains("The stand-in ran, not Egeria"), "{html}");
        assert!(html.contains("<dt>wall time</dt><dd>1m 15s</dd>"), "{html}");
        assert!(
            html.contains("bootstrap.json could not be read: No such file"),
            "{html}"
        );
        assert!(
            html.contains("The outage crux-and-kafka left no report: ")
                && html.contains("outage.json is damaged: EOF"),
            "{html}"
        );
        assert!(html.contains("No PTS results: "), "{html}");
        // A PTS with a failed call lists it in the workbench's words.
        let details = dir.path().join("pts/profile-details");
        std::fs::create_dir_all(&details).unwrap();
        std::fs::write(
            details.join("Entity_creation.json"),
            serde_json::json!({"profileResult": {"name": "Entity creation", "requirementResults": [{
                "positiveTestEvidence": [{"elapsedTime": 5, "methodName": "addEntity", "assertionId": "a-1", "testCaseId": "t", "testEvidenceType": "SUCCESSFUL_ASSERTION"}],
                "negativeTestEvidence": [{"testEvidenceType": "UNEXPECTED_EXCEPTION", "assertionId": "a-2",
                    "testCaseId": "repository-entity-creation-performance-APIManager",
                    "conformanceException": {"errorMessage": "OMRS-REST-API-503-006 Unexpected end of file"}}]}]}})
            .to_string(),
        )
        .unwrap();
        let html = render(&RunFacts {
            state: &state,
            wall: Duration::ZERO,
            scenario: None,
            outcome: Ok(()),
        });
        assert!(html.contains("<h3>Failed PTS calls (1)</h3>"), "{html}");
        assert!(
            html.contains("UNEXPECTED_EXCEPTION a-2 in repository-entity-creation-performance-APIManager: OMRS-REST-API-503-006 Unexpected end of file"),
            "{html}"
        );
        // A run without an outage says so, rather than calling its report missing.
        let quiet = render(&RunFacts {
            state: &state,
            wall: Duration::ZERO,
            scenario: None,
            outcome: Ok(()),
        });
        assert!(quiet.contains("No outage was run"), "{quiet}");
        assert!(
            quiet.contains("<span class=\"verdict pass\">PASS</span>"),
            "{quiet}"
        );
    }

    #[test]
    fn each_pod_step_is_drawn_to_scale() {
        let pod = |name: &str, ready_ms: Option<u64>| PodOutcome {
            steps: crate::bootstrap::PodSteps {
                platform_ms: Some(1000),
                configured_ms: Some(1500),
                started_ms: Some(3000),
                ready_ms,
            },
            ..serde_json::from_value(serde_json::json!({
                "name": name, "uid": "u", "address": "a", "configured": true,
                "started": true, "ready": ready_ms.is_some(), "start_ms": 1500}))
            .unwrap()
        };
        let svg = steps_svg(&[pod("lab-crux-0", Some(4000)), pod("lab-crux-1", None)]);
        assert!(
            svg.contains("lab-crux-0: catching up, then ready until 4000 ms"),
            "{svg}"
        );
        assert!(!svg.contains("lab-crux-1: catching up"), "{svg}");
        assert!(svg.contains(">4.0 s</text>"), "{svg}");
    }
}
