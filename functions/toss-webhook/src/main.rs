//! `POST /api/payments/toss/webhook`

use api::routes::HttpFunction;
use api::runtime::{Error, serve_http};

#[tokio::main]
async fn main() -> Result<(), Error> {
    serve_http(HttpFunction::TossWebhook).await
}
