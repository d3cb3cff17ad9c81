//! What every function's `main` does: set up tracing, build its clients once, then serve
//! invocations with them until the execution environment is retired.

use crate::jobs::ScheduledFunction;
use crate::routes::HttpFunction;
use crate::services::{CallBudget, Needs, Services, Settings};
use crate::telemetry;
use lambda_runtime::{LambdaEvent, service_fn};
use secrecy::ExposeSecret;

pub type Error = lambda_runtime::Error;

pub async fn serve_http(function: HttpFunction) -> Result<(), Error> {
    telemetry::init();
    adapters::metrics::set_function(function.name());
    let services = services(function.route().needs, CallBudget::REQUEST).await?;
    let services = &services;
    lambda_http::run(lambda_http::service_fn(move |req| async move {
        Ok::<_, Error>(function.handle(services, req).await)
    }))
    .await
}

pub async fn serve_job(function: ScheduledFunction) -> Result<(), Error> {
    telemetry::init();
    adapters::metrics::set_function(function.name());
    let services = services(function.needs(), CallBudget::JOB).await?;
    let services = &services;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<_>| async move {
        function.handle(services, event).await
    }))
    .await
}

pub async fn serve_authorizer() -> Result<(), Error> {
    telemetry::init();
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    // Only the signing key: the authorizer reads no database or Redis setting.
    let key = crate::services::load_token_key(&aws).await?;
    let tokens = app::auth::TokenIssuer::new(key.expose_secret().as_bytes());
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
    let services = services(Needs::MYSQL, CallBudget::JOB).await?;
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

/// The function's clients, after its settings and secrets were read and everything it
/// `needs` was found (else the cold start fails, naming the missing setting).
async fn services(needs: Needs, budget: CallBudget) -> Result<Services, Error> {
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let settings = Settings::load(&aws).await?;
    settings.require(needs)?;
    Ok(Services::for_needs(&settings, &aws, budget, needs)?)
}

/// Lambda's longest function timeout: a deadline further away than this is not one.
const LONGEST_INVOCATION_SECS: i64 = 15 * 60;

/// When the invocation must end, from the runtime's `Lambda-Runtime-Deadline-Ms` (epoch
/// milliseconds). None when there is none (0, the local gateway) or it makes no sense:
/// in the past or beyond Lambda's longest timeout (cargo lambda's emulator sends a
/// duration, 600000, there). A wrong deadline must not shrink a budget to nothing.
pub fn invocation_deadline(deadline_ms: u64) -> Option<chrono::DateTime<chrono::Utc>> {
    let deadline = chrono::DateTime::from_timestamp_millis(i64::try_from(deadline_ms).ok()?)?;
    let now = chrono::Utc::now();
    (deadline > now && deadline <= now + chrono::Duration::seconds(LONGEST_INVOCATION_SECS))
        .then_some(deadline)
}

#[cfg(test)]
mod tests {
    use super::invocation_deadline;

    #[test]
    fn only_a_deadline_an_invocation_can_have_counts() {
        let now_ms = chrono::Utc::now().timestamp_millis() as u64;
        let cases = [
            (0, false),
            (600_000, false),
            (now_ms - 1_000, false),
            (now_ms + 29_000, true),
            (now_ms + 14 * 60_000, true),
            (now_ms + 20 * 60_000, false),
        ];
        for (deadline, valid) in cases {
            assert_eq!(invocation_deadline(deadline).is_some(), valid, "{deadline}");
        }
    }
}
