//! The figures of one (profile, method) pair: median and nearest-rank percentiles of its
//! `elapsedTime` values, and which call was the slowest.

use serde::{Deserialize, Serialize};

/// Every timed call of one pair, as read; [`Timings::figures`] turns them into figures.
#[derive(Debug, Default)]
pub(crate) struct Timings {
    elapsed_ms: Vec<u64>,
    slowest: Option<(u64, String)>,
}

impl Timings {
    pub(crate) fn record(&mut self, elapsed_ms: u64, assertion_id: &str) {
        self.elapsed_ms.push(elapsed_ms);
        if self.would_be_slowest(elapsed_ms) {
            self.slowest = Some((elapsed_ms, assertion_id.to_owned()));
        }
    }

    /// Adds the calls of `later`, which were read after these.
    pub(crate) fn absorb(&mut self, later: Timings) {
        self.elapsed_ms.extend(later.elapsed_ms);
        if let Some((elapsed_ms, assertion_id)) = later.slowest
            && self.would_be_slowest(elapsed_ms)
        {
            self.slowest = Some((elapsed_ms, assertion_id));
        }
    }

    /// Strictly greater: on a tie the call seen first stays the slowest.
    fn would_be_slowest(&self, elapsed_ms: u64) -> bool {
        self.slowest
            .as_ref()
            .is_none_or(|(max, _)| elapsed_ms > *max)
    }

    /// `None` when no call was recorded (a pair always has at least one).
    ///
    /// The values are not sorted, only partitioned: each figure is an order statistic,
    /// found by selection, the highest rank first so that each next one is looked for
    /// only among the values below it. Exact, and several times quicker than sorting.
    pub(crate) fn figures(mut self) -> Option<Figures> {
        let (max, slowest_assertion) = self.slowest?;
        let count = self.elapsed_ms.len();
        // Both need the calls in the order they were made, which selection then undoes.
        let histogram = histogram(&self.elapsed_ms);
        let trend = trend(&mut self.elapsed_ms);
        let values = self.elapsed_ms.as_mut_slice();
        let p99 = select(values, nearest_rank_index(count, 99)?);
        let p90_index = nearest_rank_index(count, 90)?;
        let p90 = select(&mut values[..=nearest_rank_index(count, 99)?], p90_index);
        let below_p90 = &mut values[..=p90_index];
        let upper = select(below_p90, count / 2);
        let median = if count % 2 == 1 {
            upper as f64
        } else {
            // The lower middle value: the largest of those below the upper one.
            let lower = below_p90[..count / 2].iter().max()?;
            (*lower as f64 + upper as f64) / 2.0
        };
        Some(Figures {
            count,
            median,
            p90,
            p99,
            max,
            slowest_assertion,
            histogram,
            trend,
        })
    }
}

/// How many calls fell in each bin of a base-2 log scale: bin 0 holds calls of 0 ms,
/// bin k those from 2^(k-1) to 2^k - 1 ms. Trailing empty bins are left out.
fn histogram(values: &[u64]) -> Vec<u64> {
    let mut bins = vec![0u64; 65];
    for &value in values {
        bins[(u64::BITS - value.leading_zeros()) as usize] += 1;
    }
    let used = bins.iter().rposition(|&n| n > 0).map_or(0, |last| last + 1);
    bins.truncate(used);
    bins
}

/// Calls in order are cut into at most this many runs of consecutive calls.
pub const TREND_POINTS: usize = 40;

/// The median of each run of consecutive calls, in the order they were made: how the
/// latency moved as the repository grew. Partitions each run in place.
fn trend(values: &mut [u64]) -> Vec<u64> {
    if values.is_empty() {
        return Vec::new();
    }
    let per_point = values.len().div_ceil(TREND_POINTS);
    values
        .chunks_mut(per_point)
        .map(|run| {
            let middle = run.len() / 2;
            select(run, middle)
        })
        .collect()
}

/// The value of rank `index` (0-based) of `values`, which are left partitioned around it.
fn select(values: &mut [u64], index: usize) -> u64 {
    *values.select_nth_unstable(index).1
}

/// The 0-based index of the nearest-rank percentile in `count` sorted values: rank
/// ⌈percent/100 · count⌉ (1-based). Integer arithmetic, so no rounding error can move it.
fn nearest_rank_index(count: usize, percent: usize) -> Option<usize> {
    let rank = (percent * count).div_ceil(100).max(1);
    (rank <= count).then(|| rank - 1)
}

/// The figures of one pair, in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    pub count: usize,
    pub median: f64,
    pub p90: u64,
    pub p99: u64,
    pub max: u64,
    pub slowest_assertion: String,
    /// Calls per base-2 bin of milliseconds (see `histogram`); absent in older summaries.
    #[serde(default)]
    pub histogram: Vec<u64>,
    /// Medians of consecutive runs of calls, in call order (see `trend`).
    #[serde(default)]
    pub trend: Vec<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn figures_of_a_small_set() {
        let mut timings = Timings::default();
        for (elapsed, assertion) in [(5, "a"), (1, "b"), (9, "c"), (2, "d"), (9, "e"), (3, "f")] {
            timings.record(elapsed, assertion);
        }
        let figures = timings.figures().unwrap();
        assert_eq!(figures.count, 6);
        assert_eq!(figures.median, 4.0);
        assert_eq!(figures.p90, 9);
        assert_eq!(figures.max, 9);
        assert_eq!(figures.slowest_assertion, "c", "ties keep the first seen");
    }

    #[test]
    fn distribution_bins_double_and_the_trend_follows_call_order() {
        assert_eq!(
            histogram(&[0, 1, 2, 3, 4, 7, 8, 1000]),
            vec![1, 1, 2, 2, 1, 0, 0, 0, 0, 0, 1]
        );
        assert_eq!(histogram(&[]), Vec::<u64>::new());
        // 80 calls growing slower: 40 runs of two, each run's upper middle value.
        let mut growing: Vec<u64> = (0..80).collect();
        let points = trend(&mut growing);
        assert_eq!(points.len(), TREND_POINTS);
        assert_eq!((points[0], points[39]), (1, 79));
        assert_eq!(trend(&mut [5, 3, 9]), vec![5, 3, 9]);
        let mut timings = Timings::default();
        for (elapsed, assertion) in [(9, "a"), (1, "b"), (4, "c")] {
            timings.record(elapsed, assertion);
        }
        let figures = timings.figures().unwrap();
        assert_eq!(figures.trend, vec![9, 1, 4]);
        assert_eq!(figures.histogram, vec![0, 1, 0, 1, 1]);
    }

    #[test]
    fn nearest_rank_at_the_edges() {
        assert_eq!(nearest_rank_index(10, 90), Some(8));
        assert_eq!(nearest_rank_index(10, 99), Some(9));
        assert_eq!(nearest_rank_index(1, 90), Some(0));
        assert_eq!(nearest_rank_index(0, 90), None);
        let mut one = Timings::default();
        one.record(7, "a");
        let figures = one.figures().unwrap();
        assert_eq!((figures.median, figures.p90, figures.p99), (7.0, 7, 7));
        assert!(Timings::default().figures().is_none());
    }

    #[test]
    fn absorbing_keeps_the_earlier_slowest_on_a_tie() {
        let mut first = Timings::default();
        first.record(4, "early");
        let mut later = Timings::default();
        later.record(4, "late");
        later.record(1, "quick");
        first.absorb(later);
        let figures = first.figures().unwrap();
        assert_eq!(
            (figures.count, figures.slowest_assertion.as_str()),
            (3, "early")
        );
    }

    fn naive_percentile(values: &[u64], percent: f64) -> u64 {
        let mut sorted = values.to_vec();
        sorted.sort();
        let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
        sorted[rank.max(1) - 1]
    }

    fn naive_median(values: &[u64]) -> f64 {
        let mut sorted = values.to_vec();
        sorted.sort();
        let n = sorted.len();
        if n % 2 == 1 {
            sorted[n / 2] as f64
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) as f64 / 2.0
        }
    }

    proptest! {
        #[test]
        fn figures_match_a_naive_implementation(
            calls in prop_oneof![Just(4u64), Just(1_000_000)].prop_flat_map(|bound| {
                // A small bound makes ties, around the median and percentiles too.
                prop::collection::vec((0..bound, "[a-z]{1,3}"), 1..300)
            })
        ) {
            let values: Vec<u64> = calls.iter().map(|(elapsed, _)| *elapsed).collect();
            let mut timings = Timings::default();
            for (elapsed, assertion) in &calls {
                timings.record(*elapsed, assertion);
            }
            let figures = timings.figures().unwrap();
            let max = *values.iter().max().unwrap();
            let first_slowest = calls.iter().find(|(elapsed, _)| *elapsed == max).unwrap();
            prop_assert_eq!(figures.count, values.len());
            prop_assert_eq!(figures.median, naive_median(&values));
            prop_assert_eq!(figures.p90, naive_percentile(&values, 90.0));
            prop_assert_eq!(figures.p99, naive_percentile(&values, 99.0));
            prop_assert_eq!(figures.max, max);
            prop_assert_eq!(&figures.slowest_assertion, &first_slowest.1);
        }

        #[test]
        fn percentiles_never_panic(count in 0usize..50, percent in 0usize..=100) {
            let index = nearest_rank_index(count, percent);
            prop_assert_eq!(index.is_some(), count > 0);
            prop_assert!(index.is_none_or(|index| index < count));
        }
    }
}
