//! `Idempotency-Key` on our POST endpoints: the first request with a key runs, later ones
//! with the same key get its stored answer, a concurrent one gets 409, and the same key
//! with a different body 422. Records live in DynamoDB (claimed by a conditional put).

use crate::envelope::ApiError;
use crate::services::Services;
use app::ports::{IdempotencyBegin, IdempotencyStore};
use chrono::{DateTime, Duration, Utc};
use domain::ErrorCode;
use lambda_http::http::{HeaderValue, StatusCode, header};
use lambda_http::{Body, Request, RequestExt, Response};
use sha2::{Digest, Sha256};
use std::future::Future;

pub const HEADER: &str = "idempotency-key";
const MAX_KEY_CHARS: usize = 255;

fn body_bytes(body: &Body) -> &[u8] {
    match body {
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    }
}

/// Runs `handler` under the request's Idempotency-Key, if it has one.
pub async fn idempotent<F, Fut>(
    services: &Services,
    scope: &str,
    req: &Request,
    now: DateTime<Utc>,
    handler: F,
) -> Response<Body>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    let Some(key) = req.headers().get(HEADER) else {
        return handler().await;
    };
    let key = match key.to_str() {
        Ok(k)
            if !k.is_empty()
                && k.chars().count() <= MAX_KEY_CHARS
                && k.chars().all(|c| c.is_ascii_graphic()) =>
        {
            k.to_owned()
        }
        _ => {
            return ApiError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidIdempotencyKey,
                format!("Idempotency-Key: 1~{MAX_KEY_CHARS}자의 공백 없는 ASCII 문자여야 합니다."),
            )
            .into_response();
        }
    };
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str());
    hasher.update(b" ");
    hasher.update(req.uri().path());
    hasher.update(b"\n");
    hasher.update(body_bytes(req.body()));
    let fingerprint = hex::encode(hasher.finalize());
    // The claim lasts as long as this invocation can: a crashed holder's key frees up
    // when the function could no longer be running.
    let lease_until = req
        .lambda_context_ref()
        .and_then(|ctx| crate::runtime::invocation_deadline(ctx.deadline))
        .unwrap_or(now + Duration::seconds(60));

    let store: &dyn IdempotencyStore = &services.idempotency;
    match store
        .begin(scope, &key, &fingerprint, lease_until, now)
        .await
    {
        Err(e) => {
            tracing::error!(error = %e, "idempotency store unavailable");
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::ServiceUnavailable,
                "일시적으로 요청을 처리할 수 없습니다.",
            )
            .into_response()
        }
        Ok(IdempotencyBegin::Replay { status, body }) => {
            let mut response = Response::builder()
                .status(StatusCode::from_u16(status).unwrap_or(StatusCode::OK))
                .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
                .body(Body::Text(body))
                .expect("valid stored response");
            response
                .headers_mut()
                .insert("idempotent-replayed", HeaderValue::from_static("true"));
            response
        }
        Ok(IdempotencyBegin::InProgress) => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::IdempotentRequestProcessing,
            "같은 Idempotency-Key의 요청이 처리 중입니다. 잠시 후 다시 시도해 주세요.",
        )
        .into_response(),
        Ok(IdempotencyBegin::Mismatch) => ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::IdempotencyKeyReused,
            "이 Idempotency-Key는 다른 요청에 이미 사용되었습니다.",
        )
        .into_response(),
        Ok(IdempotencyBegin::Proceed) => {
            let response = handler().await;
            let status = response.status();
            // Final answers are kept. Not kept, so that a retry with the same key runs
            // again: "still processing" (202), server errors, and refusals of a request
            // that never reached the use case (malformed, too big, wrong content type,
            // throttled), which the client fixes and resends under the same key.
            let keep = (status.is_success() && status != StatusCode::ACCEPTED)
                || (status.is_client_error() && !refused_before_use_case(&response));
            let outcome = if keep {
                let body = String::from_utf8_lossy(body_bytes(response.body())).into_owned();
                store.finish(scope, &key, status.as_u16(), &body, now).await
            } else {
                store.release(scope, &key).await
            };
            if let Err(e) = outcome {
                tracing::warn!(error = %e, "could not record the idempotent outcome; a retry will run again");
            }
            response
        }
    }
}

/// Answers to requests the use case never saw.
fn refused_before_use_case(response: &Response<Body>) -> bool {
    match response.status() {
        StatusCode::PAYLOAD_TOO_LARGE
        | StatusCode::UNSUPPORTED_MEDIA_TYPE
        | StatusCode::TOO_MANY_REQUESTS => true,
        StatusCode::BAD_REQUEST => {
            serde_json::from_slice::<serde_json::Value>(body_bytes(response.body()))
                .ok()
                .and_then(|body| body["code"].as_str().map(str::to_owned))
                .is_some_and(|code| {
                    [
                        ErrorCode::InvalidJson,
                        ErrorCode::MissingField,
                        ErrorCode::InvalidField,
                    ]
                    .iter()
                    .any(|c| c.as_str() == code)
                })
        }
        _ => false,
    }
}
