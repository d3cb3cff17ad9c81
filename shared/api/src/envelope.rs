//! The response envelope kept from the original service:
//! `{"status":200,"message":"요청에 성공하였습니다.","code":"SUCCESS","result":{…}}`.

use app::AppError;
use domain::{ErrorCode, ValidationError};
use lambda_http::http::{StatusCode, header};
use lambda_http::{Body, Response};
use serde::Serialize;

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    status: u16,
    message: &'a str,
    code: &'a str,
    result: Option<T>,
}

/// A handler's answer that is not an error: the envelope, ready to send (or to store
/// under an Idempotency-Key and replay).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: StatusCode,
    pub body: String,
    /// A stored answer sent again (`Idempotent-Replayed: true`).
    pub replayed: bool,
}

impl Reply {
    /// `SUCCESS` with `result`.
    pub fn success<T: Serialize>(status: StatusCode, result: T) -> Self {
        Self::with(status, "SUCCESS", "요청에 성공하였습니다.", Some(result))
    }

    /// An answer with its own code and message and a result (e.g. 202 `PAYMENT_PENDING`
    /// with the payment).
    pub fn with<T: Serialize>(
        status: StatusCode,
        code: &str,
        message: &str,
        result: Option<T>,
    ) -> Self {
        let body = serde_json::to_string(&Envelope {
            status: status.as_u16(),
            message,
            code,
            result,
        })
        .expect("response types serialise");
        Self {
            status,
            body,
            replayed: false,
        }
    }

    /// Whether this is the request's last word (a 202 says "not yet").
    pub fn is_final(&self) -> bool {
        self.status != StatusCode::ACCEPTED
    }

    pub fn into_response(self) -> Response<Body> {
        let mut response = Response::builder()
            .status(self.status)
            .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
            .body(Body::Text(self.body))
            .expect("static response parts are valid");
        if self.replayed {
            response.headers_mut().insert(
                "idempotent-replayed",
                header::HeaderValue::from_static("true"),
            );
        }
        response
    }
}

/// What kind of refusal an error is; the API idempotency layer decides from it whether
/// the answer is the key's last word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The request itself is unusable (JSON, fields, size, content type): the client fixes
    /// it and may resend it under the same key.
    Input,
    /// A well-formed request the product refuses (not found, forbidden, mismatch): final.
    Refusal,
    /// Throttled, or a dependency is down: the same request may succeed later.
    TryLater,
}

/// An error answer: HTTP status, stable code, message safe to show, and its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    pub kind: ErrorKind,
}

impl ApiError {
    pub fn input(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self::of(ErrorKind::Input, status, code, message)
    }

    pub fn refusal(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self::of(ErrorKind::Refusal, status, code, message)
    }

    pub fn try_later(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self::of(ErrorKind::TryLater, status, code, message)
    }

    /// 503: a dependency this request needs is down or missing.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::try_later(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServiceUnavailable,
            message,
        )
    }

    fn of(
        kind: ErrorKind,
        status: StatusCode,
        code: ErrorCode,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            kind,
        }
    }

    pub fn into_reply(self) -> Reply {
        Reply::with::<()>(self.status, self.code.as_str(), &self.message, None)
    }

    pub fn into_response(self) -> Response<Body> {
        self.into_reply().into_response()
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self::input(StatusCode::BAD_REQUEST, e.code, e.message)
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid(v) => v.into(),
            AppError::DuplicateEmail => Self::refusal(
                StatusCode::CONFLICT,
                ErrorCode::DuplicateEmail,
                "이미 가입된 이메일입니다.",
            ),
            AppError::ProfileNotFound => Self::refusal(
                StatusCode::NOT_FOUND,
                ErrorCode::ProfileNotFound,
                "프로필을 찾을 수 없습니다.",
            ),
            AppError::MemberNotFound => Self::refusal(
                StatusCode::NOT_FOUND,
                ErrorCode::MemberNotFound,
                "회원을 찾을 수 없습니다.",
            ),
            AppError::Unavailable(infra) => {
                // The cause chain goes to the log only; the caller learns nothing internal.
                tracing::error!(error = %infra, cause = ?std::error::Error::source(&infra), "dependency unavailable");
                Self::unavailable(
                    "일시적으로 요청을 처리할 수 없습니다. 잠시 후 다시 시도해 주세요.",
                )
            }
        }
    }
}

/// What every handler returns.
pub type Outcome = Result<Reply, ApiError>;

/// The response of a handler's outcome; every path ends in the envelope.
pub fn into_response(outcome: Outcome) -> Response<Body> {
    outcome.unwrap_or_else(ApiError::into_reply).into_response()
}
