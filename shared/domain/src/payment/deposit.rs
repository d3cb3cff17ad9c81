//! Virtual accounts (가상계좌, docs/toss.md §2.3, §7b): confirm only issues an account; the
//! money comes later, may be reversed by a deposit error, and an unpaid account expires at
//! its due date without Toss telling anyone. What Toss's view of such a payment means for
//! ours, as a pure decision.

use super::{Amount, PaymentStatus};
use chrono::{DateTime, Duration, Utc};

/// How often recovery looks at an account still waiting: the deposit webhook is the fast
/// path, the look catches a lost one.
pub const LOOK_EVERY: Duration = Duration::hours(1);

/// How long after the due date an account still waiting counts as expired: a deposit in
/// the last second must have reached Toss's view first.
pub const EXPIRY_GRACE: Duration = Duration::hours(1);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepositStep {
    /// Toss shows the deposit of our amount: charge the points (once per deposit).
    Credit,
    /// Toss shows the deposit undone (deposit error): take the points back.
    Reverse,
    /// Due date (plus grace) passed unpaid, or cancelled before any deposit: no money.
    Expire { detail: &'static str },
    /// Still waiting: look again at this time.
    LookAgain { at: DateTime<Utc> },
    /// Toss shows something we never asked for: a person looks.
    Attention { reason: String },
    /// Nothing to do for a payment in this state.
    Nothing,
}

/// Our payment `ours` (expecting `expected`, due at `due_at`) against Toss's `status` and
/// `total_amount`, at `now`.
pub fn deposit_step(
    ours: PaymentStatus,
    status: &str,
    total_amount: u64,
    expected: Amount,
    due_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> DepositStep {
    use PaymentStatus::{Done, WaitingForDeposit};
    let expires_at = due_at.map(|due| due + EXPIRY_GRACE);
    match (ours, status) {
        (WaitingForDeposit, "DONE") if total_amount == expected.won() => DepositStep::Credit,
        (WaitingForDeposit, "DONE") => DepositStep::Attention {
            reason: format!("deposited {total_amount} instead of {}", expected.won()),
        },
        (WaitingForDeposit, "CANCELED") => DepositStep::Expire {
            detail: "virtual account cancelled before any deposit",
        },
        (WaitingForDeposit, _) if expires_at.is_some_and(|at| now >= at) => DepositStep::Expire {
            detail: "virtual account expired unpaid",
        },
        (WaitingForDeposit, _) => DepositStep::LookAgain {
            at: next_look(expires_at, now),
        },
        (Done, "WAITING_FOR_DEPOSIT") => DepositStep::Reverse,
        _ => DepositStep::Nothing,
    }
}

/// The next look at a waiting account: in an hour, or at its expiry if sooner.
pub fn next_look(expires_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> DateTime<Utc> {
    let hourly = now + LOOK_EVERY;
    expires_at.map_or(hourly, |at| hourly.min(at.max(now)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use PaymentStatus::*;

    #[test]
    fn each_view_of_a_virtual_account_has_one_step() {
        let now = Utc::now();
        let amount = Amount::parse(5_000).unwrap();
        let due = now + Duration::days(2);
        let past = now - Duration::hours(2);
        let look = |at| DepositStep::LookAgain { at };
        let expired = DepositStep::Expire {
            detail: "virtual account expired unpaid",
        };
        let cases = [
            (
                WaitingForDeposit,
                "DONE",
                5_000,
                Some(due),
                DepositStep::Credit,
            ),
            (
                WaitingForDeposit,
                "WAITING_FOR_DEPOSIT",
                5_000,
                Some(due),
                look(now + LOOK_EVERY),
            ),
            // Within the grace hour: looked at again when the grace ends.
            (
                WaitingForDeposit,
                "WAITING_FOR_DEPOSIT",
                5_000,
                Some(now - Duration::minutes(30)),
                look(now + Duration::minutes(30)),
            ),
            (
                WaitingForDeposit,
                "WAITING_FOR_DEPOSIT",
                5_000,
                Some(past),
                expired.clone(),
            ),
            (
                WaitingForDeposit,
                "WAITING_FOR_DEPOSIT",
                5_000,
                None,
                look(now + LOOK_EVERY),
            ),
            (
                WaitingForDeposit,
                "CANCELED",
                5_000,
                Some(due),
                DepositStep::Expire {
                    detail: "virtual account cancelled before any deposit",
                },
            ),
            (
                WaitingForDeposit,
                "DONE",
                4_000,
                Some(due),
                DepositStep::Attention {
                    reason: "deposited 4000 instead of 5000".into(),
                },
            ),
            (
                Done,
                "WAITING_FOR_DEPOSIT",
                5_000,
                Some(due),
                DepositStep::Reverse,
            ),
            (Done, "DONE", 5_000, Some(due), DepositStep::Nothing),
            (
                Done,
                "PARTIAL_CANCELED",
                5_000,
                Some(due),
                DepositStep::Nothing,
            ),
            (Expired, "DONE", 5_000, Some(past), DepositStep::Nothing),
        ];
        for (ours, status, total, due_at, step) in cases {
            assert_eq!(
                deposit_step(ours, status, total, amount, due_at, now),
                step,
                "{ours} / Toss {status} {total} due {due_at:?}"
            );
        }
    }
}
