//! The report as one self-contained HTML page: inline CSS and SVG, no script, nothing
//! fetched, so it reads the same when copied elsewhere or attached to an issue. The
//! pieces are public: the lab's run page sets the PTS section beside its own.

use crate::plot::escape;
use crate::{Comparison, Pair, Summary, render};
use std::fmt::Write as _;
use std::path::Path;

/// The page's whole style: tables, sections, verdict badges, sparklines.
const STYLE: &str = "body{font-family:sans-serif;margin:1.5em auto;max-width:72em;color:#222;\
line-height:1.4}h1{font-size:1.5em;margin-bottom:.2em}h2{border-bottom:1px solid #ccc;\
padding-bottom:.2em;margin-top:1.6em}h3{margin-bottom:.3em}table{border-collapse:collapse;\
margin:.5em 0}th,td{padding:.15em .6em;border-bottom:1px solid #eee;text-align:left;\
vertical-align:middle}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}\
.verdict{display:inline-block;padding:.1em .6em;border-radius:.3em;font-weight:bold;color:#fff}\
.pass{background:#2a7d2a}.fail{background:#b3261e}.unknown{background:#777}\
.banner{background:#fff4ce;border:1px solid #e0c060;padding:.5em .8em;margin:.6em 0}\
.missing{background:#fdecea;border:1px solid #e6a19b;padding:.5em .8em}\
tr.regressed td{background:#fdecea}dl{display:grid;grid-template-columns:max-content auto;\
gap:.1em 1em}dt{font-weight:bold}dd{margin:0}svg{vertical-align:middle}\
.note{color:#555;font-size:.9em}";

/// A whole page around `body`.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head>\n<body>\n{body}</body></html>\n",
        escape(title)
    )
}

/// A titled section; `body` is HTML already.
pub fn section(id: &str, title: &str, body: &str) -> String {
    format!(
        "<section id=\"{}\"><h2>{}</h2>\n{body}</section>\n",
        escape(id),
        escape(title)
    )
}

/// A section whose source is missing or damaged: says which and why, instead of
/// leaving a hole.
pub fn missing_section(id: &str, title: &str, why: &str) -> String {
    section(
        id,
        title,
        &format!("<p class=\"missing\">{}</p>\n", escape(why)),
    )
}

/// `pass`, `fail` (or anything else) as a coloured badge.
pub fn verdict_badge(verdict: &str) -> String {
    let class = match verdict.to_ascii_lowercase().as_str() {
        "pass" => "pass",
        "fail" => "fail",
        _ => "unknown",
    };
    format!(
        "<span class=\"verdict {class}\">{}</span>",
        escape(&verdict.to_uppercase())
    )
}

/// A table; `rows` hold HTML cells already, a cell starting with `#` is a number
/// (right-aligned, the `#` dropped).
pub fn table(headers: &[&str], rows: impl IntoIterator<Item = Vec<String>>) -> String {
    table_with_classes(headers, rows.into_iter().map(|row| (row, "")))
}

fn table_with_classes<'a>(
    headers: &[&str],
    rows: impl IntoIterator<Item = (Vec<String>, &'a str)>,
) -> String {
    let mut html = String::from("<table><thead><tr>");
    for header in headers {
        match header.strip_prefix('#') {
            Some(number) => write!(html, "<th class=\"n\">{}</th>", escape(number)),
            None => write!(html, "<th>{}</th>", escape(header)),
        }
        .expect("writing to a String");
    }
    html.push_str("</tr></thead><tbody>\n");
    for (row, class) in rows {
        if class.is_empty() {
            html.push_str("<tr>");
        } else {
            let _ = write!(html, "<tr class=\"{class}\">");
        }
        for cell in row {
            match cell.strip_prefix('#') {
                Some(number) => write!(html, "<td class=\"n\">{number}</td>"),
                None => write!(html, "<td>{cell}</td>"),
            }
            .expect("writing to a String");
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table>\n");
    html
}

/// A definition list of (term, HTML value) pairs.
pub fn facts<'a>(pairs: impl IntoIterator<Item = (&'a str, String)>) -> String {
    let mut html = String::from("<dl>");
    for (term, value) in pairs {
        let _ = write!(html, "<dt>{}</dt><dd>{value}</dd>", escape(term));
    }
    html.push_str("</dl>\n");
    html
}

/// `path` as a `file://` URL a terminal makes clickable (made absolute; bytes outside
/// the unreserved set percent-encoded).
pub fn file_url(path: &Path) -> String {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut url = String::from("file://");
    for byte in absolute.to_string_lossy().bytes() {
        if byte.is_ascii_alphanumeric() || b"/-._~".contains(&byte) {
            url.push(byte as char);
        } else {
            let _ = write!(url, "%{byte:02X}");
        }
    }
    url
}

/// Milliseconds as a number of the table (`#`), one decimal for medians.
fn ms(value: f64) -> String {
    if value.fract() == 0.0 {
        format!("#{value:.0}")
    } else {
        format!("#{value:.1}")
    }
}

/// The label of a distribution bin (see `stats::histogram`).
fn bin_label(bin: usize) -> String {
    match bin {
        0 => "0 ms".into(),
        1 => "1 ms".into(),
        _ => format!("{}–{} ms", 1u64 << (bin - 1), (1u64 << bin) - 1),
    }
}

const SPARK_HEIGHT: f64 = 28.0;
const BIN_WIDTH: f64 = 6.0;

/// One pair's latency distribution: a bar per base-2 bin of milliseconds, every row on
/// the same x axis of `bins` bins so that rows compare at a glance.
fn distribution_svg(histogram: &[u64], bins: usize) -> String {
    let tallest = histogram.iter().copied().max().unwrap_or(0).max(1) as f64;
    let width = bins.max(1) as f64 * BIN_WIDTH;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{SPARK_HEIGHT}\" \
         role=\"img\"><rect width=\"100%\" height=\"100%\" fill=\"#f6f6f6\"/>"
    );
    for (bin, &count) in histogram.iter().enumerate().filter(|(_, n)| **n > 0) {
        // A square root keeps a bin of a few slow calls visible beside thousands.
        let height = ((count as f64 / tallest).sqrt() * (SPARK_HEIGHT - 2.0)).max(1.0);
        let _ = write!(
            svg,
            "<rect x=\"{:.0}\" y=\"{:.1}\" width=\"{:.0}\" height=\"{height:.1}\" fill=\"#4a78b5\">\
             <title>{}: {count} calls</title></rect>",
            bin as f64 * BIN_WIDTH,
            SPARK_HEIGHT - height,
            BIN_WIDTH - 1.0,
            bin_label(bin)
        );
    }
    svg.push_str("</svg>");
    svg
}

const TREND_WIDTH: f64 = 160.0;

/// One pair's latency against the order of its calls: the median of each run of
/// consecutive calls, on a log scale from the row's lowest to its highest.
fn trend_svg(trend: &[u64], count: usize) -> String {
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{TREND_WIDTH}\" height=\"{SPARK_HEIGHT}\" \
         role=\"img\"><rect width=\"100%\" height=\"100%\" fill=\"#f6f6f6\"/>"
    );
    if let (Some(first), Some(last)) = (trend.first(), trend.last()) {
        let level = |v: u64| (v as f64 + 1.0).log10();
        let low = trend
            .iter()
            .copied()
            .map(level)
            .fold(f64::INFINITY, f64::min);
        let high = trend.iter().copied().map(level).fold(0.0, f64::max);
        let span = (high - low).max(1e-9);
        let step = TREND_WIDTH / trend.len().max(2).saturating_sub(1) as f64;
        let points: Vec<String> = trend
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                let y = SPARK_HEIGHT - 2.0 - (level(v) - low) / span * (SPARK_HEIGHT - 4.0);
                format!("{:.1},{y:.1}", i as f64 * step)
            })
            .collect();
        let _ = write!(
            svg,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#b5554a\" stroke-width=\"1.5\"/>\
             <title>medians of {} runs of about {} calls, in call order: first {first} ms, last {last} ms</title>",
            points.join(" "),
            trend.len(),
            count.div_ceil(trend.len().max(1))
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The PTS's figures: per profile and method, count, median, p90, p99 and max, with the
/// latency distribution and its course over the run; the slowest assertions; what never
/// ran.
pub fn pts_section(summary: &Summary) -> String {
    let mut html = String::new();
    let calls: usize = summary.pairs.iter().map(|pair| pair.figures.count).sum();
    let _ = writeln!(
        html,
        "<p>{calls} timed calls in {} (profile, method) pairs, read from <code>{}</code>. \
         Times in milliseconds; p90 and p99 are nearest-rank.</p>",
        summary.pairs.len(),
        escape(&summary.source)
    );
    for note in &summary.notes {
        let _ = writeln!(html, "<p class=\"note\">note: {}</p>", escape(note));
    }
    let environment: Vec<(&str, String)> = summary
        .environment
        .iter()
        .map(|(key, value)| (key.as_str(), escape(&render::value_text(value))))
        .collect();
    if !environment.is_empty() {
        html.push_str("<h3>Environment</h3>\n");
        html.push_str(&facts(environment));
    }
    let bins = summary
        .pairs
        .iter()
        .map(|pair| pair.figures.histogram.len())
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        html,
        "<p class=\"note\">Distribution: calls per doubling of latency, from 0 ms on the left \
         to {} on the right (bar height: square root of the count). Over the run: the median \
         of each run of consecutive calls, in the order they were made, on a log scale.</p>",
        bin_label(bins.saturating_sub(1))
    );
    for (profile, pairs) in render::by_profile(&summary.pairs, |pair| pair.profile.as_str()) {
        let _ = writeln!(html, "<h3>{}</h3>", escape(profile));
        html.push_str(&table(
            &[
                "method",
                "#calls",
                "#median",
                "#p90",
                "#p99",
                "#max",
                "distribution",
                "over the run",
            ],
            pairs.iter().map(|pair| pair_row(pair, bins)),
        ));
    }
    html.push_str("<h3>Slowest assertions</h3>\n");
    let mut slowest: Vec<&Pair> = summary.pairs.iter().collect();
    slowest.sort_by_key(|pair| std::cmp::Reverse(pair.figures.max));
    html.push_str(&table(
        &["profile", "method", "#ms", "assertion"],
        slowest.iter().take(10).map(|pair| {
            vec![
                escape(&pair.profile),
                escape(&pair.method),
                format!("#{}", pair.figures.max),
                format!("<code>{}</code>", escape(&pair.figures.slowest_assertion)),
            ]
        }),
    ));
    html.push_str("<h3>What never ran</h3>\n");
    if summary.not_run_profiles.is_empty() {
        html.push_str("<p>Every profile made calls.</p>\n");
    } else {
        let _ = writeln!(
            html,
            "<p>Profiles without a call ({}): {}</p>",
            summary.not_run_profiles.len(),
            escape(&summary.not_run_profiles.join(", "))
        );
    }
    let _ = writeln!(
        html,
        "<p>Test cases that never ran: {}</p>",
        summary.not_run_test_cases
    );
    html
}

fn pair_row(pair: &Pair, bins: usize) -> Vec<String> {
    let figures = &pair.figures;
    vec![
        escape(&pair.method),
        format!("#{}", figures.count),
        ms(figures.median),
        format!("#{}", figures.p90),
        format!("#{}", figures.p99),
        format!("#{}", figures.max),
        distribution_svg(&figures.histogram, bins),
        trend_svg(&figures.trend, figures.count),
    ]
}

/// Two runs side by side: both medians and p90s, the ratio, the change, regressions past
/// the threshold marked.
pub fn comparison_section(comparison: &Comparison) -> String {
    let mut html = facts([
        (
            "baseline",
            format!("<code>{}</code>", escape(&comparison.baseline)),
        ),
        (
            "run under judgement",
            format!("<code>{}</code>", escape(&comparison.run)),
        ),
        (
            "ratio",
            format!(
                "the run's median ÷ the baseline's; regressed past {}% slower",
                comparison.threshold_pct
            ),
        ),
    ]);
    let regressed = comparison.regressions().count();
    let _ = writeln!(
        html,
        "<p>{} {} pairs compared, {regressed} regressed.</p>",
        verdict_badge(if regressed == 0 { "pass" } else { "fail" }),
        comparison.pairs.len()
    );
    html.push_str(&table_with_classes(
        &[
            "profile",
            "method",
            "#baseline median",
            "#run median",
            "#baseline p90",
            "#run p90",
            "#ratio",
            "#change",
            "",
        ],
        comparison.pairs.iter().map(|change| {
            let row = vec![
                escape(&change.profile),
                escape(&change.method),
                ms(change.baseline.median),
                ms(change.run.median),
                format!("#{}", change.baseline.p90),
                format!("#{}", change.run.p90),
                format!("#{}", render::optional(change.ratio, |r| format!("{r:.3}"))),
                format!(
                    "#{}",
                    render::optional(change.change_pct, |pct| format!("{pct:+.1}%"))
                ),
                if change.regressed {
                    "<strong>REGRESSED</strong>".into()
                } else {
                    String::new()
                },
            ];
            (row, if change.regressed { "regressed" } else { "" })
        }),
    ));
    for (label, keys) in [
        ("Only in the baseline", &comparison.only_in_baseline),
        ("Only in the run under judgement", &comparison.only_in_run),
    ] {
        if !keys.is_empty() {
            let names: Vec<String> = keys
                .iter()
                .map(|key| escape(&format!("{} / {}", key.profile, key.method)))
                .collect();
            let _ = writeln!(html, "<p>{label}: {}</p>", names.join(", "));
        }
    }
    html
}

/// `report --html`'s page: the result set's figures, and the comparison when there is one.
pub fn report_page(summary: &Summary, comparison: Option<&Comparison>) -> String {
    let mut body = format!(
        "<h1>PTS report</h1>\n<p><code>{}</code></p>\n",
        escape(&summary.source)
    );
    body.push_str(&section(
        "pts",
        "Performance Test Suite",
        &pts_section(summary),
    ));
    if let Some(comparison) = comparison {
        body.push_str(&section(
            "comparison",
            "Compared with a baseline",
            &comparison_section(comparison),
        ));
    }
    page(&format!("PTS report: {}", summary.source), &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Figures;

    fn pair(profile: &str, method: &str, median: f64, histogram: Vec<u64>) -> Pair {
        Pair {
            profile: profile.into(),
            method: method.into(),
            figures: Figures {
                count: 80,
                median,
                p90: 40,
                p99: 90,
                max: 120,
                slowest_assertion: "repository-entity-creation-performance-addEntity-<T>".into(),
                histogram,
                trend: vec![3, 4, 9, 30],
            },
        }
    }

    fn summary() -> Summary {
        Summary {
            source: "runs/r/pts".into(),
            environment: [("instancesPerType".to_string(), serde_json::json!(5))].into(),
            pairs: vec![
                pair(
                    "Entity creation",
                    "addEntity",
                    4.5,
                    vec![0, 2, 40, 30, 5, 1, 0, 2],
                ),
                pair("Entity search", "findEntities", 7.0, vec![1, 0, 70]),
            ],
            not_run_profiles: vec!["Graph queries".into()],
            not_run_test_cases: 3,
            notes: Vec::new(),
        }
    }

    #[test]
    fn the_page_stands_alone_and_shows_every_figure() {
        let html = report_page(&summary(), None);
        assert!(html.starts_with("<!DOCTYPE html>"));
        for absent in ["<script", "http://", "https://", "<link", "@import", "src="] {
            // The SVG namespace is a name, not a fetch.
            let fetched = html.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
            assert!(!fetched.contains(absent), "{absent} in the page");
        }
        assert!(html.contains("<td class=\"n\">4.5</td>"), "{html}");
        assert!(html.contains("2–3 ms: 40 calls"), "{html}");
        assert!(html.contains("first 3 ms, last 30 ms"), "{html}");
        assert!(html.contains("addEntity-&lt;T&gt;"), "escaped: {html}");
        assert!(html.contains("Profiles without a call (1): Graph queries"));
        assert!(html.contains("Test cases that never ran: 3"));
        assert!(html.contains("<dt>instancesPerType</dt><dd>5</dd>"));
        // Every row's distribution shares the widest row's axis (8 bins).
        assert_eq!(html.matches("width=\"48\" height=\"28\"").count(), 2);
    }

    #[test]
    fn a_comparison_names_both_roles_and_marks_regressions() {
        let baseline = summary();
        let mut run = summary();
        run.pairs[1].figures.median = 14.0;
        run.source = "runs/s/pts".into();
        let comparison = crate::compare(&baseline, &run, 10.0);
        let html = report_page(&run, Some(&comparison));
        assert!(html.contains("<dt>baseline</dt><dd><code>runs/r/pts</code></dd>"));
        assert!(html.contains("<dt>run under judgement</dt><dd><code>runs/s/pts</code></dd>"));
        assert!(
            html.contains("<tr class=\"regressed\"><td>Entity search</td>"),
            "{html}"
        );
        assert!(html.contains("<td class=\"n\">2.000</td>"), "{html}");
        assert!(
            html.contains("<span class=\"verdict fail\">FAIL</span> 2 pairs compared, 1 regressed")
        );
    }

    #[test]
    fn file_urls_are_absolute_and_encoded() {
        assert_eq!(
            file_url(Path::new("/runs/a b/index.html")),
            "file:///runs/a%20b/index.html"
        );
        assert!(file_url(Path::new("index.html")).starts_with("file:///"));
    }
}
