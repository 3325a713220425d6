//! Outage scenarios: small YAML files (`lab/scenarios/`, format in `schema.json`), each a
//! timeline of faults. A scenario is parsed and checked against the lab's pod counts before
//! any traffic is sent, so a bad file fails up front naming the file, the field and why.

use crate::substrate::Role;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::borrow::Cow;
use std::fmt;
use std::path::Path;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Steady traffic before the first fault.
    #[serde(default = "default_before", deserialize_with = "duration")]
    pub before: Duration,
    /// Steady traffic after everything is healed.
    #[serde(default = "default_after", deserialize_with = "duration")]
    pub after: Duration,
    pub steps: Vec<Step>,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// A pause before the step; with `pod: each`, before every pod's step.
    #[serde(default, deserialize_with = "duration")]
    pub delay: Duration,
    pub action: Action,
    pub target: Target,
    #[serde(default)]
    pub then: Then,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// No grace period.
    Kill,
    /// The normal grace period.
    Delete,
    /// Freeze the pod where the substrate can (local: SIGSTOP).
    Pause,
    Resume,
    /// Restart the pod's process in place where the substrate can: the same pod, its
    /// restart count up and its state gone (an OOM-killed container).
    Restart,
    /// Stop the node hosting the target connector pod, with every pod on it (kind only: a
    /// node container the lab created).
    StopNode,
    /// Start again the node that the matching `stop-node` stopped.
    StartNode,
    /// Send one transaction that fails inside the connector, through the connector
    /// service (target `pod: service`): a purge of a relationship that does not exist.
    /// With XTDB 1.24.0's Kafka document store it stops every node's transaction
    /// ingester (xtdb/xtdb#2912); a sound connector answers it 404 and goes on.
    FailingTransaction,
}

impl Action {
    /// The action that undoes this one, for the actions that must be undone in the same
    /// scenario.
    fn undone_by(self) -> Option<Action> {
        match self {
            Action::Pause => Some(Action::Resume),
            Action::StopNode => Some(Action::StartNode),
            _ => None,
        }
    }

    fn undoes(self) -> Option<Action> {
        match self {
            Action::Resume => Some(Action::Pause),
            Action::StartNode => Some(Action::StopNode),
            _ => None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            Action::Kill => "kill",
            Action::Delete => "delete",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Restart => "restart",
            Action::StopNode => "stop-node",
            Action::StartNode => "start-node",
            Action::FailingTransaction => "failing-transaction",
        }
    }

    /// Whether the step works on the node hosting its target rather than on the pod.
    pub fn is_node_fault(self) -> bool {
        matches!(self, Action::StopNode | Action::StartNode)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// `connector` or `golden-store`; the parser refuses `pts`, which drives the load.
    #[serde(deserialize_with = "fault_role")]
    pub role: Role,
    pub pod: PodSelector,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PodSelector {
    Ordinal(u16),
    /// Every pod of the role in turn, in ordinal order; `expand` replaces it by ordinals.
    Each,
    /// The golden-store member leading the transaction log, resolved at run time. Pausing
    /// it moves the leadership, so the runner resolves a later `resume` of `leader` to the
    /// member it paused, not to the new leader.
    Leader,
    /// The first golden-store member (by ordinal) that leads neither the transaction log
    /// nor the store itself (see `Substrate::leaderships`), resolved at run time:
    /// the loss of a member without a leader election.
    Follower,
    /// The connector service itself (round-robin over ready pods): what a request, not
    /// a fault, targets.
    Service,
}

impl PodSelector {
    /// Selectors only the golden store can answer.
    fn is_log_role(self) -> bool {
        matches!(self, PodSelector::Leader | PodSelector::Follower)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Then {
    #[default]
    Continue,
    /// The next step waits until every connector pod is back in rotation.
    WaitHealed,
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error(
        "`{0}` is neither a built-in scenario nor an existing file (built-in scenarios: {list})",
        list = builtin_names().join(", ")
    )]
    NotFound(String),
    // The underlying errors are part of the message rather than a `source`, so that a
    // `{:#}` chain does not print them twice.
    #[error("cannot read scenario file {path}: {error}")]
    Read { path: String, error: std::io::Error },
    /// serde_norway's message names the field and the line and column.
    #[error("{origin}: {error}")]
    Parse {
        origin: String,
        error: serde_norway::Error,
    },
    #[error("{origin}: {field}: {reason}")]
    Invalid {
        origin: String,
        field: String,
        reason: String,
    },
}

pub fn builtin_names() -> &'static [&'static str] {
    &[
        "crux-and-kafka",
        "rolling-crux",
        "kafka-leader",
        "node",
        "failing-transaction",
    ]
}

// Embedded so that a built-in works whatever the current folder.
fn builtin_text(name: &str) -> Option<&'static str> {
    match name {
        "crux-and-kafka" => Some(include_str!("../../scenarios/crux-and-kafka.yaml")),
        "rolling-crux" => Some(include_str!("../../scenarios/rolling-crux.yaml")),
        "node" => Some(include_str!("../../scenarios/node.yaml")),
        "kafka-leader" => Some(include_str!("../../scenarios/kafka-leader.yaml")),
        "failing-transaction" => Some(include_str!("../../scenarios/failing-transaction.yaml")),
        _ => None,
    }
}

/// A built-in scenario by name, else a scenario file, parsed and expanded for a lab of
/// `replicas` connector pods.
pub fn load(name_or_path: &str, replicas: u16) -> Result<Scenario, ScenarioError> {
    let (origin, text) = match builtin_text(name_or_path) {
        Some(text) => (
            format!("built-in scenario `{name_or_path}`"),
            Cow::Borrowed(text),
        ),
        None => {
            let read_error = |error| ScenarioError::Read {
                path: name_or_path.to_owned(),
                error,
            };
            // `try_exists` rather than `exists`: a folder we may not look into is a read
            // error, not a missing file.
            if !Path::new(name_or_path).try_exists().map_err(read_error)? {
                return Err(ScenarioError::NotFound(name_or_path.to_owned()));
            }
            let text = std::fs::read_to_string(name_or_path).map_err(read_error)?;
            (name_or_path.to_owned(), Cow::Owned(text))
        }
    };
    load_text(&text, &origin, replicas)
}

fn load_text(text: &str, origin: &str, replicas: u16) -> Result<Scenario, ScenarioError> {
    let scenario: Scenario =
        serde_norway::from_str(text).map_err(|error| ScenarioError::Parse {
            origin: origin.to_owned(),
            error,
        })?;
    scenario
        .expand(replicas, crate::kafka::BROKERS)
        .map_err(|error| match error {
            ScenarioError::Invalid { field, reason, .. } => ScenarioError::Invalid {
                origin: origin.to_owned(),
                field,
                reason,
            },
            other => other,
        })
}

impl Scenario {
    /// Checks the steps against the lab's pod counts and replaces every `each` by one step
    /// per pod, in ordinal order. Errors name the step as written (before expansion).
    pub fn expand(
        self,
        replicas: u16,
        golden_store_members: u16,
    ) -> Result<Scenario, ScenarioError> {
        let invalid = |field: String, reason: String| ScenarioError::Invalid {
            origin: format!("scenario `{}`", self.name),
            field,
            reason,
        };
        if self.steps.is_empty() {
            return Err(invalid(
                "steps".into(),
                "a scenario needs at least one step".into(),
            ));
        }
        // Each expanded step with the index of the step it came from, for error messages.
        let mut expanded: Vec<(usize, Step)> = Vec::new();
        for (i, step) in self.steps.iter().enumerate() {
            let pod_field = || format!("steps[{i}].target.pod");
            let (count, noun) = match step.target.role {
                Role::Connector => (replicas, "connector pods"),
                Role::GoldenStore => (golden_store_members, "golden-store members"),
                // Only reachable for a scenario built in code: the parser refuses it.
                Role::Pts => {
                    return Err(invalid(format!("steps[{i}].target.role"), not_a_target()));
                }
            };
            let at_service = step.target.pod == PodSelector::Service;
            if (step.action == Action::FailingTransaction) != at_service
                || (at_service && step.target.role != Role::Connector)
            {
                return Err(invalid(
                    pod_field(),
                    "`failing-transaction` goes to the connector service, and only it does: write `target: {role: connector, pod: service}` for it, and a pod for every other action".into(),
                ));
            }
            match step.target.pod {
                PodSelector::Ordinal(n) if n >= count => {
                    let range = match count {
                        0 => "none".to_owned(),
                        _ => format!("0..={}", count - 1),
                    };
                    return Err(invalid(
                        pod_field(),
                        format!("pod {n} does not exist: the lab has {count} {noun} ({range})"),
                    ));
                }
                selector if selector.is_log_role() && step.target.role == Role::Connector => {
                    return Err(invalid(
                        pod_field(),
                        format!(
                            "`{selector}` applies to the golden store only (leader and \
                             followers of the transaction log); connector pods have no leader"
                        ),
                    ));
                }
                PodSelector::Each => expanded.extend((0..count).map(|pod| {
                    let target = Target {
                        pod: PodSelector::Ordinal(pod),
                        ..step.target
                    };
                    (
                        i,
                        Step {
                            target,
                            ..step.clone()
                        },
                    )
                })),
                _ => expanded.push((i, step.clone())),
            }
        }

        // A node is chosen by the connector pod it hosts.
        if let Some((i, step)) = (expanded.iter())
            .find(|(_, step)| step.action.is_node_fault() && step.target.role != Role::Connector)
        {
            return Err(invalid(
                format!("steps[{i}].target.role"),
                format!(
                    "`{}` targets the node of a connector pod (role: connector), not {}",
                    step.action.label(),
                    step.target
                ),
            ));
        }
        // A pod left frozen (or a node left stopped) would still be down when the
        // integrity check reads from it.
        let mut undone_later: Vec<(usize, Action, Target)> = Vec::new();
        for (i, step) in &expanded {
            let open = |action: Action| {
                (undone_later.iter()).position(|(_, a, t)| *a == action && *t == step.target)
            };
            if step.action.undone_by().is_some() && open(step.action).is_none() {
                undone_later.push((*i, step.action, step.target));
            } else if let Some(undoes) = step.action.undoes() {
                match open(undoes) {
                    Some(at) => {
                        undone_later.remove(at);
                    }
                    None => {
                        return Err(invalid(
                            format!("steps[{i}].action"),
                            format!(
                                "{} of {}, which no earlier step {}",
                                step.action.label(),
                                step.target,
                                past(undoes)
                            ),
                        ));
                    }
                }
            }
        }
        if let Some((i, action, target)) = undone_later.first() {
            let undo = action.undone_by().map_or("", Action::label);
            return Err(invalid(
                format!("steps[{i}].action"),
                match action {
                    Action::StopNode => format!(
                        "stopped nodes must be started again: the node of {target} is stopped and no later step has `{undo}`"
                    ),
                    _ => format!(
                        "paused pods must be resumed: {target} is paused and no later step resumes it"
                    ),
                },
            ));
        }

        let steps = expanded.into_iter().map(|(_, step)| step).collect();
        Ok(Scenario { steps, ..self })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{} pod {}", self.role.label(), self.pod)
    }
}

impl fmt::Display for PodSelector {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            PodSelector::Ordinal(n) => write!(f, "{n}"),
            PodSelector::Each => f.write_str("each"),
            PodSelector::Leader => f.write_str("leader"),
            PodSelector::Follower => f.write_str("follower"),
            PodSelector::Service => f.write_str("service"),
        }
    }
}

/// "paused", "stopped the node of": what an earlier step did, for messages.
fn past(action: Action) -> &'static str {
    match action {
        Action::StopNode => "stopped the node of",
        _ => "paused",
    }
}

fn default_before() -> Duration {
    Duration::from_secs(3)
}

fn default_after() -> Duration {
    Duration::from_secs(5)
}

fn not_a_target() -> String {
    "`pts` is not a fault target: the PTS pod drives the load (use connector or golden-store)"
        .into()
}

/// A humantime duration such as `3s` or `500ms`.
fn duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    struct HumanDuration;
    impl Visitor<'_> for HumanDuration {
        type Value = Duration;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a duration such as `3s` or `500ms`")
        }
        fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
            humantime::parse_duration(text).map_err(|e| {
                E::custom(format_args!(
                    "`{text}` is not a duration ({e}); write e.g. `3s` or `500ms`"
                ))
            })
        }
    }
    deserializer.deserialize_str(HumanDuration)
}

/// `Role` itself also accepts `pts`; here it gets its own message rather than a bare
/// "unknown variant". (A visitor, so that serde_norway can place the error on the field.)
fn fault_role<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Role, D::Error> {
    struct FaultRole;
    impl Visitor<'_> for FaultRole {
        type Value = Role;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("`connector` or `golden-store`")
        }
        fn visit_str<E: de::Error>(self, text: &str) -> Result<Role, E> {
            match text {
                "connector" => Ok(Role::Connector),
                "golden-store" => Ok(Role::GoldenStore),
                "pts" => Err(E::custom(not_a_target())),
                other => Err(E::unknown_variant(other, &["connector", "golden-store"])),
            }
        }
    }
    deserializer.deserialize_str(FaultRole)
}

impl<'de> Deserialize<'de> for PodSelector {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Selector;
        impl Visitor<'_> for Selector {
            type Value = PodSelector;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a pod ordinal (0, 1, …), `each`, `leader`, `follower` or `service`")
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<PodSelector, E> {
                u16::try_from(n)
                    .map(PodSelector::Ordinal)
                    .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(n), &self))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<PodSelector, E> {
                match u64::try_from(n) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Signed(n), &self)),
                }
            }
            fn visit_str<E: de::Error>(self, text: &str) -> Result<PodSelector, E> {
                match text {
                    "each" => Ok(PodSelector::Each),
                    "leader" => Ok(PodSelector::Leader),
                    "follower" => Ok(PodSelector::Follower),
                    "service" => Ok(PodSelector::Service),
                    other => Err(E::invalid_value(de::Unexpected::Str(other), &self)),
                }
            }
        }
        deserializer.deserialize_any(Selector)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn error(yaml: &str) -> String {
        error_at(yaml, 3)
    }

    fn error_at(yaml: &str, replicas: u16) -> String {
        load_text(yaml, "test.yaml", replicas)
            .expect_err("the scenario should be refused")
            .to_string()
    }

    fn step(action: Action, role: Role, pod: PodSelector, then: Then) -> Step {
        Step {
            delay: Duration::ZERO,
            action,
            target: Target { role, pod },
            then,
        }
    }

    #[test]
    fn every_builtin_loads_and_expands() {
        for name in builtin_names() {
            let scenario = load(name, 3).unwrap();
            assert_eq!(scenario.name, *name, "a built-in's name matches its file");
            assert!(!scenario.description.is_empty());
            assert_eq!(
                (scenario.before, scenario.after),
                (Duration::from_secs(3), Duration::from_secs(5))
            );
        }
        use {Action::Kill, PodSelector::*, Role::*, Then::*};
        assert_eq!(
            load("crux-and-kafka", 3).unwrap().steps,
            [
                step(Kill, Connector, Ordinal(1), Continue),
                step(Kill, GoldenStore, Follower, WaitHealed),
            ]
        );
        assert_eq!(
            load("rolling-crux", 3).unwrap().steps,
            [0, 1, 2].map(|i| step(Kill, Connector, Ordinal(i), WaitHealed))
        );
        assert_eq!(load("rolling-crux", 5).unwrap().steps.len(), 5);
        assert_eq!(
            load("kafka-leader", 3).unwrap().steps,
            [step(Kill, GoldenStore, Leader, WaitHealed)]
        );
    }

    #[test]
    fn defaults_apply_to_omitted_fields() {
        let scenario = load_text(
            "name: x\nsteps:\n  - action: delete\n    target: {role: golden-store, pod: each}\n",
            "test.yaml",
            3,
        )
        .unwrap();
        assert_eq!(scenario.description, "");
        assert_eq!(scenario.before, Duration::from_secs(3));
        assert_eq!(scenario.after, Duration::from_secs(5));
        let delete = |i| {
            step(
                Action::Delete,
                Role::GoldenStore,
                PodSelector::Ordinal(i),
                Then::Continue,
            )
        };
        assert_eq!(scenario.steps, [delete(0), delete(1), delete(2)]);
    }

    #[test]
    fn delay_and_durations_parse() {
        let scenario = load_text(
            "name: x\nbefore: 500ms\nafter: 1m 30s\nsteps:\n  - delay: 2s\n    action: kill\n    target: {role: connector, pod: each}\n",
            "test.yaml",
            2,
        )
        .unwrap();
        assert_eq!(scenario.before, Duration::from_millis(500));
        assert_eq!(scenario.after, Duration::from_secs(90));
        assert!(
            scenario
                .steps
                .iter()
                .all(|s| s.delay == Duration::from_secs(2))
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        let message = error("name: x\ncolour: red\nsteps: []\n");
        assert!(
            message.starts_with("test.yaml: unknown field `colour`"),
            "{message}"
        );
        assert!(message.contains("line 2 column 1"), "{message}");
        let message = error(
            "name: x\nsteps:\n  - action: kill\n    target: {role: connector, pod: 0, grace: 3s}\n",
        );
        assert!(
            message.contains("steps[0].target: unknown field `grace`"),
            "{message}"
        );
    }

    #[test]
    fn unknown_action_and_role_are_refused() {
        let message =
            error("name: x\nsteps:\n  - action: explode\n    target: {role: connector, pod: 0}\n");
        assert!(
            message.contains("steps[0].action: unknown variant `explode`, expected one of `kill`, `delete`, `pause`, `resume`, `restart`"),
            "{message}"
        );
        let message =
            error("name: x\nsteps:\n  - action: kill\n    target: {role: zookeeper, pod: 0}\n");
        assert!(
            message.contains("steps[0].target.role: unknown variant `zookeeper`, expected `connector` or `golden-store`"),
            "{message}"
        );
    }

    #[test]
    fn a_failing_transaction_goes_to_the_service_and_only_it_does() {
        let scenario = load("failing-transaction", 3).unwrap();
        assert_eq!(scenario.steps[0].action, Action::FailingTransaction);
        assert_eq!(scenario.steps[0].target.pod, PodSelector::Service);
        let at_a_pod = "name: x\nsteps:\n  - action: failing-transaction\n    target: {role: connector, pod: 0}\n";
        assert!(
            error(at_a_pod).contains("goes to the connector service"),
            "{}",
            error(at_a_pod)
        );
        let kill_the_service =
            "name: x\nsteps:\n  - action: kill\n    target: {role: connector, pod: service}\n";
        assert!(error(kill_the_service).contains("a pod for every other action"));
    }

    #[test]
    fn pts_is_not_a_fault_target() {
        let message = error("name: x\nsteps:\n  - action: kill\n    target: {role: pts, pod: 0}\n");
        assert!(
            message.starts_with("test.yaml: steps[0].target.role: `pts` is not a fault target"),
            "{message}"
        );
        // Built in code rather than parsed, `expand` refuses it too.
        let scenario = Scenario {
            name: "coded".into(),
            description: String::new(),
            before: Duration::ZERO,
            after: Duration::ZERO,
            steps: vec![step(
                Action::Kill,
                Role::Pts,
                PodSelector::Ordinal(0),
                Then::Continue,
            )],
        };
        let message = scenario.expand(3, 3).unwrap_err().to_string();
        assert!(
            message.starts_with("scenario `coded`: steps[0].target.role: `pts` is not"),
            "{message}"
        );
    }

    #[test]
    fn leader_is_for_the_golden_store_only() {
        let message = error(
            "name: x\nsteps:\n  - action: kill\n    target: {role: connector, pod: leader}\n",
        );
        assert!(
            message.starts_with(
                "test.yaml: steps[0].target.pod: `leader` applies to the golden store only"
            ),
            "{message}"
        );
    }

    #[test]
    fn ordinals_are_checked_against_the_lab() {
        let connector =
            "name: x\nsteps:\n  - action: kill\n    target: {role: connector, pod: 4}\n";
        let message = error_at(connector, 3);
        assert_eq!(
            message,
            "test.yaml: steps[0].target.pod: pod 4 does not exist: the lab has 3 connector pods (0..=2)"
        );
        assert!(load_text(connector, "test.yaml", 5).is_ok());
        let message = error(
            "name: x\nsteps:\n  - action: kill\n    target: {role: connector, pod: 0}\n  - action: kill\n    target: {role: golden-store, pod: 3}\n",
        );
        assert_eq!(
            message,
            "test.yaml: steps[1].target.pod: pod 3 does not exist: the lab has 3 golden-store members (0..=2)"
        );
        let message =
            error("name: x\nsteps:\n  - action: kill\n    target: {role: connector, pod: -1}\n");
        assert!(
            message.contains(
                "steps[0].target.pod: invalid value: integer `-1`, expected a pod ordinal"
            ),
            "{message}"
        );
    }

    #[test]
    fn steps_must_not_be_empty() {
        assert_eq!(
            error("name: x\nsteps: []\n"),
            "test.yaml: steps: a scenario needs at least one step"
        );
        assert!(error("name: x\n").contains("missing field `steps`"));
    }

    #[test]
    fn bad_durations_are_refused() {
        let message = error("name: x\nbefore: soon\nsteps: []\n");
        assert!(
            message.starts_with("test.yaml: before: `soon` is not a duration"),
            "{message}"
        );
        assert!(message.contains("line 2"), "{message}");
        let message = error(
            "name: x\nsteps:\n  - delay: 3\n    action: kill\n    target: {role: connector, pod: 0}\n",
        );
        assert!(
            message.contains("steps[0].delay: `3` is not a duration (time unit needed"),
            "{message}"
        );
    }

    #[test]
    fn malformed_yaml_reports_line_and_column() {
        let message =
            error("name: x\nsteps:\n  - action: kill\n    target: {role: connector, pod: 0\n");
        assert!(message.starts_with("test.yaml: "), "{message}");
        assert!(message.contains("at line 5 column 1"), "{message}");
    }

    #[test]
    fn paused_pods_must_be_resumed() {
        let pause = "name: x\nsteps:\n  - action: kill\n    target: {role: connector, pod: 0}\n  - action: pause\n    target: {role: connector, pod: 1}\n";
        assert_eq!(
            error(pause),
            "test.yaml: steps[1].action: paused pods must be resumed: connector pod 1 is paused and no later step resumes it"
        );
        // A resume of another pod does not count.
        let other = format!("{pause}  - action: resume\n    target: {{role: connector, pod: 2}}\n");
        assert!(
            error(&other).contains(
                "steps[2].action: resume of connector pod 2, which no earlier step paused"
            )
        );
        let resumed =
            format!("{pause}  - action: resume\n    target: {{role: connector, pod: 1}}\n");
        assert_eq!(load_text(&resumed, "test.yaml", 3).unwrap().steps.len(), 3);
        // `each` pauses every pod; resuming them one by one pairs up after expansion.
        let each = "name: x\nsteps:\n  - action: pause\n    target: {role: golden-store, pod: each}\n  - action: resume\n    target: {role: golden-store, pod: 0}\n  - action: resume\n    target: {role: golden-store, pod: 1}\n";
        assert!(
            error(each)
                .contains("steps[0].action: paused pods must be resumed: golden-store pod 2")
        );
        let each =
            format!("{each}  - action: resume\n    target: {{role: golden-store, pod: 2}}\n");
        assert_eq!(load_text(&each, "test.yaml", 3).unwrap().steps.len(), 6);
    }

    #[test]
    fn files_load_and_errors_name_them() {
        let folder = tempfile::tempdir().unwrap();
        let path = folder.path().join("mine.yaml");
        std::fs::write(
            &path,
            include_str!("../../scenarios/crux-and-kafka.yaml").replace("pod: 1", "pod: 7"),
        )
        .unwrap();
        let path = path.to_str().unwrap();
        let message = load(path, 3).unwrap_err().to_string();
        assert!(
            message.starts_with(&format!(
                "{path}: steps[0].target.pod: pod 7 does not exist"
            )),
            "{message}"
        );
        assert_eq!(load(path, 8).unwrap().steps.len(), 2);

        let missing = folder.path().join("absent.yaml");
        let missing = missing.to_str().unwrap();
        assert_eq!(
            load(missing, 3).unwrap_err().to_string(),
            format!(
                "`{missing}` is neither a built-in scenario nor an existing file (built-in scenarios: crux-and-kafka, rolling-crux, kafka-leader, node, failing-transaction)"
            )
        );
        assert!(
            load("crux-and-kafak", 3)
                .unwrap_err()
                .to_string()
                .contains("built-in scenarios: crux-and-kafka,")
        );

        let unreadable = folder.path().to_str().unwrap();
        let message = load(unreadable, 3).unwrap_err().to_string();
        assert!(
            message.starts_with(&format!("cannot read scenario file {unreadable}: ")),
            "{message}"
        );
    }

    // --- schema.json agrees with the parser ---

    const SCHEMA: &str = include_str!("../../scenarios/schema.json");

    /// The part of JSON Schema draft 07 that `schema.json` uses, except `pattern` (no
    /// regular-expression engine among the lab's dependencies; the parser checks durations).
    fn conforms(root: &Value, schema: &Value, value: &Value) -> bool {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            let name = reference
                .strip_prefix("#/definitions/")
                .expect("a local reference");
            return conforms(root, &root["definitions"][name], value);
        }
        let keyword = |k: &str| schema.get(k);
        let type_ok = keyword("type").is_none_or(|t| match t.as_str().unwrap() {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            other => panic!("type {other} is not supported here"),
        });
        let enum_ok = keyword("enum").is_none_or(|e| e.as_array().unwrap().contains(value));
        let const_ok = keyword("const").is_none_or(|c| c == value);
        let number = value.as_f64();
        let min_ok =
            keyword("minimum").is_none_or(|m| number.is_none_or(|n| n >= m.as_f64().unwrap()));
        let max_ok =
            keyword("maximum").is_none_or(|m| number.is_none_or(|n| n <= m.as_f64().unwrap()));
        let items = value.as_array();
        let min_items_ok = keyword("minItems")
            .is_none_or(|m| items.is_none_or(|a| a.len() as u64 >= m.as_u64().unwrap()));
        let items_ok = keyword("items")
            .is_none_or(|s| items.is_none_or(|a| a.iter().all(|v| conforms(root, s, v))));
        let object = value.as_object();
        let properties = keyword("properties").and_then(Value::as_object);
        let required_ok = keyword("required").is_none_or(|r| {
            object.is_none_or(|o| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .all(|k| o.contains_key(k.as_str().unwrap()))
            })
        });
        let properties_ok = object.is_none_or(|o| {
            o.iter()
                .all(|(k, v)| match properties.and_then(|p| p.get(k)) {
                    Some(s) => conforms(root, s, v),
                    None => keyword("additionalProperties") != Some(&Value::Bool(false)),
                })
        });
        let one_of_ok = keyword("oneOf").is_none_or(|o| {
            o.as_array()
                .unwrap()
                .iter()
                .filter(|s| conforms(root, s, value))
                .count()
                == 1
        });
        let not_ok = keyword("not").is_none_or(|s| !conforms(root, s, value));
        let if_ok = keyword("if")
            .is_none_or(|s| !conforms(root, s, value) || conforms(root, &schema["then"], value));
        type_ok
            && enum_ok
            && const_ok
            && min_ok
            && max_ok
            && min_items_ok
            && items_ok
            && required_ok
            && properties_ok
            && one_of_ok
            && not_ok
            && if_ok
    }

    fn schema_accepts(yaml: &str) -> bool {
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        let value: Value = serde_norway::from_str(yaml).unwrap();
        conforms(&schema, &schema, &value)
    }

    #[test]
    fn a_stopped_node_is_chosen_by_a_connector_pod_and_must_be_started_again() {
        let node = load("node", 3).unwrap();
        assert_eq!(
            node.steps.iter().map(|s| s.action).collect::<Vec<_>>(),
            [Action::StopNode, Action::StartNode]
        );
        let message = |yaml: &str| load_text(yaml, "n.yaml", 3).unwrap_err().to_string();
        assert_eq!(
            message(
                "name: n\nsteps:\n  - action: stop-node\n    target: {role: golden-store, pod: leader}\n  - action: start-node\n    target: {role: golden-store, pod: leader}\n"
            ),
            "n.yaml: steps[0].target.role: `stop-node` targets the node of a connector pod (role: connector), not golden-store pod leader"
        );
        assert_eq!(
            message(
                "name: n\nsteps:\n  - action: stop-node\n    target: {role: connector, pod: 2}\n"
            ),
            "n.yaml: steps[0].action: stopped nodes must be started again: the node of connector pod 2 is stopped and no later step has `start-node`"
        );
        assert_eq!(
            message(
                "name: n\nsteps:\n  - action: start-node\n    target: {role: connector, pod: 2}\n"
            ),
            "n.yaml: steps[0].action: start-node of connector pod 2, which no earlier step stopped the node of"
        );
    }

    #[test]
    fn every_builtin_validates_against_the_schema() {
        for name in builtin_names() {
            assert!(schema_accepts(builtin_text(name).unwrap()), "{name}");
        }
        assert!(schema_accepts(
            "name: x\nsteps:\n  - delay: 1s\n    action: pause\n    target: {role: golden-store, pod: leader}\n    then: continue\n"
        ));
    }

    #[test]
    fn the_schema_refuses_what_the_parser_refuses() {
        let kill =
            |target: &str| format!("name: x\nsteps:\n  - action: kill\n    target: {target}\n");
        let refused = [
            "name: x\ncolour: red\nsteps:\n  - action: kill\n    target: {role: connector, pod: 0}\n".to_owned(),
            kill("{role: connector, pod: 0, grace: 3s}"),
            "name: x\nsteps:\n  - action: explode\n    target: {role: connector, pod: 0}\n".to_owned(),
            "name: x\nsteps:\n  - action: kill\n    target: {role: connector, pod: 0}\n    then: wait\n".to_owned(),
            kill("{role: zookeeper, pod: 0}"),
            kill("{role: pts, pod: 0}"),
            kill("{role: connector, pod: leader}"),
            kill("{role: connector, pod: -1}"),
            kill("{role: connector, pod: some}"),
            kill("{role: connector}"),
            "name: x\nsteps: []\n".to_owned(),
            "name: x\n".to_owned(),
            "description: no name\nsteps:\n  - action: kill\n    target: {role: connector, pod: 0}\n".to_owned(),
        ];
        for yaml in &refused {
            assert!(
                load_text(yaml, "test.yaml", 3).is_err(),
                "the parser accepts {yaml}"
            );
            assert!(!schema_accepts(yaml), "the schema accepts {yaml}");
        }
    }
}
