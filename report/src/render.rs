//! The Markdown pages: `report.md` (one table per profile) and `comparison.md`.

use super::{Comparison, PairChange, PairKey, Summary, plot_path};
use std::fmt::Write;

/// Consecutive runs of items sharing a profile (items are sorted by profile).
pub(crate) fn by_profile<T>(
    items: &[T],
    profile: fn(&T) -> &str,
) -> impl Iterator<Item = (&str, &[T])> {
    items
        .chunk_by(move |a, b| profile(a) == profile(b))
        .filter_map(move |group| Some((profile(group.first()?), group)))
}

/// Text safe inside a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items
            .iter()
            .map(|item| cell(item))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

pub(crate) fn summary_markdown(summary: &Summary) -> String {
    let mut md = String::new();
    // Writing to a String cannot fail; `let _` keeps the formatting code readable.
    let _ = writeln!(md, "# PTS report\n\nSource: `{}`\n", summary.source);
    let calls: usize = summary.pairs.iter().map(|pair| pair.figures.count).sum();
    let _ = writeln!(
        md,
        "{} timed calls in {} (profile, method) pairs. Times in milliseconds; p90 and p99 \
         are nearest-rank.\n",
        calls,
        summary.pairs.len()
    );
    let _ = writeln!(
        md,
        "- Profiles that did not run: {}",
        list_or_none(&summary.not_run_profiles)
    );
    let _ = writeln!(
        md,
        "- Test cases that never ran: {}",
        summary.not_run_test_cases
    );
    for note in &summary.notes {
        let _ = writeln!(md, "- Note: {note}");
    }
    if !summary.environment.is_empty() {
        let _ = writeln!(md, "\n## Environment\n\n| property | value |\n|---|---|");
        for (name, value) in &summary.environment {
            let _ = writeln!(md, "| {} | {} |", cell(name), cell(&value_text(value)));
        }
    }
    for (profile, pairs) in by_profile(&summary.pairs, |pair| pair.profile.as_str()) {
        let _ = writeln!(
            md,
            "\n## {}\n\n![{}]({})\n",
            cell(profile),
            cell(profile),
            plot_path("", profile)
        );
        let _ = writeln!(
            md,
            "| method | count | median | p90 | p99 | max | slowest assertion |\n\
             |---|---:|---:|---:|---:|---:|---|"
        );
        for pair in pairs {
            let figures = &pair.figures;
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                cell(&pair.method),
                figures.count,
                figures.median,
                figures.p90,
                figures.p99,
                figures.max,
                cell(&figures.slowest_assertion)
            );
        }
    }
    md
}

fn key_list(md: &mut String, heading: &str, keys: &[PairKey]) {
    let _ = writeln!(md, "\n## {heading}\n");
    if keys.is_empty() {
        let _ = writeln!(md, "None.");
    }
    for key in keys {
        let _ = writeln!(md, "- {} / {}", cell(&key.profile), cell(&key.method));
    }
}

/// An environment property's value as text: a string as it is, anything else as JSON.
pub(crate) fn value_text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A ratio or change, or ∞ where the baseline's median was zero.
pub(crate) fn optional(value: Option<f64>, format: impl Fn(f64) -> String) -> String {
    value.map(format).unwrap_or_else(|| "∞".into())
}

pub(crate) fn comparison_markdown(comparison: &Comparison) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "# PTS comparison\n\n- Baseline: `{}`\n- Run under judgement: `{}`\n- Ratio: the run's \
         median ÷ the baseline's; flagged when more than {}% slower.\n",
        comparison.baseline, comparison.run, comparison.threshold_pct
    );
    let regressed: Vec<&PairChange> = comparison.regressions().collect();
    if regressed.is_empty() {
        let _ = writeln!(md, "No pair regressed past the threshold.");
    } else {
        let _ = writeln!(
            md,
            "**{} pairs regressed past the threshold.**",
            regressed.len()
        );
    }
    for (profile, changes) in by_profile(&comparison.pairs, |change| change.profile.as_str()) {
        let _ = writeln!(
            md,
            "\n## {}\n\n![{}]({})\n",
            cell(profile),
            cell(profile),
            plot_path("compare-", profile)
        );
        let _ = writeln!(
            md,
            "| method | baseline median | run median | baseline p90 | run p90 | ratio | change | |\n\
             |---|---:|---:|---:|---:|---:|---:|---|"
        );
        for change in changes {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&change.method),
                change.baseline.median,
                change.run.median,
                change.baseline.p90,
                change.run.p90,
                optional(change.ratio, |ratio| format!("{ratio:.3}")),
                optional(change.change_pct, |pct| format!("{pct:+.1}%")),
                if change.regressed {
                    "**REGRESSED**"
                } else {
                    ""
                }
            );
        }
    }
    key_list(
        &mut md,
        "Only in the baseline",
        &comparison.only_in_baseline,
    );
    key_list(
        &mut md,
        "Only in the run under judgement",
        &comparison.only_in_run,
    );
    md
}
