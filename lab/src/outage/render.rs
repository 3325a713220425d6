//! `outage.md` and `outage-timeline.svg`: an outage report for a person to read.
//!
//! The SVG is written by hand like `report::svg`; that module's scale and escaping helpers
//! are private to it, so small equivalents live here.

use super::{OutageReport, RequestKind, Sample};
use pts_report::plot::{Scale, escape, nice_step, svg_start};
use std::fmt::Write;

/// Above this many successful samples, one dot each makes the SVG megabytes large and
/// unreadable anyway, so successes become per-pixel-column min–max bars.
const DOT_LIMIT: usize = 5_000;

const WIDTH: f64 = 1000.0;
const PLOT_LEFT: f64 = 80.0;
const PLOT_RIGHT: f64 = 980.0;
/// The failure band above the plot: one row of marks for writes, one for reads.
const BAND_TOP: f64 = 76.0;
const BAND_ROW: f64 = 10.0;
const PLOT_TOP: f64 = BAND_TOP + 2.0 * BAND_ROW + 14.0;
const PLOT_BOTTOM: f64 = 404.0;
const HEIGHT: f64 = PLOT_BOTTOM + 48.0;
/// Marker labels are written upwards, one line of 10 px text wide.
const LABEL_SPACING: f64 = 11.0;
/// Dense mode's column width: the left pixel holds writes, the right one reads, so
/// neither kind hides the other.
const COLUMN_WIDTH: f64 = 2.0;

const WRITE_COLOUR: &str = "#4878a8";
const READ_COLOUR: &str = "#d0743c";
const FAILED_COLOUR: &str = "#d62728";
const KILLED_COLOUR: &str = "#8b1a1a";
const READY_COLOUR: &str = "#2e8b57";

/// `outage.md`: the verdict first, then the figures; never the raw timeline.
pub fn markdown(report: &OutageReport) -> String {
    let mut md = String::new();
    let verdict = verdict(report);
    // Writing to a String cannot fail; `let _` keeps the formatting code readable.
    let _ = writeln!(
        md,
        "# Outage: {} on {} — {verdict}\n",
        md_text(&report.scenario),
        md_text(&report.substrate)
    );
    let _ = writeln!(
        md,
        "**Verdict: {verdict}** · {} requests, {} failed · longest gap {} · lost writes {} · \
         stale reads {} · healed: {}\n",
        report.requests.total,
        report.requests.failed,
        duration(report.longest_gap_ms),
        report.lost_writes,
        report.stale_reads,
        yes_no(report.healed)
    );
    if verdict != "PASS" {
        md.push_str("## Why it failed\n\n");
        if report.failures.is_empty() {
            md.push_str("- no reason recorded\n");
        }
        for reason in &report.failures {
            let _ = writeln!(md, "- {}", md_text(reason));
        }
        md.push('\n');
    }

    let totals = &report.requests;
    let failed_share = if totals.total == 0 {
        "–".to_owned()
    } else {
        format!(
            "{:.2} %",
            100.0 * totals.failed as f64 / totals.total as f64
        )
    };
    let _ = writeln!(
        md,
        "## Requests\n\n| requests | ok | failed | failed share |\n|---:|---:|---:|---:|\n\
         | {} | {} | {} | {failed_share} |\n",
        totals.total, totals.ok, totals.failed
    );
    if !report.failure_reasons.is_empty() {
        md.push_str("Why requests failed (each failed request of `outage.json`'s timeline carries its reason):\n\n| reason | requests |\n|---|---:|\n");
        for (reason, count) in &report.failure_reasons {
            let _ = writeln!(md, "| {} | {count} |", md_text(reason));
        }
        md.push('\n');
    }
    let _ = writeln!(
        md,
        "Writes answered as failed and applied all the same: {}; writes not answered in time and applied all the same: {}\n",
        report.failed_writes_applied, report.unanswered_writes_applied
    );
    if !report.failing_transactions.is_empty() || !report.ingester_stops.is_empty() {
        md.push_str("## The connector's transactions\n\n");
        for sent in &report.failing_transactions {
            let _ = writeln!(
                md,
                "- Failing transaction at {}: `{}` answered {}: {}",
                duration(sent.at_ms),
                md_text(&sent.url),
                sent.related_http_code
                    .map_or_else(|| "nothing".to_owned(), |code| code.to_string()),
                md_text(&sent.answer)
            );
        }
        for write in &report.pod_writes {
            let _ = writeln!(
                md,
                "- A write straight to {}: {}",
                md_text(&write.pod),
                if write.ok {
                    "acknowledged".to_owned()
                } else {
                    format!("refused: {}", md_text(write.error.as_deref().unwrap_or("")))
                }
            );
        }
        for seen in &report.ingester_stops {
            let stop = &seen.stop;
            let _ = writeln!(
                md,
                "- **Transaction ingester stopped** on {} at {}: {}{}",
                md_text(&seen.pod),
                md_text(&stop.at),
                md_text(&stop.cause),
                stop.trigger
                    .as_deref()
                    .map(|t| format!(" (set off by: {})", md_text(t)))
                    .unwrap_or_default()
            );
        }
        md.push('\n');
    }

    md.push_str("## Phases\n\n");
    if report.phases.is_empty() {
        md.push_str("No phase figures.\n\n");
    } else {
        md.push_str("| phase | requests | failed | p50 | p99 |\n|---|---:|---:|---:|---:|\n");
        for phase in &report.phases {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                md_text(&phase.name),
                phase.total,
                phase.failed,
                duration(phase.p50_ms),
                duration(phase.p99_ms)
            );
        }
        md.push('\n');
    }

    let (start, end) = report.fault_window_ms;
    let _ = writeln!(
        md,
        "## Continuity and integrity\n\n\
         - Longest gap without a successful response: {}\n\
         - Longest gap without an acknowledged write: {}\n\
         - Writes acknowledged again: {}\n\
         - Lost writes (acknowledged, then missing from some pod): {}\n\
         - Stale reads (a read that missed an acknowledged write): {}\n\
         - Fault window (to every pod back and writes acknowledged again): {} to {} after \
         the probe started ({})",
        duration(report.longest_gap_ms),
        duration(report.longest_write_gap_ms),
        report.writes_back_after_ms.map_or_else(
            || "never, within the heal deadline".to_owned(),
            |after| format!("{} after the last fault", duration(after))
        ),
        report.lost_writes,
        report.stale_reads,
        duration(start),
        duration(end),
        duration(end.saturating_sub(start))
    );
    if let Some(pts) = report.pts_during_faults {
        let _ = writeln!(
            md,
            "- PTS calls from the first fault to the end of the window: {} ({} failed)",
            pts.calls, pts.failed
        );
    }
    md.push('\n');

    if !report.node_outages.is_empty() {
        md.push_str(
            "## Nodes\n\n| node | its pods | stopped | NotReady | started | Ready | pods back | heal time |\n\
             |---|---|---|---|---|---|---|---|\n",
        );
        let at = |ms: Option<u64>| ms.map_or_else(|| "not seen".to_owned(), duration);
        for node in &report.node_outages {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                md_text(&node.node),
                md_text(&node.pods.join(", ")),
                at(node.stopped_ms),
                at(node.not_ready_ms),
                at(node.started_ms),
                at(node.ready_ms),
                at(node.pods_back_ms),
                at(node.heal_ms),
            );
        }
        md.push('\n');
    }

    md.push_str("## Pods\n\n");
    if report.pods.is_empty() {
        md.push_str("No pod was killed.\n\n");
    } else {
        md.push_str(
            "| pod | killed at | ready again | heal time | led before the faults |\n\
             |---|---:|---:|---:|---|\n",
        );
        for pod in &report.pods {
            let (ready, heal) = match pod.ready_again_ms {
                Some(ready) => (
                    duration(ready),
                    duration(ready.saturating_sub(pod.killed_at_ms)),
                ),
                None => ("never".to_owned(), "never".to_owned()),
            };
            let led = match report.led_by(&pod.name) {
                led if led.is_empty() => "–".to_owned(),
                led => md_text(&led),
            };
            let _ = writeln!(
                md,
                "| {} | {} | {ready} | {heal} | {led} |",
                md_text(&pod.name),
                duration(pod.killed_at_ms)
            );
        }
        md.push('\n');
    }
    let _ = writeln!(
        md,
        "Healed: {}.\n",
        if report.healed {
            "yes, every killed pod is back in the rotation"
        } else {
            "no"
        }
    );

    md.push_str("## Convergence\n\n");
    if report.convergence.is_empty() {
        md.push_str("No convergence figures.\n\n");
    } else {
        md.push_str("| pod | had every acknowledged write after |\n|---|---:|\n");
        for pod in &report.convergence {
            let lag = pod.lag_ms.map_or_else(
                || "never (writes still missing at the deadline)".to_owned(),
                duration,
            );
            let _ = writeln!(md, "| {} | {lag} |", md_text(&pod.pod));
        }
        md.push('\n');
    }

    let _ = writeln!(
        md,
        "## Timeline\n\n`outage-timeline.svg`: x is seconds since the probe started, y the \
         latency of each successful request (blue writes, orange reads; above {DOT_LIMIT} \
         successes, min–max bars per pixel column), red marks in the top band are failed \
         requests, the grey area is the fault window and dashed lines mark each pod killed \
         (dark red) and ready again (green)."
    );
    md
}

/// `outage-timeline.svg`: every request over time, failures marked, the fault window shaded.
pub fn timeline_svg(report: &OutageReport) -> String {
    let time = TimeAxis::fitting(report);
    let successes: Vec<&Sample> = report.timeline.iter().filter(|s| s.ok).collect();
    let failures: Vec<&Sample> = report.timeline.iter().filter(|s| !s.ok).collect();
    let scale = Scale::fitting(successes.iter().map(|s| s.latency_ms as f64));
    let y = |latency: f64| PLOT_BOTTOM - scale.fraction(latency) * (PLOT_BOTTOM - PLOT_TOP);
    let dense = successes.len() > DOT_LIMIT;

    let mut svg = svg_start(WIDTH, HEIGHT);
    let _ = writeln!(
        svg,
        r#"<text x="10" y="22" font-size="15" font-weight="bold">Outage {} on {}: {}</text>"#,
        escape(&report.scenario),
        escape(&report.substrate),
        escape(&verdict(report))
    );
    let _ = writeln!(
        svg,
        r##"<text x="10" y="40" fill="#555">{} requests, {} failed; one dot per successful request{}</text>"##,
        report.timeline.len(),
        failures.len(),
        if dense {
            " (here min–max bars per pixel column: too many to draw one by one)"
        } else {
            ""
        }
    );
    legend(&mut svg);

    // The fault window goes first so that everything else is drawn over it.
    let (start, end) = report.fault_window_ms;
    if (start, end) != (0, 0) {
        let (left, right) = (time.x(start.min(end)), time.x(start.max(end)));
        let _ = writeln!(
            svg,
            r##"<rect class="fault-window" x="{left:.1}" y="{BAND_TOP}" width="{:.1}" height="{}" fill="#999" fill-opacity="0.2"><title>fault window {} to {} ms</title></rect>"##,
            (right - left).max(1.0),
            PLOT_BOTTOM - BAND_TOP,
            start,
            end
        );
    }
    let _ = writeln!(
        svg,
        r##"<rect x="{PLOT_LEFT}" y="{BAND_TOP}" width="{}" height="{}" fill="{FAILED_COLOUR}" fill-opacity="0.06"/>"##,
        PLOT_RIGHT - PLOT_LEFT,
        2.0 * BAND_ROW
    );
    for (row, label) in ["failed writes", "failed reads"].into_iter().enumerate() {
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" font-size="9" text-anchor="end">{label}</text>"#,
            PLOT_LEFT - 4.0,
            BAND_TOP + BAND_ROW * (row as f64 + 1.0) - 2.0
        );
    }
    axes(&mut svg, &time, &scale);

    if successes.is_empty() {
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#555">no successful request to plot</text>"##,
            (PLOT_LEFT + PLOT_RIGHT) / 2.0,
            (PLOT_TOP + PLOT_BOTTOM) / 2.0
        );
    }
    for (kind, colour) in [
        (RequestKind::Write, WRITE_COLOUR),
        (RequestKind::Read, READ_COLOUR),
    ] {
        let points = successes
            .iter()
            .filter(|s| s.kind == kind)
            .map(|s| (time.x(s.at_ms), y(s.latency_ms as f64)));
        if dense {
            let offset = match kind {
                RequestKind::Write => 0.5,
                RequestKind::Read => 1.5,
            };
            column_bars(&mut svg, points, offset, colour);
        } else {
            let _ = writeln!(svg, r#"<g fill="{colour}" fill-opacity="0.8">"#);
            for (x, y) in points {
                let _ = writeln!(svg, r#"<circle cx="{x:.1}" cy="{y:.1}" r="1.8"/>"#);
            }
            svg.push_str("</g>\n");
        }
    }
    failure_marks(&mut svg, &failures, &time);

    let mut markers: Vec<(u64, &str, &str, &str)> = Vec::new();
    for pod in &report.pods {
        markers.push((pod.killed_at_ms, KILLED_COLOUR, &pod.name, "killed"));
        if let Some(ready) = pod.ready_again_ms {
            markers.push((ready, READY_COLOUR, &pod.name, "ready"));
        }
    }
    markers.sort_by_key(|marker| marker.0);
    // Pods killed together would write their labels over each other: shift each label
    // right until it clears the previous one.
    let mut last_label_x = f64::NEG_INFINITY;
    for (at_ms, colour, pod, what) in markers {
        let label_x = (time.x(at_ms) + 10.0).max(last_label_x + LABEL_SPACING);
        last_label_x = label_x;
        marker(&mut svg, &time, at_ms, label_x, colour, pod, what);
    }
    svg.push_str("</svg>\n");
    svg
}

fn verdict(report: &OutageReport) -> String {
    match report.verdict.trim() {
        "" => "UNKNOWN".to_owned(),
        verdict => verdict.to_uppercase(),
    }
}

fn yes_no(value: bool) -> &'static str {
    if value { "yes" } else { "no" }
}

/// Milliseconds, plus seconds once a figure is long enough to be read more easily so.
fn duration(ms: u64) -> String {
    if ms >= 1_000 {
        format!("{ms} ms ({:.1} s)", ms as f64 / 1_000.0)
    } else {
        format!("{ms} ms")
    }
}

/// Names come from scenario files and the substrate, so keep them from breaking a table
/// or turning into markup.
fn md_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\n' | '\r' => out.push(' '),
            '\\' | '|' | '`' | '*' | '_' | '<' | '>' | '[' | ']' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// A tick label without trailing zeros (`0.2`, `5`, `1000`).
fn number(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// The x axis: seconds from the probe's start to a round number past the last event.
struct TimeAxis {
    end_s: f64,
    step_s: f64,
}

impl TimeAxis {
    fn fitting(report: &OutageReport) -> TimeAxis {
        let pods = report
            .pods
            .iter()
            .flat_map(|pod| [Some(pod.killed_at_ms), pod.ready_again_ms])
            .flatten();
        let last_ms = report
            .timeline
            .iter()
            .map(|s| s.at_ms)
            .chain([report.fault_window_ms.0, report.fault_window_ms.1])
            .chain(pods)
            .max()
            .unwrap_or(0);
        // Nothing happened after 0: a one-second axis still reads as an axis.
        let last_s = if last_ms == 0 {
            1.0
        } else {
            last_ms as f64 / 1_000.0
        };
        let step_s = nice_step(last_s / 10.0);
        TimeAxis {
            end_s: (last_s / step_s).ceil().max(1.0) * step_s,
            step_s,
        }
    }

    fn x(&self, ms: u64) -> f64 {
        let fraction = (ms as f64 / 1_000.0 / self.end_s).clamp(0.0, 1.0);
        PLOT_LEFT + fraction * (PLOT_RIGHT - PLOT_LEFT)
    }

    fn ticks(&self) -> impl Iterator<Item = f64> + '_ {
        (0..)
            .map(|i| f64::from(i) * self.step_s)
            .take_while(|tick| *tick <= self.end_s * (1.0 + 1e-9))
    }
}

/// One row of swatches, each followed by its name.
fn legend(svg: &mut String) {
    let top = 54.0;
    let swatches = [
        format!(
            r#"<circle cx="15" cy="{}" r="3" fill="{WRITE_COLOUR}"/>"#,
            top + 5.0
        ),
        format!(
            r#"<circle cx="70" cy="{}" r="3" fill="{READ_COLOUR}"/>"#,
            top + 5.0
        ),
        format!(
            r#"<path d="M120 {top}l8 8m0-8l-8 8" stroke="{FAILED_COLOUR}" stroke-width="1.5"/>"#
        ),
        format!(
            r##"<rect x="225" y="{top}" width="14" height="10" fill="#999" fill-opacity="0.3"/>"##
        ),
        format!(
            r#"<path d="M330 {top}v10" stroke="{KILLED_COLOUR}" stroke-width="2" stroke-dasharray="3 2"/>"#
        ),
        format!(
            r#"<path d="M405 {top}v10" stroke="{READY_COLOUR}" stroke-width="2" stroke-dasharray="3 2"/>"#
        ),
    ];
    let names = [
        (22, "write"),
        (77, "read"),
        (133, "failed request"),
        (244, "fault window"),
        (336, "pod killed"),
        (411, "pod ready again"),
    ];
    svg.push_str("<g font-size=\"11\">\n");
    for (swatch, (x, name)) in swatches.iter().zip(names) {
        let _ = writeln!(
            svg,
            r#"{swatch}<text x="{x}" y="{}">{name}</text>"#,
            top + 9.0
        );
    }
    svg.push_str("</g>\n");
}

fn axes(svg: &mut String, time: &TimeAxis, scale: &Scale) {
    let y = |latency: f64| PLOT_BOTTOM - scale.fraction(latency) * (PLOT_BOTTOM - PLOT_TOP);
    for tick in scale.ticks() {
        let tick_y = y(tick);
        let _ = writeln!(
            svg,
            r##"<line x1="{PLOT_LEFT}" y1="{tick_y:.1}" x2="{PLOT_RIGHT}" y2="{tick_y:.1}" stroke="#e4e4e4"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            PLOT_LEFT - 4.0,
            tick_y + 4.0,
            number(tick)
        );
    }
    for tick in time.ticks() {
        let tick_x = PLOT_LEFT + tick / time.end_s * (PLOT_RIGHT - PLOT_LEFT);
        let _ = writeln!(
            svg,
            r##"<line x1="{tick_x:.1}" y1="{PLOT_BOTTOM}" x2="{tick_x:.1}" y2="{:.1}" stroke="black"/><text x="{tick_x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            PLOT_BOTTOM + 4.0,
            PLOT_BOTTOM + 17.0,
            number(tick)
        );
    }
    let axis_note = match scale {
        Scale::Linear { .. } => "latency (ms)",
        Scale::Log { .. } => "latency (ms, log scale; 0 ms at the bottom)",
    };
    let middle = (PLOT_TOP + PLOT_BOTTOM) / 2.0;
    let _ = writeln!(
        svg,
        r#"<text x="16" y="{middle:.1}" text-anchor="middle" transform="rotate(-90 16 {middle:.1})">{axis_note}</text>"#
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">time since probe start (s)</text>"#,
        (PLOT_LEFT + PLOT_RIGHT) / 2.0,
        PLOT_BOTTOM + 36.0
    );
    let _ = writeln!(
        svg,
        r#"<path d="M{PLOT_LEFT} {PLOT_TOP}V{PLOT_BOTTOM}H{PLOT_RIGHT}" stroke="black" fill="none"/>"#
    );
}

/// Dense mode: per column, one line from the fastest to the slowest request, so the output
/// is bounded by the plot's width whatever the number of samples. `offset` is where in the
/// column this kind's line goes.
fn column_bars(
    svg: &mut String,
    points: impl Iterator<Item = (f64, f64)>,
    offset: f64,
    colour: &str,
) {
    let columns = ((PLOT_RIGHT - PLOT_LEFT) / COLUMN_WIDTH) as usize;
    let mut spans: Vec<Option<(f64, f64)>> = vec![None; columns];
    for (x, y) in points {
        let column = (((x - PLOT_LEFT) / COLUMN_WIDTH) as usize).min(columns - 1);
        let span = spans[column].get_or_insert((y, y));
        *span = (span.0.min(y), span.1.max(y));
    }
    let mut d = String::new();
    for (column, span) in spans.iter().enumerate() {
        if let Some((top, bottom)) = span {
            // At least a pixel tall, or a column of equal latencies would not show.
            let _ = write!(
                d,
                "M{:.1} {top:.1}V{:.1}",
                PLOT_LEFT + column as f64 * COLUMN_WIDTH + offset,
                bottom.max(top + 1.0)
            );
        }
    }
    if !d.is_empty() {
        let _ = writeln!(
            svg,
            r#"<path d="{d}" stroke="{colour}" stroke-opacity="0.8" fill="none"/>"#
        );
    }
}

/// Every failure is drawn, never thinned out, each mark starting with exactly one `M`:
/// a cross while few, a short tick past `DOT_LIMIT` so that the size stays bounded.
fn failure_marks(svg: &mut String, failures: &[&Sample], time: &TimeAxis) {
    if failures.is_empty() {
        return;
    }
    let crosses = failures.len() <= DOT_LIMIT;
    let mut d = String::with_capacity(failures.len() * 24);
    for sample in failures {
        let row_top = match sample.kind {
            RequestKind::Write => BAND_TOP,
            RequestKind::Read => BAND_TOP + BAND_ROW,
        };
        let x = time.x(sample.at_ms);
        if crosses {
            let _ = write!(d, "M{:.1} {:.1}l6 6m0-6l-6 6", x - 3.0, row_top + 2.0);
        } else {
            let _ = write!(d, "M{x:.1} {:.1}v8", row_top + 1.0);
        }
    }
    let _ = writeln!(
        svg,
        r#"<path class="failures" d="{d}" stroke="{FAILED_COLOUR}" stroke-width="1.5" fill="none"/>"#
    );
}

/// A dashed vertical line through the band and the plot, its label written upwards beside it.
fn marker(
    svg: &mut String,
    time: &TimeAxis,
    at_ms: u64,
    label_x: f64,
    colour: &str,
    pod: &str,
    what: &str,
) {
    let x = time.x(at_ms);
    let label_y = PLOT_BOTTOM - 4.0;
    let pod = escape(pod);
    let _ = writeln!(
        svg,
        r#"<line class="pod-marker" x1="{x:.1}" y1="{BAND_TOP}" x2="{x:.1}" y2="{PLOT_BOTTOM}" stroke="{colour}" stroke-dasharray="4 3"><title>{pod} {what} at {at_ms} ms</title></line><text x="{label_x:.1}" y="{label_y:.1}" font-size="10" fill="{colour}" transform="rotate(-90 {label_x:.1} {label_y:.1})">{pod} {what}</text>"#
    );
}

#[cfg(test)]
mod tests {
    use super::super::{PhaseStats, PodConvergence, PodOutage, RequestTotals};
    use super::*;
    use crate::substrate::Leadership;

    fn sample(at_ms: u64, latency_ms: u64, kind: RequestKind, ok: bool) -> Sample {
        Sample {
            at_ms,
            latency_ms,
            kind,
            ok,
            pod: None,
            error: (!ok).then(|| "no answer within the request timeout".into()),
        }
    }

    fn report(timeline: Vec<Sample>) -> OutageReport {
        let failed = timeline.iter().filter(|s| !s.ok).count() as u64;
        let phase = |name: &str| PhaseStats {
            name: name.to_owned(),
            total: 10,
            failed: 1,
            p50_ms: 12,
            p99_ms: 1_500,
        };
        OutageReport {
            scenario: "crux-and-kafka".to_owned(),
            substrate: "local".to_owned(),
            requests: RequestTotals {
                total: timeline.len() as u64,
                ok: timeline.len() as u64 - failed,
                failed,
            },
            phases: vec![phase("before"), phase("during"), phase("after")],
            longest_gap_ms: 850,
            longest_write_gap_ms: 2_400,
            writes_back_after_ms: Some(2_350),
            lost_writes: 0,
            stale_reads: 2,
            pods: vec![
                PodOutage {
                    name: "crux-1".to_owned(),
                    killed_at_ms: 2_000,
                    ready_again_ms: Some(4_300),
                },
                PodOutage {
                    name: "kafka-<0>".to_owned(),
                    killed_at_ms: 2_000,
                    ready_again_ms: None,
                },
            ],
            healed: true,
            verdict: "pass".to_owned(),
            failures: Vec::new(),
            fault_window_ms: (2_000, 4_300),
            convergence: vec![
                PodConvergence {
                    pod: "crux-0".to_owned(),
                    lag_ms: Some(15),
                },
                PodConvergence {
                    pod: "crux-1".to_owned(),
                    lag_ms: None,
                },
            ],
            golden_store_leaders: ["crux-doc-store", "controller"]
                .map(|of| Leadership {
                    of: of.to_owned(),
                    member: "kafka-<0>".to_owned(),
                })
                .to_vec(),
            pts_during_faults: None,
            node_outages: Vec::new(),
            failure_reasons: super::super::run::failure_reasons_of(&timeline),
            failed_writes_applied: 0,
            unanswered_writes_applied: 0,
            failing_transactions: Vec::new(),
            pod_writes: Vec::new(),
            ingester_stops: Vec::new(),
            timeline,
        }
    }

    /// A few writes and reads, some slow, three failures in the window.
    fn small_timeline() -> Vec<Sample> {
        (0..60)
            .map(|i| {
                let kind = if i % 2 == 0 {
                    RequestKind::Write
                } else {
                    RequestKind::Read
                };
                let failed = [41, 44, 47].contains(&i);
                sample(i * 100, 3 + i % 7 * 40, kind, !failed)
            })
            .collect()
    }

    /// XML-ish: one root `<svg>`, every element closed in order, `&` only in entities.
    fn assert_well_formed(svg: &str) {
        assert!(svg.starts_with("<svg"), "starts with <svg");
        assert_eq!(svg.matches("<svg").count(), 1);
        assert_eq!(svg.matches("</svg>").count(), 1);
        let mut open: Vec<&str> = Vec::new();
        let mut rest = svg;
        while let Some(start) = rest.find('<') {
            let text = &rest[..start];
            for (index, _) in text.match_indices('&') {
                let entity = &text[index..];
                assert!(
                    ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                        .iter()
                        .any(|e| entity.starts_with(e)),
                    "bare & in {text:?}"
                );
            }
            let end = rest[start..].find('>').expect("unterminated tag") + start;
            let tag = &rest[start + 1..end];
            assert!(!tag.contains('<'), "< inside a tag: {tag}");
            if let Some(name) = tag.strip_prefix('/') {
                assert_eq!(open.pop(), Some(name.trim()), "mismatched </{name}>");
            } else if !tag.ends_with('/') {
                open.push(tag.split_whitespace().next().unwrap_or(""));
            }
            rest = &rest[end + 1..];
        }
        assert!(open.is_empty(), "unclosed: {open:?}");
        assert_eq!(rest.trim(), "");
    }

    /// Rust prints non-finite floats as `NaN`, `inf` and `-inf`: no token may hold them.
    fn assert_finite_numbers(svg: &str) {
        for token in svg.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-')) {
            assert!(
                !token.contains("NaN") && !token.contains("inf"),
                "non-finite number in {token:?}"
            );
        }
    }

    fn failure_marks_in(svg: &str) -> usize {
        let Some(start) = svg.find(r#"class="failures" d=""#) else {
            return 0;
        };
        let d = &svg[start + r#"class="failures" d=""#.len()..];
        d[..d.find('"').unwrap()].matches('M').count()
    }

    fn check(report: &OutageReport) -> String {
        let svg = timeline_svg(report);
        assert_well_formed(&svg);
        assert_finite_numbers(&svg);
        assert_eq!(
            failure_marks_in(&svg),
            report.timeline.iter().filter(|s| !s.ok).count()
        );
        svg
    }

    #[test]
    fn markdown_leads_with_the_verdict_and_names_every_phase_and_pod() {
        let md = markdown(&report(small_timeline()));
        let first_line = md.lines().next().unwrap();
        assert!(first_line.contains("crux-and-kafka") && first_line.contains("local"));
        assert!(first_line.contains("PASS"));
        for name in [
            "before",
            "during",
            "after",
            "crux-1",
            "kafka-\\<0\\>",
            "crux-0",
        ] {
            assert!(md.contains(name), "{name} missing from\n{md}");
        }
        assert!(
            md.contains("| crux-1 | 2000 ms (2.0 s) | 4300 ms (4.3 s) | 2300 ms (2.3 s) | – |")
        );
        // What the killed golden-store member led explains its stall.
        assert!(md.contains("| 2000 ms (2.0 s) | never | never | crux-doc-store, controller |"));
        assert!(md.contains("1500 ms (1.5 s)"), "p99 in ms and s");
        assert!(md.contains("Writes acknowledged again: 2350 ms (2.4 s) after the last fault"));
        assert!(!md.contains("Why it failed"));
        assert!(md.contains("outage-timeline.svg"));
        assert!(!md.contains("PTS calls"), "no PTS ran");
    }

    #[test]
    fn markdown_counts_the_pts_calls_made_during_the_faults() {
        let mut during_pts = report(small_timeline());
        during_pts.pts_during_faults = Some(crate::pts::CallCount {
            calls: 120,
            failed: 3,
        });
        let md = markdown(&during_pts);
        assert!(
            md.contains(
                "(2.3 s))\n- PTS calls from the first fault to the end of the window: 120 (3 failed)\n\n## Pods"
            ),
            "{md}"
        );
    }

    #[test]
    fn markdown_tables_each_node_outage_with_its_times() {
        let mut node_down = report(small_timeline());
        node_down.node_outages = vec![crate::node_faults::NodeOutage {
            node: "egeria-ha-lab-worker2".into(),
            pods: vec!["lab-crux-1".into(), "lab-kafka-2".into()],
            stopped_ms: Some(3_000),
            not_ready_ms: Some(43_000),
            started_ms: Some(63_000),
            ready_ms: Some(66_000),
            pods_back_ms: None,
            heal_ms: None,
        }];
        let md = markdown(&node_down);
        assert!(
            md.contains("| egeria-ha-lab-worker2 | lab-crux-1, lab-kafka-2 | 3000 ms (3.0 s) | 43000 ms (43.0 s) | 63000 ms (63.0 s) | 66000 ms (66.0 s) | not seen | not seen |"),
            "{md}"
        );
    }

    #[test]
    fn markdown_lists_failure_reasons() {
        let mut failing = report(Vec::new());
        failing.verdict = "fail".to_owned();
        failing.failures = vec!["3 acknowledged writes lost".to_owned(), "a|b".to_owned()];
        let md = markdown(&failing);
        assert!(md.lines().next().unwrap().contains("FAIL"));
        assert!(md.contains("- 3 acknowledged writes lost\n- a\\|b\n"));
        assert!(md.contains("failed share |\n|---:|---:|---:|---:|\n| 0 | 0 | 0 | – |"));
        failing.writes_back_after_ms = None;
        assert!(
            markdown(&failing)
                .contains("Writes acknowledged again: never, within the heal deadline")
        );
    }

    #[test]
    fn svg_marks_each_failure_shades_the_window_and_labels_pods() {
        let svg = check(&report(small_timeline()));
        assert_eq!(failure_marks_in(&svg), 3);
        assert_eq!(svg.matches(r#"class="fault-window""#).count(), 1);
        assert_eq!(svg.matches(r#"class="pod-marker""#).count(), 3);
        assert!(svg.contains("crux-1 killed") && svg.contains("crux-1 ready"));
        assert!(svg.contains("kafka-&lt;0&gt; killed") && !svg.contains("kafka-&lt;0&gt; ready"));
        assert_eq!(svg.matches("<circle").count(), 57 + 2, "dots plus legend");
        assert!(
            svg.contains("log scale"),
            "latencies 3..243 ms spread past 20"
        );
    }

    #[test]
    fn svg_survives_edge_cases() {
        let mut empty = report(Vec::new());
        empty.pods.clear();
        empty.fault_window_ms = (0, 0);
        let svg = check(&empty);
        assert!(!svg.contains("fault-window") && svg.contains("no successful request"));

        check(&report(vec![sample(0, 0, RequestKind::Write, true)]));
        check(&report(vec![sample(7, 5, RequestKind::Read, true)]));
        let all_failed: Vec<Sample> = (0..40)
            .map(|i| sample(i * 50, 1_000, RequestKind::Read, false))
            .collect();
        check(&report(all_failed));
        let zeros: Vec<Sample> = (0..40)
            .map(|i| sample(i * 50, 0, RequestKind::Write, true))
            .collect();
        let svg = check(&report(zeros));
        assert!(!svg.contains("log scale"));
        // A zero latency among spread ones: a log axis, the zero drawn at its bottom.
        check(&report(vec![
            sample(0, 0, RequestKind::Write, true),
            sample(10, 1, RequestKind::Write, true),
            sample(20, 900, RequestKind::Read, true),
        ]));
        let mut odd = report(vec![sample(u64::MAX, u64::MAX, RequestKind::Write, true)]);
        odd.fault_window_ms = (5, 1);
        check(&odd);
    }

    #[test]
    fn svg_of_fifty_thousand_samples_stays_bounded() {
        let many: Vec<Sample> = (0..50_000u64)
            .map(|i| {
                let kind = if i % 3 == 0 {
                    RequestKind::Write
                } else {
                    RequestKind::Read
                };
                sample(i * 50, 2 + i % 97, kind, i % 1_000 != 0)
            })
            .collect();
        let svg = check(&report(many));
        assert!(svg.len() < 1_000_000, "{} bytes", svg.len());
        assert_eq!(
            svg.matches("<circle").count(),
            2,
            "legend only: bars, not dots"
        );

        let all_failed: Vec<Sample> = (0..50_000u64)
            .map(|i| sample(i * 50, 10_000, RequestKind::Write, false))
            .collect();
        let svg = check(&report(all_failed));
        assert!(svg.len() < 1_000_000, "{} bytes", svg.len());
    }

    #[test]
    fn tick_labels_and_durations_read_well() {
        assert_eq!(number(0.2), "0.2");
        assert_eq!(number(1000.0), "1000");
        assert_eq!(duration(999), "999 ms");
        assert_eq!(duration(61_000), "61000 ms (61.0 s)");
    }
}
