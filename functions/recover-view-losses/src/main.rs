//! Every 5 minutes: fold views recorded in the loss ledger (Redis was down) into MySQL, exactly once.

use api::jobs::ScheduledFunction;
use api::runtime::{Error, serve_job};

#[tokio::main]
async fn main() -> Result<(), Error> {
    serve_job(ScheduledFunction::RecoverViewLosses).await
}
