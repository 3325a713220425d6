//! A scripted Kubernetes API server for the tests: a kube client whose requests arrive at
//! a router that answers each with canned JSON, or never.

use http::{Method, Request, Response, StatusCode};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

/// One request the client sent.
#[derive(Clone, Debug)]
pub struct Seen {
    pub method: Method,
    pub path: String,
    pub query: String,
    pub content_type: String,
    pub body: Value,
}

impl Seen {
    pub fn is_watch(&self) -> bool {
        self.query.split('&').any(|pair| pair == "watch=true")
    }
}

/// How the server answers a request: `None` leaves it unanswered for good.
pub type Route = Box<dyn FnMut(&Seen) -> Option<Response<Body>> + Send>;

pub struct MockApi {
    pub client: Client,
    pub seen: Arc<Mutex<Vec<Seen>>>,
}

impl MockApi {
    pub fn new(mut route: Route) -> Self {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        tokio::spawn(async move {
            let mut unanswered = Vec::new();
            while let Some((request, reply)) = handle.next_request().await {
                let (parts, body) = request.into_parts();
                let bytes = body.collect_bytes().await.expect("a request body");
                let request = Seen {
                    method: parts.method,
                    path: parts.uri.path().to_string(),
                    query: parts.uri.query().unwrap_or_default().to_string(),
                    content_type: parts
                        .headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string(),
                    body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
                };
                record.lock().unwrap().push(request.clone());
                match route(&request) {
                    Some(response) => reply.send_response(response),
                    None => unanswered.push(reply),
                }
            }
        });
        Self {
            client: Client::new(service, "default"),
            seen,
        }
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

pub fn ok(value: Value) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&value).unwrap()))
        .unwrap()
}

pub fn text(text: &str) -> Response<Body> {
    Response::builder()
        .status(StatusCode::OK)
        .body(Body::from(text.as_bytes().to_vec()))
        .unwrap()
}

/// A watch answer: each event on its own line, then the end of the watch.
pub fn watch_events(events: &[Value]) -> Response<Body> {
    let mut lines = Vec::new();
    for event in events {
        lines.extend(serde_json::to_vec(event).unwrap());
        lines.push(b'\n');
    }
    Response::builder()
        .status(StatusCode::OK)
        .body(Body::from(lines))
        .unwrap()
}

/// The `Status` the API server answers a failed call with.
pub fn failure(code: u16, reason: &str, message: &str) -> Response<Body> {
    let status = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    });
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&status).unwrap()))
        .unwrap()
}

pub fn list(kind: &str, resource_version: &str, items: Vec<Value>) -> Value {
    json!({
        "kind": format!("{kind}List"), "apiVersion": "v1",
        "metadata": { "resourceVersion": resource_version },
        "items": items,
    })
}

/// A pod of the release `lab` in namespace `ns`.
pub struct PodSpec<'a> {
    pub name: &'a str,
    pub uid: &'a str,
    pub component: &'a str,
    pub phase: &'a str,
    pub serving: Option<&'a str>,
    pub restarts: &'a [u32],
}

impl PodSpec<'_> {
    pub fn json(&self) -> Value {
        let mut conditions = vec![json!({ "type": "Ready", "status": "False" })];
        if let Some(status) = self.serving {
            conditions.push(json!({
                "type": "egeria-ha-lab/serving", "status": status,
                "lastTransitionTime": "2026-01-01T00:00:00Z",
            }));
        }
        let containers: Vec<Value> = self
            .restarts
            .iter()
            .enumerate()
            .map(|(i, restarts)| {
                json!({
                    "name": format!("c{i}"), "image": "img", "imageID": "", "ready": false,
                    "restartCount": restarts, "started": true,
                    "state": { "running": { "startedAt": "2026-01-01T00:00:00Z" } },
                })
            })
            .collect();
        json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": self.name, "namespace": "ns", "uid": self.uid,
                "labels": {
                    "app.kubernetes.io/instance": "lab",
                    "app.kubernetes.io/component": self.component,
                },
            },
            "spec": { "containers": [{ "name": "c0", "image": "img" }] },
            "status": { "phase": self.phase, "conditions": conditions, "containerStatuses": containers },
        })
    }
}
