//! How much of a purchase may be refunded, for how much money, and until when: pure
//! decisions over one lot (what was bought, what remains, when, how it was paid).
//!
//! The defaults follow the FSS's 2024 refund norms for prepaid points (docs/toss.md §7b):
//! everything back when a purchase is cancelled unused within 7 days; the rest back
//! without a fee once 80 % or more of it is used; otherwise a fee the terms set (10 %).
//! Each is configuration (`RefundPolicy`), not code.

use crate::calendar::KstDay;
use chrono::{DateTime, Days, Utc};

/// How a purchase was paid, from the Korean label Toss gives in `method` (§2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayMethod {
    Card,
    EasyPay,
    VirtualAccount,
    Transfer,
    MobilePhone,
    GiftCertificate,
}

impl PayMethod {
    pub fn from_toss_label(label: &str) -> Option<Self> {
        Some(match label {
            "카드" => Self::Card,
            "간편결제" => Self::EasyPay,
            "가상계좌" => Self::VirtualAccount,
            "계좌이체" => Self::Transfer,
            "휴대폰" => Self::MobilePhone,
            "문화상품권" | "도서문화상품권" | "게임문화상품권" => {
                Self::GiftCertificate
            }
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Card => "CARD",
            Self::EasyPay => "EASY_PAY",
            Self::VirtualAccount => "VIRTUAL_ACCOUNT",
            Self::Transfer => "TRANSFER",
            Self::MobilePhone => "MOBILE_PHONE",
            Self::GiftCertificate => "GIFT_CERTIFICATE",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [
            Self::Card,
            Self::EasyPay,
            Self::VirtualAccount,
            Self::Transfer,
            Self::MobilePhone,
            Self::GiftCertificate,
        ]
        .into_iter()
        .find(|m| m.as_str() == raw)
    }

    /// The last moment Toss's cancel API refunds a payment of this method (§7b): cards
    /// and easy pay about a year, bank transfers 180 days, virtual accounts 365 days (the
    /// merchant's usual setting), mobile phone payments only within the calendar month
    /// (KST) of the purchase. Gift certificates: no documented deadline, a year assumed.
    pub fn cancel_deadline(self, paid_at: DateTime<Utc>) -> DateTime<Utc> {
        let days = |n| paid_at + Days::new(n);
        match self {
            Self::Card | Self::EasyPay | Self::VirtualAccount | Self::GiftCertificate => days(365),
            Self::Transfer => days(180),
            Self::MobilePhone => KstDay::of(paid_at).first_of_next_month_start(),
        }
    }
}

/// The refund rules, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundPolicy {
    /// An unused purchase refunded within this many days gets everything back.
    pub cooling_off_days: u64,
    /// When at least this percent of a purchase is used, the rest comes back without a fee.
    pub fee_free_after_used_percent: u64,
    /// The fee otherwise, in percent of the refunded points (rounded down: in the member's
    /// favour).
    pub fee_percent: u64,
}

impl Default for RefundPolicy {
    fn default() -> Self {
        Self {
            cooling_off_days: 7,
            fee_free_after_used_percent: 80,
            fee_percent: 10,
        }
    }
}

/// One purchase as a refund sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lot {
    pub bought: u64,
    pub remaining: u64,
    /// Points already refunded (neither used nor remaining).
    pub refunded: u64,
    pub paid_at: DateTime<Utc>,
    pub method: PayMethod,
}

/// What a refund takes and gives back: `points` leave the lot, `refund_won` goes back
/// to the member through Toss's cancel (`cancelAmount`), the difference is the fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefundQuote {
    pub points: u64,
    pub fee: u64,
    pub refund_won: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefundRefusal {
    #[error("nothing of the purchase is left to refund")]
    NothingLeft,
    #[error("the refund asks for more than the {unused} unused points")]
    MoreThanUnused { unused: u64 },
    #[error("a refund of no points")]
    ZeroPoints,
    #[error("past the payment method's cancel deadline")]
    PastDeadline { deadline: DateTime<Utc> },
    #[error("the fee would take the whole refund")]
    NothingToPayBack,
}

/// The refund of `requested` points of `lot` (None: all that remains) at `now`.
pub fn quote_refund(
    policy: &RefundPolicy,
    lot: &Lot,
    requested: Option<u64>,
    now: DateTime<Utc>,
) -> Result<RefundQuote, RefundRefusal> {
    let deadline = lot.method.cancel_deadline(lot.paid_at);
    if now >= deadline {
        return Err(RefundRefusal::PastDeadline { deadline });
    }
    if lot.remaining == 0 {
        return Err(RefundRefusal::NothingLeft);
    }
    let points = requested.unwrap_or(lot.remaining);
    if points == 0 {
        return Err(RefundRefusal::ZeroPoints);
    }
    if points > lot.remaining {
        return Err(RefundRefusal::MoreThanUnused {
            unused: lot.remaining,
        });
    }
    let fee = points * fee_percent(policy, lot, now) / 100;
    if fee >= points {
        return Err(RefundRefusal::NothingToPayBack);
    }
    Ok(RefundQuote {
        points,
        fee,
        refund_won: points - fee,
    })
}

fn fee_percent(policy: &RefundPolicy, lot: &Lot, now: DateTime<Utc>) -> u64 {
    let used = lot.bought.saturating_sub(lot.remaining + lot.refunded);
    let unused = used == 0;
    let cooling_off = now < lot.paid_at + Days::new(policy.cooling_off_days);
    let mostly_used = used * 100 >= lot.bought * policy.fee_free_after_used_percent;
    if (unused && cooling_off) || mostly_used {
        0
    } else {
        policy.fee_percent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    fn lot(bought: u64, remaining: u64, method: PayMethod) -> Lot {
        Lot {
            bought,
            remaining,
            refunded: 0,
            paid_at: at(2026, 12, 1, 3),
            method,
        }
    }

    #[test]
    fn quotes_follow_the_policy() {
        use PayMethod::*;
        let policy = RefundPolicy::default();
        let day = |d| at(2026, 12, d, 3);
        type Row = (
            Lot,
            Option<u64>,
            DateTime<Utc>,
            Result<(u64, u64), RefundRefusal>,
        );
        let table: [Row; 10] = [
            // Unused within 7 days: everything, no fee.
            (lot(10_000, 10_000, Card), None, day(7), Ok((10_000, 0))),
            // Unused after 7 days: the fee.
            (lot(10_000, 10_000, Card), None, day(8), Ok((10_000, 1_000))),
            // Partly used (30 %): the rest, with the fee, even within 7 days.
            (lot(10_000, 7_000, Card), None, day(2), Ok((7_000, 700))),
            // 80 % used: the rest, no fee.
            (lot(10_000, 2_000, Card), None, day(20), Ok((2_000, 0))),
            // A part of what remains; the fee rounds down.
            (
                lot(10_000, 7_000, Card),
                Some(1_005),
                day(2),
                Ok((1_005, 100)),
            ),
            (
                lot(10_000, 7_000, Card),
                Some(7_001),
                day(2),
                Err(RefundRefusal::MoreThanUnused { unused: 7_000 }),
            ),
            (
                lot(10_000, 0, Card),
                None,
                day(2),
                Err(RefundRefusal::NothingLeft),
            ),
            (
                lot(10_000, 500, Card),
                Some(0),
                day(2),
                Err(RefundRefusal::ZeroPoints),
            ),
            // Mobile phone payments: only within the purchase's KST month.
            (
                lot(5_000, 5_000, MobilePhone),
                None,
                at(2026, 12, 31, 14),
                Ok((5_000, 500)),
            ),
            (
                lot(5_000, 5_000, MobilePhone),
                None,
                at(2026, 12, 31, 15),
                Err(RefundRefusal::PastDeadline {
                    deadline: at(2026, 12, 31, 15),
                }),
            ),
        ];
        for (lot, requested, now, expected) in table {
            let quote = quote_refund(&policy, &lot, requested, now);
            let got = quote.map(|q| {
                assert_eq!(q.refund_won, q.points - q.fee);
                (q.points, q.fee)
            });
            assert_eq!(got, expected, "{lot:?} {requested:?} at {now}");
        }
    }

    #[test]
    fn refunded_points_are_not_used_ones() {
        let policy = RefundPolicy::default();
        let after_a_partial_refund = Lot {
            refunded: 2_000,
            ..lot(5_000, 3_000, PayMethod::Card)
        };
        let quote = quote_refund(&policy, &after_a_partial_refund, None, at(2026, 12, 3, 0));
        assert_eq!(quote.map(|q| (q.points, q.fee)), Ok((3_000, 0)));
    }

    #[test]
    fn deadlines_per_method() {
        let paid = at(2026, 12, 1, 3);
        assert_eq!(PayMethod::Card.cancel_deadline(paid), at(2027, 12, 1, 3));
        assert_eq!(
            PayMethod::Transfer.cancel_deadline(paid),
            at(2027, 5, 30, 3)
        );
        // 2026-12-01 12:00 KST → until 2027-01-01 00:00 KST.
        assert_eq!(
            PayMethod::MobilePhone.cancel_deadline(paid),
            at(2026, 12, 31, 15)
        );
        let refused = quote_refund(
            &RefundPolicy::default(),
            &lot(1_000, 1_000, PayMethod::Transfer),
            None,
            at(2027, 5, 30, 3),
        );
        assert!(matches!(refused, Err(RefundRefusal::PastDeadline { .. })));
    }

    #[test]
    fn a_fee_of_everything_is_refused() {
        let policy = RefundPolicy {
            fee_percent: 100,
            ..RefundPolicy::default()
        };
        let refused = quote_refund(
            &policy,
            &lot(10_000, 5_000, PayMethod::Card),
            None,
            at(2026, 12, 2, 0),
        );
        assert_eq!(refused, Err(RefundRefusal::NothingToPayBack));
    }

    #[test]
    fn toss_labels_and_our_names_round_trip() {
        for label in [
            "카드",
            "간편결제",
            "가상계좌",
            "계좌이체",
            "휴대폰",
            "문화상품권",
        ] {
            let method = PayMethod::from_toss_label(label).unwrap();
            assert_eq!(PayMethod::parse(method.as_str()), Some(method));
        }
        assert_eq!(PayMethod::from_toss_label("CARD"), None);
    }
}

/// Where a refund stands. REQUESTED: the intent is written and its points taken, Toss is
/// being asked. UNKNOWN: Toss's answer did not settle it; the recovery job will.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundStatus {
    Requested,
    Done,
    /// Toss refused the cancel: the points are back in the lot.
    Refused,
    Unknown,
    /// Toss's payment shows cancels no refund of ours explains: a person looks.
    NeedsAttention,
}

impl RefundStatus {
    pub const ALL: [RefundStatus; 5] = [
        Self::Requested,
        Self::Done,
        Self::Refused,
        Self::Unknown,
        Self::NeedsAttention,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "REQUESTED",
            Self::Done => "DONE",
            Self::Refused => "REFUSED",
            Self::Unknown => "UNKNOWN",
            Self::NeedsAttention => "NEEDS_ATTENTION",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Still waiting for Toss's word: at most one per purchase at a time.
    pub fn is_open(self) -> bool {
        matches!(self, Self::Requested | Self::Unknown)
    }
}

/// What Toss answered to one cancel call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelAnswer<'a> {
    /// 200 with the Payment after the cancel.
    Cancelled,
    Rejected {
        http_status: u16,
        code: &'a str,
    },
    /// Timeout, reset, a 5xx without a body: the cancel may or may not have run.
    NoAnswer,
}

/// What one cancel answer means for the refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelVerdict {
    Done,
    /// A definitive refusal: give the points back.
    Refused,
    /// Not settled; ask again with the same Idempotency-Key (Toss replays the result of
    /// a call that ran, §4), after a lookup.
    AgainSameKey,
    /// Not settled, and this key's answer is a definitive error that a same-key resend
    /// would only replay: ask again with a new key, after a lookup.
    AgainNewKey,
}

/// Toss's cancel codes (§3) that refuse the refund for good. Everything else with a body
/// is transient or ambiguous and goes through a lookup before anything is concluded.
pub fn judge_cancel(answer: CancelAnswer<'_>) -> CancelVerdict {
    match answer {
        CancelAnswer::Cancelled => CancelVerdict::Done,
        CancelAnswer::NoAnswer => CancelVerdict::AgainSameKey,
        // The first call with this key is still running at Toss.
        CancelAnswer::Rejected {
            code: "IDEMPOTENT_REQUEST_PROCESSING",
            ..
        } => CancelVerdict::AgainSameKey,
        // Another cancel of the payment within a second, and Toss's balance differing from
        // ours (e.g. an earlier attempt of ours that landed): the lookup tells.
        CancelAnswer::Rejected {
            code: "FORBIDDEN_CONSECUTIVE_REQUEST" | "NOT_MATCHES_REFUNDABLE_AMOUNT",
            ..
        } => CancelVerdict::AgainNewKey,
        // FAILED_REFUND_PROCESS and the other 5xx: processing failed, maybe partly.
        CancelAnswer::Rejected { http_status, .. } if http_status >= 500 => {
            CancelVerdict::AgainNewKey
        }
        CancelAnswer::Rejected { .. } => CancelVerdict::Refused,
    }
}

/// What a lookup of the payment says about an open refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupVerdict {
    /// Toss has cancelled exactly our settled refunds plus this one.
    Landed,
    /// Toss has cancelled exactly our settled refunds: this one has not run.
    NotLanded,
    /// Anything else (a cancel made outside our API, a partial landing): a person looks.
    Inconsistent,
}

/// `approved`: what Toss approved; `balance`: what Toss can still cancel; `settled_won`:
/// the money of this purchase's DONE refunds; `this_won`: the open refund's.
pub fn judge_lookup(approved: u64, balance: u64, settled_won: u64, this_won: u64) -> LookupVerdict {
    let cancelled = approved.checked_sub(balance);
    match cancelled {
        Some(c) if c == settled_won + this_won => LookupVerdict::Landed,
        Some(c) if c == settled_won => LookupVerdict::NotLanded,
        _ => LookupVerdict::Inconsistent,
    }
}

#[cfg(test)]
mod verdict_tests {
    use super::*;

    #[test]
    fn cancel_answers() {
        use CancelAnswer::*;
        use CancelVerdict::*;
        let rejected = |http_status, code| Rejected { http_status, code };
        let table = [
            (Cancelled, Done),
            (NoAnswer, AgainSameKey),
            (rejected(409, "IDEMPOTENT_REQUEST_PROCESSING"), AgainSameKey),
            (rejected(403, "FORBIDDEN_CONSECUTIVE_REQUEST"), AgainNewKey),
            (rejected(400, "NOT_MATCHES_REFUNDABLE_AMOUNT"), AgainNewKey),
            (rejected(500, "FAILED_REFUND_PROCESS"), AgainNewKey),
            (rejected(500, "COMMON_ERROR"), AgainNewKey),
            (rejected(403, "NOT_CANCELABLE_PAYMENT"), Refused),
            (rejected(403, "EXCEED_MAX_REFUND_DUE"), Refused),
            (rejected(400, "ALREADY_CANCELED_PAYMENT"), Refused),
            (rejected(400, "REFUND_REJECTED"), Refused),
        ];
        for (answer, verdict) in table {
            assert_eq!(judge_cancel(answer), verdict, "{answer:?}");
        }
    }

    #[test]
    fn lookups() {
        use LookupVerdict::*;
        let table = [
            // approved, balance, settled, this → verdict
            ((10_000, 10_000, 0, 3_000), NotLanded),
            ((10_000, 7_000, 0, 3_000), Landed),
            ((10_000, 5_000, 2_000, 3_000), Landed),
            ((10_000, 8_000, 2_000, 3_000), NotLanded),
            // A console cancel of 1,000 besides ours.
            ((10_000, 6_000, 0, 3_000), Inconsistent),
            ((10_000, 0, 0, 3_000), Inconsistent),
            ((10_000, 12_000, 0, 3_000), Inconsistent),
        ];
        for ((approved, balance, settled, this), verdict) in table {
            assert_eq!(
                judge_lookup(approved, balance, settled, this),
                verdict,
                "{approved} {balance} {settled} {this}"
            );
        }
    }

    #[test]
    fn statuses_round_trip() {
        for status in RefundStatus::ALL {
            assert_eq!(RefundStatus::parse(status.as_str()), Some(status));
        }
        assert!(RefundStatus::Unknown.is_open() && !RefundStatus::Done.is_open());
    }
}
