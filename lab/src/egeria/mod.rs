//! A typed client for the parts of Egeria's REST API the lab drives.
//!
//! Egeria answers most logical errors with HTTP 200 and a body whose `relatedHTTPCode`
//! says what really happened, so every call checks that field. Every error names the
//! pod, the step and the URL.

pub mod admin;
pub mod conformance;
pub mod connector;
pub mod pts;

use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::time::Duration;

/// Ordinary admin calls answer in well under a second; server start is slower and has
/// its own deadline.
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum EgeriaError {
    #[error("{pod}: {step}: {url}: no answer: {detail}{log}")]
    Transport {
        pod: String,
        step: String,
        url: String,
        detail: String,
        log: LogExcerpt,
    },
    #[error("{pod}: {step}: {url}: no answer within {}{log}", humantime::format_duration(*timeout))]
    Timeout {
        pod: String,
        step: String,
        url: String,
        timeout: Duration,
        log: LogExcerpt,
    },
    #[error("{pod}: {step}: {url}: HTTP {status}: {body}{log}")]
    Http {
        pod: String,
        step: String,
        url: String,
        status: u16,
        body: String,
        log: LogExcerpt,
    },
    #[error(
        "{pod}: {step}: {url}: Egeria error {related_http_code} {exception_class}: {message}{}{log}",
        user_action_suffix(user_action)
    )]
    Egeria {
        pod: String,
        step: String,
        url: String,
        related_http_code: u16,
        exception_class: String,
        message_id: String,
        message: String,
        user_action: String,
        log: LogExcerpt,
    },
    #[error("{pod}: {step}: {url}: unexpected answer: {detail}")]
    Unexpected {
        pod: String,
        step: String,
        url: String,
        detail: String,
    },
}

/// The last error lines of the failing pod's log: Egeria's answers often name only the
/// symptom (`OMRS-XTDB-REPOSITORY-500-001 An unknown runtime error occurred`), and the
/// cause is in the platform's log alone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LogExcerpt {
    pub log: Option<std::path::PathBuf>,
    pub lines: Vec<String>,
}

impl std::fmt::Display for LogExcerpt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some(log) = &self.log else {
            return Ok(());
        };
        write!(f, "\n  its log: {}", log.display())?;
        if self.lines.is_empty() {
            return Ok(());
        }
        write!(f, "\n  its last errors:")?;
        for line in &self.lines {
            write!(f, "\n    {line}")?;
        }
        Ok(())
    }
}

/// How much of a log's end is searched for errors, and how many are quoted.
const LOG_TAIL_BYTES: u64 = 256 * 1024;
const LOG_ERROR_LINES: usize = 6;
/// The longest log line quoted whole.
const LOG_LINE_LIMIT: usize = 400;

/// Whether a platform log line reports an error: Spring's and Log4j's `ERROR`, Egeria's
/// audit severities, a Java exception or its cause.
fn is_error_line(line: &str) -> bool {
    const MARKS: &[&str] = &[
        " ERROR ",
        " Error ",
        " Exception ",
        " Failure ",
        "Exception:",
        "Caused by:",
        "SEVERE",
    ];
    MARKS.iter().any(|mark| line.contains(mark))
}

/// The last `bytes` of a log as text; `None` when it cannot be read.
pub fn read_log_tail(log: &std::path::Path, bytes: u64) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(log).ok()?;
    let length = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(length.saturating_sub(bytes)))
        .ok()?;
    let mut tail = Vec::new();
    file.read_to_end(&mut tail).ok()?;
    Some(String::from_utf8_lossy(&tail).into_owned())
}

impl LogExcerpt {
    /// The last error lines of `log`; `None` when the log cannot be read.
    pub fn read(log: &std::path::Path) -> Self {
        let Some(text) = read_log_tail(log, LOG_TAIL_BYTES) else {
            return Self::default();
        };
        let mut lines: Vec<String> = text
            .lines()
            .rev()
            .filter(|line| is_error_line(line))
            .take(LOG_ERROR_LINES)
            .map(|line| quote_line(line.trim_end()))
            .collect();
        lines.reverse();
        Self {
            log: Some(log.to_path_buf()),
            lines,
        }
    }
}

fn quote_line(line: &str) -> String {
    match line.char_indices().nth(LOG_LINE_LIMIT) {
        Some((cut, _)) => format!("{}…", &line[..cut]),
        None => line.to_string(),
    }
}

fn user_action_suffix(action: &str) -> String {
    if action.is_empty() {
        String::new()
    } else {
        format!(" (user action: {action})")
    }
}

/// The longest piece of a response body quoted in an error.
const QUOTE_LIMIT: usize = 300;

fn quote(body: &str) -> String {
    let trimmed = body.trim();
    match trimmed.char_indices().nth(QUOTE_LIMIT) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_string(),
    }
}

/// Shared HTTP client for every lab endpoint. Lab platforms use self-signed certificates,
/// and this client only ever talks to addresses the substrate handed out, so it accepts
/// them; it is never used for anything outside the lab.
#[derive(Clone, Debug)]
pub struct EgeriaClient {
    http: reqwest::Client,
    user: String,
    /// Where each pod's log is (`<pod>.log`), when the lab can read them: a failed call
    /// then quotes the pod's last errors.
    pod_logs: Option<std::path::PathBuf>,
}

impl EgeriaClient {
    pub fn new(user: &str) -> Self {
        let http = reqwest::Client::builder()
            .tls_danger_accept_invalid_certs(true)
            .no_proxy()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("the lab's HTTP client configuration is static and valid");
        Self {
            http,
            user: user.to_string(),
            pod_logs: None,
        }
    }

    /// Failed calls quote the last errors of `<folder>/<pod>.log`.
    pub fn with_pod_logs(mut self, folder: std::path::PathBuf) -> Self {
        self.pod_logs = Some(folder);
        self
    }

    /// A platform reached at `base_url`, named `pod` in errors.
    pub fn platform(&self, pod: &str, base_url: &str) -> Platform {
        Platform {
            client: self.clone(),
            pod: pod.to_string(),
            base_url: base_url.trim_end_matches('/').to_string(),
        }
    }

    pub fn user(&self) -> &str {
        &self.user
    }
}

/// A client for traffic through the load-balancing service: the service balances
/// connections, not requests, so every request opens a new connection. Like
/// [`EgeriaClient`], it accepts the self-signed certificates of lab endpoints only.
pub fn fresh_connection_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .pool_max_idle_per_host(0)
        .no_proxy()
        .timeout(timeout)
        .build()
        .expect("the lab's HTTP client configuration is static and valid")
}

/// One OMAG Server Platform, as reached through one address.
#[derive(Clone, Debug)]
pub struct Platform {
    client: EgeriaClient,
    pod: String,
    base_url: String,
}

/// One REST call: what it is for (named in errors), where it goes and what it carries.
pub struct Call<'a> {
    pub step: &'a str,
    pub method: Method,
    pub path: String,
    pub body: Option<&'a Value>,
    pub timeout: Duration,
}

impl<'a> Call<'a> {
    pub fn get(step: &'a str, path: String) -> Self {
        Self {
            step,
            method: Method::GET,
            path,
            body: None,
            timeout: DEFAULT_CALL_TIMEOUT,
        }
    }

    pub fn post(step: &'a str, path: String, body: Option<&'a Value>) -> Self {
        Self {
            step,
            method: Method::POST,
            path,
            body,
            timeout: DEFAULT_CALL_TIMEOUT,
        }
    }

    pub fn delete(step: &'a str, path: String) -> Self {
        Self {
            step,
            method: Method::DELETE,
            path,
            body: None,
            timeout: DEFAULT_CALL_TIMEOUT,
        }
    }

    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

impl Platform {
    /// Another pod's platform, reached with this one's client (and its pod logs).
    pub fn sibling(&self, pod: &str, base_url: &str) -> Platform {
        self.client.platform(pod, base_url)
    }

    pub fn pod(&self) -> &str {
        &self.pod
    }

    pub fn user(&self) -> &str {
        &self.client.user
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Sends the call and returns the checked response envelope as JSON.
    pub async fn call(&self, call: Call<'_>) -> Result<Value, EgeriaError> {
        let text = self.send(&call).await.map_err(|e| self.with_log(e))?;
        self.checked(&call, &text).map_err(|e| self.with_log(*e))
    }

    /// The error with this pod's last log errors, where the lab reads its pods' logs.
    fn with_log(&self, mut error: EgeriaError) -> EgeriaError {
        let Some(folder) = &self.client.pod_logs else {
            return error;
        };
        match &mut error {
            EgeriaError::Transport { log, .. }
            | EgeriaError::Timeout { log, .. }
            | EgeriaError::Http { log, .. }
            | EgeriaError::Egeria { log, .. } => {
                *log = LogExcerpt::read(&folder.join(format!("{}.log", self.pod)));
            }
            EgeriaError::Unexpected { .. } => {}
        }
        error
    }

    /// Sends a call whose answer is plain text (the platform's origin); an answer that is
    /// an Egeria error envelope instead is checked as one.
    pub async fn call_text(&self, call: Call<'_>) -> Result<String, EgeriaError> {
        let text = self.send(&call).await.map_err(|e| self.with_log(e))?;
        if text.trim_start().starts_with('{') {
            self.checked(&call, &text).map_err(|e| self.with_log(*e))?;
        }
        Ok(text.trim().to_string())
    }

    /// Sends the call; returns the body of a successful HTTP answer.
    async fn send(&self, call: &Call<'_>) -> Result<String, EgeriaError> {
        let url = format!("{}{}", self.base_url, call.path);
        let fail = |detail: String| self.unexpected(call, detail);
        let mut request = self
            .client
            .http
            .request(call.method.clone(), &url)
            .timeout(call.timeout);
        if let Some(body) = call.body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| {
            if e.is_timeout() {
                EgeriaError::Timeout {
                    pod: self.pod.clone(),
                    step: call.step.to_string(),
                    url: url.clone(),
                    timeout: call.timeout,
                    log: LogExcerpt::default(),
                }
            } else {
                EgeriaError::Transport {
                    pod: self.pod.clone(),
                    step: call.step.to_string(),
                    url: url.clone(),
                    detail: error_chain(&e),
                    log: LogExcerpt::default(),
                }
            }
        })?;
        let status = response.status();
        let text = response
            .text()
            .await
            .map_err(|e| fail(format!("body unreadable: {e}")))?;
        if !status.is_success() {
            return Err(EgeriaError::Http {
                pod: self.pod.clone(),
                step: call.step.to_string(),
                url,
                status: status.as_u16(),
                body: quote(&text),
                log: LogExcerpt::default(),
            });
        }
        Ok(text)
    }

    fn unexpected(&self, call: &Call<'_>, detail: String) -> EgeriaError {
        EgeriaError::Unexpected {
            pod: self.pod.clone(),
            step: call.step.to_string(),
            url: format!("{}{}", self.base_url, call.path),
            detail,
        }
    }

    /// The body as a response envelope whose `relatedHTTPCode` says success.
    fn checked(&self, call: &Call<'_>, text: &str) -> Result<Value, Box<EgeriaError>> {
        let fail = |detail: String| Box::new(self.unexpected(call, detail));
        let envelope: Value = serde_json::from_str(text)
            .map_err(|e| fail(format!("not JSON ({e}): {}", quote(text))))?;
        check_envelope(&envelope).map_err(|problem| match problem {
            EnvelopeProblem::NotAnObject => fail(format!("not a response object: {}", quote(text))),
            EnvelopeProblem::Egeria(e) => Box::new(EgeriaError::Egeria {
                pod: self.pod.clone(),
                step: call.step.to_string(),
                url: format!("{}{}", self.base_url, call.path),
                related_http_code: e.related_http_code,
                exception_class: e.exception_class,
                message_id: e.message_id,
                message: e.message,
                user_action: e.user_action,
                log: LogExcerpt::default(),
            }),
        })?;
        Ok(envelope)
    }

    /// Sends the call and decodes one field of the checked envelope.
    pub async fn call_for<T: DeserializeOwned>(
        &self,
        call: Call<'_>,
        field: &str,
    ) -> Result<T, EgeriaError> {
        let step = call.step.to_string();
        let url = format!("{}{}", self.base_url, call.path);
        let envelope = self.call(call).await?;
        let value = envelope.get(field).cloned().unwrap_or(Value::Null);
        serde_json::from_value(value).map_err(|e| EgeriaError::Unexpected {
            pod: self.pod.clone(),
            step,
            url,
            detail: format!("field {field:?}: {e}"),
        })
    }
}

/// The body creating a GlossaryTerm named `qualified_name`: a well-known type every
/// Egeria (and the stand-in) has.
pub fn glossary_term_request(qualified_name: &str) -> serde_json::Value {
    serde_json::json!({
        "class": "EntityCreateRequest",
        "entityTypeGUID": GLOSSARY_TERM,
        "initialProperties": {"class": "InstanceProperties", "instanceProperties": {
            "qualifiedName": {"class": "PrimitivePropertyValue", "instancePropertyCategory": "PRIMITIVE",
                              "primitiveDefCategory": "OM_PRIMITIVE_TYPE_STRING",
                              "primitiveValue": qualified_name}}},
    })
}

const GLOSSARY_TERM: &str = "0db3e6ec-f5ef-4d75-ae38-b7ee6fd6ec0a";

/// Percent-encodes one path segment (profile names hold spaces, test-case ids `<` `>`).
pub fn encode_path_segment(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[derive(Debug, PartialEq, Eq)]
struct EgeriaException {
    related_http_code: u16,
    exception_class: String,
    message_id: String,
    message: String,
    user_action: String,
}

#[derive(Debug, PartialEq, Eq)]
enum EnvelopeProblem {
    NotAnObject,
    Egeria(EgeriaException),
}

/// An Egeria response envelope is a JSON object; a `relatedHTTPCode` other than 200 makes
/// it an error, whatever the HTTP status said.
fn check_envelope(envelope: &Value) -> Result<(), EnvelopeProblem> {
    let object = envelope.as_object().ok_or(EnvelopeProblem::NotAnObject)?;
    let code = object
        .get("relatedHTTPCode")
        .and_then(Value::as_u64)
        .unwrap_or(200);
    if code == 200 {
        return Ok(());
    }
    let text = |key: &str| {
        object
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    Err(EnvelopeProblem::Egeria(EgeriaException {
        related_http_code: u16::try_from(code).unwrap_or(u16::MAX),
        exception_class: text("exceptionClassName"),
        message_id: text("exceptionErrorMessageId"),
        message: text("exceptionErrorMessage"),
        user_action: text("exceptionUserAction"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_200_envelope_passes() {
        assert_eq!(
            check_envelope(&json!({"class": "VoidResponse", "relatedHTTPCode": 200})),
            Ok(())
        );
    }

    #[test]
    fn related_http_code_inside_a_200_body_is_an_error() {
        let body = json!({
            "class": "VoidResponse",
            "relatedHTTPCode": 400,
            "exceptionClassName": "org.odpi.openmetadata.adminservices.ffdc.exception.OMAGInvalidParameterException",
            "exceptionErrorMessageId": "OMAG-ADMIN-400-001",
            "exceptionErrorMessage": "OMAG-ADMIN-400-001 bad",
            "exceptionUserAction": "fix it",
        });
        let Err(EnvelopeProblem::Egeria(e)) = check_envelope(&body) else {
            panic!("accepted an error envelope");
        };
        assert_eq!(e.related_http_code, 400);
        assert_eq!(e.message_id, "OMAG-ADMIN-400-001");
        assert_eq!(e.user_action, "fix it");
    }

    #[test]
    fn a_log_excerpt_quotes_the_last_error_lines_only() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("lab-crux-0.log");
        let mut text = String::from("2026-12-06T05:00:00 INFO started\n");
        for i in 0..10 {
            text.push_str(&format!(
                "2026-12-06T05:00:0{i} ERROR xtdb.tx : Ingester error occurred {i}\n"
            ));
            text.push_str("Sun Dec 06 crux Information OMRS-AUDIT-8009 sent an event\n");
        }
        text.push_str(
            "java.lang.ClassCastException: class clojure.lang.PersistentVector cannot be cast\n",
        );
        std::fs::write(&log, text).unwrap();
        let excerpt = LogExcerpt::read(&log);
        assert_eq!(excerpt.lines.len(), LOG_ERROR_LINES);
        assert!(excerpt.lines.last().unwrap().contains("ClassCastException"));
        assert!(
            excerpt.lines[0].contains("occurred 5"),
            "{:?}",
            excerpt.lines
        );
        assert!(excerpt.lines.iter().all(|l| !l.contains("OMRS-AUDIT-8009")));
        let shown = excerpt.to_string();
        assert!(shown.contains("its last errors:"), "{shown}");
        assert!(
            shown.contains(&format!("its log: {}\n", log.display())),
            "{shown}"
        );
        assert_eq!(LogExcerpt::default().to_string(), "");
        assert_eq!(
            LogExcerpt::read(&dir.path().join("absent.log")),
            LogExcerpt::default()
        );
    }

    #[test]
    fn a_non_object_body_is_refused() {
        assert_eq!(
            check_envelope(&json!([1, 2])),
            Err(EnvelopeProblem::NotAnObject)
        );
    }

    /// Serves one canned JSON body on a loopback port; returns the base URL.
    async fn canned(body: Value) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = axum::Router::new().fallback(move || {
            let body = body.clone();
            async move { axum::Json(body) }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{address}")
    }

    #[tokio::test]
    async fn an_egeria_error_names_pod_step_url_and_message() {
        let base = canned(json!({
            "class": "VoidResponse",
            "relatedHTTPCode": 400,
            "exceptionClassName": "OMAGInvalidParameterException",
            "exceptionErrorMessageId": "OMAG-ADMIN-400-001",
            "exceptionErrorMessage": "OMAG-ADMIN-400-001 no such thing",
        }))
        .await;
        let platform = EgeriaClient::new("myuser").platform("lab-crux-7", &base);
        let error = platform
            .admin("crux")
            .set_server_type("Crux")
            .await
            .unwrap_err();
        let message = error.to_string();
        for needle in [
            "lab-crux-7",
            "set server type",
            "/servers/crux/server-type",
            "no such thing",
        ] {
            assert!(
                message.contains(needle),
                "{needle:?} missing from {message}"
            );
        }
    }

    #[tokio::test]
    async fn the_origin_is_plain_text_unless_egeria_answers_with_an_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(|| async { "Egeria OMAG Server Platform (version 3.10)\n" });
        tokio::spawn(async move { axum::serve(listener, app).await });
        let platform = EgeriaClient::new("myuser").platform("lab-crux-0", &base);
        assert_eq!(
            platform.origin().await.unwrap(),
            "Egeria OMAG Server Platform (version 3.10)"
        );

        let base = canned(json!({"class": "VoidResponse", "relatedHTTPCode": 403,
            "exceptionErrorMessage": "OMAG-PLATFORM-403 not allowed"}))
        .await;
        let platform = EgeriaClient::new("myuser").platform("lab-crux-0", &base);
        let error = platform.origin().await.unwrap_err();
        assert!(
            matches!(
                error,
                EgeriaError::Egeria {
                    related_http_code: 403,
                    ..
                }
            ),
            "{error}"
        );
    }

    #[tokio::test]
    async fn a_missing_field_is_an_unexpected_answer() {
        let base =
            canned(json!({"class": "OMAGServerConfigResponse", "relatedHTTPCode": 200})).await;
        let platform = EgeriaClient::new("myuser").platform("lab-pts", &base);
        let error = platform.admin("crux").configuration().await.unwrap_err();
        assert!(matches!(error, EgeriaError::Unexpected { .. }), "{error}");
    }

    #[tokio::test]
    async fn a_platform_that_never_answers_times_out_with_its_name() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        // Accepts connections but never answers: the request must end on its deadline.
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(stream);
            }
        });
        let platform = EgeriaClient::new("myuser").platform("lab-crux-0", &base);
        let call =
            Call::get("read configuration", "/x".into()).with_timeout(Duration::from_millis(200));
        let error = platform.call(call).await.unwrap_err();
        assert!(matches!(error, EgeriaError::Timeout { .. }), "{error}");
        assert!(error.to_string().contains("lab-crux-0"));
    }

    #[test]
    fn path_segments_are_percent_encoded() {
        assert_eq!(encode_path_segment("Entity creation"), "Entity%20creation");
        assert_eq!(encode_path_segment("a<b>/c"), "a%3Cb%3E%2Fc");
    }

    #[test]
    fn quotes_are_bounded() {
        let long = "x".repeat(QUOTE_LIMIT * 3);
        assert_eq!(quote(&long).chars().count(), QUOTE_LIMIT + 1);
        assert_eq!(quote(" short "), "short");
    }
}
