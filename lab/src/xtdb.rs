//! What the XTDB connector says only in its pod's log. Egeria's answers do not carry it:
//! on Egeria 4.0 a server whose XTDB node failed to start still answers `/instance` with
//! success, a connection the connector does not understand starts an in-memory node with
//! no error, and an aborted transaction ingester shows in answers only as `Transaction
//! ingester aborted` on every later write (xtdb/xtdb#2912). The lab reads the log for each.

/// How an XTDB node's newest start went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeStart {
    /// Running on the configured (persistent, golden-store) stores.
    Persistent { version: String },
    /// Running on a private in-memory node: the golden store is not used.
    InMemory { line: String },
    /// The node did not start; the server may still claim to run.
    Failed { line: String, cause: Option<String> },
}

const START_REQUESTED: &str = "OMRS-XTDB-REPOSITORY-0001";
const STARTING_IN_MEMORY: &str = "OMRS-XTDB-REPOSITORY-0003";
const STARTED: &str = "OMRS-XTDB-REPOSITORY-0004";
const FAILED_TO_START: &str = "OMRS-XTDB-REPOSITORY-0008";
/// What XTDB logs when its transaction ingester stops.
const INGESTER_ERROR: &str = "Ingester error occurred";
/// What every write answers after the ingester stopped.
pub const INGESTER_ABORTED: &str = "Transaction ingester aborted";

/// The outcome of the newest node start in `log`; `None` while it has not ended.
pub fn newest_start(log: &str) -> Option<NodeStart> {
    let lines: Vec<&str> = log.lines().collect();
    let from = lines
        .iter()
        .rposition(|line| line.contains(START_REQUESTED))?;
    let mut outcome = None;
    for (index, line) in lines.iter().enumerate().skip(from) {
        if line.contains(STARTING_IN_MEMORY) {
            // An in-memory node also reports itself started: this decides.
            return Some(NodeStart::InMemory {
                line: line.trim().to_string(),
            });
        }
        if line.contains(STARTED) && outcome.is_none() {
            let version = line
                .split("running XTDB version ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .unwrap_or("(unknown)")
                .to_string();
            outcome = Some(NodeStart::Persistent { version });
        }
        if line.contains(FAILED_TO_START) && outcome.is_none() {
            let cause = lines[index + 1..]
                .iter()
                .take(200)
                .rfind(|l| l.starts_with("Caused by:") || l.contains("Error starting system"))
                .map(|l| l.trim().to_string());
            outcome = Some(NodeStart::Failed {
                line: line.trim().to_string(),
                cause,
            });
        }
    }
    outcome
}

/// One stop of a node's transaction ingester, as its log tells it.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct IngesterStop {
    /// The log line's own time stamp.
    pub at: String,
    /// The exception that stopped it (the line after XTDB's error line).
    pub cause: String,
    /// The failed transaction function that set it off, if the log names one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<String>,
}

/// Every ingester stop in `log`, oldest first.
pub fn ingester_stops(log: &str) -> Vec<IngesterStop> {
    let lines: Vec<&str> = log.lines().collect();
    let mut stops = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        if !line.contains(INGESTER_ERROR) {
            continue;
        }
        let after = |from: usize| {
            lines[from..]
                .iter()
                .map(|l| l.trim())
                .find(|l| !l.is_empty())
                .map(str::to_string)
        };
        let trigger = lines[..index]
            .iter()
            .rev()
            .take(60)
            .position(|l| l.contains("Transaction function failure"))
            .and_then(|back| after(index - back))
            .filter(|cause| cause.contains("Exception"));
        stops.push(IngesterStop {
            at: line
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string(),
            cause: after(index + 1).unwrap_or_else(|| "(no cause logged)".into()),
            trigger,
        });
    }
    stops
}

/// Every ingester stop in the logs of `pods` (`<logs>/<pod>.log`), with its pod.
pub fn stops_in_logs(logs: &std::path::Path, pods: &[String]) -> Vec<(String, IngesterStop)> {
    /// Enough for hours of a pod's log, read only at the end of a run.
    const TAIL: u64 = 64 * 1024 * 1024;
    pods.iter()
        .flat_map(|pod| {
            let text = crate::egeria::read_log_tail(&logs.join(format!("{pod}.log")), TAIL)
                .unwrap_or_default();
            ingester_stops(&text)
                .into_iter()
                .map(move |stop| (pod.clone(), stop))
        })
        .collect()
}

impl IngesterStop {
    /// The stop on `pod`, in one line for people.
    pub fn describe(&self, pod: &str) -> String {
        format!(
            "the XTDB transaction ingester stopped on {pod} at {}: {}{}",
            self.at,
            self.cause,
            self.trigger
                .as_deref()
                .map(|t| format!(" (set off by the failed transaction function: {t})"))
                .unwrap_or_default()
        )
    }
}

/// One line per stop, for people.
pub fn describe_stops(stops: &[(String, IngesterStop)]) -> String {
    stops
        .iter()
        .map(|(pod, stop)| stop.describe(pod))
        .collect::<Vec<_>>()
        .join("\n  ")
}

/// Whether an Egeria error message reports a stopped ingester.
pub fn reports_stopped_ingester(message: &str) -> bool {
    message.contains(INGESTER_ABORTED)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Log lines as the real connector wrote them (tests/data/real-egeria/xtdb/).
    fn recorded(name: &str) -> String {
        let path = format!(
            "{}/../tests/data/real-egeria/xtdb/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn a_node_on_the_golden_store_is_told_from_one_in_memory_or_failed() {
        assert_eq!(
            newest_start(&recorded("start-persistent.log")),
            Some(NodeStart::Persistent {
                version: "1.23.0".into()
            })
        );
        let Some(NodeStart::Failed { line, cause }) = newest_start(&recorded("start-failed.log"))
        else {
            panic!("a failed start was not seen");
        };
        assert!(line.contains("failed to start"), "{line}");
        assert!(
            cause.unwrap().contains("UnknownTopicOrPartitionException"),
            "the cause is quoted"
        );
        assert!(matches!(
            newest_start(&recorded("start-in-memory.log")),
            Some(NodeStart::InMemory { .. })
        ));
        // A restart after a failed one is judged by its own lines.
        let restarted = format!(
            "{}\n{}",
            recorded("start-failed.log"),
            recorded("start-persistent.log")
        );
        assert!(matches!(
            newest_start(&restarted),
            Some(NodeStart::Persistent { .. })
        ));
        assert_eq!(newest_start("nothing yet"), None);
    }

    #[test]
    fn a_stopped_ingester_is_found_with_its_cause_and_trigger() {
        let stops = ingester_stops(&recorded("ingester-stop-1.24.0.log"));
        assert_eq!(stops.len(), 1, "{stops:?}");
        let stop = &stops[0];
        assert_eq!(stop.at, "2026-12-06T06:43:56.690Z");
        assert!(
            stop.cause.starts_with("java.lang.ClassCastException"),
            "{}",
            stop.cause
        );
        assert!(
            stop.trigger
                .as_deref()
                .is_some_and(|t| t.contains("RelationshipNotKnownException")),
            "{stop:?}"
        );
        // The fixed XTDB logs the function's failure and goes on.
        assert!(ingester_stops(&recorded("purge-1.24.3.log")).is_empty());
        let answer = recorded("write-after-ingester-stop-1.24.0.json");
        assert!(reports_stopped_ingester(&answer));
    }
}
