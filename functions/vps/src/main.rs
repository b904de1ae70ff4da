//! The `vps` group as an AWS Lambda function.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::app::run_lambda(krv_vps::routes()).await
}
