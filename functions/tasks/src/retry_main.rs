//! Re-announces tasks whose webhook delivery failed: a Lambda run on a
//! schedule (the local server does the same in a loop every 15 seconds).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::run_scheduled(|state| async move {
        let delivered = krv_tasks::retry_dispatch(&state).await?;
        if delivered > 0 {
            tracing::info!(delivered, "re-announced tasks to the scheduler");
        }
        Ok(serde_json::json!({ "delivered": delivered }))
    })
    .await
}
