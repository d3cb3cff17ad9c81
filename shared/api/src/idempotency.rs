//! `Idempotency-Key` on our POST endpoints: the first request with a key runs, later ones
//! with the same key get its stored answer, a concurrent one gets 409, and the same key
//! with a different body 422. Records live in DynamoDB (claimed by a conditional put).

use crate::envelope::{ApiError, ErrorKind, Outcome, Reply};
use crate::services::Services;
use app::ports::{IdempotencyBegin, IdempotencyStore};
use chrono::{DateTime, Duration, Utc};
use domain::ErrorCode;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt};
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

/// The request's Idempotency-Key: None without one, a 400 when it is malformed.
fn key_of(req: &Request) -> Result<Option<String>, ApiError> {
    let Some(key) = req.headers().get(HEADER) else {
        return Ok(None);
    };
    match key.to_str() {
        Ok(k)
            if !k.is_empty()
                && k.chars().count() <= MAX_KEY_CHARS
                && k.chars().all(|c| c.is_ascii_graphic()) =>
        {
            Ok(Some(k.to_owned()))
        }
        _ => Err(ApiError::input(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidIdempotencyKey,
            format!("Idempotency-Key: 1~{MAX_KEY_CHARS}자의 공백 없는 ASCII 문자여야 합니다."),
        )),
    }
}

/// What identifies "the same request": method, path and body.
fn fingerprint(req: &Request) -> String {
    let mut hasher = Sha256::new();
    hasher.update(req.method().as_str());
    hasher.update(b" ");
    hasher.update(req.uri().path());
    hasher.update(b"\n");
    hasher.update(body_bytes(req.body()));
    hex::encode(hasher.finalize())
}

/// Runs `handler` under the request's Idempotency-Key, if it has one.
pub async fn idempotent<F, Fut>(
    services: &Services,
    scope: &str,
    req: &Request,
    now: DateTime<Utc>,
    handler: F,
) -> Outcome
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Outcome>,
{
    let Some(key) = key_of(req)? else {
        return handler().await;
    };
    // The claim lasts as long as this invocation can: a crashed holder's key frees up
    // when the function could no longer be running.
    let lease_until = req
        .lambda_context_ref()
        .and_then(|ctx| crate::runtime::invocation_deadline(ctx.deadline))
        .unwrap_or(now + Duration::seconds(60));
    let store: &dyn IdempotencyStore = &*services.idempotency;
    let begun = store
        .begin(scope, &key, &fingerprint(req), lease_until, now)
        .await;
    match begun {
        Err(e) => {
            tracing::error!(error = %e, "idempotency store unavailable");
            Err(ApiError::unavailable(
                "일시적으로 요청을 처리할 수 없습니다.",
            ))
        }
        Ok(IdempotencyBegin::Replay { status, body }) => Ok(Reply {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::OK),
            body,
            replayed: true,
        }),
        Ok(IdempotencyBegin::InProgress) => Err(ApiError::try_later(
            StatusCode::CONFLICT,
            ErrorCode::IdempotentRequestProcessing,
            "같은 Idempotency-Key의 요청이 처리 중입니다. 잠시 후 다시 시도해 주세요.",
        )),
        Ok(IdempotencyBegin::Mismatch) => Err(ApiError::refusal(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::IdempotencyKeyReused,
            "이 Idempotency-Key는 다른 요청에 이미 사용되었습니다.",
        )),
        Ok(IdempotencyBegin::Proceed) => {
            let outcome = handler().await;
            record(store, scope, &key, &outcome, now).await;
            outcome
        }
    }
}

/// The answer to keep under the key, or None to free the key so a retry runs again:
/// "still processing" (202), input the client fixes and resends, throttling and
/// dependencies down are not the key's last word.
fn last_word(outcome: &Outcome) -> Option<Reply> {
    match outcome {
        Ok(reply) if reply.is_final() => Some(reply.clone()),
        Err(e) if e.kind == ErrorKind::Refusal => Some(e.clone().into_reply()),
        _ => None,
    }
}

/// Keeps the outcome's last word under the key, or frees the key.
async fn record(
    store: &dyn IdempotencyStore,
    scope: &str,
    key: &str,
    outcome: &Outcome,
    now: DateTime<Utc>,
) {
    let written = match last_word(outcome) {
        Some(reply) => {
            store
                .finish(scope, key, reply.status.as_u16(), &reply.body, now)
                .await
        }
        None => store.release(scope, key).await,
    };
    if let Err(e) = written {
        tracing::warn!(error = %e, "could not record the idempotent outcome; a retry will run again");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_final_answers_are_kept() {
        let refusal = ApiError::refusal(StatusCode::FORBIDDEN, ErrorCode::ForbiddenOrder, "x");
        let input = ApiError::input(StatusCode::BAD_REQUEST, ErrorCode::InvalidJson, "x");
        let busy = ApiError::unavailable("x");
        let throttled = ApiError::try_later(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::TooManyRequests,
            "x",
        );
        let done = Reply::success(StatusCode::OK, 1);
        let pending = Reply::with(StatusCode::ACCEPTED, "PAYMENT_PENDING", "x", Some(1));
        let failed = Reply::with(StatusCode::BAD_REQUEST, "PAYMENT_FAILED", "x", Some(1));
        let cases: [(Outcome, bool); 7] = [
            (Ok(done), true),
            (Ok(failed), true),
            (Ok(pending), false),
            (Err(refusal), true),
            (Err(input), false),
            (Err(busy), false),
            (Err(throttled), false),
        ];
        for (outcome, kept) in cases {
            assert_eq!(last_word(&outcome).is_some(), kept, "{outcome:?}");
        }
    }
}
