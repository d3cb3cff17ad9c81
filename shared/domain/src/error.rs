use std::fmt;

/// Stable machine-readable codes sent in the response envelope. Clients branch on these,
/// so a code never changes meaning once shipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, strum::EnumIter, strum::IntoStaticStr)]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
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
    PaymentAwaitingDeposit,
    PaymentNeedsAttention,
    PaymentNotRefundable,
    RefundInProgress,
    NothingToRefund,
    RefundExceedsUnused,
    RefundDeadlinePassed,
    RefundFeeTakesAll,
    RefundPending,
    RefundAccountRequired,
    RefundRefused,
    RefundNeedsAttention,
    InvalidIdempotencyKey,
    IdempotencyKeyReused,
    IdempotentRequestProcessing,
    RouteNotFound,
    MethodNotAllowed,
    PayloadTooLarge,
    ServiceUnavailable,
}

impl ErrorCode {
    /// The code as sent: the variant in SCREAMING_SNAKE_CASE (`InvalidJson` →
    /// `INVALID_JSON`), derived so the list of codes is the enum itself.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Every code, in declaration order.
    pub fn all() -> impl Iterator<Item = ErrorCode> {
        <ErrorCode as strum::IntoEnumIterator>::iter()
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

#[cfg(test)]
mod tests {
    use super::ErrorCode;

    #[test]
    fn codes_are_the_variants_in_screaming_snake_case_and_unique() {
        assert_eq!(ErrorCode::InvalidJson.as_str(), "INVALID_JSON");
        assert_eq!(
            ErrorCode::IdempotentRequestProcessing.as_str(),
            "IDEMPOTENT_REQUEST_PROCESSING"
        );
        let codes: Vec<&str> = ErrorCode::all().map(ErrorCode::as_str).collect();
        let unique: std::collections::BTreeSet<_> = codes.iter().collect();
        assert_eq!(unique.len(), codes.len(), "{codes:?}");
        assert_eq!(codes.len(), 39);
    }
}
