//! What to look at when a release does not come up: pod status, the namespace's events and
//! every container's log, written to files.

use super::KubeError;
use super::pods::release_selector;
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{ListParams, LogParams};
use kube::{Api, Client};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A log call streams the whole (capped) log, so it gets longer than a plain call.
const LOG_TIMEOUT: Duration = Duration::from_secs(30);
const LOG_LIMIT_BYTES: i64 = 8 << 20;

/// Writes `dir/diagnostics/`: `pods.json` (every pod of the release, status included),
/// `events.txt` (the namespace's events, oldest first) and `logs/<pod>.<container>.log`
/// (plus `.previous.log` for a container that restarted). A log or the events that cannot
/// be read leave the reason in their file; only the pod list is required.
pub async fn dump_diagnostics(
    client: Client,
    namespace: &str,
    release: &str,
    dir: &Path,
) -> Result<PathBuf, KubeError> {
    let out = dir.join("diagnostics");
    let logs_dir = out.join("logs");
    create_dir(&logs_dir).await?;

    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let action = format!("list the pods of release {release} in namespace {namespace}");
    let listed = within(
        super::CALL_TIMEOUT,
        &action,
        pods.list(&ListParams::default().labels(&release_selector(release))),
    )
    .await?;
    let json = serde_json::to_vec_pretty(&listed.items).expect("pods always serialise");
    write(&out.join("pods.json"), json).await?;

    let events = Api::<Event>::namespaced(client, namespace);
    let action = format!("list the events of namespace {namespace}");
    let text = match within(
        super::CALL_TIMEOUT,
        &action,
        events.list(&ListParams::default()),
    )
    .await
    {
        Ok(list) => events_text(list.items),
        Err(error) => format!("{error}\n"),
    };
    write(&out.join("events.txt"), text).await?;

    for pod in &listed.items {
        let Some(name) = pod.metadata.name.as_deref() else {
            continue;
        };
        for container in container_names(pod) {
            let file = logs_dir.join(format!("{name}.{container}.log"));
            let text = log(&pods, name, container, false)
                .await
                .unwrap_or_else(|error| format!("{error}\n"));
            write(&file, text).await?;
            // Most containers have no previous instance: only an existing log is kept.
            if let Ok(text) = log(&pods, name, container, true).await {
                write(
                    &logs_dir.join(format!("{name}.{container}.previous.log")),
                    text,
                )
                .await?;
            }
        }
    }
    Ok(out)
}

fn container_names(pod: &Pod) -> Vec<&str> {
    let Some(spec) = &pod.spec else {
        return Vec::new();
    };
    let init = spec.init_containers.iter().flatten();
    init.chain(&spec.containers)
        .map(|c| c.name.as_str())
        .collect()
}

async fn log(
    pods: &Api<Pod>,
    pod: &str,
    container: &str,
    previous: bool,
) -> Result<String, KubeError> {
    let which = if previous { "previous log" } else { "log" };
    let params = LogParams {
        container: Some(container.to_string()),
        previous,
        limit_bytes: Some(LOG_LIMIT_BYTES),
        ..LogParams::default()
    };
    within(
        LOG_TIMEOUT,
        &format!("read the {which} of container {container} of pod {pod}"),
        pods.logs(pod, &params),
    )
    .await
}

fn events_text(mut events: Vec<Event>) -> String {
    let time = |event: &Event| {
        event
            .last_timestamp
            .as_ref()
            .map(|t| t.0)
            .or_else(|| event.event_time.as_ref().map(|t| t.0))
            .or_else(|| event.metadata.creation_timestamp.as_ref().map(|t| t.0))
    };
    events.sort_by_key(time);
    let mut text = String::new();
    for event in &events {
        let object = &event.involved_object;
        let _ = writeln!(
            text,
            "{} {} {} {}/{}: {}",
            time(event).map_or_else(|| "-".to_string(), |t| t.to_string()),
            event.type_.as_deref().unwrap_or("-"),
            event.reason.as_deref().unwrap_or("-"),
            object.kind.as_deref().unwrap_or("-"),
            object.name.as_deref().unwrap_or("-"),
            event.message.as_deref().unwrap_or_default().trim_end(),
        );
    }
    text
}

async fn within<T>(
    timeout: Duration,
    action: &str,
    request: impl Future<Output = Result<T, kube::Error>>,
) -> Result<T, KubeError> {
    let detail = match tokio::time::timeout(timeout, request).await {
        Ok(Ok(answer)) => return Ok(answer),
        Ok(Err(kube::Error::Api(status))) => {
            format!("{} {}: {}", status.code, status.reason, status.message)
        }
        Ok(Err(other)) => other.to_string(),
        Err(_) => format!("no answer within {}", humantime::format_duration(timeout)),
    };
    Err(KubeError::Api {
        action: action.to_string(),
        detail,
    })
}

async fn create_dir(path: &Path) -> Result<(), KubeError> {
    tokio::fs::create_dir_all(path)
        .await
        .map_err(|source| KubeError::Write {
            path: path.to_path_buf(),
            source,
        })
}

async fn write(path: &Path, contents: impl AsRef<[u8]>) -> Result<(), KubeError> {
    tokio::fs::write(path, contents)
        .await
        .map_err(|source| KubeError::Write {
            path: path.to_path_buf(),
            source,
        })
}
