//! `cargo xtask bench probe`: whether the continuity probe keeps its schedule at a high
//! rate (its own overhead), against an endpoint on loopback that answers at once.

use lab::outage::probe::{Probe, ProbeConfig};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct ProbeBench {
    /// Requests per second.
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// How long to probe.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,
}

pub async fn run(bench: ProbeBench) -> anyhow::Result<()> {
    let app = axum::Router::new().fallback(|| async {
        axum::Json(
            json!({"class": "EntityDetailResponse", "relatedHTTPCode": 200,
                          "entity": {"class": "EntityDetail", "guid": uuid_like()}}),
        )
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    let probe = Arc::new(Probe::new(ProbeConfig {
        service_url: format!("http://{address}"),
        server: "crux".into(),
        user: "myuser".into(),
        rate: bench.rate,
        timeout: Duration::from_secs(2),
        marker: "bench".into(),
    }));
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(bench.duration).await;
        let _ = stop_tx.send(true);
    });
    let result = probe.run(stop_rx).await;
    stopper.await?;
    let expected = (bench.rate * bench.duration.as_secs_f64()) as usize;
    let failed = result.samples.iter().filter(|s| !s.ok).count();
    println!(
        "probe at {} requests/s for {}: {} requests sent (schedule: {expected}), {failed} failed, worst lateness {} ms",
        bench.rate,
        humantime::format_duration(bench.duration),
        result.samples.len(),
        result.worst_lateness_ms
    );
    println!(
        "target: keeps its schedule within 10 ms at {} requests/s: {}",
        bench.rate,
        if result.worst_lateness_ms <= 10 {
            "met"
        } else {
            "NOT met"
        }
    );
    Ok(())
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos()
    )
}
