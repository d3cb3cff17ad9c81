//! Lambda authorizer of the protected routes: verifies the access token.

use api::runtime::{Error, serve_authorizer};

#[tokio::main]
async fn main() -> Result<(), Error> {
    serve_authorizer().await
}
