//! The continuity probe: a steady stream of requests through the connector service —
//! writes (a probe GlossaryTerm, a well-known type that real Egeria has too) and reads of
//! writes already acknowledged — each with a timeout, every outcome and latency recorded.

use super::{RequestKind, Sample};
use crate::egeria::encode_path_segment;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// The stand-in names the pod that answered; real Egeria does not.
const POD_HEADER: &str = "x-lab-pod";

#[derive(Clone, Debug)]
pub struct ProbeConfig {
    /// `https://…` of the connector service.
    pub service_url: String,
    pub server: String,
    pub user: String,
    /// Requests per second.
    pub rate: f64,
    pub timeout: Duration,
    /// Distinguishes this run's probe entities.
    pub marker: String,
}

/// A write the service acknowledged.
#[derive(Clone, Debug)]
pub struct AckedWrite {
    pub guid: String,
    pub acked_at_ms: u64,
}

/// A write the service answered as failed, by the name it would carry if applied.
#[derive(Clone, Debug)]
pub struct FailedWrite {
    pub qualified_name: String,
    pub at_ms: u64,
    /// Whether the service answered it (an error) rather than not at all (a timeout, a
    /// dropped connection: the writer cannot know).
    pub answered: bool,
}

/// The one request of a `failing-transaction` step, and how the service answered it.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FailingTransactionSent {
    pub at_ms: u64,
    /// `POST …/instances/relationship/{guid}/purge`, through the connector service.
    pub url: String,
    /// Egeria's `relatedHTTPCode` (`None`: no answer).
    pub related_http_code: Option<u64>,
    /// Egeria's message, or why there was no answer.
    pub answer: String,
}

#[derive(Debug, Default)]
pub struct ProbeResult {
    pub samples: Vec<Sample>,
    pub acked: Vec<AckedWrite>,
    pub failed_writes: Vec<FailedWrite>,
    pub stale_reads: u64,
    /// How late the schedule ran, at worst (a probe that cannot keep its rate).
    pub worst_lateness_ms: u64,
}

#[derive(Default)]
struct Shared {
    samples: Vec<Sample>,
    acked: Vec<AckedWrite>,
    failed_writes: Vec<FailedWrite>,
    stale_reads: u64,
}

/// How long the one request of a failing transaction may take to be answered.
const FAILING_TRANSACTION_TIMEOUT: Duration = Duration::from_secs(60);

/// A relationship type every Egeria knows (`RelatedTerm`), for a purge that must fail.
const RELATED_TERM: (&str, &str) = ("b1161696-e563-4cf9-9fd9-c0c76e47d063", "RelatedTerm");

pub struct Probe {
    config: ProbeConfig,
    http: reqwest::Client,
    started: Instant,
    /// The same moment on the clock other processes share.
    started_unix_ms: u64,
    shared: Arc<Mutex<Shared>>,
    /// When the latest-sent acknowledged write was sent.
    write_acked: watch::Sender<Option<u64>>,
}

impl Probe {
    pub fn new(config: ProbeConfig) -> Self {
        let http = crate::egeria::fresh_connection_client(config.timeout);
        Self {
            config,
            http,
            started: Instant::now(),
            started_unix_ms: crate::substrate::unix_ms(),
            shared: Arc::default(),
            write_acked: watch::Sender::new(None),
        }
    }

    /// Waits until a write sent at or after `since_ms` is acknowledged; false when none
    /// was within `deadline`.
    pub async fn wait_write_acked(&self, since_ms: u64, deadline: Duration) -> bool {
        let mut acked = self.write_acked.subscribe();
        let sent_since = |sent: &Option<u64>| sent.is_some_and(|sent| sent >= since_ms);
        tokio::time::timeout(deadline, acked.wait_for(sent_since))
            .await
            .is_ok_and(|answer| answer.is_ok())
    }

    /// Refuses a service that has not acknowledged a single probe write within
    /// `deadline`: faults injected into a lab that never served would measure nothing.
    /// The error names the service, the wait and the last answer.
    pub async fn ensure_served(&self, deadline: Duration) -> Result<(), String> {
        if self.wait_write_acked(0, deadline).await {
            return Ok(());
        }
        let shared = self.shared.lock().expect("probe lock");
        let last_answer = shared
            .samples
            .iter()
            .max_by_key(|sample| sample.at_ms)
            .map(|sample| sample.error.clone().unwrap_or_else(|| "answered".into()))
            .unwrap_or_else(|| "no request was answered".into());
        Err(format!(
            "no probe write through the connector service {} was acknowledged within {} \
             ({} requests sent; the last: {last_answer}), so no fault was injected.\n  \
             The lab is not serving: see `cargo xtask status`, then run `cargo xtask bootstrap` \
             (or `cargo xtask heal`)",
            self.config.service_url,
            humantime::format_duration(deadline),
            shared.samples.len()
        ))
    }

    /// Milliseconds since the probe started: the timeline's clock.
    pub fn now_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    /// A moment stamped by another process (Unix ms), on the timeline's clock.
    pub fn ms_at_unix(&self, unix_ms: u64) -> u64 {
        unix_ms.saturating_sub(self.started_unix_ms)
    }

    fn base(&self) -> String {
        format!(
            "{}/servers/{}/open-metadata/repository-services/users/{}",
            self.config.service_url.trim_end_matches('/'),
            encode_path_segment(&self.config.server),
            encode_path_segment(&self.config.user)
        )
    }

    /// Sends requests on schedule until `stop` turns true; returns once every request
    /// sent has ended.
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) -> ProbeResult {
        let period = Duration::from_secs_f64(1.0 / self.config.rate.max(0.1));
        let mut ticks = tokio::time::interval(period);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
        let mut in_flight = tokio::task::JoinSet::new();
        let mut worst_lateness = Duration::ZERO;
        let mut sent: u64 = 0;
        loop {
            tokio::select! {
                tick = ticks.tick() => {
                    worst_lateness = worst_lateness.max(tick.elapsed());
                    let probe = self.clone();
                    let n = sent;
                    sent += 1;
                    in_flight.spawn(async move { probe.one(n).await });
                }
                _ = stop.wait_for(|stop| *stop) => break,
            }
            // Reap finished requests so the set stays small.
            while in_flight.try_join_next().is_some() {}
        }
        while in_flight.join_next().await.is_some() {}
        let shared = std::mem::take(&mut *self.shared.lock().expect("probe lock"));
        let mut samples = shared.samples;
        samples.sort_by_key(|s| s.at_ms);
        ProbeResult {
            samples,
            acked: shared.acked,
            failed_writes: shared.failed_writes,
            stale_reads: shared.stale_reads,
            worst_lateness_ms: worst_lateness.as_millis() as u64,
        }
    }

    /// Odd requests read the newest acknowledged write; even ones (and reads with
    /// nothing to read yet) write.
    async fn one(&self, n: u64) {
        let newest = self
            .shared
            .lock()
            .expect("probe lock")
            .acked
            .last()
            .cloned();
        match newest {
            Some(write) if n % 2 == 1 => self.read(&write).await,
            _ => self.write(n).await,
        }
    }

    /// The body of a probe write: a GlossaryTerm named `lab-probe-<marker>-<suffix>`.
    pub fn write_body(&self, suffix: &str) -> Value {
        crate::egeria::glossary_term_request(&self.write_name(suffix))
    }

    fn write_name(&self, suffix: &str) -> String {
        format!("lab-probe-{}-{suffix}", self.config.marker)
    }

    async fn write(&self, n: u64) {
        let name = self.write_name(&n.to_string());
        let body = self.write_body(&n.to_string());
        let at_ms = self.now_ms();
        let request = self
            .http
            .post(format!("{}/instances/entity", self.base()))
            .json(&body);
        let (answer, latency_ms, pod) = self.send(request).await;
        let guid = answer
            .as_ref()
            .ok()
            .filter(|body| body["relatedHTTPCode"].as_u64().unwrap_or(200) == 200)
            .and_then(|body| body.pointer("/entity/guid"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut shared = self.shared.lock().expect("probe lock");
        if guid.is_none() {
            shared.failed_writes.push(FailedWrite {
                qualified_name: name,
                at_ms,
                answered: answer.is_ok(),
            });
        }
        if let Some(guid) = &guid {
            shared.acked.push(AckedWrite {
                guid: guid.clone(),
                acked_at_ms: at_ms + latency_ms,
            });
            self.write_acked.send_if_modified(|latest| {
                let newer = latest.is_none_or(|latest| at_ms > latest);
                if newer {
                    *latest = Some(at_ms);
                }
                newer
            });
        }
        shared.samples.push(Sample {
            at_ms,
            latency_ms,
            kind: RequestKind::Write,
            ok: guid.is_some(),
            pod,
            error: guid
                .is_none()
                .then(|| why_failed(&answer, "no entity in the answer")),
        });
    }

    async fn read(&self, write: &AckedWrite) {
        let at_ms = self.now_ms();
        let request = self.http.get(format!(
            "{}/instances/entity/{}",
            self.base(),
            encode_path_segment(&write.guid)
        ));
        let (answer, latency_ms, pod) = self.send(request).await;
        let code = answer
            .as_ref()
            .ok()
            .map(|body| body["relatedHTTPCode"].as_u64().unwrap_or(200));
        let mut shared = self.shared.lock().expect("probe lock");
        // An answer without the entity is the service working but stale: the write was
        // acknowledged before this read was sent.
        if code == Some(404) {
            shared.stale_reads += 1;
        }
        let ok = matches!(code, Some(200) | Some(404));
        shared.samples.push(Sample {
            at_ms,
            latency_ms,
            kind: RequestKind::Read,
            ok,
            pod,
            error: (!ok).then(|| why_failed(&answer, "")),
        });
    }

    /// Sends one transaction that fails inside the connector through the service: a
    /// purge of a relationship that does not exist (REAL-EGERIA.md §10's one call).
    pub async fn failing_transaction(&self) -> FailingTransactionSent {
        let (type_guid, type_name) = RELATED_TERM;
        let url = format!(
            "{}/instances/relationship/{}/purge",
            self.base(),
            uuid::Uuid::new_v4()
        );
        let body = json!({"class": "TypeDefValidationForRequest", "typeDefGUID": type_guid, "typeDefName": type_name});
        let at_ms = self.now_ms();
        // One request, not probe traffic: it gets the time a failing transaction takes.
        let request = self
            .http
            .post(&url)
            .json(&body)
            .timeout(FAILING_TRANSACTION_TIMEOUT);
        let (answer, _, _) = self.send(request).await;
        let related_http_code = answer
            .as_ref()
            .ok()
            .map(|body| body["relatedHTTPCode"].as_u64().unwrap_or(200));
        FailingTransactionSent {
            at_ms,
            url,
            related_http_code,
            answer: why_failed(&answer, "answered with success"),
        }
    }

    /// The answer's JSON (or why there was none), the latency and the answering pod.
    async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> (Result<Value, String>, u64, Option<String>) {
        let started = Instant::now();
        let answer = match request.send().await {
            Ok(response) if response.status().is_success() => {
                let pod = response
                    .headers()
                    .get(POD_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                match response.json::<Value>().await {
                    Ok(body) => (Ok(body), pod),
                    Err(e) => (Err(format!("the answer is not JSON: {e}")), pod),
                }
            }
            Ok(response) => (Err(format!("HTTP {}", response.status())), None),
            Err(e) if e.is_timeout() => (Err("no answer within the request timeout".into()), None),
            Err(e) if e.is_connect() => (Err("connection refused or reset".into()), None),
            Err(e) => (Err(format!("no answer: {e}")), None),
        };
        let latency_ms = started.elapsed().as_millis() as u64;
        (answer.0, latency_ms, answer.1)
    }
}

/// Why a request failed, in a few words: no answer and why, or Egeria's code and message.
fn why_failed(answer: &Result<Value, String>, otherwise: &str) -> String {
    match answer {
        Err(reason) => reason.clone(),
        Ok(body) => match body["relatedHTTPCode"].as_u64() {
            Some(code) if code != 200 => format!(
                "Egeria {code}: {}",
                body["exceptionErrorMessage"]
                    .as_str()
                    .unwrap_or("(no message)")
            ),
            _ => otherwise.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A probe on a service answering every request with `answer`, running until dropped.
    async fn probe_on(answer: Value) -> (Arc<Probe>, watch::Sender<bool>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new().fallback(move || {
            let answer = answer.clone();
            async move { axum::Json(answer) }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        let probe = Arc::new(Probe::new(ProbeConfig {
            service_url: url,
            server: "crux".into(),
            user: "myuser".into(),
            rate: 50.0,
            timeout: Duration::from_secs(2),
            marker: "test".into(),
        }));
        let (stop_tx, stop_rx) = watch::channel(false);
        tokio::spawn(probe.clone().run(stop_rx));
        (probe, stop_tx)
    }

    #[tokio::test]
    async fn faults_wait_for_a_service_that_acknowledges_writes() {
        let (serving, _stop) = probe_on(serde_json::json!({
            "relatedHTTPCode": 200, "entity": {"guid": "g-1"}
        }))
        .await;
        serving.ensure_served(Duration::from_secs(5)).await.unwrap();

        let (refusing, _stop) = probe_on(serde_json::json!({
            "relatedHTTPCode": 404,
            "exceptionErrorMessage": "OMAG-MULTI-TENANT-404-001 The OMAG Server crux is not available"
        }))
        .await;
        let error = refusing
            .ensure_served(Duration::from_millis(400))
            .await
            .unwrap_err();
        assert!(error.contains("was acknowledged within 400ms"), "{error}");
        assert!(error.contains("http://127.0.0.1:"), "{error}");
        assert!(
            error.contains("the last: Egeria 404: OMAG-MULTI-TENANT-404-001"),
            "{error}"
        );
        assert!(error.contains("cargo xtask bootstrap"), "{error}");
    }
}
