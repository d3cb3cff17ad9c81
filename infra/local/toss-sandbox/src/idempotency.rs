//! Runs a POST /v1 operation the way Toss does (docs/toss.md §4): Idempotency-Key replay and
//! 409 while the first request runs, then the `TossPayments-Test-Code` header, then the work.

use crate::Sandbox;
use crate::auth::SecretKey;
use crate::codes::{ApiError, Lang, is_known};
use crate::state::{IDEMPOTENCY_TTL, IdempotencyRecord, IdempotencyScope, IdempotencyState};
use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::future::Future;

const MAX_KEY_CHARS: usize = 300;

/// What an operation answers. Errors stay unrendered until [`run_post`] knows the language.
pub struct Reply {
    pub outcome: Result<Value, ApiError>,
    /// Close the connection instead of answering (the `drop` fault). The outcome is still
    /// stored for idempotent replay, as Toss would keep the result it could not deliver.
    pub drop_connection: bool,
    /// The request keeps "running" on the Toss side until then (the `late-` fault): same-key
    /// resends get 409 before it and the stored answer after it.
    pub running_until: Option<DateTime<Utc>>,
}

impl Reply {
    pub fn ok(body: Value) -> Self {
        Self {
            outcome: Ok(body),
            drop_connection: false,
            running_until: None,
        }
    }

    fn rendered(&self, lang: Lang) -> (StatusCode, Value) {
        match &self.outcome {
            Ok(body) => (StatusCode::OK, body.clone()),
            Err(error) => (error.status(), error.body(lang)),
        }
    }
}

impl From<ApiError> for Reply {
    fn from(error: ApiError) -> Self {
        Self {
            outcome: Err(error),
            drop_connection: false,
            running_until: None,
        }
    }
}

/// The `TossPayments-Test-Code` error to force, if the request asks for one with a test key
/// (docs/toss.md §1: test keys only, ignored in live). A code the sandbox does not know gets
/// 400 `INVALID_TEST_CODE` rather than a made-up answer: docs/toss.md names no answer for it,
/// and a typo must not pass for a forced error.
pub fn forced_error(headers: &HeaderMap, secret_key: &SecretKey) -> Option<ApiError> {
    if secret_key.is_live() {
        return None;
    }
    let value = headers.get("tosspayments-test-code")?;
    let code = String::from_utf8_lossy(value.as_bytes()).trim().to_owned();
    if code.is_empty() {
        return None;
    }
    if is_known(&code) {
        return Some(ApiError::of(&code));
    }
    Some(ApiError::new(
        "INVALID_TEST_CODE",
        format!("유효하지 않은 테스트 코드입니다: {code}"),
        format!("The test code {code} is not a known error code."),
    ))
}

pub async fn run_post<Fut>(
    sandbox: &Sandbox,
    secret_key: &SecretKey,
    path: &str,
    headers: &HeaderMap,
    operation: Fut,
) -> Response
where
    Fut: Future<Output = Reply> + Send + 'static,
{
    let lang = Lang::of(headers);
    let scope = match headers.get("idempotency-key") {
        None => None,
        Some(value) => match value.to_str() {
            Ok(key) if !key.is_empty() && key.chars().count() <= MAX_KEY_CHARS => {
                Some(IdempotencyScope {
                    secret_key: secret_key.0.clone(),
                    method: "POST".into(),
                    path: path.to_owned(),
                    key: key.to_owned(),
                })
            }
            _ => return ApiError::of("INVALID_IDEMPOTENCY_KEY").respond(lang),
        },
    };
    if let Some(scope) = &scope {
        let mut state = sandbox.lock();
        let now = state.now();
        match state.idempotency.get(scope) {
            Some(record) if now < record.first_seen + IDEMPOTENCY_TTL => {
                return match &record.state {
                    IdempotencyState::InFlight => {
                        ApiError::of("IDEMPOTENT_REQUEST_PROCESSING").respond(lang)
                    }
                    IdempotencyState::Done {
                        running_until: Some(until),
                        ..
                    } if now < *until => {
                        ApiError::of("IDEMPOTENT_REQUEST_PROCESSING").respond(lang)
                    }
                    // The first answer as it was, in its language too.
                    IdempotencyState::Done { status, body, .. } => {
                        (*status, Json(body.clone())).into_response()
                    }
                };
            }
            _ => {
                let record = IdempotencyRecord {
                    first_seen: now,
                    state: IdempotencyState::InFlight,
                };
                state.idempotency.insert(scope.clone(), record);
            }
        }
    }

    let forced = forced_error(headers, secret_key);
    // The work runs in its own task so that it completes (and its result is recorded for
    // replay) even when the client gives up and hyper drops this handler, as on real Toss.
    let task = {
        let sandbox = sandbox.clone();
        let scope = scope.clone();
        tokio::spawn(async move {
            let reply = match forced {
                Some(error) => Reply::from(error),
                None => operation.await,
            };
            if let Some(scope) = scope {
                let (status, body) = reply.rendered(lang);
                let done = IdempotencyState::Done {
                    status,
                    body,
                    running_until: reply.running_until,
                };
                if let Some(record) = sandbox.lock().idempotency.get_mut(&scope) {
                    record.state = done;
                }
            }
            reply
        })
    };
    match task.await {
        Ok(reply) if reply.drop_connection => {
            // Unwinding out of the handler ends hyper's connection task, so the socket closes
            // without a byte of response; resume_unwind skips the panic hook (no log noise).
            std::panic::resume_unwind(Box::new(()))
        }
        Ok(reply) => {
            let (status, body) = reply.rendered(lang);
            (status, Json(body)).into_response()
        }
        Err(_) => {
            // A bug in the operation: forget the key so the client is not stuck on 409.
            if let Some(scope) = scope {
                sandbox.lock().idempotency.remove(&scope);
            }
            ApiError::of("FAILED_INTERNAL_SYSTEM_PROCESSING").respond(lang)
        }
    }
}
