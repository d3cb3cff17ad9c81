use lambda_http::request::RequestContext;
use lambda_http::{Request, RequestExt};
use tracing_subscriber::EnvFilter;

/// The span of one HTTP request. `member_id` is filled in by handlers once the caller is
/// known; secrets, tokens and card data are never span fields.
pub fn request_span(function: &'static str, req: &Request) -> tracing::Span {
    let request_id = match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.request_id.clone().unwrap_or_default(),
        _ => String::new(),
    };
    let member_id = crate::request::caller(req).map(|m| m.0);
    tracing::info_span!("request", function, request_id = %request_id, member_id)
}

/// JSON logs for CloudWatch (one object per line); `RUST_LOG` picks the level.
/// Safe to call more than once (later calls are no-ops), which tests rely on.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        // Every enclosing span's fields (function, request id, member, order) on each line.
        .with_span_list(true)
        .with_target(false)
        .without_time()
        .try_init();
}
