//! The control plane's HTTP API (plain HTTP on a loopback address), spoken by
//! [`crate::substrate::local::LocalSubstrate`].

use super::balancer::Stats;
use super::supervisor::{Request, Supervisors};
use super::wire::{ApiError, SetReady, WatchQuery};
use super::{ClusterState, update_pod};
use crate::substrate::{PodList, PodPhase};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// A watch never holds a connection longer than this.
const MAX_WATCH: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub(super) struct Shared {
    pub(super) state: ClusterState,
    pub(super) stats: Stats,
    pub(super) supervisors: Supervisors,
    pub(super) shutdown: watch::Sender<bool>,
    pub(super) stop_deadline: Duration,
}

pub(super) async fn serve(listener: TcpListener, shared: Shared) -> anyhow::Result<()> {
    let mut shutdown = shared.shutdown.subscribe();
    let app = Router::new()
        .route("/v1/pods", get(list_pods))
        .route("/v1/pods/{name}/ready", post(set_ready))
        .route("/v1/pods/{name}/kill", post(kill))
        .route("/v1/pods/{name}/delete", post(delete))
        .route("/v1/pods/{name}/pause", post(pause))
        .route("/v1/pods/{name}/restart", post(restart))
        .route("/v1/pods/{name}/resume", post(resume))
        .route("/v1/services/connector", get(service_stats))
        .route("/v1/shutdown", post(shutdown_all))
        .with_state(shared);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await?;
    Ok(())
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(ApiError {
            error: message.into(),
        }),
    )
        .into_response()
}

fn snapshot(state: &ClusterState) -> PodList {
    let cluster = state.borrow();
    PodList {
        generation: cluster.generation,
        pods: cluster.pods.clone(),
    }
}

async fn list_pods(State(shared): State<Shared>, Query(query): Query<WatchQuery>) -> Json<PodList> {
    if let Some(after) = query.after {
        let timeout = Duration::from_millis(query.timeout_ms.unwrap_or(10_000)).min(MAX_WATCH);
        let mut changes = shared.state.subscribe();
        let _ = tokio::time::timeout(timeout, changes.wait_for(|c| c.generation > after)).await;
    }
    Json(snapshot(&shared.state))
}

async fn set_ready(
    State(shared): State<Shared>,
    Path(name): Path<String>,
    Json(body): Json<SetReady>,
) -> Response {
    let mut outcome: Result<(), Response> = Err(error(
        StatusCode::NOT_FOUND,
        format!("no pod named {name:?}"),
    ));
    update_pod(&shared.state, &name, |pod| {
        outcome = if pod.uid != body.uid {
            Err(error(
                StatusCode::CONFLICT,
                format!("pod {name} now has uid {}, not {}", pod.uid, body.uid),
            ))
        } else if body.ready && pod.phase != PodPhase::Running {
            Err(error(
                StatusCode::CONFLICT,
                format!("pod {name} is not running"),
            ))
        } else {
            if body.ready && !pod.ready {
                pod.ready_since_unix_ms = Some(crate::substrate::unix_ms());
            }
            pod.ready = body.ready;
            Ok(())
        };
    });
    match outcome {
        Ok(()) => Json(snapshot(&shared.state)).into_response(),
        Err(response) => response,
    }
}

async fn kill(State(shared): State<Shared>, Path(name): Path<String>) -> Response {
    request(&shared, &name, Request::Kill).await
}

async fn delete(State(shared): State<Shared>, Path(name): Path<String>) -> Response {
    request(&shared, &name, Request::Delete).await
}

async fn pause(State(shared): State<Shared>, Path(name): Path<String>) -> Response {
    request(&shared, &name, Request::Pause).await
}

async fn resume(State(shared): State<Shared>, Path(name): Path<String>) -> Response {
    request(&shared, &name, Request::Resume).await
}

async fn restart(State(shared): State<Shared>, Path(name): Path<String>) -> Response {
    request(&shared, &name, Request::RestartInPlace).await
}

async fn request(shared: &Shared, name: &str, request: Request) -> Response {
    if shared.supervisors.send(name, request).await {
        StatusCode::ACCEPTED.into_response()
    } else {
        error(StatusCode::NOT_FOUND, format!("no pod named {name:?}"))
    }
}

async fn service_stats(State(shared): State<Shared>) -> Json<super::wire::ServiceStats> {
    Json(shared.stats.snapshot())
}

/// Answers once every pod has stopped, so the caller knows nothing is left.
async fn shutdown_all(State(shared): State<Shared>) -> Response {
    shared.shutdown.send_replace(true);
    let still_alive = shared
        .supervisors
        .wait_all_stopped(shared.stop_deadline)
        .await;
    Json(serde_json::json!({ "still_alive": still_alive })).into_response()
}
