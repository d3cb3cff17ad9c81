//! Applies the database migrations; invoked by the deploy pipeline (`make deploy`).

use api::runtime::{Error, serve_migrate};

#[tokio::main]
async fn main() -> Result<(), Error> {
    serve_migrate().await
}
