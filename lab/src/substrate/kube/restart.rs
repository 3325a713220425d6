//! A container restarted in place on Kubernetes, as an OOM kill or a failed liveness probe
//! would: the lab ends the main container's process (PID 1) from inside the container,
//! the kubelet starts the container again in the same pod (same uid, restart count one
//! up, readiness gate kept), and everything the process held in memory is gone.

use super::KubeSubstrate;
use crate::substrate::{Role, SubstrateError};
use k8s_openapi::api::core::v1::Pod;
use kube::api::AttachParams;
use std::time::Duration;
use tokio::time::Instant;

/// How long the kubelet has to start the container again.
const RESTART_DEADLINE: Duration = Duration::from_secs(60);
/// SIGTERM to PID 1 from inside its own PID namespace: the JVM (started with `exec` by
/// both images' launch scripts) handles it and exits; the kubelet then restarts it.
const END_PID_1: [&str; 3] = ["sh", "-c", "kill 1"];

/// The main container of each role's pods, as the chart names them.
fn main_container(role: Role) -> Option<&'static str> {
    match role {
        Role::Connector | Role::Pts => Some("platform"),
        Role::GoldenStore => Some("kafka"),
    }
}

/// The restarts of the pod's main container so far.
fn restarts(pod: &Pod, container: &str) -> i32 {
    (pod.status.as_ref())
        .and_then(|status| status.container_statuses.as_ref())
        .and_then(|statuses| statuses.iter().find(|c| c.name == container))
        .map_or(0, |c| c.restart_count)
}

impl KubeSubstrate {
    pub(super) async fn restart_in_place(&self, pod: &str) -> Result<(), SubstrateError> {
        let action = format!("restart in place pod {pod}");
        let found = self.call(&action, Some(pod), self.pods().get(pod)).await?;
        let container = super::pods::role(&found)
            .and_then(main_container)
            .ok_or_else(|| self.refused(&action, "not a pod of the topology"))?;
        let uid = found.metadata.uid.clone();
        let before = restarts(&found, container);
        let command: Vec<String> = END_PID_1.iter().map(|s| s.to_string()).collect();
        let params = AttachParams::default()
            .container(container)
            .stdin(false)
            .stdout(false)
            .stderr(true);
        let attached =
            self.pods().exec(pod, command, &params).await.map_err(|e| {
                self.refused(&action, format!("exec into container {container}: {e}"))
            })?;
        // The session ends with the process; its outcome says nothing more than the count,
        // which is awaited with its own deadline.
        let _ = tokio::time::timeout(RESTART_DEADLINE, attached.join()).await;
        self.wait_restarted(pod, container, uid.as_deref(), before)
            .await
    }

    /// Waits until the container's restart count grows in the same pod.
    pub(super) async fn wait_restarted(
        &self,
        pod: &str,
        container: &str,
        uid: Option<&str>,
        before: i32,
    ) -> Result<(), SubstrateError> {
        let action = format!("restart in place pod {pod}");
        let end = Instant::now() + RESTART_DEADLINE;
        let mut pause = Duration::from_millis(100);
        loop {
            let now = self.call(&action, Some(pod), self.pods().get(pod)).await?;
            if now.metadata.uid.as_deref() != uid {
                return Err(self.refused(
                    &action,
                    "the pod was replaced meanwhile (a new uid), not restarted in place",
                ));
            }
            if restarts(&now, container) > before {
                return Ok(());
            }
            if Instant::now() >= end {
                return Err(self.refused(
                    &action,
                    format!(
                        "container {container} did not restart within {} (its PID 1 ignored SIGTERM?)",
                        humantime::format_duration(RESTART_DEADLINE)
                    ),
                ));
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::substrate::Substrate;
    use crate::substrate::kube::mock::{MockApi, PodSpec, failure, ok};
    use crate::substrate::kube::tests::substrate;
    use http::Method;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn connector(restarts: u32) -> serde_json::Value {
        let restarts = [restarts];
        let mut pod = PodSpec {
            name: "lab-crux-1",
            uid: "u1",
            component: "connector",
            phase: "Running",
            serving: Some("True"),
            restarts: &restarts,
        }
        .json();
        pod["status"]["containerStatuses"][0]["name"] = "platform".into();
        pod
    }

    #[tokio::test(start_paused = true)]
    async fn the_main_container_is_asked_to_end_and_the_restart_is_awaited_in_the_same_pod() {
        let reads = AtomicU32::new(0);
        let api = MockApi::new(Box::new(move |seen| {
            match (&seen.method, seen.path.as_str()) {
                (&Method::GET, "/api/v1/namespaces/ns/pods/lab-crux-1") => {
                    // The kubelet restarts the container a few reads after the exec.
                    let read = reads.fetch_add(1, Ordering::SeqCst);
                    Some(ok(connector(u32::from(read >= 3))))
                }
                // No WebSocket here: the exec is refused, as an API server without the
                // right would refuse it.
                (&Method::GET, "/api/v1/namespaces/ns/pods/lab-crux-1/exec") => Some(failure(
                    403,
                    "Forbidden",
                    "pods \"lab-crux-1\" is forbidden: cannot create resource \"pods/exec\"",
                )),
                _ => None,
            }
        }));
        let error = substrate(&api).restart_pod("lab-crux-1").await.unwrap_err();
        assert!(
            error.to_string().starts_with("the kube substrate refused restart in place pod lab-crux-1: exec into container platform:"),
            "{error}"
        );
        let exec = (api.seen().into_iter())
            .find(|seen| seen.path.ends_with("/exec"))
            .unwrap();
        assert!(
            exec.query.contains("container=platform")
                && exec.query.contains("command=sh&command=-c&command=kill+1"),
            "{}",
            exec.query
        );

        // The wait itself: done once the count grows, in the same pod.
        substrate(&api)
            .wait_restarted("lab-crux-1", "platform", Some("u1"), 0)
            .await
            .unwrap();
        let replaced = substrate(&api)
            .wait_restarted("lab-crux-1", "platform", Some("u0"), 0)
            .await
            .unwrap_err();
        assert!(
            replaced.to_string().contains("replaced meanwhile"),
            "{replaced}"
        );
    }
}
