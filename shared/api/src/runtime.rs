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
    adapters::metrics::set_function(function.name());
    let services = Services::from_env(RedisTimeouts::REQUEST).await?;
    let services = &services;
    lambda_http::run(lambda_http::service_fn(move |req| async move {
        Ok::<_, Error>(function.handle(services, req).await)
    }))
    .await
}

pub async fn serve_job(function: ScheduledFunction) -> Result<(), Error> {
    telemetry::init();
    adapters::metrics::set_function(function.name());
    let services = Services::from_env(RedisTimeouts::JOB).await?;
    let services = &services;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        function.handle(services, event).await
    }))
    .await
}

pub async fn serve_authorizer() -> Result<(), Error> {
    telemetry::init();
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let settings = crate::services::Settings::load(&aws).await?;
    let key = settings
        .token_signing_key
        .ok_or("TOKEN_SIGNING_KEY is not configured")?;
    let tokens = app::auth::TokenIssuer::new(key.as_bytes());
    let tokens = &tokens;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(crate::authorizer::handle(tokens, event.payload))
    }))
    .await
}

/// The migration function: applies `infra/migrations` (already-applied ones are skipped,
/// so the pipeline can invoke it on every deploy) and answers how many are applied.
pub async fn serve_migrate() -> Result<(), Error> {
    telemetry::init();
    adapters::metrics::set_function("migrate");
    let services = Services::from_env(RedisTimeouts::JOB).await?;
    let services = &services;
    lambda_runtime::run(service_fn(
        move |_: LambdaEvent<serde_json::Value>| async move {
            services.store.migrate().await?;
            let applied = services.store.applied_migrations().await?;
            tracing::info!(applied, "database migrations applied");
            Ok::<_, Error>(serde_json::json!({ "appliedMigrations": applied }))
        },
    ))
    .await
}
