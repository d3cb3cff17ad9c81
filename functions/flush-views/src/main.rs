//! 01:00 Asia/Seoul: flush closed days' view counts from Redis to MySQL, then fold in recovered losses.

use api::jobs::ScheduledFunction;
use api::runtime::{Error, serve_job};

#[tokio::main]
async fn main() -> Result<(), Error> {
    serve_job(ScheduledFunction::FlushViews).await
}
