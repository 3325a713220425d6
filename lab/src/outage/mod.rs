//! Outages: inject faults while a continuity probe sends traffic through the connector
//! service, heal replaced pods, check that no acknowledged write was lost, and report.

pub mod probe;
pub mod render;
pub mod run;
pub mod scenario;

use serde::{Deserialize, Serialize};

/// `outage.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OutageReport {
    pub scenario: String,
    pub substrate: String,
    pub requests: RequestTotals,
    /// `before`, `during` and `after` the fault window.
    pub phases: Vec<PhaseStats>,
    /// The longest time without a successful response.
    pub longest_gap_ms: u64,
    /// The longest time without an acknowledged write: reads go on from each pod's own
    /// index while writes wait for the golden store (a leader election, for one).
    #[serde(default)]
    pub longest_write_gap_ms: u64,
    /// From the last fault to the acknowledgement of the first write sent after it: pods
    /// back in the rotation are not yet a service taking writes (after the loss of a
    /// golden-store leader, writes wait for its election). `None` when no write was
    /// acknowledged within the heal deadline.
    #[serde(default)]
    pub writes_back_after_ms: Option<u64>,
    /// Acknowledged writes missing from some pod after the convergence deadline.
    pub lost_writes: u64,
    /// Reads through the service that missed a write already acknowledged.
    pub stale_reads: u64,
    pub pods: Vec<PodOutage>,
    pub healed: bool,
    /// `pass` or `fail`.
    pub verdict: String,
    /// Why the verdict is `fail` (empty on `pass`).
    pub failures: Vec<String>,
    /// Milliseconds since the probe started: the first fault, and when every downed pod
    /// was back and a write sent after the last fault had been acknowledged.
    pub fault_window_ms: (u64, u64),
    /// Per connector pod: how long after the last write it had every acknowledged write.
    pub convergence: Vec<PodConvergence>,
    /// Which golden-store member led what before the faults (see `Substrate::leaderships`).
    #[serde(default)]
    pub golden_store_leaders: Vec<crate::substrate::Leadership>,
    /// With the PTS running: its calls from the first fault to the end of the fault
    /// window, and how many of them failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pts_during_faults: Option<crate::pts::CallCount>,
    /// Nodes stopped by `stop-node` steps: which of the lab's pods they took down, when the
    /// node went NotReady and Ready again, when its pods were back, and the heal time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub node_outages: Vec<crate::node_faults::NodeOutage>,
    /// Why requests failed: each reason with how many requests it failed (every failed
    /// request of the timeline carries its own).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub failure_reasons: std::collections::BTreeMap<String, u64>,
    /// Writes answered as failed that are in the repository all the same: a client that
    /// retries them makes duplicates (XTDB 1.24.0 appends writes while its ingester is
    /// stopped, and applies them later).
    #[serde(default)]
    pub failed_writes_applied: u64,
    /// Writes that got no answer in time and are in the repository all the same (a
    /// writer cannot know; one that retries makes duplicates).
    #[serde(default)]
    pub unanswered_writes_applied: u64,
    /// `failing-transaction` steps: the request sent and the service's answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failing_transactions: Vec<probe::FailingTransactionSent>,
    /// After a `failing-transaction`: one write sent to each connector pod on its own
    /// address, and whether it was acknowledged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pod_writes: Vec<PodWrite>,
    /// Transaction ingesters that stopped, read from the pods' logs (XTDB only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingester_stops: Vec<IngesterStopSeen>,
    /// Every probe request, in order.
    pub timeline: Vec<Sample>,
}

/// A write sent straight to one connector pod.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PodWrite {
    pub pod: String,
    pub ok: bool,
    /// Egeria's message when it was refused, or why there was no answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A stopped transaction ingester, and the pod whose log tells it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IngesterStopSeen {
    pub pod: String,
    #[serde(flatten)]
    pub stop: crate::xtdb::IngesterStop,
}

impl OutageReport {
    /// What `pod` led in the golden store before the faults, comma-separated (empty when
    /// nothing).
    pub fn led_by(&self, pod: &str) -> String {
        let led: Vec<&str> = self
            .golden_store_leaders
            .iter()
            .filter(|leadership| leadership.member == pod)
            .map(|leadership| leadership.of.as_str())
            .collect();
        led.join(", ")
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RequestTotals {
    pub total: u64,
    pub ok: u64,
    pub failed: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseStats {
    pub name: String,
    pub total: u64,
    pub failed: u64,
    pub p50_ms: u64,
    pub p99_ms: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PodOutage {
    pub name: String,
    pub killed_at_ms: u64,
    /// When it was back in the rotation; `None` if it never was.
    pub ready_again_ms: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PodConvergence {
    pub pod: String,
    /// `None` when the pod never had every acknowledged write.
    pub lag_ms: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RequestKind {
    Write,
    Read,
}

/// One probe request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When it was sent, in milliseconds since the probe started.
    pub at_ms: u64,
    pub latency_ms: u64,
    pub kind: RequestKind,
    pub ok: bool,
    /// The pod that answered, where the platform says so (the stand-in does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// Why it failed: no answer and why, or Egeria's code and message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
