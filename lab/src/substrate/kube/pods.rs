//! The chart's contract, seen from a pod: which role it plays, where it answers, whether it
//! is in the rotation.

use crate::substrate::{PodInfo, PodPhase, Role};
use k8s_openapi::api::core::v1::{Pod, PodCondition};

/// The readiness gate of the connector pods, which only the runner sets.
pub(super) const SERVING_GATE: &str = "egeria-ha-lab/serving";
const INSTANCE_LABEL: &str = "app.kubernetes.io/instance";
const COMPONENT_LABEL: &str = "app.kubernetes.io/component";

pub(super) fn release_selector(release: &str) -> String {
    format!("{INSTANCE_LABEL}={release}")
}

/// The role a pod plays, from its component label; `None` for the runner and strangers.
pub(super) fn role(pod: &Pod) -> Option<Role> {
    let component = pod.metadata.labels.as_ref()?.get(COMPONENT_LABEL)?;
    [Role::Connector, Role::GoldenStore, Role::Pts]
        .into_iter()
        .find(|role| role.label() == component)
}

/// The pods of `pods` that play a role in the topology, connectors first, by ordinal.
pub(super) fn pod_infos(pods: &[Pod], namespace: &str, release: &str) -> Vec<PodInfo> {
    let mut infos: Vec<PodInfo> = pods
        .iter()
        .filter_map(|pod| pod_info(pod, namespace, release))
        .collect();
    infos.sort_by(|a, b| (a.role.label(), a.ordinal).cmp(&(b.role.label(), b.ordinal)));
    infos
}

fn pod_info(pod: &Pod, namespace: &str, release: &str) -> Option<PodInfo> {
    let role = role(pod)?;
    let name = pod.metadata.name.clone()?;
    let status = pod.status.as_ref();
    let phase = if pod.metadata.deletion_timestamp.is_some() {
        PodPhase::Terminated
    } else if status.and_then(|s| s.phase.as_deref()) == Some("Running") {
        PodPhase::Running
    } else {
        PodPhase::Restarting
    };
    let restarts = status
        .and_then(|s| s.container_statuses.as_ref())
        .map_or(0, |containers| {
            containers
                .iter()
                .map(|c| u32::try_from(c.restart_count).unwrap_or(0))
                .sum()
        });
    Some(PodInfo {
        // StatefulSet pods end in their ordinal; the PTS pod is the only one of its role.
        ordinal: match role {
            Role::Pts => 0,
            _ => name.rsplit('-').next()?.parse().ok()?,
        },
        address: address(role, &name, namespace, release),
        role,
        uid: pod.metadata.uid.clone().unwrap_or_default(),
        phase,
        // A connector pod serves once the runner opens its gate; the others once their
        // readiness probe passes.
        ready: match role {
            Role::Connector => gate_condition(pod),
            Role::GoldenStore | Role::Pts => condition(pod, "Ready"),
        }
        .is_some_and(|c| c.status == "True"),
        // The gate's transition time has whole seconds only: the watcher's own clock is
        // closer.
        ready_since_unix_ms: None,
        restarts,
        pid: None,
        name,
    })
}

fn address(role: Role, pod: &str, namespace: &str, release: &str) -> String {
    match role {
        Role::Connector => {
            format!("{pod}.{release}-crux-headless.{namespace}.svc.cluster.local:9443")
        }
        Role::GoldenStore => {
            format!("{pod}.{release}-kafka-headless.{namespace}.svc.cluster.local:9092")
        }
        Role::Pts => format!("{release}-pts.{namespace}.svc.cluster.local:9443"),
    }
}

pub(super) fn gate_condition(pod: &Pod) -> Option<&PodCondition> {
    condition(pod, SERVING_GATE)
}

fn condition<'a>(pod: &'a Pod, kind: &str) -> Option<&'a PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == kind)
}
