//! `POST /api/payments/toss/{orderId}/refund`

use api::routes::HttpFunction;
use api::runtime::{Error, serve_http};

#[tokio::main]
async fn main() -> Result<(), Error> {
    serve_http(HttpFunction::Refund).await
}
