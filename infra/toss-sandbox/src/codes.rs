//! Toss error codes, their HTTP statuses (toss-api.md §3 and §5.2) and the `{code, message}` body.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// (code, HTTP status, message). Messages are short English paraphrases, as with
/// `Accept-Language: en-US`; clients must branch on `code`, never on the text.
#[rustfmt::skip]
const CODES: &[(&str, u16, &str)] = &[
    // Confirm table (§5.2).
    ("ALREADY_PROCESSED_PAYMENT", 400, "This payment has already been processed."),
    ("PROVIDER_ERROR", 400, "A temporary error occurred. Please try again shortly."),
    ("CARD_PROCESSING_ERROR", 400, "An error occurred at the card company."),
    ("EXCEED_MAX_CARD_INSTALLMENT_PLAN", 400, "The installment plan exceeds the maximum allowed."),
    ("INVALID_REQUEST", 400, "The request is invalid."),
    ("NOT_ALLOWED_POINT_USE", 400, "Card points cannot be used with this card."),
    ("INVALID_API_KEY", 400, "The secret key is invalid."),
    ("INVALID_REJECT_CARD", 400, "The card was refused. Contact the card issuer."),
    ("BELOW_MINIMUM_AMOUNT", 400, "The amount is below the minimum (card 100 KRW, account 200 KRW)."),
    ("INVALID_CARD_EXPIRATION", 400, "Check the card expiration date."),
    ("INVALID_STOPPED_CARD", 400, "This card is suspended."),
    ("EXCEED_MAX_DAILY_PAYMENT_COUNT", 400, "The daily payment count has been exceeded."),
    ("NOT_SUPPORTED_INSTALLMENT_PLAN_CARD_OR_MERCHANT", 400, "The card or merchant does not support installments."),
    ("INVALID_CARD_INSTALLMENT_PLAN", 400, "The installment information is invalid."),
    ("NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN", 400, "This card does not support (interest-free) installments."),
    ("EXCEED_MAX_PAYMENT_AMOUNT", 400, "The daily payable amount has been exceeded."),
    ("NOT_FOUND_TERMINAL_ID", 400, "No terminal id is registered. Contact Toss Payments."),
    ("INVALID_AUTHORIZE_AUTH", 400, "The authentication method is invalid."),
    ("INVALID_CARD_LOST_OR_STOLEN", 400, "This card was reported lost or stolen."),
    ("RESTRICTED_TRANSFER_ACCOUNT", 400, "A newly registered account can pay only after 12 hours."),
    ("INVALID_CARD_NUMBER", 400, "Check the card number."),
    ("INVALID_UNREGISTERED_SUBMALL", 400, "The sub-mall is not registered."),
    ("NOT_REGISTERED_BUSINESS", 400, "The business registration number is not registered."),
    ("EXCEED_MAX_ONE_DAY_WITHDRAW_AMOUNT", 400, "The daily withdrawal limit has been exceeded."),
    ("EXCEED_MAX_ONE_TIME_WITHDRAW_AMOUNT", 400, "The per-transaction withdrawal limit has been exceeded."),
    ("EXCEED_MAX_AMOUNT", 400, "The transaction amount limit has been exceeded."),
    ("INVALID_ACCOUNT_INFO_RE_REGISTER", 400, "The account is invalid. Register it again."),
    ("NOT_AVAILABLE_PAYMENT", 400, "Payments are not available at this time of day."),
    ("EXCEED_MAX_MONTHLY_PAYMENT_AMOUNT", 400, "The monthly payment cap has been exceeded."),
    ("UNAPPROVED_ORDER_ID", 400, "The order id has not been approved yet."),
    ("INVALID_IDEMPOTENCY_KEY", 400, "The idempotency key is invalid (at most 300 characters)."),
    ("UNAUTHORIZED_KEY", 401, "The secret key or client key is not authorized."),
    ("REJECT_CARD_PAYMENT", 403, "Declined: over the limit or insufficient balance."),
    ("REJECT_CARD_COMPANY", 403, "The card company refused the approval."),
    ("FORBIDDEN_REQUEST", 403, "The request is not allowed."),
    ("REJECT_ACCOUNT_PAYMENT", 403, "Insufficient account balance."),
    ("REJECT_TOSSPAY_INVALID_ACCOUNT", 403, "The TossPay withdrawal account is not registered for debit."),
    ("EXCEED_MAX_AUTH_COUNT", 403, "Too many authentication attempts. Contact the card company."),
    ("EXCEED_MAX_ONE_DAY_AMOUNT", 403, "The daily limit has been exceeded."),
    ("NOT_AVAILABLE_BANK", 403, "Outside the bank's service hours."),
    ("INVALID_PASSWORD", 403, "The payment password does not match."),
    ("INCORRECT_BASIC_AUTH_FORMAT", 403, "Incorrect Basic auth format. Include ':' after the secret key before base64 encoding."),
    ("FDS_ERROR", 403, "Blocked by fraud detection. Verify your identity and try again."),
    ("NOT_FOUND_PAYMENT", 404, "The payment does not exist."),
    ("NOT_FOUND_PAYMENT_SESSION", 404, "The payment session expired, so no in-progress payment data exists."),
    ("IDEMPOTENT_REQUEST_PROCESSING", 409, "The previous idempotent request is still being processed."),
    ("FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING", 500, "The payment was not completed. Please try again."),
    ("FAILED_INTERNAL_SYSTEM_PROCESSING", 500, "Internal processing failed. Please try again later."),
    ("UNKNOWN_PAYMENT_ERROR", 500, "The payment failed. Contact the bank or card company if it repeats."),
    // Global list and lookup table (§3, §5.2).
    ("COMMON_ERROR", 500, "A temporary error occurred. Please try again later."),
    ("FORBIDDEN_CONSECUTIVE_REQUEST", 403, "Repeated requests were refused. Please try again later."),
    ("NOT_FOUND", 404, "The resource does not exist."),
    ("NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN_BELOW_AMOUNT", 400, "Installments are not available below this amount."),
    ("INVALID_ORDER_ID", 400, "The orderId must be 6-64 characters of letters, digits, '-' and '_'."),
    ("DUPLICATED_ORDER_ID", 400, "This orderId has already been used for an approved or cancelled payment."),
    ("NOT_SUPPORTED_METHOD", 400, "This payment method is not supported."),
    ("INVALID_CLIENT_KEY", 400, "The client key is invalid."),
    ("EXCEEDS_TRANSFER_AMOUNT_MAXIMUM", 400, "A bank transfer is capped at 10,000,000 KRW per transaction."),
    ("ALREADY_CANCELED_PAYMENT", 400, "This payment has already been cancelled."),
    // Cancel table (§3).
    ("INVALID_REFUND_ACCOUNT_INFO", 400, "The refund account information is invalid."),
    ("EXCEED_CANCEL_AMOUNT_DISCOUNT_AMOUNT", 400, "The cancel amount exceeds the cancellable discount amount."),
    ("INVALID_REFUND_ACCOUNT_NUMBER", 400, "The refund account number is invalid."),
    ("INVALID_BANK", 400, "The bank is invalid."),
    ("NOT_MATCHES_REFUNDABLE_AMOUNT", 400, "The refundable amount does not match the current balance."),
    ("REFUND_REJECTED", 400, "The refund was rejected."),
    ("ALREADY_REFUND_PAYMENT", 400, "This payment has already been refunded."),
    ("FORBIDDEN_BANK_REFUND_REQUEST", 400, "The bank does not allow this refund request."),
    ("NOT_CANCELABLE_AMOUNT", 403, "The amount cannot be cancelled."),
    ("NOT_CANCELABLE_PAYMENT", 403, "The payment cannot be cancelled."),
    ("EXCEED_MAX_REFUND_DUE", 403, "The refund period has passed."),
    ("NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT", 403, "Partial refunds are not allowed while waiting for a deposit."),
    ("NOT_ALLOWED_PARTIAL_REFUND", 403, "Partial refunds are not allowed for this payment."),
    ("NOT_CANCELABLE_PAYMENT_FOR_DORMANT_USER", 403, "Payments of dormant users cannot be cancelled."),
    ("EXCEED_CANCEL_LIMIT", 403, "The cancel limit has been exceeded."),
    ("FAILED_REFUND_PROCESS", 500, "The refund failed at the bank."),
    ("FAILED_PARTIAL_REFUND", 500, "The partial refund failed."),
    ("FAILED_METHOD_HANDLING_CANCEL", 500, "The payment method failed to handle the cancel."),
];

fn lookup(code: &str) -> Option<&'static (&'static str, u16, &'static str)> {
    CODES.iter().find(|(c, _, _)| *c == code)
}

/// The HTTP status Toss answers with for `code`; codes it does not list get 400.
pub fn http_status(code: &str) -> StatusCode {
    lookup(code)
        .and_then(|(_, s, _)| StatusCode::from_u16(*s).ok())
        .unwrap_or(StatusCode::BAD_REQUEST)
}

/// Every code the sandbox knows, for docs and tests.
pub fn known_codes() -> impl Iterator<Item = &'static str> {
    CODES.iter().map(|(c, _, _)| *c)
}

/// A Toss v1 error: answered as `{"code", "message"}` with [`http_status`] of the code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }

    /// The error with Toss's usual message for `code`.
    pub fn of(code: &str) -> Self {
        let message = lookup(code).map_or("An error occurred.", |(_, _, m)| *m);
        Self::new(code, message)
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new("INVALID_REQUEST", message)
    }

    pub fn status(&self) -> StatusCode {
        http_status(&self.code)
    }

    pub fn body(&self) -> Value {
        json!({ "code": self.code, "message": self.message })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status(), Json(self.body())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn statuses_match_the_tables() {
        assert_eq!(
            http_status("ALREADY_PROCESSED_PAYMENT"),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(http_status("PROVIDER_ERROR"), StatusCode::BAD_REQUEST);
        assert_eq!(http_status("UNAUTHORIZED_KEY"), StatusCode::UNAUTHORIZED);
        assert_eq!(
            http_status("INCORRECT_BASIC_AUTH_FORMAT"),
            StatusCode::FORBIDDEN
        );
        assert_eq!(http_status("REJECT_CARD_COMPANY"), StatusCode::FORBIDDEN);
        assert_eq!(
            http_status("NOT_FOUND_PAYMENT_SESSION"),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            http_status("IDEMPOTENT_REQUEST_PROCESSING"),
            StatusCode::CONFLICT
        );
        assert_eq!(
            http_status("FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING"),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(http_status("NOT_CANCELABLE_AMOUNT"), StatusCode::FORBIDDEN);
        assert_eq!(
            http_status("FAILED_REFUND_PROCESS"),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            http_status("SOMETHING_TOSS_ADDED_LATER"),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn every_code_is_listed_once() {
        let mut seen = HashSet::new();
        for code in known_codes() {
            assert!(seen.insert(code), "{code} listed twice");
        }
    }
}
