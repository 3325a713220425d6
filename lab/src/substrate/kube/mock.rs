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
    pub fn new(route: Route) -> Self {
        Self::start(route, false)
    }

    /// Like `new`, but every request left unanswered is offered to `route` again after
    /// each later request, so a route with state can answer a held watch once something
    /// changed.
    pub fn reoffering(route: Route) -> Self {
        Self::start(route, true)
    }

    fn start(mut route: Route, reoffer: bool) -> Self {
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
                // The new request first, so that held ones see what it changed.
                let held = if reoffer {
                    std::mem::take(&mut unanswered)
                } else {
                    Vec::new()
                };
                for (request, reply) in std::iter::once((request, reply)).chain(held) {
                    match route(&request) {
                        Some(response) => reply.send_response(response),
                        None => unanswered.push((request, reply)),
                    }
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
        // A pod without the serving gate is ready once running (its probe passed).
        let ready = self.serving.is_none() && self.phase == "Running";
        let mut conditions =
            vec![json!({ "type": "Ready", "status": if ready { "True" } else { "False" } })];
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

pub const PODS: &str = "/api/v1/namespaces/ns/pods";

/// The pods of release `lab` in namespace `ns` as their StatefulSets keep them: a deleted
/// pod is replaced at once by one with a new uid (a connector out of the rotation until
/// its gate is set); a status patch sets the gate only if it names the current uid; a
/// watch is answered as soon as anything changed after the version it watches from.
pub struct StatefulSetCluster {
    version: u64,
    pods: Vec<Value>,
    replacements: u32,
}

impl StatefulSetCluster {
    /// Serves `pods` (`(name, component)`), every connector in the rotation.
    pub fn serve(pods: &[(&str, &str)]) -> MockApi {
        let mut cluster = StatefulSetCluster {
            version: 100,
            pods: pods
                .iter()
                .map(|(name, component)| Self::pod(name, &format!("{name}-0"), component, "True"))
                .collect(),
            replacements: 0,
        };
        MockApi::reoffering(Box::new(move |seen| cluster.answer(seen)))
    }

    fn pod(name: &str, uid: &str, component: &str, serving: &str) -> Value {
        PodSpec {
            name,
            uid,
            component,
            phase: "Running",
            serving: (component == "connector").then_some(serving),
            restarts: &[0],
        }
        .json()
    }

    fn answer(&mut self, seen: &Seen) -> Option<Response<Body>> {
        if seen.path == PODS {
            if !seen.is_watch() {
                let version = self.version.to_string();
                return Some(ok(list("Pod", &version, self.pods.clone())));
            }
            let from: u64 = seen
                .query
                .split('&')
                .find_map(|pair| pair.strip_prefix("resourceVersion="))
                .and_then(|version| version.parse().ok())
                .unwrap_or(0);
            let event = json!({ "type": "MODIFIED", "object": self.pods[0].clone() });
            return (self.version > from).then(|| watch_events(&[event]));
        }
        let rest = seen.path.strip_prefix(PODS)?.strip_prefix('/')?;
        let (name, sub) = match rest.split_once('/') {
            Some((name, sub)) => (name, Some(sub)),
            None => (rest, None),
        };
        let Some(index) = self.pods.iter().position(|p| p["metadata"]["name"] == name) else {
            return Some(failure(
                404,
                "NotFound",
                &format!("pods \"{name}\" not found"),
            ));
        };
        match (&seen.method, sub) {
            (&Method::GET, None) => Some(ok(self.pods[index].clone())),
            (&Method::DELETE, None) => {
                self.replacements += 1;
                let uid = format!("{name}-{}", self.replacements);
                let component =
                    self.pods[index]["metadata"]["labels"]["app.kubernetes.io/component"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                let gone = std::mem::replace(
                    &mut self.pods[index],
                    Self::pod(name, &uid, &component, "False"),
                );
                self.version += 1;
                Some(ok(gone))
            }
            (&Method::PATCH, Some("status")) => {
                let pod = &mut self.pods[index];
                if seen.body["metadata"]["uid"] != pod["metadata"]["uid"] {
                    return Some(failure(422, "Invalid", "metadata.uid: field is immutable"));
                }
                let wanted = seen.body["status"]["conditions"][0]["status"].clone();
                let conditions = pod["status"]["conditions"].as_array_mut()?;
                let gate = conditions
                    .iter_mut()
                    .find(|c| c["type"] == "egeria-ha-lab/serving")?;
                gate["status"] = wanted;
                self.version += 1;
                Some(ok(pod.clone()))
            }
            _ => None,
        }
    }
}
