//! What every function's `main` does: set up tracing, build its clients once, then serve
//! invocations with them until the execution environment is retired.

use crate::jobs::ScheduledFunction;
use crate::routes::HttpFunction;
use crate::services::Services;
use crate::telemetry;
use adapters::RedisTimeouts;
use lambda_runtime::{LambdaEvent, service_fn};

pub type Error = lambda_runtime::Error;

pub async fn serve_http(function: HttpFunction) -> Result<(), Error> {
    telemetry::init();
    let services = Services::from_env(RedisTimeouts::REQUEST).await?;
    let services = &services;
    lambda_http::run(lambda_http::service_fn(move |req| async move {
        Ok::<_, Error>(function.handle(services, req).await)
    }))
    .await
}

pub async fn serve_job(function: ScheduledFunction) -> Result<(), Error> {
    telemetry::init();
    let services = Services::from_env(RedisTimeouts::JOB).await?;
    let services = &services;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        function.handle(services, event).await
    }))
    .await
}
