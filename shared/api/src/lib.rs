//! Everything the Lambda functions share: one way to parse requests, build the response
//! envelope and map errors; the handler of every route and job; configuration and
//! tracing. A function's `main` names its route (`routes::ROUTES`) or job; `runtime`
//! reads its settings, checks what it needs, builds `Services` and serves it.

pub mod authorizer;
pub mod envelope;
pub mod idempotency;
pub mod jobs;
pub mod request;
pub mod routes;
pub mod runtime;
pub mod services;
pub mod telemetry;

pub use envelope::ApiError;
pub use services::Services;
