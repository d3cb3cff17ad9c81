//! Payments: the order a member pays for, its states and the only moves between them,
//! and how every Toss answer is classified. Facts about Toss: `docs/toss.md`.

pub mod deposit;
pub mod drive;

use crate::error::{ErrorCode, ValidationError};
use std::fmt;

/// Our order id, also Toss' `orderId`: `[A-Za-z0-9_-]{6,64}` (the safe charset, §2.1).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OrderId(String);

impl OrderId {
    /// A fresh, unguessable order id.
    pub fn new_random(uuid_simple: &str) -> Self {
        Self(format!("ord_{uuid_simple}"))
    }

    /// An order id read back from our own records, as it was stored.
    pub fn stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let valid = (6..=64).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ValidationError::new(
                ErrorCode::InvalidField,
                "orderId: 6~64자의 영문, 숫자, -, _ 여야 합니다.",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Won charged for a points purchase: at least Toss' card minimum, at most what this
/// product sells in one order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Amount(u64);

impl Amount {
    pub const MIN: i64 = 100;
    pub const MAX: i64 = 1_000_000;

    /// An amount read back from our own records: no range check (limits of new input
    /// may have changed since it was accepted).
    pub fn stored(won: u64) -> Self {
        Self(won)
    }

    pub fn parse(raw: i64) -> Result<Self, ValidationError> {
        if (Self::MIN..=Self::MAX).contains(&raw) {
            Ok(Self(raw as u64))
        } else {
            Err(ValidationError::invalid(
                "amount",
                format!("{}원 이상 {}원 이하여야 합니다.", Self::MIN, Self::MAX),
            ))
        }
    }

    pub fn won(self) -> u64 {
        self.0
    }
}

/// Toss' `paymentKey`: at most 200 characters, printable ASCII.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentKey(String);

impl PaymentKey {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        if !raw.is_empty() && raw.len() <= 200 && raw.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(ValidationError::invalid(
                "paymentKey",
                "1~200자의 영문, 숫자, 기호여야 합니다.",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub fn parse_order_name(raw: &str) -> Result<String, ValidationError> {
    let name = raw.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > 100 || name.chars().any(char::is_control) {
        return Err(ValidationError::invalid(
            "orderName",
            "1자 이상 100자 이하여야 합니다.",
        ));
    }
    Ok(name.to_owned())
}

/// Where a payment is. Changed only through [`PaymentStatus::can_become`]-checked moves,
/// each recorded in `payment_events`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentStatus {
    /// Checkout created; nothing sent to Toss yet.
    Ready,
    /// A confirm claimed it and may be talking to Toss; the claim has a lease.
    InProgress,
    /// Toss approved and the points are charged.
    Done,
    /// Toss definitively refused; no money moved.
    Failed,
    /// Toss may or may not have approved (timeout, reset, 5xx, crash): recovery decides.
    Unknown,
    /// A person must look: amounts differ, or recovery gave up.
    NeedsAttention,
    /// Checkout never confirmed within Toss' window, or a virtual account never paid
    /// before its due date.
    Expired,
    /// Toss issued a virtual account for our amount; nothing is paid and no points are
    /// charged until Toss shows the deposit (`DONE`). A deposit error brings a `DONE`
    /// virtual-account payment back here (docs/toss.md §2.3, §7b).
    WaitingForDeposit,
}

impl PaymentStatus {
    pub const ALL: [PaymentStatus; 8] = [
        PaymentStatus::Ready,
        PaymentStatus::InProgress,
        PaymentStatus::Done,
        PaymentStatus::Failed,
        PaymentStatus::Unknown,
        PaymentStatus::NeedsAttention,
        PaymentStatus::Expired,
        PaymentStatus::WaitingForDeposit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PaymentStatus::Ready => "READY",
            PaymentStatus::InProgress => "IN_PROGRESS",
            PaymentStatus::Done => "DONE",
            PaymentStatus::Failed => "FAILED",
            PaymentStatus::Unknown => "UNKNOWN",
            PaymentStatus::NeedsAttention => "NEEDS_ATTENTION",
            PaymentStatus::Expired => "EXPIRED",
            PaymentStatus::WaitingForDeposit => "WAITING_FOR_DEPOSIT",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// The state machine. Anything not listed is refused.
    pub fn can_become(self, next: PaymentStatus) -> bool {
        use PaymentStatus::*;
        matches!(
            (self, next),
            (Ready, InProgress)
                | (Ready, Expired)
                | (InProgress, Done)
                | (InProgress, Failed)
                | (InProgress, Unknown)
                | (InProgress, NeedsAttention)
                | (Unknown, Done)
                | (Unknown, Failed)
                | (Unknown, NeedsAttention)
                // Recovery re-claims an unknown or lease-expired payment before asking Toss.
                | (Unknown, InProgress)
                | (InProgress, InProgress)
                // Virtual accounts: issued, then paid, expired or a person's case; a
                // deposit error takes a paid one back.
                | (InProgress, WaitingForDeposit)
                | (Unknown, WaitingForDeposit)
                | (WaitingForDeposit, Done)
                | (WaitingForDeposit, Expired)
                | (WaitingForDeposit, NeedsAttention)
                // Recovery's next look at an account still waiting.
                | (WaitingForDeposit, WaitingForDeposit)
                | (Done, WaitingForDeposit)
        )
    }
}

impl fmt::Display for PaymentStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What an error answer from Toss' confirm means for us (docs/toss.md §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfirmErrorClass {
    /// Toss says it was already processed: look it up.
    AlreadyProcessed,
    /// Transient on Toss' or the card company's side: look up; if still waiting for a
    /// confirm, confirm again with a new key (the old key would replay this error).
    Retryable,
    /// The first request with this key is still running: same key again later.
    RetrySameKey,
    /// The outcome is not known: look it up before deciding anything.
    Unknown,
    /// The payment failed (decline, limit, card problem): no money moved.
    FinalFailure,
    /// Our bug or configuration: no money moved; operators are alerted.
    FinalIntegration,
}

impl ConfirmErrorClass {
    /// Every code Toss documents for confirm plus the global codes that can come back;
    /// anything else is `Unknown` (Toss adds codes over time).
    pub fn of(code: &str) -> Self {
        use ConfirmErrorClass::*;
        match code {
            "ALREADY_PROCESSED_PAYMENT" => AlreadyProcessed,
            "PROVIDER_ERROR"
            | "CARD_PROCESSING_ERROR"
            | "FORBIDDEN_CONSECUTIVE_REQUEST"
            | "TOO_MANY_REQUESTS" => Retryable,
            "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING"
            | "FAILED_INTERNAL_SYSTEM_PROCESSING"
            | "COMMON_ERROR" => Retryable,
            "IDEMPOTENT_REQUEST_PROCESSING" => RetrySameKey,
            "UNKNOWN_PAYMENT_ERROR" | "UNAPPROVED_ORDER_ID" => Unknown,
            "EXCEED_MAX_CARD_INSTALLMENT_PLAN"
            | "NOT_ALLOWED_POINT_USE"
            | "INVALID_REJECT_CARD"
            | "BELOW_MINIMUM_AMOUNT"
            | "INVALID_CARD_EXPIRATION"
            | "INVALID_STOPPED_CARD"
            | "EXCEED_MAX_DAILY_PAYMENT_COUNT"
            | "NOT_SUPPORTED_INSTALLMENT_PLAN_CARD_OR_MERCHANT"
            | "INVALID_CARD_INSTALLMENT_PLAN"
            | "NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN"
            | "EXCEED_MAX_PAYMENT_AMOUNT"
            | "INVALID_CARD_LOST_OR_STOLEN"
            | "RESTRICTED_TRANSFER_ACCOUNT"
            | "INVALID_CARD_NUMBER"
            | "EXCEED_MAX_ONE_DAY_WITHDRAW_AMOUNT"
            | "EXCEED_MAX_ONE_TIME_WITHDRAW_AMOUNT"
            | "EXCEED_MAX_AMOUNT"
            | "INVALID_ACCOUNT_INFO_RE_REGISTER"
            | "NOT_AVAILABLE_PAYMENT"
            | "EXCEED_MAX_MONTHLY_PAYMENT_AMOUNT"
            | "REJECT_CARD_PAYMENT"
            | "REJECT_CARD_COMPANY"
            | "REJECT_ACCOUNT_PAYMENT"
            | "REJECT_TOSSPAY_INVALID_ACCOUNT"
            | "EXCEED_MAX_AUTH_COUNT"
            | "EXCEED_MAX_ONE_DAY_AMOUNT"
            | "NOT_AVAILABLE_BANK"
            | "INVALID_PASSWORD"
            | "FDS_ERROR"
            | "NOT_FOUND_PAYMENT_SESSION"
            | "EXCEEDS_TRANSFER_AMOUNT_MAXIMUM" => FinalFailure,
            "INVALID_REQUEST"
            | "INVALID_API_KEY"
            | "NOT_FOUND_TERMINAL_ID"
            | "INVALID_AUTHORIZE_AUTH"
            | "INVALID_UNREGISTERED_SUBMALL"
            | "NOT_REGISTERED_BUSINESS"
            | "UNAUTHORIZED_KEY"
            | "FORBIDDEN_REQUEST"
            | "INCORRECT_BASIC_AUTH_FORMAT"
            | "NOT_FOUND_PAYMENT"
            | "INVALID_IDEMPOTENCY_KEY"
            | "INVALID_ORDER_ID"
            | "DUPLICATED_ORDER_ID"
            | "NOT_SUPPORTED_METHOD"
            | "INVALID_CLIENT_KEY" => FinalIntegration,
            _ => Unknown,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            ConfirmErrorClass::FinalFailure | ConfirmErrorClass::FinalIntegration
        )
    }
}

/// What Toss' view of a payment (a lookup after a non-success) tells us to do (§5.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TossVerdict {
    /// Approved for the amount we expect: charge the points (once).
    Approved,
    /// Approved for another amount: cancel at Toss and ask a person.
    AmountDiffers { approved: u64 },
    /// Approval failed or the window passed: no money moved.
    Failed { code: String, message: String },
    /// Authenticated but not confirmed: a confirm may still be sent (inside the window).
    AwaitingConfirm,
    /// A virtual account for our amount was issued: not paid yet (§7b).
    AwaitingDeposit,
    /// Nothing decisive yet.
    Undecided,
}

/// Decides from Toss' `status` and `totalAmount` (and `failure`, when present).
pub fn verdict(
    status: &str,
    total_amount: u64,
    expected: Amount,
    failure: Option<(&str, &str)>,
) -> TossVerdict {
    match status {
        "DONE" if total_amount == expected.won() => TossVerdict::Approved,
        "DONE" => TossVerdict::AmountDiffers {
            approved: total_amount,
        },
        // Approved, then cancelled by someone: for us the purchase did not happen, but
        // money moved and back; a person should see it.
        "CANCELED" | "PARTIAL_CANCELED" => TossVerdict::AmountDiffers {
            approved: total_amount,
        },
        "ABORTED" | "EXPIRED" => {
            let (code, message) = failure.unwrap_or((status, "결제가 승인되지 않았습니다."));
            TossVerdict::Failed {
                code: code.to_owned(),
                message: message.to_owned(),
            }
        }
        "IN_PROGRESS" => TossVerdict::AwaitingConfirm,
        "WAITING_FOR_DEPOSIT" if total_amount == expected.won() => TossVerdict::AwaitingDeposit,
        "WAITING_FOR_DEPOSIT" => TossVerdict::AmountDiffers {
            approved: total_amount,
        },
        _ => TossVerdict::Undecided,
    }
}

/// What the driver does after Toss refused a confirm with a definitive error body
/// (docs/toss.md §4, §5.2, §5.3; the README's "Payments: flow, states, guarantees").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterRefusal {
    /// The code is Toss's verdict: the payment failed and no money moved.
    SettleFailed,
    /// Look the payment up; a later confirm uses a new key when `rotate_key` (Toss replays
    /// an error for the same key, so that key is used up).
    LookUp { rotate_key: bool },
}

/// A refused confirm. `uncertain` says an earlier attempt's outcome was not known (no
/// answer, a 5xx or "may be partial" code, a key rotation, a confirm that died): then even
/// a final-looking code is not a verdict, since that earlier attempt may still end `DONE`.
pub fn after_refusal(code: &str, uncertain: bool) -> AfterRefusal {
    match ConfirmErrorClass::of(code) {
        class if class.is_final() && !uncertain => AfterRefusal::SettleFailed,
        class if class.is_final() => AfterRefusal::LookUp { rotate_key: false },
        // The first request with this key is still running: the key is not used up.
        ConfirmErrorClass::RetrySameKey => AfterRefusal::LookUp { rotate_key: false },
        _ => AfterRefusal::LookUp { rotate_key: true },
    }
}

/// Whether a confirm refusal leaves the outcome open (so later answers are not verdicts).
pub fn refusal_leaves_doubt(code: &str) -> bool {
    !ConfirmErrorClass::of(code).is_final()
}

/// Slack after Toss's confirm window before a lookup 404 may count as "nothing approved":
/// a confirm of ours sent at the window's last moment may still be running.
pub const CONFIRM_WINDOW_SLACK_SECS: i64 = 5 * 60;

/// The Payment Toss returned is the one we asked about: same order, payment key and
/// currency. Anything else must never charge points.
pub fn is_our_payment(ours: (&str, Option<&str>), theirs: (&str, &str, Option<&str>)) -> bool {
    let (our_order, our_key) = ours;
    let (order, key, currency) = theirs;
    order == our_order && our_key.is_none_or(|k| k == key) && currency.is_none_or(|c| c == "KRW")
}

/// Seconds Toss keeps an authenticated payment confirmable.
pub const TOSS_CONFIRM_WINDOW_SECS: i64 = 10 * 60;
/// Seconds a checkout (payment window) lives at Toss.
pub const TOSS_CHECKOUT_WINDOW_SECS: i64 = 30 * 60;

#[cfg(test)]
mod decision_tests {
    use super::*;
    #[test]
    fn refusals_are_verdicts_only_without_earlier_doubt() {
        use AfterRefusal::*;
        let cases = [
            // (code, uncertain before, next step)
            ("REJECT_CARD_COMPANY", false, SettleFailed),
            ("REJECT_CARD_COMPANY", true, LookUp { rotate_key: false }),
            ("NOT_FOUND_PAYMENT_SESSION", false, SettleFailed),
            (
                "NOT_FOUND_PAYMENT_SESSION",
                true,
                LookUp { rotate_key: false },
            ),
            ("INVALID_API_KEY", false, SettleFailed),
            ("INVALID_API_KEY", true, LookUp { rotate_key: false }),
            ("PROVIDER_ERROR", false, LookUp { rotate_key: true }),
            (
                "FAILED_INTERNAL_SYSTEM_PROCESSING",
                false,
                LookUp { rotate_key: true },
            ),
            // "Unknown" codes came with a definitive body: the key replays them.
            ("UNKNOWN_PAYMENT_ERROR", false, LookUp { rotate_key: true }),
            (
                "SOME_CODE_TOSS_ADDS_LATER",
                true,
                LookUp { rotate_key: true },
            ),
            (
                "ALREADY_PROCESSED_PAYMENT",
                false,
                LookUp { rotate_key: true },
            ),
            (
                "IDEMPOTENT_REQUEST_PROCESSING",
                false,
                LookUp { rotate_key: false },
            ),
            (
                "IDEMPOTENT_REQUEST_PROCESSING",
                true,
                LookUp { rotate_key: false },
            ),
        ];
        for (code, uncertain, step) in cases {
            assert_eq!(
                after_refusal(code, uncertain),
                step,
                "{code} uncertain={uncertain}"
            );
        }
        for (code, doubt) in [
            ("REJECT_CARD_COMPANY", false),
            ("NOT_FOUND_PAYMENT", false),
            ("PROVIDER_ERROR", true),
            ("FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING", true),
            ("IDEMPOTENT_REQUEST_PROCESSING", true),
            ("SOME_CODE_TOSS_ADDS_LATER", true),
        ] {
            assert_eq!(refusal_leaves_doubt(code), doubt, "{code}");
        }
    }

    #[test]
    fn only_our_own_payment_counts() {
        let ours = ("ord_1", Some("pk_1"));
        for (theirs, mine) in [
            (("ord_1", "pk_1", Some("KRW")), true),
            (("ord_1", "pk_1", None), true),
            (("ord_2", "pk_1", Some("KRW")), false),
            (("ord_1", "pk_2", Some("KRW")), false),
            (("ord_1", "pk_1", Some("USD")), false),
        ] {
            assert_eq!(is_our_payment(ours, theirs), mine, "{theirs:?}");
        }
        assert!(is_our_payment(
            ("ord_1", None),
            ("ord_1", "pk_9", Some("KRW"))
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use PaymentStatus::*;

    #[test]
    fn state_machine_allows_only_the_designed_moves() {
        let allowed = [
            (Ready, InProgress),
            (Ready, Expired),
            (InProgress, Done),
            (InProgress, Failed),
            (InProgress, Unknown),
            (InProgress, NeedsAttention),
            (InProgress, InProgress),
            (Unknown, Done),
            (Unknown, Failed),
            (Unknown, NeedsAttention),
            (Unknown, InProgress),
            (InProgress, WaitingForDeposit),
            (Unknown, WaitingForDeposit),
            (WaitingForDeposit, Done),
            (WaitingForDeposit, Expired),
            (WaitingForDeposit, NeedsAttention),
            (WaitingForDeposit, WaitingForDeposit),
            (Done, WaitingForDeposit),
        ];
        for from in PaymentStatus::ALL {
            for to in PaymentStatus::ALL {
                assert_eq!(
                    from.can_become(to),
                    allowed.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
        }
        for done in [Failed, Expired, NeedsAttention] {
            assert!(
                PaymentStatus::ALL.iter().all(|to| !done.can_become(*to)),
                "{done} is terminal"
            );
        }
        for s in PaymentStatus::ALL {
            assert_eq!(PaymentStatus::parse(s.as_str()), Some(s));
        }
    }

    /// Every code of docs/toss.md §5.2 (and the global ones it names), with its class.
    #[test]
    fn every_documented_confirm_code_is_classified() {
        use ConfirmErrorClass::*;
        let table: &[(&str, ConfirmErrorClass)] = &[
            ("ALREADY_PROCESSED_PAYMENT", AlreadyProcessed),
            ("PROVIDER_ERROR", Retryable),
            ("CARD_PROCESSING_ERROR", Retryable),
            ("FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING", Retryable),
            ("FAILED_INTERNAL_SYSTEM_PROCESSING", Retryable),
            ("UNKNOWN_PAYMENT_ERROR", Unknown),
            ("COMMON_ERROR", Retryable),
            ("IDEMPOTENT_REQUEST_PROCESSING", RetrySameKey),
            ("FORBIDDEN_CONSECUTIVE_REQUEST", Retryable),
            ("EXCEED_MAX_CARD_INSTALLMENT_PLAN", FinalFailure),
            ("INVALID_REQUEST", FinalIntegration),
            ("NOT_ALLOWED_POINT_USE", FinalFailure),
            ("INVALID_API_KEY", FinalIntegration),
            ("INVALID_REJECT_CARD", FinalFailure),
            ("BELOW_MINIMUM_AMOUNT", FinalFailure),
            ("INVALID_CARD_EXPIRATION", FinalFailure),
            ("INVALID_STOPPED_CARD", FinalFailure),
            ("EXCEED_MAX_DAILY_PAYMENT_COUNT", FinalFailure),
            (
                "NOT_SUPPORTED_INSTALLMENT_PLAN_CARD_OR_MERCHANT",
                FinalFailure,
            ),
            ("INVALID_CARD_INSTALLMENT_PLAN", FinalFailure),
            ("NOT_SUPPORTED_MONTHLY_INSTALLMENT_PLAN", FinalFailure),
            ("EXCEED_MAX_PAYMENT_AMOUNT", FinalFailure),
            ("NOT_FOUND_TERMINAL_ID", FinalIntegration),
            ("INVALID_AUTHORIZE_AUTH", FinalIntegration),
            ("INVALID_CARD_LOST_OR_STOLEN", FinalFailure),
            ("RESTRICTED_TRANSFER_ACCOUNT", FinalFailure),
            ("INVALID_CARD_NUMBER", FinalFailure),
            ("INVALID_UNREGISTERED_SUBMALL", FinalIntegration),
            ("NOT_REGISTERED_BUSINESS", FinalIntegration),
            ("EXCEED_MAX_ONE_DAY_WITHDRAW_AMOUNT", FinalFailure),
            ("EXCEED_MAX_ONE_TIME_WITHDRAW_AMOUNT", FinalFailure),
            ("EXCEED_MAX_AMOUNT", FinalFailure),
            ("INVALID_ACCOUNT_INFO_RE_REGISTER", FinalFailure),
            ("NOT_AVAILABLE_PAYMENT", FinalFailure),
            ("EXCEED_MAX_MONTHLY_PAYMENT_AMOUNT", FinalFailure),
            ("UNAPPROVED_ORDER_ID", Unknown),
            ("UNAUTHORIZED_KEY", FinalIntegration),
            ("REJECT_CARD_PAYMENT", FinalFailure),
            ("REJECT_CARD_COMPANY", FinalFailure),
            ("FORBIDDEN_REQUEST", FinalIntegration),
            ("REJECT_ACCOUNT_PAYMENT", FinalFailure),
            ("REJECT_TOSSPAY_INVALID_ACCOUNT", FinalFailure),
            ("EXCEED_MAX_AUTH_COUNT", FinalFailure),
            ("EXCEED_MAX_ONE_DAY_AMOUNT", FinalFailure),
            ("NOT_AVAILABLE_BANK", FinalFailure),
            ("INVALID_PASSWORD", FinalFailure),
            ("INCORRECT_BASIC_AUTH_FORMAT", FinalIntegration),
            ("FDS_ERROR", FinalFailure),
            ("NOT_FOUND_PAYMENT", FinalIntegration),
            ("NOT_FOUND_PAYMENT_SESSION", FinalFailure),
            ("INVALID_IDEMPOTENCY_KEY", FinalIntegration),
            ("INVALID_ORDER_ID", FinalIntegration),
            ("DUPLICATED_ORDER_ID", FinalIntegration),
            ("NOT_SUPPORTED_METHOD", FinalIntegration),
            ("INVALID_CLIENT_KEY", FinalIntegration),
            ("EXCEEDS_TRANSFER_AMOUNT_MAXIMUM", FinalFailure),
            ("A_CODE_TOSS_ADDS_NEXT_YEAR", Unknown),
        ];
        for (code, class) in table {
            assert_eq!(ConfirmErrorClass::of(code), *class, "{code}");
        }
    }

    #[test]
    fn lookup_verdicts() {
        let amount = Amount::parse(5_000).unwrap();
        assert_eq!(verdict("DONE", 5_000, amount, None), TossVerdict::Approved);
        assert_eq!(
            verdict("DONE", 4_000, amount, None),
            TossVerdict::AmountDiffers { approved: 4_000 }
        );
        assert_eq!(
            verdict("IN_PROGRESS", 5_000, amount, None),
            TossVerdict::AwaitingConfirm
        );
        assert_eq!(
            verdict(
                "ABORTED",
                5_000,
                amount,
                Some(("REJECT_CARD_COMPANY", "거절"))
            ),
            TossVerdict::Failed {
                code: "REJECT_CARD_COMPANY".into(),
                message: "거절".into()
            }
        );
        assert!(matches!(
            verdict("EXPIRED", 5_000, amount, None),
            TossVerdict::Failed { .. }
        ));
        assert_eq!(
            verdict("READY", 5_000, amount, None),
            TossVerdict::Undecided
        );
        assert_eq!(
            verdict("WAITING_FOR_DEPOSIT", 5_000, amount, None),
            TossVerdict::AwaitingDeposit
        );
        assert_eq!(
            verdict("WAITING_FOR_DEPOSIT", 4_000, amount, None),
            TossVerdict::AmountDiffers { approved: 4_000 }
        );
    }

    #[test]
    fn input_rules() {
        assert!(OrderId::parse("ord_abc123").is_ok());
        for bad in ["short", "has space xx", "é_unicode_x", &"a".repeat(65)] {
            assert!(OrderId::parse(bad).is_err(), "{bad}");
        }
        assert!(
            Amount::parse(99).is_err()
                && Amount::parse(100).is_ok()
                && Amount::parse(1_000_001).is_err()
        );
        assert!(PaymentKey::parse("").is_err() && PaymentKey::parse(&"k".repeat(201)).is_err());
        assert!(
            parse_order_name(&"가".repeat(101)).is_err() && parse_order_name("포인트 충전").is_ok()
        );
    }
}
