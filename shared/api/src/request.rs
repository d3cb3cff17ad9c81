//! Reading what a request carries: JSON bodies, path and query parameters, request time.

use crate::envelope::ApiError;
use chrono::{DateTime, TimeZone, Utc};
use domain::ErrorCode;
use lambda_http::http::{StatusCode, header};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde::de::DeserializeOwned;

/// Largest JSON body accepted; the biggest legitimate one (a signup) is a few KB.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Parses the body as a JSON object of type `T`.
pub fn json_body<T: DeserializeOwned>(req: &Request) -> Result<T, ApiError> {
    if let Some(content_type) = req.headers().get(header::CONTENT_TYPE) {
        let is_json = content_type
            .to_str()
            .map(|v| {
                v.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("application/json")
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::input(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorCode::InvalidJson,
                "Content-Type은 application/json 이어야 합니다.",
            ));
        }
    }
    let bytes: &[u8] = match req.body() {
        Body::Empty => b"",
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::input(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::PayloadTooLarge,
            format!("요청 본문은 {MAX_BODY_BYTES} 바이트 이하여야 합니다."),
        ));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|_| {
        ApiError::input(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidJson,
            "요청 본문이 올바른 JSON이 아닙니다.",
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::input(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidJson,
            "요청 본문은 JSON 객체여야 합니다.",
        ));
    }
    serde_json::from_value(value).map_err(|e| {
        ApiError::input(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidField,
            format!("요청 필드의 형식이 올바르지 않습니다: {e}"),
        )
    })
}

pub fn path_param(req: &Request, name: &str) -> Option<String> {
    req.path_parameters_ref()
        .and_then(|p| p.first(name))
        .map(str::to_owned)
}

/// A request header's value, if present and text.
pub fn header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

pub fn query_param<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.query_string_parameters_ref()
        .and_then(|q| q.first(name))
}

/// When API Gateway received the request (`requestContext.timeEpoch`), so the KST day a
/// view belongs to does not depend on a function's clock, and tests can pick the time.
pub fn request_time(req: &Request) -> DateTime<Utc> {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) if ctx.time_epoch > 0 => Utc
            .timestamp_millis_opt(ctx.time_epoch)
            .single()
            .unwrap_or_else(Utc::now),
        _ => Utc::now(),
    }
}

/// The member the Lambda authorizer verified (`requestContext.authorizer.lambda.memberId`).
/// None on public routes or when no authorizer ran.
pub fn caller(req: &Request) -> Option<domain::MemberId> {
    let Some(RequestContext::ApiGatewayV2(ctx)) = req.request_context_ref() else {
        return None;
    };
    let value = ctx.authorizer.as_ref()?.fields.get("memberId")?;
    let id = match value {
        serde_json::Value::String(s) => s.parse().ok()?,
        serde_json::Value::Number(n) => n.as_u64()?,
        _ => return None,
    };
    (id > 0).then_some(domain::MemberId(id))
}

/// The client's address as API Gateway saw it, for per-client rate limits.
pub fn client_address(req: &Request) -> String {
    match req.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

/// The member the authorizer verified. Without one (the route deployed without its
/// authorizer, or called locally without a token) nothing runs.
pub fn require_caller(req: &Request) -> Result<domain::MemberId, crate::envelope::ApiError> {
    caller(req).ok_or_else(|| {
        crate::envelope::ApiError::refusal(
            lambda_http::http::StatusCode::UNAUTHORIZED,
            domain::ErrorCode::Unauthorized,
            "로그인이 필요합니다.",
        )
    })
}
