//! The Lambda authorizer of the protected routes (HTTP API, payload 2.0, simple
//! responses): a valid access token in `Authorization: Bearer …` lets the request through
//! with the member id in the context, which handlers read as the caller.

use app::auth::TokenIssuer;
use aws_lambda_events::apigw::{
    ApiGatewayV2CustomAuthorizerSimpleResponse, ApiGatewayV2CustomAuthorizerV2Request,
};
use lambda_http::http::HeaderMap;
use serde_json::{Value, json};

/// The decision for a request with these headers.
pub fn authorize(
    tokens: &TokenIssuer,
    headers: &HeaderMap,
) -> ApiGatewayV2CustomAuthorizerSimpleResponse<Value> {
    let member = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        // The scheme name is case-insensitive (RFC 9110 §11.1).
        .and_then(|v| {
            v.split_once(' ')
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, token)| token)
        })
        .and_then(|token| tokens.verify(token.trim()));
    let mut response = ApiGatewayV2CustomAuthorizerSimpleResponse::default();
    response.is_authorized = member.is_some();
    response.context = match member {
        Some(member) => json!({ "memberId": member.0.to_string() }),
        None => json!({}),
    };
    if let Some(member) = member {
        tracing::debug!(member_id = member.0, "request authorized");
    }
    response
}

pub fn handle(
    tokens: &TokenIssuer,
    event: ApiGatewayV2CustomAuthorizerV2Request,
) -> ApiGatewayV2CustomAuthorizerSimpleResponse<Value> {
    authorize(tokens, &event.headers)
}
