//! Hand-written SVG charts: one row per method, a bar to the median and a whisker to the
//! p90, one bar per run when runs are compared. Plain text output, no plotting library.

use crate::plot::{Scale, escape, svg_start};
use std::fmt::Write;

const WIDTH: f64 = 900.0;
const LABEL_WIDTH: f64 = 250.0;
const PLOT_LEFT: f64 = LABEL_WIDTH + 10.0;
const PLOT_RIGHT: f64 = WIDTH - 30.0;
const TITLE_HEIGHT: f64 = 50.0;
const LEGEND_LINE: f64 = 16.0;
/// Longer series names (paths, mostly) keep their end, which tells runs apart.
const LEGEND_CHARS: usize = 110;
const AXIS_HEIGHT: f64 = 40.0;
const BAR_HEIGHT: f64 = 14.0;
const ROW_GAP: f64 = 10.0;
const SERIES_COLOURS: [&str; 2] = ["#4878a8", "#d0743c"];

/// Median and p90 of one method in one run, in milliseconds.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bar {
    pub median: f64,
    pub p90: f64,
}

/// One method: one bar per series (`None`: the method is missing from that run).
pub(crate) struct Row<'a> {
    pub label: &'a str,
    pub bars: Vec<Option<Bar>>,
}

fn shortened(name: &str) -> String {
    let chars = name.chars().count();
    if chars <= LEGEND_CHARS {
        return name.to_owned();
    }
    let tail: String = name.chars().skip(chars - LEGEND_CHARS + 1).collect();
    format!("…{tail}")
}

fn format_ms(value: f64) -> String {
    if value >= 1.0 || value == 0.0 {
        format!("{value}")
    } else {
        format!("{value:.3}")
    }
}

/// A chart of `rows`; `series` names each bar of a row (shown as a legend when more than one).
pub(crate) fn chart(title: &str, series: &[&str], rows: &[Row]) -> String {
    let bars = rows.iter().flat_map(|row| row.bars.iter().flatten());
    let scale = Scale::fitting(bars.flat_map(|bar| [bar.median, bar.p90]));
    let row_height = BAR_HEIGHT * series.len() as f64 + ROW_GAP;
    let legend_lines = if series.len() > 1 { series.len() } else { 0 };
    let plot_top = TITLE_HEIGHT + LEGEND_LINE * legend_lines as f64;
    let plot_bottom = plot_top + row_height * rows.len() as f64;
    let height = plot_bottom + AXIS_HEIGHT;
    let x = |value: f64| PLOT_LEFT + scale.fraction(value) * (PLOT_RIGHT - PLOT_LEFT);
    let scale_name = match scale {
        Scale::Linear { .. } => "linear scale",
        Scale::Log { .. } => "log scale",
    };

    // Writing to a String cannot fail; `let _` keeps the formatting code readable.
    let mut svg = svg_start(WIDTH, height);
    let _ = writeln!(
        svg,
        r#"<text x="10" y="20" font-size="15" font-weight="bold">{}</text>"#,
        escape(title)
    );
    let _ = writeln!(
        svg,
        r##"<text x="10" y="38" fill="#555">elapsed ms ({scale_name}): bar to the median, whisker to the p90</text>"##
    );
    for (index, name) in series.iter().enumerate().take(legend_lines) {
        let top = TITLE_HEIGHT - 4.0 + LEGEND_LINE * index as f64;
        let _ = writeln!(
            svg,
            r#"<rect x="10" y="{top}" width="10" height="10" fill="{}"/><text x="26" y="{}">{}</text>"#,
            SERIES_COLOURS[index % SERIES_COLOURS.len()],
            top + 9.0,
            escape(&shortened(name))
        );
    }
    for tick in scale.ticks() {
        let tick_x = x(tick);
        let _ = writeln!(
            svg,
            r##"<line x1="{tick_x:.1}" y1="{plot_top}" x2="{tick_x:.1}" y2="{plot_bottom}" stroke="#ddd"/><text x="{tick_x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            plot_bottom + 15.0,
            format_ms(tick)
        );
    }
    for (row_index, row) in rows.iter().enumerate() {
        let row_top = plot_top + row_height * row_index as f64 + ROW_GAP / 2.0;
        let _ = writeln!(
            svg,
            r#"<text x="{LABEL_WIDTH}" y="{:.1}" text-anchor="end">{}</text>"#,
            row_top + row_height / 2.0,
            escape(row.label)
        );
        for (series_index, bar) in row.bars.iter().enumerate() {
            let Some(bar) = bar else { continue };
            let top = row_top + BAR_HEIGHT * series_index as f64;
            let middle = top + BAR_HEIGHT / 2.0;
            let (median_x, p90_x) = (x(bar.median), x(bar.p90));
            let _ = writeln!(
                svg,
                r#"<rect x="{PLOT_LEFT}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}"><title>median {} ms, p90 {} ms</title></rect>"#,
                top + 1.0,
                median_x - PLOT_LEFT,
                BAR_HEIGHT - 2.0,
                SERIES_COLOURS[series_index % SERIES_COLOURS.len()],
                format_ms(bar.median),
                format_ms(bar.p90)
            );
            let _ = writeln!(
                svg,
                r#"<path d="M{median_x:.1} {middle:.1}H{p90_x:.1}M{p90_x:.1} {:.1}V{:.1}" stroke="black" fill="none"/>"#,
                top + 3.0,
                top + BAR_HEIGHT - 3.0
            );
        }
    }
    let _ = writeln!(
        svg,
        r#"<line x1="{PLOT_LEFT}" y1="{plot_bottom}" x2="{PLOT_RIGHT}" y2="{plot_bottom}" stroke="black"/>"#
    );
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_round_numbers() {
        assert_eq!(
            Scale::Linear { max: 250.0 }.ticks(),
            vec![0.0, 50.0, 100.0, 150.0, 200.0, 250.0]
        );
        let log = Scale::Log {
            min_exp: 0,
            max_exp: 2,
        };
        assert_eq!(log.ticks(), vec![1.0, 10.0, 100.0]);
        assert_eq!(log.fraction(10.0), 0.5);
        assert_eq!(log.fraction(0.0), 0.0);
    }

    #[test]
    fn chart_is_well_formed_and_escapes_names() {
        let rows = [Row {
            label: "find<Entities>",
            bars: vec![
                Some(Bar {
                    median: 3.5,
                    p90: 9.0,
                }),
                None,
            ],
        }];
        let svg = chart("A & B", &["first", "second"], &rows);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("find&lt;Entities&gt;") && svg.contains("A &amp; B"));
        assert_eq!(
            svg.matches("<path").count(),
            1,
            "one whisker: the second run has no bar"
        );
        assert!(svg.contains("first") && svg.contains("second"));
    }
}
