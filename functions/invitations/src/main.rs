//! The `invitations` group as an AWS Lambda function.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::http::run_lambda(krv_invitations::routes()).await
}
