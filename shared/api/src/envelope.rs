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

pub fn respond<T: Serialize>(
    status: StatusCode,
    code: &str,
    message: &str,
    result: Option<T>,
) -> Response<Body> {
    let body = serde_json::to_string(&Envelope {
        status: status.as_u16(),
        message,
        code,
        result,
    })
    .expect("response types serialise");
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json; charset=utf-8")
        .body(Body::Text(body))
        .expect("static response parts are valid")
}

pub fn success<T: Serialize>(status: StatusCode, result: T) -> Response<Body> {
    respond(status, "SUCCESS", "요청에 성공하였습니다.", Some(result))
}

/// An error answer: HTTP status, stable code, message safe to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn into_response(self) -> Response<Body> {
        respond::<()>(self.status, self.code.as_str(), &self.message, None)
    }
}

impl From<ValidationError> for ApiError {
    fn from(e: ValidationError) -> Self {
        Self::new(StatusCode::BAD_REQUEST, e.code, e.message)
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::Invalid(v) => v.into(),
            AppError::DuplicateEmail => Self::new(
                StatusCode::CONFLICT,
                ErrorCode::DuplicateEmail,
                "이미 가입된 이메일입니다.",
            ),
            AppError::ProfileNotFound => Self::new(
                StatusCode::NOT_FOUND,
                ErrorCode::ProfileNotFound,
                "프로필을 찾을 수 없습니다.",
            ),
            AppError::Unavailable(infra) => {
                // The cause chain goes to the log only; the caller learns nothing internal.
                tracing::error!(error = %infra, cause = ?std::error::Error::source(&infra), "dependency unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::ServiceUnavailable,
                    "일시적으로 요청을 처리할 수 없습니다. 잠시 후 다시 시도해 주세요.",
                )
            }
        }
    }
}

/// Turns a handler's outcome into the response; every path ends in the envelope.
pub fn finish<T: Serialize>(status: StatusCode, outcome: Result<T, ApiError>) -> Response<Body> {
    match outcome {
        Ok(result) => success(status, result),
        Err(e) => e.into_response(),
    }
}
