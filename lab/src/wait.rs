//! Deadline-bound waiting: short polls with a capped backoff, so a condition is noticed
//! within ~100 ms of becoming true, and a wait that gives up names what it waited for.

use std::future::Future;
use std::time::{Duration, Instant};

/// First pause between two probes; doubled up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
/// The cap keeps detection latency well under the 200 ms the lab promises.
pub const MAX_BACKOFF: Duration = Duration::from_millis(100);
/// How often a long wait says it is still waiting.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
#[error("gave up waiting for {what} after {}: {last}", humantime::format_duration(round_ms(*waited)))]
pub struct DeadlineExceeded {
    pub what: String,
    pub waited: Duration,
    /// Why the last probe said "not yet".
    pub last: String,
}

fn round_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_millis() as u64)
}

/// Probes until it yields `Ok(value)`; `Err(reason)` means "not yet, because …".
/// Every [`PROGRESS_EVERY`] a line on stderr says what is still awaited and why.
pub async fn poll_until<T, F, Fut>(
    what: &str,
    deadline: Duration,
    mut probe: F,
) -> Result<T, DeadlineExceeded>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    let mut backoff = FIRST_BACKOFF;
    let mut next_progress = start + PROGRESS_EVERY;
    loop {
        let last = match probe().await {
            Ok(value) => return Ok(value),
            Err(reason) => reason,
        };
        let now = Instant::now();
        let waited = now - start;
        if waited >= deadline {
            return Err(DeadlineExceeded {
                what: what.to_string(),
                waited,
                last,
            });
        }
        if now >= next_progress {
            eprintln!(
                "  still waiting for {what} ({}s of {}s): {last}",
                waited.as_secs(),
                deadline.as_secs()
            );
            next_progress = now + PROGRESS_EVERY;
        }
        tokio::time::sleep(backoff.min(deadline - waited)).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn returns_the_first_success() {
        let calls = AtomicU32::new(0);
        let value = poll_until("three calls", Duration::from_secs(5), || async {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n < 3 {
                Err(format!("call {n}"))
            } else {
                Ok(n)
            }
        })
        .await
        .unwrap();
        assert_eq!(value, 3);
    }

    #[tokio::test]
    async fn deadline_error_names_what_and_why() {
        let err = poll_until("the moon", Duration::from_millis(50), || async {
            Err::<(), _>("still rising".to_string())
        })
        .await
        .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("the moon"), "{message}");
        assert!(message.contains("still rising"), "{message}");
        assert!(err.waited >= Duration::from_millis(50));
    }
}
