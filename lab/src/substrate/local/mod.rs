//! The local substrate, all of it: every pod a process on its own loopback address.
//! [`up`] starts and stops the lab (the golden store's Kafka brokers in [`brokers`]), the
//! [`control_plane`] process plays Kubernetes' parts, and [`LocalSubstrate`] is how the
//! runner talks to that control plane.

mod brokers;
pub mod connector;
pub mod control_plane;
pub mod platform;
mod up;

pub use up::*;

use super::{Endpoints, PodList, Substrate, SubstrateError};
use crate::substrate::local::control_plane::wire::{ApiError, ServiceStats, SetReady};
use reqwest::StatusCode;
use std::net::SocketAddr;
use std::time::Duration;

const NAME: &str = "local";
/// Every control plane call but a watch answers at once on loopback.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone, Debug)]
pub struct LocalSubstrate {
    api: String,
    http: reqwest::Client,
    endpoints: Endpoints,
}

impl LocalSubstrate {
    pub fn new(api_address: SocketAddr, endpoints: Endpoints) -> Self {
        Self {
            api: format!("http://{api_address}"),
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("a plain HTTP client always builds"),
            endpoints,
        }
    }

    /// Connections the connector service handed to each pod so far.
    pub async fn connector_service_stats(&self) -> Result<ServiceStats, SubstrateError> {
        let response = self
            .send(
                self.http.get(self.url("/v1/services/connector")),
                "read service stats",
            )
            .await?;
        decode(response, "read service stats").await
    }

    /// Stops every pod, then the control plane itself; answers once the pods are gone.
    pub async fn shutdown(&self, deadline: Duration) -> Result<usize, SubstrateError> {
        let response = self
            .send(
                self.http.post(self.url("/v1/shutdown")).timeout(deadline),
                "shut down",
            )
            .await?;
        let body: serde_json::Value = decode(response, "shut down").await?;
        Ok(body["still_alive"].as_u64().unwrap_or(0) as usize)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api)
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        action: &str,
    ) -> Result<reqwest::Response, SubstrateError> {
        let response = request
            .send()
            .await
            .map_err(|e| SubstrateError::Unreachable {
                substrate: NAME,
                endpoint: self.api.clone(),
                detail: format!("{action}: {e}"),
            })?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let detail = match response.json::<ApiError>().await {
            Ok(body) => body.error,
            Err(_) => status.to_string(),
        };
        Err(match status {
            StatusCode::NOT_FOUND => SubstrateError::UnknownPod(detail),
            _ => SubstrateError::Refused {
                substrate: NAME,
                action: action.to_string(),
                detail,
            },
        })
    }

    async fn pod_action(&self, pod: &str, verb: &str) -> Result<(), SubstrateError> {
        self.send(
            self.http
                .post(self.url(&format!("/v1/pods/{pod}/{verb}")))
                .timeout(CALL_TIMEOUT),
            &format!("{verb} {pod}"),
        )
        .await
        .map(drop)
    }
}

async fn decode<T: serde::de::DeserializeOwned>(
    response: reqwest::Response,
    action: &str,
) -> Result<T, SubstrateError> {
    let endpoint = response.url().to_string();
    response
        .json()
        .await
        .map_err(|e| SubstrateError::Unreachable {
            substrate: NAME,
            endpoint,
            detail: format!("{action}: unreadable answer: {e}"),
        })
}

impl Substrate for LocalSubstrate {
    fn name(&self) -> &'static str {
        NAME
    }

    fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    async fn list_pods(&self) -> Result<PodList, SubstrateError> {
        let response = self
            .send(
                self.http.get(self.url("/v1/pods")).timeout(CALL_TIMEOUT),
                "list pods",
            )
            .await?;
        decode(response, "list pods").await
    }

    async fn watch_pods(&self, after: u64, timeout: Duration) -> Result<PodList, SubstrateError> {
        let request = self
            .http
            .get(self.url("/v1/pods"))
            .query(&[("after", after), ("timeout_ms", timeout.as_millis() as u64)])
            .timeout(timeout + CALL_TIMEOUT);
        let response = self.send(request, "watch pods").await?;
        decode(response, "watch pods").await
    }

    async fn set_ready(&self, pod: &str, uid: &str, ready: bool) -> Result<(), SubstrateError> {
        let request = self
            .http
            .post(self.url(&format!("/v1/pods/{pod}/ready")))
            .json(&SetReady {
                ready,
                uid: uid.to_string(),
            })
            .timeout(CALL_TIMEOUT);
        self.send(request, &format!("mark {pod} ready={ready}"))
            .await
            .map(drop)
    }

    async fn kill_pod(&self, pod: &str) -> Result<(), SubstrateError> {
        self.pod_action(pod, "kill").await
    }

    async fn delete_pod(&self, pod: &str) -> Result<(), SubstrateError> {
        self.pod_action(pod, "delete").await
    }

    /// Pods are processes: SIGSTOP freezes them.
    fn can_pause(&self) -> bool {
        true
    }

    async fn pause_pod(&self, pod: &str) -> Result<(), SubstrateError> {
        self.pod_action(pod, "pause").await
    }

    async fn resume_pod(&self, pod: &str) -> Result<(), SubstrateError> {
        self.pod_action(pod, "resume").await
    }

    fn can_restart_in_place(&self) -> bool {
        true
    }

    async fn restart_pod(&self, pod: &str) -> Result<(), SubstrateError> {
        self.pod_action(pod, "restart").await
    }
}
