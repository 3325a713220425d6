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
    pub(crate) fn figures(mut self) -> Option<Figures> {
        let (max, slowest_assertion) = self.slowest?;
        self.elapsed_ms.sort_unstable();
        let sorted = &self.elapsed_ms;
        Some(Figures {
            count: sorted.len(),
            median: median(sorted)?,
            p90: nearest_rank(sorted, 90)?,
            p99: nearest_rank(sorted, 99)?,
            max,
            slowest_assertion,
        })
    }
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
}

/// The middle value; for an even count the mean of the two middle values.
pub(crate) fn median(sorted: &[u64]) -> Option<f64> {
    let upper = sorted.get(sorted.len() / 2)?;
    if sorted.len() % 2 == 1 {
        return Some(*upper as f64);
    }
    let lower = sorted[sorted.len() / 2 - 1];
    Some((lower as f64 + *upper as f64) / 2.0)
}

/// Nearest-rank percentile: the value at rank ⌈percent/100 · count⌉ (1-based) of the
/// sorted values. Integer arithmetic, so no rounding error can move the rank.
pub(crate) fn nearest_rank(sorted: &[u64], percent: usize) -> Option<u64> {
    let rank = (percent * sorted.len()).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
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
    fn nearest_rank_at_the_edges() {
        let ten: Vec<u64> = (1..=10).collect();
        assert_eq!(nearest_rank(&ten, 90), Some(9));
        assert_eq!(nearest_rank(&ten, 99), Some(10));
        assert_eq!(nearest_rank(&[7], 90), Some(7));
        assert_eq!(nearest_rank(&[], 90), None);
        assert_eq!(median(&[]), None);
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
            calls in prop::collection::vec((0u64..1_000_000, "[a-z]{1,3}"), 1..300)
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
        fn percentiles_never_panic(values in prop::collection::vec(any::<u64>(), 0..50), percent in 0usize..=100) {
            let mut sorted = values.clone();
            sorted.sort_unstable();
            let value = nearest_rank(&sorted, percent);
            prop_assert_eq!(value.is_some(), !values.is_empty());
            prop_assert_eq!(median(&sorted).is_some(), !values.is_empty());
        }
    }
}
