//! The PTS flow (ARCHITECTURE.md §2 steps 6–9): configure and start the PTS server, wait
//! for its workbench with a deadline and progress, then collect every report with bounded
//! concurrency into the upstream layout, and package it as upstream did.

use crate::egeria::pts::{WORKBENCH_ID, WorkbenchConfig};
use crate::egeria::{EgeriaClient, EgeriaError, Platform, connector};
use crate::report::archive::TarGzWriter;
use crate::settings::LabSettings;
use crate::substrate::{Role, Substrate, SubstrateError};
use futures::StreamExt;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

#[derive(Clone, Debug)]
pub struct PtsOptions {
    pub workbench: WorkbenchConfig,
    /// How long the workbench may run before the lab collects what exists and gives up.
    pub timeout: Duration,
    /// How many report documents are fetched at once.
    pub parallelism: usize,
    pub start_deadline: Duration,
    /// Where the pods' logs are (local labs): the PTS pod's is read for a workbench that
    /// gave up half-way.
    pub pod_logs: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum PtsError {
    #[error(
        "{0} already holds PTS results; a run's results are never overwritten (start a new run, or pass --out)"
    )]
    ResultsExist(PathBuf),
    #[error(transparent)]
    Substrate(#[from] SubstrateError),
    #[error("the lab has no PTS pod")]
    NoPtsPod,
    #[error(transparent)]
    Egeria(Box<EgeriaError>),
    #[error("writing {path}: {error}")]
    Write {
        path: PathBuf,
        error: std::io::Error,
    },
}

impl From<EgeriaError> for PtsError {
    fn from(error: EgeriaError) -> Self {
        Self::Egeria(Box::new(error))
    }
}

/// Per-profile figures printed after a run.
#[derive(Clone, Debug, PartialEq)]
pub struct ProfileLine {
    pub profile: String,
    pub calls: usize,
    pub failed: usize,
    pub median_ms: Option<f64>,
    /// What each failed call was, in the workbench's own words.
    pub failures: Vec<FailedCall>,
}

/// One piece of negative evidence: which assertion of which test case failed, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct FailedCall {
    pub test_case: String,
    pub assertion: String,
    pub method: Option<String>,
    /// `UNSUCCESSFUL_ASSERTION`, `UNEXPECTED_EXCEPTION`, …
    pub kind: String,
    /// The exception's message when the call threw.
    pub message: Option<String>,
}

impl FailedCall {
    fn of_evidence(evidence: &Value) -> Self {
        let text = |value: &Value| value.as_str().map(str::to_string);
        let exception = &evidence["conformanceException"];
        Self {
            test_case: text(&evidence["testCaseId"]).unwrap_or_else(|| "(no test case id)".into()),
            assertion: text(&evidence["assertionId"]).unwrap_or_else(|| "(no assertion id)".into()),
            method: text(&evidence["methodName"]),
            kind: text(&evidence["testEvidenceType"])
                .unwrap_or_else(|| "(no evidence type)".into()),
            message: text(&exception["errorMessage"])
                .or_else(|| text(&exception["exceptionClassName"])),
        }
    }

    /// One line: the kind, the assertion (and method), the test case, the message.
    pub fn describe(&self) -> String {
        let method = self
            .method
            .as_deref()
            .map(|m| format!(" ({m})"))
            .unwrap_or_default();
        // Egeria's messages carry every parameter of the call: the start says what failed.
        let message = self
            .message
            .as_deref()
            .map(|m| match m.char_indices().nth(MESSAGE_SHOWN) {
                Some((cut, _)) => format!(": {}… (whole in the profile's report)", &m[..cut]),
                None => format!(": {m}"),
            })
            .unwrap_or_default();
        format!(
            "{} {}{method} in {}{message}",
            self.kind, self.assertion, self.test_case
        )
    }
}

#[derive(Debug)]
pub struct PtsRun {
    pub dir: PathBuf,
    /// False when the deadline passed before the workbench completed.
    pub complete: bool,
    pub profiles: Vec<ProfileLine>,
    pub test_cases: usize,
    pub never_ran: usize,
    /// The workbench's own words when its test run threw and it gave up half-way (it
    /// then says it is complete all the same), with the log they are quoted from.
    pub stopped_early: Option<String>,
}

impl PtsRun {
    /// Why the results are partial, if they are (`INCOMPLETE.json`'s reason): `timeout`
    /// was the PTS's deadline.
    fn partial(&self, timeout: Duration) -> Option<String> {
        if !self.complete {
            return Some(format!(
                "the PTS did not complete within {}",
                humantime::format_duration(timeout)
            ));
        }
        self.stopped_early.as_ref().map(|why| {
            format!(
                "the PTS workbench gave up before its last profile: {why}\n  every profile after that \
                 never ran"
            )
        })
    }

    /// The command's error when the results are partial.
    pub fn shortfall(&self, timeout: Duration) -> Option<String> {
        self.partial(timeout).map(|why| {
            format!(
                "{why}; the results in {} are partial (see INCOMPLETE.json)",
                self.dir.display()
            )
        })
    }
}

/// The audit code a conformance workbench logs when its test run throws; it then marks
/// itself complete anyway, and every later profile never runs.
const WORKBENCH_FAILURE: &str = "CONFORMANCE-SUITE-0009";

/// The last `WORKBENCH_FAILURE` line of a PTS pod's log, quoted from the code on, with
/// the log's path; `None` when there is none (or no log to read).
fn workbench_failure(log: &Path) -> Option<String> {
    use std::io::BufRead;
    let file = std::fs::File::open(log).ok()?;
    let line = std::io::BufReader::new(file)
        .split(b'\n')
        .map_while(Result::ok)
        .filter_map(|line| {
            let line = String::from_utf8_lossy(&line).into_owned();
            line.find(WORKBENCH_FAILURE)
                .map(|at| line[at..].trim_end().to_string())
        })
        .last()?;
    Some(format!("{line} (in {})", log.display()))
}

pub async fn run_pts<S: Substrate>(
    substrate: &S,
    client: &EgeriaClient,
    settings: &LabSettings,
    out: &Path,
    options: &PtsOptions,
) -> Result<PtsRun, PtsError> {
    if out.exists() {
        return Err(PtsError::ResultsExist(out.to_path_buf()));
    }
    let pods = substrate.list_pods().await?;
    let pts_pod = pods.with_role(Role::Pts).next().ok_or(PtsError::NoPtsPod)?;
    let pts = client.platform(&pts_pod.name, &pts_pod.platform_url());
    configure_and_start(&pts, substrate, settings, options).await?;

    let complete = wait_for_workbench(&pts, &settings.pts_server, options.timeout).await?;
    let stopped_early = options
        .pod_logs
        .as_ref()
        .and_then(|logs| workbench_failure(&logs.join(format!("{}.log", pts_pod.name))));
    let collected = collect(&pts, substrate, client, settings, out, options).await?;
    let run = PtsRun {
        dir: out.to_path_buf(),
        complete,
        stopped_early,
        ..collected
    };
    if let Some(reason) = run.partial(options.timeout) {
        write(
            &out.join("INCOMPLETE.json"),
            &serde_json::json!({
                "reason": reason,
                "collected": "whatever reports existed when the workbench stopped",
            }),
        )?;
    }
    Ok(run)
}

/// §2 step 6 on the PTS platform for the PTS server.
async fn configure_and_start<S: Substrate>(
    pts: &Platform,
    substrate: &S,
    settings: &LabSettings,
    options: &PtsOptions,
) -> Result<(), EgeriaError> {
    let admin = pts.admin(&settings.pts_server);
    // A PTS server left running by an earlier, interrupted run would ignore new settings.
    if pts.active_servers().await?.contains(&settings.pts_server) {
        admin.stop_instance().await?;
    }
    let golden_store = &substrate.endpoints().golden_store_bootstrap;
    admin.set_server_url_root(pts.base_url()).await?;
    admin
        .set_server_type(crate::egeria::pts::SERVER_TYPE)
        .await?;
    admin
        .set_event_bus(connector::TOPIC_URL_ROOT, golden_store)
        .await?;
    admin.join_cohort(&settings.cohort).await?;
    admin
        .set_performance_workbench(&options.workbench.to_request())
        .await?;
    admin.start_instance(options.start_deadline).await?;
    Ok(())
}

/// Polls the workbench status (short polls with backoff), printing progress; returns
/// whether it completed before the deadline.
async fn wait_for_workbench(
    pts: &Platform,
    server: &str,
    deadline: Duration,
) -> Result<bool, EgeriaError> {
    let started = Instant::now();
    let mut next_progress = Duration::ZERO;
    let mut pause = Duration::from_millis(50);
    loop {
        if pts.workbench_complete(server, WORKBENCH_ID).await? {
            eprintln!(
                "  workbench complete after {:.1}s",
                started.elapsed().as_secs_f64()
            );
            return Ok(true);
        }
        let elapsed = started.elapsed();
        if elapsed >= deadline {
            eprintln!(
                "  workbench not complete after {}: collecting what exists",
                humantime::format_duration(Duration::from_secs(elapsed.as_secs()))
            );
            return Ok(false);
        }
        if elapsed >= next_progress {
            let cases = pts
                .test_case_ids(server)
                .await
                .map(|ids| ids.len())
                .unwrap_or(0);
            eprintln!(
                "  PTS running: {}s elapsed, {cases} test cases so far",
                elapsed.as_secs()
            );
            next_progress = elapsed + Duration::from_secs(5);
        }
        tokio::time::sleep(pause.min(deadline - elapsed)).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// PTS calls made so far, as the profile reports count them: a call is one piece of
/// evidence, a failed call a negative one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CallCount {
    pub calls: usize,
    pub failed: usize,
}

impl std::ops::Sub for CallCount {
    type Output = CallCount;

    fn sub(self, earlier: CallCount) -> CallCount {
        CallCount {
            calls: self.calls.saturating_sub(earlier.calls),
            failed: self.failed.saturating_sub(earlier.failed),
        }
    }
}

/// How far a running PTS workbench has got, read from its own reports while it runs.
pub struct PtsProgress {
    pts: Platform,
    server: String,
}

/// Profile reports read at once while sampling.
const SAMPLE_PARALLEL: usize = 8;

impl PtsProgress {
    pub async fn new<S: Substrate>(
        substrate: &S,
        client: &EgeriaClient,
        settings: &LabSettings,
    ) -> Result<Self, PtsError> {
        let pods = substrate.list_pods().await?;
        let pod = pods.with_role(Role::Pts).next().ok_or(PtsError::NoPtsPod)?;
        Ok(Self {
            pts: client.platform(&pod.name, &pod.platform_url()),
            server: settings.pts_server.clone(),
        })
    }

    /// The calls so far, and whether the workbench has completed.
    pub async fn sample(&self) -> Result<(CallCount, bool), EgeriaError> {
        let complete = self
            .pts
            .workbench_complete(&self.server, WORKBENCH_ID)
            .await?;
        let names = self.pts.profile_names(&self.server).await?;
        let reports = fetch_all(&names, SAMPLE_PARALLEL, |name| async move {
            self.pts.profile_report(&self.server, &name).await
        })
        .await?;
        let count = names
            .iter()
            .zip(&reports)
            .map(|(name, report)| profile_line(name, report))
            .fold(CallCount::default(), |sum, line| CallCount {
                calls: sum.calls + line.calls,
                failed: sum.failed + line.failed,
            });
        Ok((count, complete))
    }

    /// Waits until the workbench runs and has made calls, the moment faults may start;
    /// an error when it completes first or `deadline` passes.
    pub async fn wait_for_calls(&self, deadline: Duration) -> anyhow::Result<CallCount> {
        let started = Instant::now();
        let mut last = String::from("no answer yet");
        while started.elapsed() < deadline {
            match self.sample().await {
                Ok((_, true)) => anyhow::bail!(
                    "the PTS workbench completed before the first fault: no fault would land \
                     during the PTS; give it more volume (--instances-per-type) or fewer \
                     skipped profiles"
                ),
                Ok((count, false)) if count.calls > 0 => return Ok(count),
                Ok(_) => last = "running, no call made yet".into(),
                // Not configured or started yet: `pts` is doing that meanwhile.
                Err(error) => last = error.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        anyhow::bail!(
            "the PTS workbench made no call within {}: {last}",
            humantime::format_duration(deadline)
        )
    }
}

/// File names as upstream writes them: spaces and the characters of test-case ids that
/// file systems dislike become `_`.
pub fn file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-._".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn write(path: &Path, value: &Value) -> Result<(), PtsError> {
    let mut text = serde_json::to_string(value).expect("JSON values serialise");
    text.push('\n');
    std::fs::write(path, text).map_err(|error| PtsError::Write {
        path: path.to_path_buf(),
        error,
    })
}

async fn collect<S: Substrate>(
    pts: &Platform,
    substrate: &S,
    client: &EgeriaClient,
    settings: &LabSettings,
    out: &Path,
    options: &PtsOptions,
) -> Result<PtsRun, PtsError> {
    let server = settings.pts_server.as_str();
    let profiles_dir = out.join("profile-details");
    let cases_dir = out.join("test-case-details");
    for dir in [&profiles_dir, &cases_dir] {
        std::fs::create_dir_all(dir).map_err(|error| PtsError::Write {
            path: dir.clone(),
            error,
        })?;
    }
    let summary = pts
        .conformance_report(server, "read report summary", "report/summary")
        .await?;
    write(&out.join("openmetadata_cts_summary.json"), &summary)?;

    let names = pts.profile_names(server).await?;
    let profiles: Vec<(String, Value)> =
        fetch_all(&names, options.parallelism, |name| async move {
            pts.profile_report(server, &name)
                .await
                .map(|report| (name, report))
        })
        .await?;
    let mut lines = Vec::new();
    for (name, report) in &profiles {
        write(
            &profiles_dir.join(format!("{}.json", file_name(name))),
            report,
        )?;
        lines.push(profile_line(name, report));
    }

    let (test_cases, never_ran) =
        collect_test_cases(pts, server, &cases_dir, options.parallelism).await?;

    record_environment(pts, substrate, client, settings, out).await?;
    package(out, &settings.release)?;
    Ok(PtsRun {
        dir: out.to_path_buf(),
        complete: true,
        profiles: lines,
        test_cases,
        never_ran,
        stopped_early: None,
    })
}

/// Fetches every test case's report (bounded concurrency) into `dir`; returns how many
/// there were and how many never ran.
pub async fn collect_test_cases(
    pts: &Platform,
    server: &str,
    dir: &Path,
    parallelism: usize,
) -> Result<(usize, usize), PtsError> {
    let ids = pts.test_case_ids(server).await?;
    let cases: Vec<(String, Value)> = fetch_all(&ids, parallelism, |id| async move {
        pts.test_case_report(server, &id)
            .await
            .map(|report| (id, report))
    })
    .await?;
    let mut never_ran = 0;
    for (id, report) in &cases {
        never_ran += usize::from(report.get("testCaseResult").is_none());
        write(&dir.join(format!("{}.json", file_name(id))), report)?;
    }
    Ok((cases.len(), never_ran))
}

/// Fetches one document per key, at most `parallelism` at a time, in key order.
async fn fetch_all<'a, T, F, Fut>(
    keys: &[String],
    parallelism: usize,
    fetch: F,
) -> Result<Vec<T>, EgeriaError>
where
    F: Fn(String) -> Fut,
    Fut: std::future::Future<Output = Result<T, EgeriaError>> + 'a,
{
    futures::stream::iter(keys.iter().cloned().map(fetch))
        .buffered(parallelism.max(1))
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}

pub(crate) fn profile_line(name: &str, report: &Value) -> ProfileLine {
    let evidence = |kind: &str| -> Vec<Value> {
        report["profileResult"]["requirementResults"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r[kind].as_array().cloned().unwrap_or_default())
            .collect()
    };
    let mut times: Vec<u64> = evidence("positiveTestEvidence")
        .iter()
        .filter_map(|e| e["elapsedTime"].as_u64())
        .collect();
    let failures: Vec<FailedCall> = evidence("negativeTestEvidence")
        .iter()
        .map(FailedCall::of_evidence)
        .collect();
    times.sort_unstable();
    let median_ms = match times.len() {
        0 => None,
        n if n % 2 == 1 => Some(times[n / 2] as f64),
        n => Some((times[n / 2 - 1] + times[n / 2]) as f64 / 2.0),
    };
    ProfileLine {
        profile: name.to_string(),
        calls: times.len() + failures.len(),
        failed: failures.len(),
        median_ms,
        failures,
    }
}

/// §2 step 9: both servers' configuration and cohort registrations, under upstream's names.
async fn record_environment<S: Substrate>(
    pts: &Platform,
    substrate: &S,
    client: &EgeriaClient,
    settings: &LabSettings,
    out: &Path,
) -> Result<(), PtsError> {
    let service = client.platform("crux service", &substrate.endpoints().connector_service_url);
    let cohort = &settings.cohort;
    for (platform, server, label) in [
        (pts, settings.pts_server.as_str(), "pts"),
        (&service, settings.connector_server.as_str(), "crux"),
    ] {
        let admin = platform.admin(server);
        let config = retrying(|| admin.configuration_response()).await?;
        write(&out.join(format!("omag.server.{label}.config")), &config)?;
        let local = retrying(|| platform.metadata_highway(server, "local-registration")).await?;
        write(&out.join(format!("cohort.{cohort}.{label}.local")), &local)?;
        let remote_path = format!("cohorts/{cohort}/remote-members");
        let remote = retrying(|| platform.metadata_highway(server, &remote_path)).await?;
        write(
            &out.join(format!("cohort.{cohort}.{label}.remote")),
            &remote,
        )?;
    }
    Ok(())
}

/// How long one environment record may keep failing: during an outage the golden store
/// can be electing a new leader, and the cohort answers again once it has.
const ENVIRONMENT_RETRY: Duration = Duration::from_secs(30);

/// Calls again (with backoff) until the call succeeds or [`ENVIRONMENT_RETRY`] passes,
/// then returns the last error.
async fn retrying<T, F, Fut>(mut call: F) -> Result<T, EgeriaError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, EgeriaError>>,
{
    let started = Instant::now();
    let mut pause = Duration::from_millis(100);
    loop {
        match call().await {
            Ok(value) => return Ok(value),
            Err(error) if started.elapsed() >= ENVIRONMENT_RETRY => return Err(error),
            Err(error) => eprintln!("  retrying: {error}"),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(2));
    }
}

/// `pd.tar.gz`, `tcd.tar.gz` and `<release>.tar.gz` holding everything, as upstream.
fn package(out: &Path, release: &str) -> Result<(), PtsError> {
    let fail = |path: &Path| {
        let path = path.to_path_buf();
        move |error| PtsError::Write { path, error }
    };
    for (folder, archive) in [
        ("profile-details", "pd.tar.gz"),
        ("test-case-details", "tcd.tar.gz"),
    ] {
        let target = out.join(archive);
        tar_files(&target, out, &[folder]).map_err(fail(&target))?;
    }
    let mut top: Vec<String> = std::fs::read_dir(out)
        .map_err(fail(out))?
        .filter_map(Result::ok)
        .filter(|entry| entry.path().is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    let release_archive = out.join(format!("{release}.tar.gz"));
    let refs: Vec<&str> = top.iter().map(String::as_str).collect();
    tar_files(&release_archive, out, &refs).map_err(fail(&release_archive))
}

/// Writes `target` holding the given files or folders (one level) of `base`.
fn tar_files(target: &Path, base: &Path, entries: &[&str]) -> std::io::Result<()> {
    let mut writer = TarGzWriter::new(std::fs::File::create(target)?);
    for entry in entries {
        let path = base.join(entry);
        if path.is_dir() {
            let mut files: Vec<_> = std::fs::read_dir(&path)?.filter_map(Result::ok).collect();
            files.sort_by_key(|f| f.file_name());
            for file in files {
                let name = format!("{entry}/{}", file.file_name().to_string_lossy());
                writer.add_file(&name, &std::fs::read(file.path())?)?;
            }
        } else {
            writer.add_file(entry, &std::fs::read(&path)?)?;
        }
    }
    writer.finish()?;
    Ok(())
}

pub fn render_table(run: &PtsRun) -> String {
    if run.profiles.iter().all(|line| line.calls == 0) {
        return format!(
            "the PTS recorded no call in any profile ({} test cases)\n",
            run.test_cases
        );
    }
    let mut out = format!(
        "{:<32} {:>7} {:>7} {:>10}\n",
        "PROFILE", "CALLS", "FAILED", "MEDIAN ms"
    );
    for line in run.profiles.iter().filter(|l| l.calls > 0) {
        out.push_str(&format!(
            "{:<32} {:>7} {:>7} {:>10}\n",
            line.profile,
            line.calls,
            line.failed,
            line.median_ms
                .map(|m| format!("{m:.1}"))
                .unwrap_or_else(|| "-".into())
        ));
    }
    let failures: Vec<(&str, &FailedCall)> = run
        .profiles
        .iter()
        .flat_map(|line| line.failures.iter().map(|f| (line.profile.as_str(), f)))
        .collect();
    if !failures.is_empty() {
        out.push_str(&format!("failed calls ({}):\n", failures.len()));
    }
    for (profile, failure) in failures.iter().take(FAILURES_LISTED) {
        out.push_str(&format!("  {profile}: {}\n", failure.describe()));
    }
    if failures.len() > FAILURES_LISTED {
        out.push_str(&format!(
            "  … and {} more, in {}\n",
            failures.len() - FAILURES_LISTED,
            run.dir.join("profile-details").display()
        ));
    }
    out
}

/// Characters of a failed call's message shown under the table.
const MESSAGE_SHOWN: usize = 400;

/// Failed calls named one by one under the table; the rest are counted.
const FAILURES_LISTED: usize = 10;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A PTS platform answering the workbench status with `complete` and one profile
    /// holding `calls` successful and `failed` failed calls.
    async fn pts_platform(complete: bool, calls: usize, failed: usize) -> PtsProgress {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let evidence = |n: usize| vec![json!({"elapsedTime": 5}); n];
        let profile = json!({"class": "ProfileReportResponse", "relatedHTTPCode": 200,
            "profileResult": {"requirementResults": [{
                "positiveTestEvidence": evidence(calls), "negativeTestEvidence": evidence(failed)}]}});
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let path = uri.path().to_string();
            let profile = profile.clone();
            async move {
                axum::Json(if path.ends_with("/status/workbenches/performance-workbench") {
                    json!({"relatedHTTPCode": 200, "workbenchStatus": {"workbenchComplete": complete}})
                } else if path.ends_with("/report/profiles") {
                    json!({"relatedHTTPCode": 200, "profileNames": ["Entity creation"]})
                } else {
                    profile
                })
            }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        PtsProgress {
            pts: EgeriaClient::new("myuser").platform("lab-pts", &base),
            server: "pts".into(),
        }
    }

    #[tokio::test]
    async fn faults_wait_for_calls_and_a_finished_pts_is_refused() {
        let running = pts_platform(false, 7, 2).await;
        assert_eq!(
            running
                .wait_for_calls(Duration::from_secs(5))
                .await
                .unwrap(),
            CallCount {
                calls: 9,
                failed: 2
            }
        );
        let finished = pts_platform(true, 7, 0).await;
        let error = finished
            .wait_for_calls(Duration::from_secs(5))
            .await
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("completed before the first fault"),
            "{error}"
        );
        let idle = pts_platform(false, 0, 0).await;
        let error = idle
            .wait_for_calls(Duration::from_millis(300))
            .await
            .unwrap_err()
            .to_string();
        assert!(error.contains("made no call within 300ms"), "{error}");
    }

    #[test]
    fn failed_calls_are_listed_under_the_table_in_the_workbench_words() {
        let failure = |n: usize| {
            json!({"testEvidenceType": "UNEXPECTED_EXCEPTION", "assertionId": format!("search-{n}"),
                "methodName": "findRelationships", "testCaseId": "repository-relationship-search-performance-T",
                "conformanceException": {"exceptionClassName": "FunctionNotSupportedException",
                    "errorMessage": "OMRS-REPOSITORY-400-001 regex not supported"}})
        };
        let report = json!({"profileResult": {"requirementResults": [{
            "positiveTestEvidence": [{"elapsedTime": 5}],
            "negativeTestEvidence": (0..12).map(failure).collect::<Vec<_>>(),
        }]}});
        let run = PtsRun {
            dir: PathBuf::from("/runs/r/pts"),
            complete: true,
            profiles: vec![profile_line("Relationship search", &report)],
            test_cases: 1,
            never_ran: 0,
            stopped_early: None,
        };
        let table = render_table(&run);
        assert!(table.contains("failed calls (12):"), "{table}");
        assert!(
            table.contains("  Relationship search: UNEXPECTED_EXCEPTION search-0 (findRelationships) in repository-relationship-search-performance-T: OMRS-REPOSITORY-400-001 regex not supported\n"),
            "{table}"
        );
        assert!(table.contains("search-9 "), "{table}");
        let long = FailedCall {
            message: Some("x".repeat(1000)),
            ..profile_line("Relationship search", &report).failures[0].clone()
        };
        assert!(
            long.describe().ends_with(&format!(
                "{}… (whole in the profile's report)",
                "x".repeat(400)
            )),
            "{}",
            long.describe()
        );
        assert!(!table.contains("search-10 "), "{table}");
        assert!(
            table.contains("… and 2 more, in /runs/r/pts/profile-details"),
            "{table}"
        );
        let cut_short = PtsRun {
            profiles: vec![profile_line("Entity creation", &json!({}))],
            test_cases: 0,
            ..run
        };
        assert_eq!(
            render_table(&cut_short),
            "the PTS recorded no call in any profile (0 test cases)\n"
        );
    }

    #[test]
    fn a_workbench_that_gave_up_half_way_is_a_partial_run() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("lab-pts.log");
        std::fs::write(
            &log,
            "Sun Dec 06 09:10:40 UTC 2026 pts Event OMRS-AUDIT-8009 sent\n\
             Sun Dec 06 09:10:41 UTC 2026 pts Error CONFORMANCE-SUITE-0009 The Open Metadata \
             Conformance Workbench performance-workbench is unable to run its tests; error \
             message is null\n2026-12-06T09:10:41Z ERROR Unexpected error.\n",
        )
        .unwrap();
        let why = workbench_failure(&log).expect("the failure is found");
        assert!(
            why.starts_with("CONFORMANCE-SUITE-0009 The Open Metadata Conformance Workbench performance-workbench is unable to run its tests; error message is null (in "),
            "{why}"
        );
        let run = PtsRun {
            dir: dir.path().join("pts"),
            complete: true,
            profiles: Vec::new(),
            test_cases: 7772,
            never_ran: 232,
            stopped_early: Some(why),
        };
        let shortfall = run.shortfall(Duration::from_secs(60)).unwrap();
        assert!(
            shortfall.contains("gave up before its last profile: CONFORMANCE-SUITE-0009"),
            "{shortfall}"
        );
        assert!(shortfall.contains("lab-pts.log"), "{shortfall}");
        std::fs::write(&log, "OMRS-AUDIT-8009 sent\n").unwrap();
        assert_eq!(workbench_failure(&log), None);
        assert_eq!(workbench_failure(&dir.path().join("absent.log")), None);
    }

    #[test]
    fn file_names_replace_spaces_and_angle_brackets() {
        assert_eq!(file_name("Entity creation"), "Entity_creation");
        assert_eq!(file_name("case-<Glossary>"), "case-_Glossary_");
    }

    #[test]
    fn profile_lines_count_failures_and_take_the_median() {
        let report = json!({"profileResult": {"requirementResults": [{
            "positiveTestEvidence": [{"elapsedTime": 5}, {"elapsedTime": 1}, {"elapsedTime": 3}, {"elapsedTime": 9}],
            "negativeTestEvidence": [{"elapsedTime": 100}],
        }]}});
        let line = profile_line("Entity creation", &report);
        assert_eq!(line.calls, 5);
        assert_eq!(line.failed, 1);
        assert_eq!(line.median_ms, Some(4.0));
        assert_eq!(line.failures[0].kind, "(no evidence type)");
        let never = profile_line("Entity purge", &json!({"profileResult": {}}));
        assert_eq!((never.calls, never.median_ms), (0, None));
    }
}
