//! Comparing two runs pair by pair: the ratio of medians (second ÷ first), and which
//! pairs slowed down past a threshold.

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
    pub first: Spread,
    pub second: Spread,
    /// Second median ÷ first median; `None` when only the first median is zero.
    pub ratio: Option<f64>,
    /// How much slower the second run is, in percent (negative: faster).
    pub change_pct: Option<f64>,
    pub regressed: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub first: String,
    pub second: String,
    pub threshold_pct: f64,
    pub pairs: Vec<PairChange>,
    pub only_in_first: Vec<PairKey>,
    pub only_in_second: Vec<PairKey>,
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
pub fn compare(first: &Summary, second: &Summary, threshold_pct: f64) -> Comparison {
    let first_pairs = by_key(first);
    let mut second_pairs = by_key(second);
    let mut pairs = Vec::new();
    let mut only_in_first = Vec::new();
    for (key, before) in first_pairs {
        let Some(after) = second_pairs.remove(&key) else {
            only_in_first.push(key);
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
            first: spread(before),
            second: spread(after),
            ratio,
            change_pct,
            regressed: change_pct.is_none_or(|pct| pct > threshold_pct),
        });
    }
    Comparison {
        first: first.source.clone(),
        second: second.source.clone(),
        threshold_pct,
        pairs,
        only_in_first,
        only_in_second: second_pairs.into_keys().collect(),
    }
}

fn spread(pair: &Pair) -> Spread {
    Spread {
        median: pair.figures.median,
        p90: pair.figures.p90,
    }
}
