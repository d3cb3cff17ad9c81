//! `POST /api/members/login`

use api::routes::HttpFunction;
use api::runtime::{Error, serve_http};

#[tokio::main]
async fn main() -> Result<(), Error> {
    serve_http(HttpFunction::Login).await
}
