//! What every pod is doing: platform up, server configured, server started, ready.

use crate::egeria::EgeriaClient;
use crate::settings::LabSettings;
use crate::substrate::{PodInfo, PodPhase, Role, Substrate, SubstrateError};
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

/// Status is a glance, not a wait: a pod that does not answer quickly is reported as down.
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Clone, Debug, Serialize)]
pub struct PodStatus {
    pub name: String,
    pub role: Role,
    pub address: String,
    pub phase: PodPhase,
    pub restarts: u32,
    pub platform_up: bool,
    /// `None` where the question does not apply (golden-store members).
    pub configured: Option<bool>,
    pub started: Option<bool>,
    pub ready: Option<bool>,
}

pub async fn collect<S: Substrate>(
    substrate: &S,
    client: &EgeriaClient,
    settings: &LabSettings,
) -> Result<Vec<PodStatus>, SubstrateError> {
    let pods = substrate.list_pods().await?;
    Ok(futures::future::join_all(pods.pods.iter().map(|pod| probe(pod, client, settings))).await)
}

async fn probe(pod: &PodInfo, client: &EgeriaClient, settings: &LabSettings) -> PodStatus {
    let mut status = PodStatus {
        name: pod.name.clone(),
        role: pod.role,
        address: pod.address.clone(),
        phase: pod.phase,
        restarts: pod.restarts,
        platform_up: false,
        configured: None,
        started: None,
        ready: None,
    };
    let server = match pod.role {
        Role::GoldenStore => {
            status.platform_up =
                tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect(&pod.address))
                    .await
                    .is_ok_and(|connected| connected.is_ok());
            return status;
        }
        Role::Connector => {
            status.ready = Some(pod.ready);
            &settings.connector_server
        }
        Role::Pts => &settings.pts_server,
    };
    let platform = client.platform(&pod.name, &pod.platform_url());
    let Ok(Ok(config)) =
        tokio::time::timeout(PROBE_TIMEOUT, platform.admin(server).configuration()).await
    else {
        return status;
    };
    status.platform_up = true;
    status.configured = Some(is_configured(&config));
    status.started = tokio::time::timeout(PROBE_TIMEOUT, platform.active_servers())
        .await
        .ok()
        .and_then(Result::ok)
        .map(|servers| servers.iter().any(|s| s == server));
    status
}

/// A platform answers for any server name with at least an empty document; a configured
/// server has a type or a repository.
fn is_configured(document: &Value) -> bool {
    document
        .get("localServerType")
        .is_some_and(Value::is_string)
        || document
            .get("repositoryServicesConfig")
            .is_some_and(|v| !v.is_null())
}

pub fn render_table(rows: &[PodStatus]) -> String {
    let yes_no = |value: Option<bool>| match value {
        Some(true) => "yes",
        Some(false) => "no",
        None => "-",
    };
    let phase = |p: PodPhase| match p {
        PodPhase::Running => "running",
        PodPhase::Restarting => "restarting",
        PodPhase::Terminated => "terminated",
    };
    let mut out = format!(
        "{:<18} {:<13} {:<20} {:<11} {:>8} {:<8} {:<10} {:<7} {:<5}\n",
        "POD", "ROLE", "ADDRESS", "PHASE", "RESTARTS", "PLATFORM", "CONFIGURED", "STARTED", "READY"
    );
    for row in rows {
        out.push_str(&format!(
            "{:<18} {:<13} {:<20} {:<11} {:>8} {:<8} {:<10} {:<7} {:<5}\n",
            row.name,
            row.role.label(),
            row.address,
            phase(row.phase),
            row.restarts,
            if row.platform_up { "up" } else { "down" },
            yes_no(row.configured),
            yes_no(row.started),
            yes_no(row.ready),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_marks_inapplicable_columns() {
        let rows = [PodStatus {
            name: "lab-kafka-0".into(),
            role: Role::GoldenStore,
            address: "127.77.1.1:4222".into(),
            phase: PodPhase::Running,
            restarts: 0,
            platform_up: true,
            configured: None,
            started: None,
            ready: None,
        }];
        let table = render_table(&rows);
        let line = table.lines().nth(1).unwrap();
        assert!(line.starts_with("lab-kafka-0"), "{line}");
        assert!(line.contains("golden-store"), "{line}");
        assert!(line.trim_end().ends_with("-"), "{line}");
    }
}
