//! `cargo xtask bench collect`: how long the PTS flow takes to collect many test-case
//! reports, concurrently and one at a time, from a conformance endpoint on loopback that
//! spends a fixed time on each answer (as a real platform spends assembling a report).

use lab::egeria::EgeriaClient;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct CollectBench {
    /// Test-case reports to collect.
    #[arg(long, default_value_t = 1000)]
    test_cases: usize,
    /// Time the endpoint spends on each answer.
    #[arg(long, default_value = "10ms", value_parser = humantime::parse_duration)]
    server_time: Duration,
    /// Concurrency of the collection (the lab's default).
    #[arg(long, default_value_t = 16)]
    parallel: usize,
}

/// A real-sized test-case report (a few kB of assertions).
fn report(id: &str) -> Value {
    let assertions: Vec<String> = (0..40)
        .map(|i| format!("{id}-assertion-{i}: Repository performs the operation on the type"))
        .collect();
    json!({"class": "TestCaseReportResponse", "relatedHTTPCode": 200, "testCaseResult": {
        "class": "OpenMetadataTestCaseResult", "testCaseId": id, "testCaseName": "Repository performance test case",
        "successfulAssertions": assertions, "unsuccessfulAssertions": [], "notSupportAssertions": []}})
}

async fn serve(bench: &CollectBench) -> anyhow::Result<String> {
    let ids: Arc<Vec<String>> = Arc::new(
        (0..bench.test_cases)
            .map(|i| format!("repository-entity-creation-performance-<Type{i}>"))
            .collect(),
    );
    let delay = bench.server_time;
    let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
        let ids = ids.clone();
        async move {
            tokio::time::sleep(delay).await;
            let path = uri.path();
            match path.rsplit_once("/report/test-cases/") {
                Some((_, id)) => axum::Json(report(id)),
                None => axum::Json(json!({"class": "TestCaseListResponse", "relatedHTTPCode": 200, "testCaseIds": *ids})),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{address}"))
}

pub async fn run(bench: CollectBench) -> anyhow::Result<()> {
    let base = serve(&bench).await?;
    let platform = EgeriaClient::new("myuser").platform("bench-pts", &base);
    let root = super::run_folder("collect")?;
    let mut timings = Vec::new();
    for parallel in [bench.parallel, 1] {
        let dir = root.join(format!("parallel-{parallel}"));
        std::fs::create_dir_all(&dir)?;
        let started = Instant::now();
        let (count, _) = lab::pts::collect_test_cases(&platform, "pts", &dir, parallel).await?;
        let elapsed = started.elapsed();
        anyhow::ensure!(
            count == bench.test_cases,
            "collected {count} of {}",
            bench.test_cases
        );
        println!(
            "collected {count} test-case reports with concurrency {parallel:>2}: {:.2}s",
            elapsed.as_secs_f64()
        );
        timings.push(elapsed);
    }
    let concurrent = timings[0].as_secs_f64();
    println!(
        "target: 1,000 test-case documents in under 5 s: {concurrent:.2}s — {} ({:.1}x faster than one at a time)",
        if concurrent < 5.0 { "met" } else { "NOT met" },
        timings[1].as_secs_f64() / concurrent
    );
    std::fs::remove_dir_all(&root)?;
    Ok(())
}
