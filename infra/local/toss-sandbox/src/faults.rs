//! Faults Toss cannot produce on demand, chosen per payment at authentication.
//!
//! They are written into the paymentKey (`tsbx_<hex>.delay-500.fail-PROVIDER_ERROR-2`), so a
//! black-box client that only passes the key through still selects them. See README.md.

use std::time::Duration;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Sleep before confirming.
    pub delay: Option<Duration>,
    /// Approve, then answer only after [`HANG`].
    pub hang: bool,
    /// Approve, then close the connection without a response.
    pub drop: bool,
    /// The first `n` confirms answer this code; the payment is left as it was.
    pub fail: Option<(String, u32)>,
    /// Approve with this amount instead of the requested one.
    pub amount: Option<i64>,
    /// The confirm fails with this code and the payment becomes ABORTED.
    pub abort: Option<String>,
    /// Lookups answer 404 `NOT_FOUND_PAYMENT` until the payment is approved: Toss documents
    /// them as lookups of approved payments (docs/toss.md §3, §5.3).
    pub lookup_404: bool,
    /// Close the connection without a response while the approval is still running at the
    /// card network; it lands this long afterwards (a confirm timeout, §4 and §6).
    pub late: Option<Duration>,
    /// The first confirm answers this code, yet the approval lands [`PARTIAL_LANDING`] later:
    /// a `FAILED_*_PROCESSING` "may be partial" and an earlier attempt may still end `DONE`
    /// (§5.2, §5.3).
    pub partial: Option<String>,
    /// The code a confirm with the other key family's secret key gets instead of
    /// [`MIXED_KEY_CODE`]: docs/toss.md §1 names `INVALID_API_KEY` / `UNAUTHORIZED_KEY` only
    /// as "such as" (a [T] source), so each candidate must be producible.
    pub mixed_key: Option<String>,
    /// The Payment carries a `secret` although it is no virtual-account payment: §7b says
    /// card payments have `secret: null`, §2.2 also mentions comparing it for status webhooks.
    pub with_secret: bool,
    /// Cancels: process the cancel, then close the connection without a response (the
    /// answer is kept for a same-key resend, as Toss keeps results, §4).
    pub cancel_drop: bool,
    /// Cancels: the first `n` answer this code with its status and cancel nothing
    /// (Toss's cancel codes, §3: a 4xx refusal or a 5xx processing failure).
    pub cancel_fail: Option<(String, u32)>,
    /// Webhooks: every attempt is sent twice at once, with the same transmission id
    /// (Toss's deliveries can repeat, docs/toss.md §7).
    pub webhook_duplicate: bool,
    /// Webhooks: the payment's first webhook is held back [`REORDER_HOLD`], so a later one
    /// overtakes it (§7: delivery order is not guaranteed).
    pub webhook_reorder: bool,
    /// Webhooks: the body claims another status and amounts than the payment has (the
    /// body is unsigned, §7), while lookups tell the truth.
    pub webhook_lie: bool,
}

/// How long `webhook-reorder` holds a payment's first webhook back, on the sandbox clock.
pub const REORDER_HOLD: Duration = Duration::from_millis(1_500);

/// How long a `hang` confirm waits: past any sane client timeout.
pub const HANG: Duration = Duration::from_secs(120);

/// How long after its error answer a `partial-<CODE>` approval lands: "shortly after".
pub const PARTIAL_LANDING: Duration = Duration::from_millis(300);

/// The sandbox's choice for a confirm whose secret key is from the other family than the
/// client key that opened the payment: the first code docs/toss.md §1 names, and the one of
/// the confirm table (§5.2) whose meaning is "wrong secret key integration".
pub const MIXED_KEY_CODE: &str = "INVALID_API_KEY";

/// What the sandbox's payment window (`GET /sandbox/pay`) offers in its fault picker: a
/// `faults` value each (a single fault, or a combination README.md describes), with parameters
/// filled in, and a Korean description for the shopper-tester. Kept here, next to the parser,
/// so the list cannot name a fault the parser has dropped (see the test below).
pub const PAYMENT_WINDOW_FAULTS: &[(&str, &str)] = &[
    ("delay-1800", "승인 응답 1.8초 지연"),
    ("hang", "승인 후 120초 동안 응답 없음"),
    ("drop", "승인 후 응답 없이 연결 끊김"),
    ("late-800", "응답 없이 연결 끊김, 승인은 0.8초 뒤"),
    (
        "late-3000,lookup-404",
        "응답 없이 연결 끊김, 승인은 3초 뒤, 그때까지 조회 404",
    ),
    ("fail-PROVIDER_ERROR-1", "첫 승인 요청만 PROVIDER_ERROR"),
    (
        "fail-FAILED_INTERNAL_SYSTEM_PROCESSING-1",
        "첫 승인 요청만 FAILED_INTERNAL_SYSTEM_PROCESSING (500)",
    ),
    (
        "partial-FAILED_INTERNAL_SYSTEM_PROCESSING",
        "500 응답, 그래도 0.3초 뒤 승인",
    ),
    ("abort-REJECT_CARD_COMPANY", "카드사 거절, 결제는 ABORTED"),
    ("amount-100", "요청과 다른 금액(100원)으로 승인"),
    ("lookup-404", "승인 전까지 결제 조회 404"),
    (
        "cancel-fail-FAILED_REFUND_PROCESS-1",
        "첫 취소 요청만 FAILED_REFUND_PROCESS (500)",
    ),
    ("cancel-drop", "취소 처리 후 응답 없이 연결 끊김"),
    ("webhook-duplicate", "웹훅을 두 번씩 전송"),
    ("webhook-reorder", "첫 웹훅을 1.5초 늦게 전송"),
    ("webhook-lie", "웹훅 본문이 반대 상태를 주장"),
    (
        "mixed-key-UNAUTHORIZED_KEY",
        "다른 키 종류로 승인하면 UNAUTHORIZED_KEY",
    ),
    ("with-secret", "Payment에 secret 포함"),
];

/// Why a fault list was rejected; rendered in both languages like Toss's own messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultError {
    Unknown(String),
    Malformed { raw: String, expected: &'static str },
    Twice(String),
    Clash(&'static str, &'static str),
}

impl FaultError {
    pub fn ko(&self) -> String {
        match self {
            FaultError::Unknown(raw) => format!("알 수 없는 fault입니다: {raw:?}"),
            FaultError::Malformed { raw, expected } => {
                format!("{expected} 형식이어야 합니다: {raw:?}")
            }
            FaultError::Twice(raw) => format!("fault {raw:?}가 두 번 주어졌습니다."),
            FaultError::Clash(a, b) => format!("{a}와 {b}는 함께 쓸 수 없습니다."),
        }
    }

    pub fn en(&self) -> String {
        match self {
            FaultError::Unknown(raw) => format!("unknown fault {raw:?}"),
            FaultError::Malformed { raw, expected } => format!("expected {expected}, got {raw:?}"),
            FaultError::Twice(raw) => format!("fault {raw:?} given twice"),
            FaultError::Clash(a, b) => format!("{a} and {b} cannot be combined"),
        }
    }
}

impl Faults {
    /// Parses a comma-separated fault list. Returns the faults and the paymentKey suffix
    /// (`.fault` per fault, in the given order).
    pub fn parse(list: &str) -> Result<(Faults, String), FaultError> {
        let mut faults = Faults::default();
        let mut suffix = String::new();
        for raw in list.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            if !faults.add(raw)? {
                return Err(FaultError::Twice(raw.to_owned()));
            }
            suffix.push('.');
            suffix.push_str(raw);
        }
        faults.check_combination()?;
        Ok((faults, suffix))
    }

    /// Adds one fault; `Ok(false)` when it was already given.
    fn add(&mut self, raw: &str) -> Result<bool, FaultError> {
        let flag = match raw {
            "hang" => &mut self.hang,
            "drop" => &mut self.drop,
            "lookup-404" => &mut self.lookup_404,
            "with-secret" => &mut self.with_secret,
            "cancel-drop" => &mut self.cancel_drop,
            "webhook-duplicate" => &mut self.webhook_duplicate,
            "webhook-reorder" => &mut self.webhook_reorder,
            "webhook-lie" => &mut self.webhook_lie,
            _ => return self.add_with_argument(raw),
        };
        Ok(!std::mem::replace(flag, true))
    }

    fn add_with_argument(&mut self, raw: &str) -> Result<bool, FaultError> {
        let malformed = |expected| FaultError::Malformed {
            raw: raw.to_owned(),
            expected,
        };
        let fresh = if let Some(ms) = raw.strip_prefix("delay-") {
            let ms = parse_digits(ms).ok_or_else(|| malformed("delay-<ms>"))?;
            self.delay.replace(Duration::from_millis(ms)).is_none()
        } else if let Some(rest) = raw.strip_prefix("cancel-fail-") {
            let (code, n) = rest
                .rsplit_once('-')
                .and_then(|(code, n)| Some((code, parse_digits(n)?)))
                .filter(|(code, _)| is_code(code))
                .ok_or_else(|| malformed("cancel-fail-<CODE>-<n>"))?;
            self.cancel_fail.replace((code.to_owned(), n)).is_none()
        } else if let Some(rest) = raw.strip_prefix("fail-") {
            let (code, n) = rest
                .rsplit_once('-')
                .and_then(|(code, n)| Some((code, parse_digits(n)?)))
                .filter(|(code, _)| is_code(code))
                .ok_or_else(|| malformed("fail-<CODE>-<n>"))?;
            self.fail.replace((code.to_owned(), n)).is_none()
        } else if let Some(x) = raw.strip_prefix("amount-") {
            let x = parse_digits(x).ok_or_else(|| malformed("amount-<X>"))?;
            self.amount.replace(x).is_none()
        } else if let Some(ms) = raw.strip_prefix("late-") {
            let ms = parse_digits(ms).ok_or_else(|| malformed("late-<ms>"))?;
            self.late.replace(Duration::from_millis(ms)).is_none()
        } else if let Some(code) = raw.strip_prefix("abort-") {
            replace_code(&mut self.abort, code).ok_or_else(|| malformed("abort-<CODE>"))?
        } else if let Some(code) = raw.strip_prefix("partial-") {
            replace_code(&mut self.partial, code).ok_or_else(|| malformed("partial-<CODE>"))?
        } else if let Some(code) = raw.strip_prefix("mixed-key-") {
            replace_code(&mut self.mixed_key, code).ok_or_else(|| malformed("mixed-key-<CODE>"))?
        } else {
            return Err(FaultError::Unknown(raw.to_owned()));
        };
        Ok(fresh)
    }

    /// Rejects faults that contradict each other, so a test never silently gets only one.
    fn check_combination(&self) -> Result<(), FaultError> {
        let late = self.late.is_some();
        let partial = self.partial.is_some();
        let conflicts = [
            (self.hang && self.drop, ("hang", "drop")),
            // late already withholds the answer and decides the outcome on its own.
            (late && self.drop, ("late", "drop")),
            (late && self.hang, ("late", "hang")),
            (late && partial, ("late", "partial")),
            (late && self.abort.is_some(), ("late", "abort")),
            // Each of these decides what the first confirm answers.
            (partial && self.fail.is_some(), ("partial", "fail")),
            (partial && self.abort.is_some(), ("partial", "abort")),
            // The first cancel either answers the code or is processed and dropped.
            (
                self.cancel_drop && self.cancel_fail.is_some(),
                ("cancel-drop", "cancel-fail"),
            ),
        ];
        match conflicts.into_iter().find(|(clash, _)| *clash) {
            Some((_, (a, b))) => Err(FaultError::Clash(a, b)),
            None => Ok(()),
        }
    }
}

/// Stores a `<CODE>` argument; `None` if it is no code, `Some(false)` if one was already set.
fn replace_code(slot: &mut Option<String>, code: &str) -> Option<bool> {
    is_code(code).then(|| slot.replace(code.to_owned()).is_none())
}

/// Plain decimal digits only, so the key never carries signs, spaces or exponents.
fn parse_digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Toss codes are upper-case words joined by `_`.
fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How many kinds of fault [`Faults`] has (its fields).
    const FAULT_KINDS: usize = 16;

    #[test]
    fn the_payment_window_list_parses_and_offers_every_kind_of_fault() {
        let mut seen = std::collections::HashSet::new();
        let mut offered = [false; FAULT_KINDS];
        for (list, description) in PAYMENT_WINDOW_FAULTS {
            assert!(seen.insert(list), "{list} listed twice");
            assert!(!description.is_empty(), "{list}: no description");
            let (faults, _) = Faults::parse(list).unwrap_or_else(|e| panic!("{list}: {}", e.en()));
            // Exhaustive on purpose: a new kind of fault does not compile until it is counted
            // here, and the assertion below then wants it in the window's list.
            let Faults {
                delay,
                hang,
                drop,
                fail,
                amount,
                abort,
                lookup_404,
                late,
                partial,
                mixed_key,
                with_secret,
                cancel_drop,
                cancel_fail,
                webhook_duplicate,
                webhook_reorder,
                webhook_lie,
            } = faults;
            let kinds: [bool; FAULT_KINDS] = [
                delay.is_some(),
                hang,
                drop,
                fail.is_some(),
                amount.is_some(),
                abort.is_some(),
                lookup_404,
                late.is_some(),
                partial.is_some(),
                mixed_key.is_some(),
                with_secret,
                cancel_drop,
                cancel_fail.is_some(),
                webhook_duplicate,
                webhook_reorder,
                webhook_lie,
            ];
            for (offered, given) in offered.iter_mut().zip(kinds) {
                *offered |= given;
            }
        }
        assert!(offered.iter().all(|o| *o), "{offered:?}");
    }

    #[test]
    fn parses_every_fault_and_keeps_the_order_in_the_suffix() {
        let (f, suffix) = Faults::parse(
            "delay-250, fail-PROVIDER_ERROR-2,amount-990,abort-REJECT_CARD_COMPANY,drop",
        )
        .unwrap();
        assert_eq!(f.delay, Some(Duration::from_millis(250)));
        assert_eq!(f.fail, Some(("PROVIDER_ERROR".into(), 2)));
        assert_eq!(f.amount, Some(990));
        assert_eq!(f.abort.as_deref(), Some("REJECT_CARD_COMPANY"));
        assert!(f.drop && !f.hang);
        assert_eq!(
            suffix,
            ".delay-250.fail-PROVIDER_ERROR-2.amount-990.abort-REJECT_CARD_COMPANY.drop"
        );
        assert_eq!(
            Faults::parse("").unwrap(),
            (Faults::default(), String::new())
        );
    }

    #[test]
    fn parses_late_partial_and_lookup_404() {
        let (f, suffix) = Faults::parse("late-3000,lookup-404").unwrap();
        assert_eq!(f.late, Some(Duration::from_millis(3000)));
        assert!(f.lookup_404 && f.partial.is_none());
        assert_eq!(suffix, ".late-3000.lookup-404");

        let (f, suffix) =
            Faults::parse("lookup-404,partial-FAILED_INTERNAL_SYSTEM_PROCESSING,delay-10,amount-5")
                .unwrap();
        assert_eq!(
            f.partial.as_deref(),
            Some("FAILED_INTERNAL_SYSTEM_PROCESSING")
        );
        assert!(f.lookup_404 && f.late.is_none());
        assert_eq!(
            suffix,
            ".lookup-404.partial-FAILED_INTERNAL_SYSTEM_PROCESSING.delay-10.amount-5"
        );
        // late combines with a failure first and with delay; partial with drop and hang.
        assert!(Faults::parse("fail-PROVIDER_ERROR-1,late-0,delay-5,amount-9").is_ok());
        assert!(Faults::parse("partial-PROVIDER_ERROR,drop").is_ok());
        assert!(Faults::parse("partial-PROVIDER_ERROR,hang").is_ok());
    }

    #[test]
    fn parses_the_variants_for_open_questions() {
        let (f, suffix) = Faults::parse("mixed-key-UNAUTHORIZED_KEY,with-secret").unwrap();
        assert_eq!(f.mixed_key.as_deref(), Some("UNAUTHORIZED_KEY"));
        assert!(f.with_secret);
        assert_eq!(suffix, ".mixed-key-UNAUTHORIZED_KEY.with-secret");
        assert_eq!(
            Faults::parse("with-secret,with-secret").unwrap_err(),
            FaultError::Twice("with-secret".into())
        );
    }

    #[test]
    fn parses_the_cancel_faults_and_refuses_both_at_once() {
        let (f, suffix) = Faults::parse("cancel-fail-FAILED_REFUND_PROCESS-2,drop").unwrap();
        assert_eq!(f.cancel_fail, Some(("FAILED_REFUND_PROCESS".into(), 2)));
        assert!(f.drop && !f.cancel_drop && f.fail.is_none());
        assert_eq!(suffix, ".cancel-fail-FAILED_REFUND_PROCESS-2.drop");
        assert!(Faults::parse("cancel-drop").unwrap().0.cancel_drop);
        assert_eq!(
            Faults::parse("cancel-drop,cancel-fail-REFUND_REJECTED-1").unwrap_err(),
            FaultError::Clash("cancel-drop", "cancel-fail")
        );
        assert!(Faults::parse("cancel-fail-REFUND_REJECTED").is_err());
    }

    #[test]
    fn rejects_malformed_faults() {
        for bad in [
            "explode",
            "delay-",
            "delay--5",
            "fail-PROVIDER_ERROR",
            "fail-provider-1",
            "amount-1e3",
            "abort-",
            "hang,drop",
            "hang,hang",
            "delay-1,delay-2",
            "lookup-404,lookup-404",
            "lookup-405",
            "lookup-404x",
            "lookup",
            "late-",
            "late--5",
            "late-+5",
            "late-1.5",
            "late-1e3",
            "late-3s",
            "late-1,late-2",
            "partial-",
            "partial-failed",
            "partial-FAILED-",
            "partial-PROVIDER ERROR",
            "partial-A,partial-B",
            "mixed-key-",
            "mixed-key-unauthorized",
            "mixed-key-A,mixed-key-B",
            "with-secret,with-secret",
            "with-secrets",
        ] {
            assert!(Faults::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn rejects_combinations_that_make_no_sense() {
        for (bad, pair) in [
            ("hang,drop", "hang and drop"),
            ("late-10,drop", "late and drop"),
            ("hang,late-10", "late and hang"),
            ("late-10,partial-PROVIDER_ERROR", "late and partial"),
            ("late-10,abort-REJECT_CARD_COMPANY", "late and abort"),
            (
                "partial-PROVIDER_ERROR,fail-PROVIDER_ERROR-1",
                "partial and fail",
            ),
            (
                "abort-REJECT_CARD_COMPANY,partial-PROVIDER_ERROR",
                "partial and abort",
            ),
        ] {
            let error = Faults::parse(bad).expect_err(bad);
            assert_eq!(error.en(), format!("{pair} cannot be combined"), "{bad}");
            assert!(error.ko().contains("함께 쓸 수 없습니다"), "{bad}");
        }
    }
}
