//! The continuity probe: a steady stream of requests through the connector service —
//! writes (a probe GlossaryTerm, a well-known type that real Egeria has too) and reads of
//! writes already acknowledged — each with a timeout, every outcome and latency recorded.

use super::{RequestKind, Sample};
use crate::egeria::encode_path_segment;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;

const GLOSSARY_TERM: &str = "0db3e6ec-f5ef-4d75-ae38-b7ee6fd6ec0a";
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

#[derive(Debug, Default)]
pub struct ProbeResult {
    pub samples: Vec<Sample>,
    pub acked: Vec<AckedWrite>,
    pub stale_reads: u64,
    /// How late the schedule ran, at worst (a probe that cannot keep its rate).
    pub worst_lateness_ms: u64,
}

#[derive(Default)]
struct Shared {
    samples: Vec<Sample>,
    acked: Vec<AckedWrite>,
    stale_reads: u64,
}

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

    async fn write(&self, n: u64) {
        let name = format!("lab-probe-{}-{n}", self.config.marker);
        let body = json!({
            "class": "EntityCreateRequest",
            "entityTypeGUID": GLOSSARY_TERM,
            "initialProperties": {"class": "InstanceProperties", "instanceProperties": {
                "qualifiedName": {"class": "PrimitivePropertyValue", "instancePropertyCategory": "PRIMITIVE",
                                  "primitiveDefCategory": "OM_PRIMITIVE_TYPE_STRING", "primitiveValue": name}}},
        });
        let at_ms = self.now_ms();
        let request = self
            .http
            .post(format!("{}/instances/entity", self.base()))
            .json(&body);
        let (answer, latency_ms, pod) = self.send(request).await;
        let guid = answer
            .as_ref()
            .filter(|body| body["relatedHTTPCode"].as_u64().unwrap_or(200) == 200)
            .and_then(|body| body.pointer("/entity/guid"))
            .and_then(Value::as_str)
            .map(str::to_string);
        let mut shared = self.shared.lock().expect("probe lock");
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
            .map(|body| body["relatedHTTPCode"].as_u64().unwrap_or(200));
        let mut shared = self.shared.lock().expect("probe lock");
        // An answer without the entity is the service working but stale: the write was
        // acknowledged before this read was sent.
        if code == Some(404) {
            shared.stale_reads += 1;
        }
        shared.samples.push(Sample {
            at_ms,
            latency_ms,
            kind: RequestKind::Read,
            ok: matches!(code, Some(200) | Some(404)),
            pod,
        });
    }

    /// The answer's JSON (when there was one), the latency and the answering pod.
    async fn send(&self, request: reqwest::RequestBuilder) -> (Option<Value>, u64, Option<String>) {
        let started = Instant::now();
        let answer = match request.send().await {
            Ok(response) if response.status().is_success() => {
                let pod = response
                    .headers()
                    .get(POD_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                response.json::<Value>().await.ok().map(|body| (body, pod))
            }
            _ => None,
        };
        let latency_ms = started.elapsed().as_millis() as u64;
        match answer {
            Some((body, pod)) => (Some(body), latency_ms, pod),
            None => (None, latency_ms, None),
        }
    }
}
