use tracing_subscriber::EnvFilter;

/// JSON logs for CloudWatch (one object per line); `RUST_LOG` picks the level.
/// Safe to call more than once (later calls are no-ops), which tests rely on.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .without_time()
        .try_init();
}
