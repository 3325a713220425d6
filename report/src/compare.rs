//! Comparing a run under judgement with a baseline, pair by pair: the ratio of medians
//! (run ÷ baseline), and which pairs slowed down past a threshold.

use super::{Pair, Summary};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The two figures a comparison plots and judges.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Spread {
    pub median: f64,
    pub p90: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PairKey {
    pub profile: String,
    pub method: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PairChange {
    pub profile: String,
    pub method: String,
    pub baseline: Spread,
    pub run: Spread,
    /// The run's median ÷ the baseline's; `None` when only the baseline's is zero.
    pub ratio: Option<f64>,
    /// How much slower the run is than the baseline, in percent (negative: faster).
    pub change_pct: Option<f64>,
    pub regressed: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// Where the baseline's results were read.
    pub baseline: String,
    /// Where the results of the run under judgement were read.
    pub run: String,
    pub threshold_pct: f64,
    pub pairs: Vec<PairChange>,
    pub only_in_baseline: Vec<PairKey>,
    pub only_in_run: Vec<PairKey>,
}

impl Comparison {
    pub fn regressions(&self) -> impl Iterator<Item = &PairChange> {
        self.pairs.iter().filter(|pair| pair.regressed)
    }
}

fn by_key(summary: &Summary) -> BTreeMap<PairKey, &Pair> {
    summary
        .pairs
        .iter()
        .map(|pair| {
            let key = PairKey {
                profile: pair.profile.clone(),
                method: pair.method.clone(),
            };
            (key, pair)
        })
        .collect()
}

/// Pairs in both runs are compared; pairs in only one are listed, not dropped.
pub fn compare(baseline: &Summary, run: &Summary, threshold_pct: f64) -> Comparison {
    let baseline_pairs = by_key(baseline);
    let mut run_pairs = by_key(run);
    let mut pairs = Vec::new();
    let mut only_in_baseline = Vec::new();
    for (key, before) in baseline_pairs {
        let Some(after) = run_pairs.remove(&key) else {
            only_in_baseline.push(key);
            continue;
        };
        let (old, new) = (before.figures.median, after.figures.median);
        // A median of zero before: no change if still zero, else infinitely slower.
        let (ratio, change_pct) = if old > 0.0 {
            (Some(new / old), Some((new - old) / old * 100.0))
        } else if new > 0.0 {
            (None, None)
        } else {
            (Some(1.0), Some(0.0))
        };
        pairs.push(PairChange {
            profile: key.profile,
            method: key.method,
            baseline: spread(before),
            run: spread(after),
            ratio,
            change_pct,
            regressed: change_pct.is_none_or(|pct| pct > threshold_pct),
        });
    }
    Comparison {
        baseline: baseline.source.clone(),
        run: run.source.clone(),
        threshold_pct,
        pairs,
        only_in_baseline,
        only_in_run: run_pairs.into_keys().collect(),
    }
}

fn spread(pair: &Pair) -> Spread {
    Spread {
        median: pair.figures.median,
        p90: pair.figures.p90,
    }
}
