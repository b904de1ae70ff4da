//! Announcing tasks to the scheduler: when a task becomes `assigning`, it is
//! POSTed to `DISPATCH_WEBHOOK_URL`, signed with HMAC-SHA256. The task is
//! committed before any announcement, so a failed webhook never loses it (it is
//! always listed by `GET /api/tasks?status=assigning`) and never blocks it: a
//! request spends at most `DISPATCH_TIMEOUT_MS` trying, then the task is marked
//! for retry and [`retry_due`] tries again with growing pauses.
//!
//! Signature header: `X-KohakuRiver-Signature: t=<unix seconds>,v1=<hex>`, where
//! `<hex>` is HMAC-SHA256 over `"<t>.<body>"` with `DISPATCH_WEBHOOK_SECRET`;
//! receivers should also refuse old `t` values (replays).

use std::time::Duration;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::db::StoreError;
use crate::db::Stores;
use crate::tasks::{self, TaskRecord, TaskView};
use crate::types::Timestamp;

pub const SIGNATURE_HEADER: &str = "x-kohakuriver-signature";

/// Attempts before a task's announcement is given up (it stays `assigning`).
const MAX_ATTEMPTS: u32 = 20;

/// The webhook client, built once.
#[derive(Clone)]
pub struct Dispatcher {
    client: reqwest::Client,
    url: String,
    secret: SecretString,
    timeout: Duration,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").field("url", &self.url).finish_non_exhaustive()
    }
}

/// `t=<t>,v1=<hmac>` for `body` sent at `t`.
pub fn signature(secret: &str, t: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

impl Dispatcher {
    pub fn new(url: &str, secret: SecretString, timeout: Duration) -> Result<Self, StoreError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(1)))
            .build()
            .map_err(|e| StoreError::Internal(anyhow::anyhow!("webhook client: {e}")))?;
        Ok(Self { client, url: url.to_owned(), secret, timeout })
    }

    /// One delivery; true when the receiver answered 2xx.
    async fn send(&self, payload: &Value) -> bool {
        let body = payload.to_string().into_bytes();
        let signed = signature(self.secret.expose_secret(), Timestamp::now().seconds(), &body);
        let result = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signed)
            .body(body)
            .send()
            .await;
        match result {
            Ok(response) if response.status().is_success() => true,
            Ok(response) => {
                tracing::warn!(status = response.status().as_u16(), "dispatch webhook refused a task");
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "dispatch webhook unreachable");
                false
            }
        }
    }

    /// Announces `task`, trying a few times within the timeout, and records the
    /// outcome on the task (`delivered`, or `pending` with when to try again).
    pub async fn announce(&self, stores: &Stores, task: &TaskRecord) -> Result<bool, StoreError> {
        let payload = payload(task);
        let deadline = tokio::time::Instant::now() + self.timeout;
        let mut attempts = task.dispatch_attempts;
        let mut pause = Duration::from_millis(100);
        loop {
            attempts += 1;
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            let delivered = tokio::time::timeout(remaining, self.send(&payload)).await.unwrap_or(false);
            if delivered {
                tasks::set_dispatch(stores, task.id, "delivered", attempts, None).await?;
                return Ok(true);
            }
            if tokio::time::Instant::now() + pause >= deadline || attempts >= MAX_ATTEMPTS {
                break;
            }
            tokio::time::sleep(pause).await;
            pause *= 2;
        }
        if attempts >= MAX_ATTEMPTS {
            tasks::set_dispatch(stores, task.id, "failed", attempts, None).await?;
        } else {
            // Growing pauses between retries: 5 s, 10 s, … up to an hour.
            let wait = 5_000_i64.saturating_mul(1 << attempts.min(10)).min(3_600_000);
            tasks::set_dispatch(stores, task.id, "pending", attempts, Some(Timestamp::now().millis() + wait)).await?;
        }
        Ok(false)
    }
}

/// The announcement's body: the task in full, as the tasks API shows it.
pub fn payload(task: &TaskRecord) -> Value {
    json!({"event": "task.assigning", "task": TaskView::full(task)})
}

/// Tries again every task whose announcement is due; returns how many went
/// through. The local server runs this periodically.
pub async fn retry_due(dispatcher: &Dispatcher, stores: &Stores) -> Result<usize, StoreError> {
    let mut delivered = 0;
    // Both calls boxed, so the scheduled Lambda's future stays within the
    // compiler's depth for computing layouts (the SDK's and reqwest's futures nest deep).
    let due = Box::pin(tasks::due_for_dispatch(stores, Timestamp::now().millis())).await?;
    for task in due {
        if Box::pin(dispatcher.announce(stores, &task)).await? {
            delivered += 1;
        }
    }
    Ok(delivered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_cover_time_and_body() {
        let a = signature("k".repeat(32).as_str(), 100, b"{}");
        assert!(a.starts_with("t=100,v1="));
        assert_eq!(a.len(), "t=100,v1=".len() + 64);
        assert_ne!(a, signature("k".repeat(32).as_str(), 101, b"{}"));
        assert_ne!(a, signature("k".repeat(32).as_str(), 100, b"{ }"));
        assert_ne!(a, signature("j".repeat(32).as_str(), 100, b"{}"));
    }
}
