//! Toss error codes, their HTTP statuses (docs/toss.md §3 and §5.2) and the `{code, message}`
//! body in the language the request asked for.

use axum::Json;
use axum::http::header::ACCEPT_LANGUAGE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// (code, HTTP status, Korean message, English message). The messages are paraphrases of
/// Toss's; clients must branch on `code`, never on the text.
#[rustfmt::skip]
const CODES: &[(&str, u16, &str, &str)] = &[
    // Confirm table (§5.2).
    ("ALREADY_PROCESSED_PAYMENT", 400, "이미 처리된 결제입니다.", "This payment has already been processed."),
    ("PROVIDER_ERROR", 400, "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해주세요.", "A temporary error occurred. Please try again shortly."),
    ("CARD_PROCESSING_ERROR", 400, "카드사에서 오류가 발생했습니다.", "An error occurred at the card company."),
    ("EXCEED_MAX_CARD_INSTALLMENT_PLAN", 400, "설정할 수 있는 최대 할부 개월 수를 넘었습니다.", "The installment plan exceeds the maximum allowed."),
    ("INVALID_REQUEST", 400, "잘못된 요청입니다.", "The request is invalid."),
    ("NOT_ALLOWED_POINT_USE", 400, "포인트를 쓸 수 없는 카드라 카드 포인트 결제에 실패했습니다.", "Card points cannot be used with this card."),
    ("INVALID_API_KEY", 400, "잘못된 시크릿 키 연동 정보입니다.", "The secret key is invalid."),
    ("INVALID_REJECT_CARD", 400, "카드 사용이 거절되었습니다. 카드사에 문의해주세요.", "The card was refused. Contact the card issuer."),
    ("BELOW_MINIMUM_AMOUNT", 400, "신용카드는 100원, 계좌는 200원 이상부터 결제할 수 있습니다.", "The amount is below the minimum (card 100 KRW, account 200 KRW)."),
    ("INVALID_CARD_EXPIRATION", 400, "카드 유효기간을 다시 확인해주세요.", "Check the card expiration date."),
    ("INVALID_STOPPED_CARD", 400, "정지된 카드입니다.", "This card is suspended."),
    ("EXCEED_MAX_DAILY_PAYMENT_COUNT", 400, "하루 결제 가능 횟수를 넘었습니다.", "The daily payment count has been exceeded."),
    ("NOT_SUPPORTED_INSTALLMENT_PLAN_CARD_OR_MERCHANT", 400, "할부가 지원되지 않는 카드 또는 가맹점입니다.", "The card or merchant does not support installments."),
    ("INVALID_CARD_INSTALLMENT_PLAN", 400, "할부 개월 정보가 잘못되었습니다.", "The installment information is invalid."),
    ("NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN", 400, "할부가 지원되지 않는 카드입니다.", "This card does not support (interest-free) installments."),
    ("EXCEED_MAX_PAYMENT_AMOUNT", 400, "하루 결제 가능 금액을 넘었습니다.", "The daily payable amount has been exceeded."),
    ("NOT_FOUND_TERMINAL_ID", 400, "단말기 번호(Terminal Id)가 없습니다. 토스페이먼츠로 문의해주세요.", "No terminal id is registered. Contact Toss Payments."),
    ("INVALID_AUTHORIZE_AUTH", 400, "유효하지 않은 인증 방식입니다.", "The authentication method is invalid."),
    ("INVALID_CARD_LOST_OR_STOLEN", 400, "분실 또는 도난 신고된 카드입니다.", "This card was reported lost or stolen."),
    ("RESTRICTED_TRANSFER_ACCOUNT", 400, "새로 등록된 계좌는 등록 후 12시간이 지나야 결제할 수 있습니다.", "A newly registered account can pay only after 12 hours."),
    ("INVALID_CARD_NUMBER", 400, "카드 번호를 다시 확인해주세요.", "Check the card number."),
    ("INVALID_UNREGISTERED_SUBMALL", 400, "등록되지 않은 서브몰입니다.", "The sub-mall is not registered."),
    ("NOT_REGISTERED_BUSINESS", 400, "등록되지 않은 사업자 번호입니다.", "The business registration number is not registered."),
    ("EXCEED_MAX_ONE_DAY_WITHDRAW_AMOUNT", 400, "하루 출금 한도를 넘었습니다.", "The daily withdrawal limit has been exceeded."),
    ("EXCEED_MAX_ONE_TIME_WITHDRAW_AMOUNT", 400, "1회 출금 한도를 넘었습니다.", "The per-transaction withdrawal limit has been exceeded."),
    ("EXCEED_MAX_AMOUNT", 400, "거래 금액 한도를 넘었습니다.", "The transaction amount limit has been exceeded."),
    ("INVALID_ACCOUNT_INFO_RE_REGISTER", 400, "유효하지 않은 계좌입니다. 계좌를 다시 등록해주세요.", "The account is invalid. Register it again."),
    ("NOT_AVAILABLE_PAYMENT", 400, "결제할 수 없는 시간대입니다.", "Payments are not available at this time of day."),
    ("EXCEED_MAX_MONTHLY_PAYMENT_AMOUNT", 400, "월 결제 한도를 넘었습니다.", "The monthly payment cap has been exceeded."),
    ("UNAPPROVED_ORDER_ID", 400, "아직 승인되지 않은 주문번호입니다.", "The order id has not been approved yet."),
    ("INVALID_IDEMPOTENCY_KEY", 400, "잘못된 멱등키입니다. (최대 300자)", "The idempotency key is invalid (at most 300 characters)."),
    ("UNAUTHORIZED_KEY", 401, "인증되지 않은 시크릿 키 또는 클라이언트 키입니다.", "The secret key or client key is not authorized."),
    ("REJECT_CARD_PAYMENT", 403, "한도를 넘었거나 잔액이 부족해 결제가 거절되었습니다.", "Declined: over the limit or insufficient balance."),
    ("REJECT_CARD_COMPANY", 403, "카드사에서 결제 승인을 거절했습니다.", "The card company refused the approval."),
    ("FORBIDDEN_REQUEST", 403, "허용되지 않은 요청입니다.", "The request is not allowed."),
    ("REJECT_ACCOUNT_PAYMENT", 403, "계좌 잔액이 부족합니다.", "Insufficient account balance."),
    ("REJECT_TOSSPAY_INVALID_ACCOUNT", 403, "토스페이 출금 계좌가 자동이체로 등록되지 않았습니다.", "The TossPay withdrawal account is not registered for debit."),
    ("EXCEED_MAX_AUTH_COUNT", 403, "인증 시도 횟수를 넘었습니다. 카드사에 문의해주세요.", "Too many authentication attempts. Contact the card company."),
    ("EXCEED_MAX_ONE_DAY_AMOUNT", 403, "하루 한도를 넘었습니다.", "The daily limit has been exceeded."),
    ("NOT_AVAILABLE_BANK", 403, "은행 서비스 시간이 아닙니다.", "Outside the bank's service hours."),
    ("INVALID_PASSWORD", 403, "결제 비밀번호가 일치하지 않습니다.", "The payment password does not match."),
    ("INCORRECT_BASIC_AUTH_FORMAT", 403, "잘못된 Basic 인증 형식입니다. 시크릿 키 뒤에 ':'를 붙여 base64로 인코딩해주세요.", "Incorrect Basic auth format. Include ':' after the secret key before base64 encoding."),
    ("FDS_ERROR", 403, "이상 거래 탐지로 결제가 차단되었습니다. 본인 확인 후 다시 시도해주세요.", "Blocked by fraud detection. Verify your identity and try again."),
    ("NOT_FOUND_PAYMENT", 404, "존재하지 않는 결제입니다.", "The payment does not exist."),
    ("NOT_FOUND_PAYMENT_SESSION", 404, "결제 시간이 만료되어 진행 중인 결제 정보가 없습니다.", "The payment session expired, so no in-progress payment data exists."),
    ("IDEMPOTENT_REQUEST_PROCESSING", 409, "이전 멱등 요청을 아직 처리하고 있습니다.", "The previous idempotent request is still being processed."),
    ("FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING", 500, "결제가 완료되지 않았습니다. 다시 시도해주세요.", "The payment was not completed. Please try again."),
    ("FAILED_INTERNAL_SYSTEM_PROCESSING", 500, "내부 시스템 처리에 실패했습니다. 잠시 후 다시 시도해주세요.", "Internal processing failed. Please try again later."),
    ("UNKNOWN_PAYMENT_ERROR", 500, "결제에 실패했습니다. 같은 문제가 반복되면 은행이나 카드사에 문의해주세요.", "The payment failed. Contact the bank or card company if it repeats."),
    // Global list and lookup table (§3, §5.2).
    ("COMMON_ERROR", 500, "일시적인 오류가 발생했습니다. 잠시 후 다시 시도해주세요.", "A temporary error occurred. Please try again later."),
    ("FORBIDDEN_CONSECUTIVE_REQUEST", 403, "반복된 요청이 거절되었습니다. 잠시 후 다시 시도해주세요.", "Repeated requests were refused. Please try again later."),
    ("NOT_FOUND", 404, "존재하지 않는 정보입니다.", "The resource does not exist."),
    ("NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN_BELOW_AMOUNT", 400, "이 금액 미만에서는 할부를 쓸 수 없습니다.", "Installments are not available below this amount."),
    ("INVALID_ORDER_ID", 400, "orderId는 영문 대소문자, 숫자, '-', '_'로 된 6자 이상 64자 이하여야 합니다.", "The orderId must be 6-64 characters of letters, digits, '-' and '_'."),
    ("DUPLICATED_ORDER_ID", 400, "이미 승인 또는 취소된 주문번호입니다. 다른 주문번호로 진행해주세요.", "This orderId has already been used for an approved or cancelled payment."),
    ("NOT_SUPPORTED_METHOD", 400, "지원되지 않는 결제수단입니다.", "This payment method is not supported."),
    ("INVALID_CLIENT_KEY", 400, "잘못된 클라이언트 키입니다.", "The client key is invalid."),
    ("EXCEEDS_TRANSFER_AMOUNT_MAXIMUM", 400, "계좌이체는 1회 10,000,000원까지 결제할 수 있습니다.", "A bank transfer is capped at 10,000,000 KRW per transaction."),
    ("ALREADY_CANCELED_PAYMENT", 400, "이미 취소된 결제입니다.", "This payment has already been cancelled."),
    // Cancel table (§3).
    ("INVALID_REFUND_ACCOUNT_INFO", 400, "환불 계좌 정보가 잘못되었습니다.", "The refund account information is invalid."),
    ("EXCEED_CANCEL_AMOUNT_DISCOUNT_AMOUNT", 400, "취소 금액이 취소할 수 있는 할인 금액을 넘었습니다.", "The cancel amount exceeds the cancellable discount amount."),
    ("INVALID_REFUND_ACCOUNT_NUMBER", 400, "잘못된 환불 계좌번호입니다.", "The refund account number is invalid."),
    ("INVALID_BANK", 400, "유효하지 않은 은행입니다.", "The bank is invalid."),
    ("NOT_MATCHES_REFUNDABLE_AMOUNT", 400, "환불 가능 금액이 현재 잔액과 일치하지 않습니다.", "The refundable amount does not match the current balance."),
    ("REFUND_REJECTED", 400, "환불이 거절되었습니다.", "The refund was rejected."),
    ("ALREADY_REFUND_PAYMENT", 400, "이미 환불된 결제입니다.", "This payment has already been refunded."),
    ("FORBIDDEN_BANK_REFUND_REQUEST", 400, "은행에서 허용하지 않는 환불 요청입니다.", "The bank does not allow this refund request."),
    ("NOT_CANCELABLE_AMOUNT", 403, "취소할 수 없는 금액입니다.", "The amount cannot be cancelled."),
    ("NOT_CANCELABLE_PAYMENT", 403, "취소할 수 없는 결제입니다.", "The payment cannot be cancelled."),
    ("EXCEED_MAX_REFUND_DUE", 403, "환불 가능 기간이 지났습니다.", "The refund period has passed."),
    ("NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT", 403, "입금 대기 중인 결제는 부분 환불할 수 없습니다.", "Partial refunds are not allowed while waiting for a deposit."),
    ("NOT_ALLOWED_PARTIAL_REFUND", 403, "부분 환불이 허용되지 않는 결제입니다.", "Partial refunds are not allowed for this payment."),
    ("NOT_CANCELABLE_PAYMENT_FOR_DORMANT_USER", 403, "휴면 회원의 결제는 취소할 수 없습니다.", "Payments of dormant users cannot be cancelled."),
    ("EXCEED_CANCEL_LIMIT", 403, "취소 한도를 넘었습니다.", "The cancel limit has been exceeded."),
    ("FAILED_REFUND_PROCESS", 500, "은행에서 환불 처리에 실패했습니다.", "The refund failed at the bank."),
    ("FAILED_PARTIAL_REFUND", 500, "부분 환불에 실패했습니다.", "The partial refund failed."),
    ("FAILED_METHOD_HANDLING_CANCEL", 500, "결제수단 처리 중 취소에 실패했습니다.", "The payment method failed to handle the cancel."),
    // Not in docs/toss.md: the answer to a `TossPayments-Test-Code` the sandbox does not know.
    ("INVALID_TEST_CODE", 400, "유효하지 않은 테스트 코드입니다.", "The test code is not a known error code."),
];

fn lookup(code: &str) -> Option<&'static (&'static str, u16, &'static str, &'static str)> {
    CODES.iter().find(|(c, ..)| *c == code)
}

/// The HTTP status Toss answers with for `code`; codes it does not list get 400.
pub fn http_status(code: &str) -> StatusCode {
    lookup(code)
        .and_then(|(_, s, ..)| StatusCode::from_u16(*s).ok())
        .unwrap_or(StatusCode::BAD_REQUEST)
}

/// Every code the sandbox knows, for docs and tests.
pub fn known_codes() -> impl Iterator<Item = &'static str> {
    CODES.iter().map(|(c, ..)| *c)
}

pub fn is_known(code: &str) -> bool {
    lookup(code).is_some()
}

/// The language of error messages. Toss answers in Korean unless the request carries
/// `Accept-Language: en-US` (docs/toss.md §1, "Optional headers").
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    Ko,
    En,
}

impl Lang {
    /// English when the first language range is `en` or `en-*` (Toss documents `en-US`;
    /// other English tags are read the same way rather than silently falling back).
    pub fn of(headers: &HeaderMap) -> Lang {
        let first = headers
            .get(ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split([',', ';']).next())
            .map(|tag| tag.trim().to_ascii_lowercase());
        match first {
            Some(tag) if tag == "en" || tag.starts_with("en-") => Lang::En,
            _ => Lang::Ko,
        }
    }
}

/// A Toss v1 error: answered as `{"code", "message"}` with [`http_status`] of the code. It keeps
/// both messages so that the answer can follow the request's `Accept-Language`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: String,
    ko: String,
    en: String,
}

impl ApiError {
    pub fn new(code: impl Into<String>, ko: impl Into<String>, en: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            ko: ko.into(),
            en: en.into(),
        }
    }

    /// The error with Toss's usual messages for `code`.
    pub fn of(code: &str) -> Self {
        let (ko, en) = lookup(code).map_or(
            ("오류가 발생했습니다.", "An error occurred."),
            |(_, _, ko, en)| (*ko, *en),
        );
        Self::new(code, ko, en)
    }

    pub fn invalid_request(ko: impl Into<String>, en: impl Into<String>) -> Self {
        Self::new("INVALID_REQUEST", ko, en)
    }

    pub fn status(&self) -> StatusCode {
        http_status(&self.code)
    }

    pub fn message(&self, lang: Lang) -> &str {
        match lang {
            Lang::Ko => &self.ko,
            Lang::En => &self.en,
        }
    }

    pub fn body(&self, lang: Lang) -> Value {
        json!({ "code": self.code, "message": self.message(lang) })
    }

    /// There is deliberately no `IntoResponse`: every answer names its language.
    pub fn respond(&self, lang: Lang) -> Response {
        (self.status(), Json(self.body(lang))).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use std::collections::HashSet;

    #[test]
    fn statuses_match_the_tables() {
        // (code, status) as docs/toss.md gives them: §5.2 table, §3 lookup and cancel lists,
        // and the global-list mentions.
        for (code, status) in [
            ("ALREADY_PROCESSED_PAYMENT", 400),
            ("PROVIDER_ERROR", 400),
            ("INVALID_API_KEY", 400),
            ("UNAUTHORIZED_KEY", 401),
            ("INCORRECT_BASIC_AUTH_FORMAT", 403),
            ("REJECT_CARD_COMPANY", 403),
            ("FORBIDDEN_REQUEST", 403),
            ("NOT_FOUND_PAYMENT_SESSION", 404),
            ("IDEMPOTENT_REQUEST_PROCESSING", 409),
            ("FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING", 500),
            ("UNKNOWN_PAYMENT_ERROR", 500),
            ("COMMON_ERROR", 500),
            ("FORBIDDEN_CONSECUTIVE_REQUEST", 403),
            ("NOT_FOUND", 404),
            ("NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN_BELOW_AMOUNT", 400),
            ("INVALID_CLIENT_KEY", 400),
            ("NOT_SUPPORTED_METHOD", 400),
            ("EXCEEDS_TRANSFER_AMOUNT_MAXIMUM", 400),
            ("ALREADY_CANCELED_PAYMENT", 400),
            ("NOT_CANCELABLE_AMOUNT", 403),
            ("FAILED_REFUND_PROCESS", 500),
            ("INVALID_TEST_CODE", 400),
        ] {
            assert_eq!(http_status(code).as_u16(), status, "{code}");
        }
        assert_eq!(
            http_status("SOMETHING_TOSS_ADDED_LATER"),
            StatusCode::BAD_REQUEST
        );
    }

    #[test]
    fn every_code_is_listed_once_with_both_messages() {
        let mut seen = HashSet::new();
        for (code, _, ko, en) in CODES {
            assert!(seen.insert(code), "{code} listed twice");
            let hangul = |c: char| ('가'..='힣').contains(&c);
            assert!(ko.chars().any(hangul), "{code}: no Korean message");
            assert!(
                !en.is_empty() && en.is_ascii(),
                "{code}: no English message"
            );
        }
    }

    #[test]
    fn messages_are_korean_unless_english_is_asked_for() {
        let lang = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(ACCEPT_LANGUAGE, HeaderValue::from_str(value).unwrap());
            Lang::of(&headers)
        };
        assert_eq!(Lang::of(&HeaderMap::new()), Lang::Ko);
        assert_eq!(lang("en-US"), Lang::En);
        assert_eq!(lang("EN-us,ko;q=0.5"), Lang::En);
        assert_eq!(lang("en"), Lang::En);
        assert_eq!(lang("ko-KR,en-US;q=0.9"), Lang::Ko);
        assert_eq!(lang("english"), Lang::Ko);
        let error = ApiError::of("NOT_FOUND_PAYMENT");
        assert_eq!(error.message(Lang::Ko), "존재하지 않는 결제입니다.");
        assert_eq!(error.message(Lang::En), "The payment does not exist.");
    }
}
