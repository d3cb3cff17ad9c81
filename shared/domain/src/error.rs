use std::fmt;

/// Stable machine-readable codes sent in the response envelope. Clients branch on these,
/// so a code never changes meaning once shipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    InvalidJson,
    MissingField,
    InvalidField,
    InvalidEmail,
    DuplicateEmail,
    InvalidProfileId,
    ProfileNotFound,
    InvalidCursor,
    InvalidPageSize,
    MemberNotFound,
    InvalidCredentials,
    Unauthorized,
    ForbiddenMember,
    TooManyRequests,
    PaymentNotFound,
    ForbiddenOrder,
    AmountMismatch,
    PaymentKeyMismatch,
    PaymentFailed,
    PaymentPending,
    PaymentNeedsAttention,
    InvalidIdempotencyKey,
    IdempotencyKeyReused,
    IdempotentRequestProcessing,
    RouteNotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    ServiceUnavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidJson => "INVALID_JSON",
            ErrorCode::MissingField => "MISSING_FIELD",
            ErrorCode::InvalidField => "INVALID_FIELD",
            ErrorCode::InvalidEmail => "INVALID_EMAIL",
            ErrorCode::DuplicateEmail => "DUPLICATE_EMAIL",
            ErrorCode::InvalidProfileId => "INVALID_PROFILE_ID",
            ErrorCode::ProfileNotFound => "PROFILE_NOT_FOUND",
            ErrorCode::InvalidCursor => "INVALID_CURSOR",
            ErrorCode::InvalidPageSize => "INVALID_PAGE_SIZE",
            ErrorCode::MemberNotFound => "MEMBER_NOT_FOUND",
            ErrorCode::InvalidCredentials => "INVALID_CREDENTIALS",
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::ForbiddenMember => "FORBIDDEN_MEMBER",
            ErrorCode::TooManyRequests => "TOO_MANY_REQUESTS",
            ErrorCode::PaymentNotFound => "PAYMENT_NOT_FOUND",
            ErrorCode::ForbiddenOrder => "FORBIDDEN_ORDER",
            ErrorCode::AmountMismatch => "AMOUNT_MISMATCH",
            ErrorCode::PaymentKeyMismatch => "PAYMENT_KEY_MISMATCH",
            ErrorCode::PaymentFailed => "PAYMENT_FAILED",
            ErrorCode::PaymentPending => "PAYMENT_PENDING",
            ErrorCode::PaymentNeedsAttention => "PAYMENT_NEEDS_ATTENTION",
            ErrorCode::InvalidIdempotencyKey => "INVALID_IDEMPOTENCY_KEY",
            ErrorCode::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
            ErrorCode::IdempotentRequestProcessing => "IDEMPOTENT_REQUEST_PROCESSING",
            ErrorCode::RouteNotFound => "ROUTE_NOT_FOUND",
            ErrorCode::MethodNotAllowed => "METHOD_NOT_ALLOWED",
            ErrorCode::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            ErrorCode::ServiceUnavailable => "SERVICE_UNAVAILABLE",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Input that breaks a rule. The message is safe to show to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ValidationError {
    pub code: ErrorCode,
    pub message: String,
}

impl ValidationError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn missing(field: &str) -> Self {
        Self::new(
            ErrorCode::MissingField,
            format!("{field}: 필수 항목입니다."),
        )
    }

    pub fn invalid(field: &str, why: impl fmt::Display) -> Self {
        Self::new(ErrorCode::InvalidField, format!("{field}: {why}"))
    }
}
