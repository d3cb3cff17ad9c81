//! Every minute: finish payments whose outcome was unknown or whose confirm died, expire abandoned checkouts, publish outbox events.

use api::jobs::ScheduledFunction;
use api::runtime::{Error, serve_job};

#[tokio::main]
async fn main() -> Result<(), Error> {
    serve_job(ScheduledFunction::RecoverPayments).await
}
