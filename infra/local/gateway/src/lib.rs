//! A local stand-in for API Gateway (HTTP API, payload v2) in front of the Lambda
//! functions. Each request becomes the event API Gateway would send, is parsed by
//! `lambda_http` exactly as in Lambda, and is answered by the same handler the deployed
//! function runs.
//!
//! Local-only extras (they do not exist in deployment):
//! - `POST /local/jobs/{function}` runs a scheduled function with the EventBridge event in
//!   the body (or an empty one); the event's `time` is "now".
//! - Protected routes run the Lambda authorizer's code first: no `Authorization` header →
//!   401 `{"message":"Unauthorized"}`, a bad token → 403 `{"message":"Forbidden"}`, as API
//!   Gateway answers (these two bodies are API Gateway's, not our envelope).
//! - Header `x-local-time: <RFC 3339>` sets the request time (`requestContext.timeEpoch`,
//!   or the job's `time`), so the KST midnight rollover can be watched by hand.
//! - The web front end: GET/HEAD outside `/api/` and `/local/` serve the files of `web/`
//!   (or `WEB_ROOT`; `/` is `index.html`), on the API's origin; deployed, CloudFront
//!   serves them from S3 ([`site`]).
//! - `GET /config.js`: the pages' configuration, `window.APP_CONFIG = {"apiBase": "",
//!   "tossSdkUrl": …}`, the SDK from `WEB_TOSS_SDK_URL` or the sandbox's stand-in at
//!   `$TOSS_API_BASE/v2/standard`; deployed, a static file written per environment.
//!
//! `requestContext.http.sourceIp` is the caller's real address (the TCP peer), as API
//! Gateway reports it, so the per-client limits see distinct clients.

pub mod site;

pub use site::{Site, with_site};

use api::jobs::ScheduledFunction;
use api::routes::HttpFunction;
use api::{ApiError, Services};
use aws_lambda_events::eventbridge::EventBridgeEvent;
use axum::Router;
use axum::body::{Body as AxumBody, to_bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, Utc};
use domain::ErrorCode;
use serde_json::{Map, Value, json};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

/// API Gateway's own payload limit.
const MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;
pub const LOCAL_TIME_HEADER: &str = "x-local-time";

/// Every route of the template, with the web front end of `Site::from_env` in front.
pub fn router(services: Arc<Services>) -> Router {
    with_site(api_router(services), Site::from_env())
}

/// The API alone: every request becomes a function's event (or a local job's run).
pub fn api_router(services: Arc<Services>) -> Router {
    Router::new().fallback(dispatch).with_state(services)
}

/// Serves `router` on `listener` until the future resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    services: Arc<Services>,
) -> std::io::Result<()> {
    serve_router(listener, router(services)).await
}

/// Serves any router with each request's peer address attached (`ConnectInfo`), which the
/// events' `sourceIp` comes from.
pub async fn serve_router(listener: tokio::net::TcpListener, app: Router) -> std::io::Result<()> {
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}

/// The caller's address, as API Gateway reports it in `sourceIp`: the TCP peer `serve`
/// attached. A router driven without a socket (e.g. `oneshot` in a test) has none, and
/// gets 127.0.0.1, the address every event carried before.
fn peer_ip(parts: &axum::http::request::Parts) -> IpAddr {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip().to_canonical())
        .unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}

async fn dispatch(State(services): State<Arc<Services>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_owned();
    let bytes = match to_bytes(body, MAX_REQUEST_BYTES).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return api_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                "요청 본문이 너무 큽니다.",
            );
        }
    };
    let time = match local_time(&parts.headers) {
        Ok(time) => time,
        Err(e) => return into_axum(e.into_response()),
    };
    if let Some(name) = path.strip_prefix("/local/jobs/") {
        return local_job(&services, &parts.method, name, &bytes, time).await;
    }
    let routes = most_specific_routes(&path);
    let chosen = routes
        .iter()
        .find(|(function, _)| parts.method.as_str() == function.method());
    match chosen {
        Some((function, params)) => {
            invoke(&services, *function, &parts, params, &bytes, time).await
        }
        None => {
            let allowed: Vec<&str> = routes
                .iter()
                .map(|(function, _)| function.method())
                .collect();
            no_route(&allowed)
        }
    }
}

/// `POST /local/jobs/{function}`: a scheduled function run by hand.
async fn local_job(
    services: &Services,
    method: &Method,
    name: &str,
    body: &[u8],
    time: DateTime<Utc>,
) -> Response {
    if method != Method::POST {
        return api_error(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            "POST만 허용됩니다.",
        );
    }
    run_job(services, name, body, time).await
}

/// The routes whose template fits `path`, with their bound parameters, most specific
/// only: a literal segment beats a `{parameter}`, so `/api/payments/toss/checkout` is
/// the checkout resource, not an order id.
fn most_specific_routes(path: &str) -> Vec<(HttpFunction, Vec<(String, String)>)> {
    let matches: Vec<(HttpFunction, Vec<(String, String)>)> = HttpFunction::ALL
        .into_iter()
        .filter_map(|f| match_path(f.path(), path).map(|params| (f, params)))
        .collect();
    let fewest_params = matches.iter().map(|(_, p)| p.len()).min().unwrap_or(0);
    matches
        .into_iter()
        .filter(|(_, p)| p.len() == fewest_params)
        .collect()
}

/// Runs `function` on the event API Gateway would send it, behind the authorizer if
/// the route is protected.
async fn invoke(
    services: &Services,
    function: HttpFunction,
    parts: &axum::http::request::Parts,
    params: &[(String, String)],
    body: &[u8],
    time: DateTime<Utc>,
) -> Response {
    let mut event = http_api_event(function, parts, params, body, time, peer_ip(parts));
    if function.requires_token() {
        match lambda_authorizer(services, &parts.headers) {
            Ok(authorizer) => event["requestContext"]["authorizer"] = authorizer,
            Err(refusal) => return *refusal,
        }
    }
    let request = match lambda_http::request::from_str(&event.to_string()) {
        Ok(request) => request,
        Err(e) => {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("local gateway built a bad event: {e}"),
            )
                .into_response();
        }
    };
    let response = function.handle(services, request).await;
    into_axum(response)
}

/// What API Gateway does with the Lambda authorizer, with the same code: the event's
/// `requestContext.authorizer`, or API Gateway's own refusal.
fn lambda_authorizer(services: &Services, headers: &HeaderMap) -> Result<Value, Box<Response>> {
    let Some(tokens) = services.tokens.as_ref() else {
        let misconfigured = (
            StatusCode::INTERNAL_SERVER_ERROR,
            "TOKEN_SIGNING_KEY is not set",
        );
        return Err(Box::new(misconfigured.into_response()));
    };
    if !headers.contains_key("authorization") {
        return Err(gateway_refusal(StatusCode::UNAUTHORIZED, "Unauthorized"));
    }
    let decision = api::authorizer::authorize(tokens, headers);
    if !decision.is_authorized {
        return Err(gateway_refusal(StatusCode::FORBIDDEN, "Forbidden"));
    }
    Ok(json!({ "lambda": decision.context }))
}

/// API Gateway's own refusal body (`{"message": …}`), not our envelope.
fn gateway_refusal(status: StatusCode, message: &str) -> Box<Response> {
    Box::new((status, axum::Json(json!({ "message": message }))).into_response())
}

/// No route serves this method on this path: 405 if another method is served, else 404.
fn no_route(allowed: &[&str]) -> Response {
    if !allowed.is_empty() {
        let mut response = api_error(
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            "허용되지 않은 메서드입니다.",
        );
        // RFC 9110: a 405 names the methods the path does serve.
        if let Ok(value) = axum::http::HeaderValue::from_str(&allowed.join(", ")) {
            response
                .headers_mut()
                .insert(axum::http::header::ALLOW, value);
        }
        response
    } else {
        api_error(
            StatusCode::NOT_FOUND,
            ErrorCode::RouteNotFound,
            "요청한 경로를 찾을 수 없습니다.",
        )
    }
}

fn api_error(status: StatusCode, code: ErrorCode, message: &str) -> Response {
    into_axum(ApiError::refusal(status, code, message).into_response())
}

fn local_time(headers: &HeaderMap) -> Result<DateTime<Utc>, ApiError> {
    match headers.get(LOCAL_TIME_HEADER) {
        None => Ok(Utc::now()),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or_else(|| {
                ApiError::input(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidField,
                    "x-local-time: RFC 3339 시각이어야 합니다 (예: 2026-11-24T23:59:59+09:00).",
                )
            }),
    }
}

/// `{name}` segments of a route template bound to the request path, or None.
pub fn match_path(template: &str, path: &str) -> Option<Vec<(String, String)>> {
    let mut params = Vec::new();
    let mut template_parts = template.trim_end_matches('/').split('/');
    let mut path_parts = path.trim_end_matches('/').split('/');
    loop {
        match (template_parts.next(), path_parts.next()) {
            (None, None) => return Some(params),
            (Some(t), Some(p)) if t.starts_with('{') && t.ends_with('}') && !p.is_empty() => {
                let value = percent_decode(p);
                params.push((t[1..t.len() - 1].to_owned(), value));
            }
            (Some(t), Some(p)) if t == p => {}
            _ => return None,
        }
    }
}

fn percent_decode(segment: &str) -> String {
    form_urlencoded::parse(format!("x={}", segment.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// The API Gateway HTTP API (payload 2.0) event for this request.
fn http_api_event(
    function: HttpFunction,
    parts: &axum::http::request::Parts,
    params: &[(String, String)],
    body: &[u8],
    time: DateTime<Utc>,
    source_ip: IpAddr,
) -> Value {
    let raw_query = parts.uri.query().unwrap_or("");
    let path_parameters: Map<String, Value> = params
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    let route_key = format!("{} {}", function.method(), function.path());
    let (body, is_base64) = event_body(body);
    json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": parts.uri.path(),
        "rawQueryString": raw_query,
        "headers": joined_headers(&parts.headers),
        "queryStringParameters": object_or_null(query_parameters(raw_query)),
        "pathParameters": object_or_null(path_parameters),
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip.to_string(),
                "userAgent": parts.headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or(""),
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": route_key,
            "stage": "$default",
            "time": time.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": time.timestamp_millis(),
        },
        "body": body,
        "isBase64Encoded": is_base64,
    })
}

/// Headers as payload 2.0 carries them: one string per name, repeated ones comma-joined.
fn joined_headers(headers: &HeaderMap) -> Map<String, Value> {
    let mut joined = Map::new();
    for (name, value) in headers {
        let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
        append_joined(&mut joined, name.as_str().to_owned(), value);
    }
    joined
}

/// The query string as payload 2.0 carries it: repeated names comma-joined.
fn query_parameters(raw_query: &str) -> Map<String, Value> {
    let mut query = Map::new();
    for (name, value) in form_urlencoded::parse(raw_query.as_bytes()) {
        append_joined(&mut query, name.into_owned(), value.into_owned());
    }
    query
}

fn append_joined(map: &mut Map<String, Value>, name: String, value: String) {
    let joined = match map.get(&name).and_then(Value::as_str) {
        Some(existing) => format!("{existing},{value}"),
        None => value,
    };
    map.insert(name, Value::String(joined));
}

/// API Gateway leaves an empty parameter map out of the event rather than send `{}`.
fn object_or_null(map: Map<String, Value>) -> Value {
    if map.is_empty() {
        Value::Null
    } else {
        Value::Object(map)
    }
}

/// The event's `body` and `isBase64Encoded`: null when empty, base64 when not UTF-8.
fn event_body(body: &[u8]) -> (Value, bool) {
    match std::str::from_utf8(body) {
        _ if body.is_empty() => (Value::Null, false),
        Ok(text) => (Value::String(text.to_owned()), false),
        Err(_) => (
            Value::String(base64::engine::general_purpose::STANDARD.encode(body)),
            true,
        ),
    }
}

async fn run_job(services: &Services, name: &str, body: &[u8], time: DateTime<Utc>) -> Response {
    let Some(function) = ScheduledFunction::by_name(name) else {
        return api_error(
            StatusCode::NOT_FOUND,
            ErrorCode::RouteNotFound,
            "그런 스케줄 함수가 없습니다.",
        );
    };
    let mut event: Value = if body.is_empty() {
        json!({ "detail-type": "Scheduled Event", "source": "aws.scheduler", "detail": {} })
    } else {
        match serde_json::from_slice(body) {
            Ok(value) => value,
            Err(_) => {
                return api_error(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::InvalidJson,
                    "EventBridge 이벤트 JSON이 아닙니다.",
                );
            }
        }
    };
    if let Some(object) = event.as_object_mut() {
        object.insert("time".into(), Value::String(time.to_rfc3339()));
    }
    let event: EventBridgeEvent = match serde_json::from_value(event) {
        Ok(event) => event,
        Err(e) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidJson,
                &format!("EventBridge 이벤트 형식이 아닙니다: {e}"),
            );
        }
    };
    let invocation = lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
    match function.handle(services, invocation).await {
        Ok(summary) => axum::Json(summary).into_response(),
        Err(e) => {
            let diagnostic = lambda_runtime::Diagnostic::from(e);
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({ "errorType": diagnostic.error_type, "errorMessage": diagnostic.error_message })),
            )
                .into_response()
        }
    }
}

fn into_axum(response: lambda_http::Response<lambda_http::Body>) -> Response {
    let (parts, body) = response.into_parts();
    let bytes: Vec<u8> = match body {
        lambda_http::Body::Text(text) => text.into_bytes(),
        lambda_http::Body::Binary(bytes) => bytes,
        _ => Vec::new(),
    };
    Response::from_parts(parts, AxumBody::from(bytes))
}

#[cfg(test)]
mod tests;
