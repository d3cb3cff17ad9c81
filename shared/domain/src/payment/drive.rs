//! The confirm/recovery decision as a pure function: what Toss said and what we already
//! tried → the next step (confirm with the current key, look up, move to a new key, settle
//! an outcome). The use case only executes steps: it calls Toss, writes the store, sleeps.
//! The rules are the README's "Payments: flow, states, guarantees" and docs/toss.md §5.

use super::{
    AfterRefusal, Amount, CONFIRM_WINDOW_SLACK_SECS, ConfirmErrorClass, TOSS_CONFIRM_WINDOW_SECS,
    TossVerdict, after_refusal, is_our_payment, refusal_leaves_doubt, verdict,
};
use chrono::{DateTime, Duration, Utc};

/// How a drive begins: a member's confirm sends one; recovery first asks Toss, because the
/// confirm before it ended without an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    Confirm,
    LookUp,
}

/// The payment as we stored it: what every answer of Toss is checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OurPayment {
    pub order_id: String,
    pub payment_key: Option<String>,
    pub amount: Amount,
    /// When the shopper authenticated at Toss (our confirm claim); None: no confirm sent.
    pub authenticated_at: Option<DateTime<Utc>>,
    /// The number of the confirm Idempotency-Key in use (1 for the first).
    pub key_number: u32,
}

/// A Payment object as Toss returned it (the fields the decision reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TossView<'a> {
    pub order_id: &'a str,
    pub payment_key: &'a str,
    pub currency: Option<&'a str>,
    pub status: &'a str,
    pub total_amount: u64,
    pub failure: Option<(&'a str, &'a str)>,
}

/// What the last step brought back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer<'a> {
    /// The confirm answered with a Payment.
    Confirmed(TossView<'a>),
    /// The confirm answered with an error object.
    Refused { code: &'a str, message: &'a str },
    /// The confirm got no usable answer (timeout, reset, a 5xx without a body).
    NoAnswer,
    /// The lookup found the payment.
    Found(TossView<'a>),
    /// The lookup answered 404: nothing approved (yet).
    NotFound,
    /// The lookup itself failed.
    LookupFailed,
    /// The new confirm key is stored; false: another driver changed the payment first.
    Rotated(bool),
}

/// The next thing to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send a confirm with the current key, after the in-call backoff delay number
    /// `after_delay` when given.
    Confirm { after_delay: Option<u32> },
    /// Ask Toss for the payment (`GET /v1/payments/orders/{orderId}`).
    LookUp,
    /// Store key number `to` in place of the current one (compare-and-set), then confirm.
    RotateKey { to: u32 },
    /// Write this outcome (fenced by the lease).
    Settle(Outcome),
    /// Another driver moved the payment on: answer what is stored.
    Yield,
}

/// How a drive ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Toss approved our payment for our amount: charge the points once.
    Approved,
    /// Toss's own word that no money moved.
    Failed { code: String, message: String },
    /// Toss answered with a payment that is not this order's: never a charge.
    NotOurs,
    /// Toss shows another amount (or a cancel): cancel at Toss when `cancel_at_toss`,
    /// and ask a person.
    AmountDiffers { approved: u64, cancel_at_toss: bool },
    /// Toss issued a virtual account for our amount: wait for the deposit, no points yet.
    AwaitingDeposit,
    /// Nothing decisive yet: recovery looks again later.
    StillOpen { note: String },
}

/// Where one drive stands between Toss calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drive {
    payment: OurPayment,
    /// Confirms sent again after a lookup, at most `retries`.
    retries_done: u32,
    retries: u32,
    /// The next confirm needs a new key: the last answer was a definitive error body,
    /// which Toss replays for the same key.
    rotate_key: bool,
    /// An earlier attempt's outcome is not known, so no final-looking code is a verdict
    /// until Toss shows the payment itself.
    uncertain: bool,
}

impl Drive {
    /// A drive of `payment` that sends at most `retries` confirms after the first step,
    /// with its first step.
    pub fn begin(payment: OurPayment, start: Start, retries: u32) -> (Self, Step) {
        let drive = Self {
            payment,
            retries_done: 0,
            retries,
            rotate_key: false,
            uncertain: start == Start::LookUp,
        };
        let first = match start {
            Start::Confirm => Step::Confirm { after_delay: None },
            Start::LookUp => Step::LookUp,
        };
        (drive, first)
    }

    pub fn key_number(&self) -> u32 {
        self.payment.key_number
    }

    /// The step after `answer`, at `now`.
    pub fn next(&mut self, answer: Answer<'_>, now: DateTime<Utc>) -> Step {
        match answer {
            Answer::Confirmed(view) => Step::Settle(self.conclude(&view)),
            Answer::Refused { code, message } => self.after_refusal(code, message),
            Answer::NoAnswer => {
                self.rotate_key = false;
                self.uncertain = true;
                Step::LookUp
            }
            Answer::Found(view) => {
                let awaiting = self.verdict(&view) == TossVerdict::AwaitingConfirm;
                if awaiting && self.is_ours(&view) {
                    self.confirm_again(now)
                } else {
                    Step::Settle(self.conclude(&view))
                }
            }
            Answer::NotFound if not_found_is_final(self.payment.authenticated_at, now) => {
                Step::Settle(Outcome::Failed {
                    code: "NOT_FOUND_PAYMENT".into(),
                    message: "토스페이먼츠에 결제 정보가 없습니다.".into(),
                })
            }
            Answer::NotFound => self.confirm_again(now),
            Answer::LookupFailed => Step::Settle(Outcome::StillOpen {
                note: "the lookup failed".into(),
            }),
            Answer::Rotated(true) => {
                self.payment.key_number += 1;
                self.rotate_key = false;
                // The used-up key's attempt may still be running at Toss.
                self.uncertain = true;
                Step::Confirm {
                    after_delay: Some(self.retries_done - 1),
                }
            }
            Answer::Rotated(false) => Step::Yield,
        }
    }

    fn after_refusal(&mut self, code: &str, message: &str) -> Step {
        match after_refusal(code, self.uncertain) {
            AfterRefusal::SettleFailed => Step::Settle(Outcome::Failed {
                code: code.to_owned(),
                message: message.to_owned(),
            }),
            AfterRefusal::LookUp { rotate_key } => {
                self.rotate_key = rotate_key;
                self.uncertain |= refusal_leaves_doubt(code);
                Step::LookUp
            }
        }
    }

    /// Toss has not approved (yet) and a confirm may still be sent: send one while the
    /// confirm window is open and retries are left, else leave the payment open.
    fn confirm_again(&mut self, now: DateTime<Utc>) -> Step {
        let window_open = self
            .payment
            .authenticated_at
            .is_none_or(|at| now < at + Duration::seconds(TOSS_CONFIRM_WINDOW_SECS));
        if !window_open || self.retries_done >= self.retries {
            return Step::Settle(Outcome::StillOpen {
                note: "still not approved after confirm attempts".into(),
            });
        }
        self.retries_done += 1;
        if self.rotate_key {
            return Step::RotateKey {
                to: self.payment.key_number + 1,
            };
        }
        Step::Confirm {
            after_delay: Some(self.retries_done - 1),
        }
    }

    fn conclude(&self, view: &TossView<'_>) -> Outcome {
        if !self.is_ours(view) {
            return Outcome::NotOurs;
        }
        match self.verdict(view) {
            TossVerdict::Approved => Outcome::Approved,
            TossVerdict::AmountDiffers { approved } => Outcome::AmountDiffers {
                approved,
                cancel_at_toss: view.status == "DONE",
            },
            TossVerdict::Failed { code, message } => Outcome::Failed { code, message },
            TossVerdict::AwaitingDeposit => Outcome::AwaitingDeposit,
            TossVerdict::AwaitingConfirm | TossVerdict::Undecided => Outcome::StillOpen {
                note: format!("Toss status {}", view.status),
            },
        }
    }

    fn verdict(&self, view: &TossView<'_>) -> TossVerdict {
        verdict(
            view.status,
            view.total_amount,
            self.payment.amount,
            view.failure,
        )
    }

    fn is_ours(&self, view: &TossView<'_>) -> bool {
        let ours = &self.payment;
        is_our_payment(
            (ours.order_id.as_str(), ours.payment_key.as_deref()),
            (view.order_id, view.payment_key, view.currency),
        )
    }
}

/// A lookup that answers 404 is a verdict only once no confirm can still be running: the
/// lookup finds approved payments, and a timed-out confirm may still be at the card
/// network (docs/toss.md §5.3). `authenticated_at` is when the shopper authenticated
/// (None: we never sent a confirm, so none can be running).
pub fn not_found_is_final(authenticated_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> bool {
    authenticated_at.is_none_or(|at| {
        now >= at + Duration::seconds(TOSS_CONFIRM_WINDOW_SECS + CONFIRM_WINDOW_SLACK_SECS)
    })
}

/// The Idempotency-Key of confirm number `n` of an order (stored before it is sent).
pub fn confirm_key(order_id: &str, n: u32) -> String {
    format!("confirm-{order_id}-{n}")
}

/// Whether a refused confirm code points at our integration or configuration (operators
/// are alerted) rather than at the shopper's card.
pub fn is_integration_problem(code: &str) -> bool {
    ConfirmErrorClass::of(code) == ConfirmErrorClass::FinalIntegration
}

/// What an outcome that is still open becomes after `recovery_attempts` looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StillOpen {
    /// Look again after backoff delay number `attempt`.
    LookAgain { attempt: u32 },
    /// Too many looks: hand it to a person.
    HandToPerson,
}

pub fn still_open(recovery_attempts: u32, max_attempts: u32) -> StillOpen {
    if recovery_attempts >= max_attempts {
        StillOpen::HandToPerson
    } else {
        StillOpen::LookAgain {
            attempt: recovery_attempts,
        }
    }
}

#[cfg(test)]
mod tests;
