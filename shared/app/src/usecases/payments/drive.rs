//! The driver: takes a claimed (`IN_PROGRESS`) payment to its next state from Toss's
//! answers, shared by confirm and recovery.

use super::PaymentDeps;
use crate::error::AppError;
use crate::ports::{GatewayError, MoveGuard, PaymentRecord, Settlement, TossPayment};
use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, Duration, Utc};
use domain::payment::PaymentStatus;
use domain::payment::drive::{
    Answer, Drive, OurPayment, Outcome, Start, Step, StillOpen, TossView, confirm_key,
    is_integration_problem, still_open,
};

/// Takes a claimed (`IN_PROGRESS`) payment to its next state and returns that state (or
/// the state another worker settled it in first). `domain::payment::drive` decides every
/// step from Toss's answers; this only executes them.
pub(super) async fn drive(
    deps: &PaymentDeps<'_>,
    payment: PaymentRecord,
    start: Start,
    now: DateTime<Utc>,
) -> Result<PaymentStatus, AppError> {
    let ours = OurPayment {
        order_id: payment.order_id.as_str().to_owned(),
        payment_key: payment.payment_key.clone(),
        amount: payment.amount,
        authenticated_at: payment.authenticated_at,
        key_number: payment.confirm_attempts.max(1),
    };
    let retries = u32::try_from(deps.timings.in_call_retries).unwrap_or(u32::MAX);
    let (mut decision, mut step) = Drive::begin(ours, start, retries);
    let mut key = payment
        .confirm_key
        .clone()
        .unwrap_or_else(|| confirm_key(payment.order_id.as_str(), 1));
    // Toss's latest Payment object: what an outcome is settled with.
    let mut last: Option<TossPayment> = None;
    loop {
        step = match step {
            Step::Confirm { after_delay } => {
                if let Some(n) = after_delay {
                    tokio::time::sleep(in_call_delay(deps, n)).await;
                }
                let answer = send(deps, &payment, &key).await;
                let next = decision.next(answer_of_confirm(&answer), now);
                last = answer.ok().or(last);
                next
            }
            Step::LookUp => {
                let answer = deps.gateway.lookup(&payment.order_id).await;
                let next = decision.next(answer_of_lookup(&answer), now);
                last = answer.ok().flatten().or(last);
                next
            }
            Step::RotateKey { to } => {
                let next_key = confirm_key(payment.order_id.as_str(), to);
                let rotated = deps
                    .store
                    .rotate_confirm_key(&payment.order_id, &key, &next_key, now)
                    .await?;
                if rotated {
                    key = next_key;
                }
                decision.next(Answer::Rotated(rotated), now)
            }
            Step::Settle(outcome) => {
                return finish(deps, &payment, outcome, last.as_ref(), now).await;
            }
            Step::Yield => return stored_status(deps, &payment).await,
        };
    }
}

/// The delay before the in-call confirm number `n` (after the first).
fn in_call_delay(deps: &PaymentDeps<'_>, n: u32) -> std::time::Duration {
    ExponentialBuilder::default()
        .with_min_delay(deps.timings.in_call_first_delay)
        .with_max_times(usize::MAX)
        .build()
        .nth(n as usize)
        .unwrap_or(deps.timings.in_call_first_delay)
}

/// The last Toss answer of a payment, kept for the settle that follows it.
type Answered = Result<TossPayment, GatewayError>;

async fn send(deps: &PaymentDeps<'_>, payment: &PaymentRecord, key: &str) -> Answered {
    let payment_key = payment.payment_key.as_deref().unwrap_or_default();
    let answer = deps
        .gateway
        .confirm(payment_key, &payment.order_id, payment.amount, key)
        .await;
    match &answer {
        Err(GatewayError::Rejected {
            code, http_status, ..
        }) => {
            tracing::info!(code = %code, http_status, "Toss refused the confirm");
            if is_integration_problem(code) {
                tracing::error!(code = %code, "Toss rejected our request: integration or configuration problem");
            }
        }
        Err(GatewayError::NoAnswer(reason)) => {
            tracing::warn!(reason = %reason, "no answer from Toss confirm");
        }
        Ok(_) => {}
    }
    answer
}

fn view_of(toss: &TossPayment) -> TossView<'_> {
    TossView {
        order_id: &toss.order_id,
        payment_key: &toss.payment_key,
        currency: toss.currency.as_deref(),
        status: &toss.status,
        total_amount: toss.total_amount,
        failure: toss.failure.as_ref().map(|(c, m)| (c.as_str(), m.as_str())),
    }
}

fn answer_of_confirm(answer: &Answered) -> Answer<'_> {
    match answer {
        Ok(toss) => Answer::Confirmed(view_of(toss)),
        Err(GatewayError::Rejected { code, message, .. }) => Answer::Refused { code, message },
        Err(GatewayError::NoAnswer(_)) => Answer::NoAnswer,
    }
}

fn answer_of_lookup(answer: &Result<Option<TossPayment>, GatewayError>) -> Answer<'_> {
    match answer {
        Ok(Some(toss)) => Answer::Found(view_of(toss)),
        Ok(None) => {
            tracing::info!("Toss lookup found nothing approved");
            Answer::NotFound
        }
        Err(e) => {
            tracing::warn!(error = %e, "Toss lookup failed; outcome unknown");
            Answer::LookupFailed
        }
    }
}

/// A lease runs on the wall clock from the moment of the claim (a scheduled event's
/// `time` may be long past), in the microseconds MySQL keeps, so it is also the fencing
/// token `settle` compares.
pub(super) fn lease_from_now(lease: Duration) -> DateTime<Utc> {
    use chrono::DurationRound;
    let until = Utc::now() + lease;
    until
        .duration_trunc(Duration::microseconds(1))
        .unwrap_or(until)
}

/// Writes the outcome the decision reached, with Toss's last Payment object.
async fn finish(
    deps: &PaymentDeps<'_>,
    payment: &PaymentRecord,
    outcome: Outcome,
    toss: Option<&TossPayment>,
    now: DateTime<Utc>,
) -> Result<PaymentStatus, AppError> {
    let settlement = match (outcome, toss) {
        (Outcome::Approved, Some(toss)) => Settlement::Done {
            approved_amount: toss.total_amount,
            approved_at: toss.approved_at.clone(),
            method: toss.method.clone(),
            issued: toss.virtual_account.is_some().then(|| issued_account(toss)),
        },
        (Outcome::Failed { code, message }, _) => Settlement::Failed { code, message },
        (Outcome::NotOurs, Some(toss)) => {
            tracing::error!(toss_order_id = %toss.order_id, toss_currency = ?toss.currency, "Toss answered with a payment that is not this order's");
            Settlement::NeedsAttention {
                reason: format!(
                    "Toss answered with another payment (orderId {}, currency {:?}); nothing charged",
                    toss.order_id, toss.currency
                ),
                approved_amount: None,
            }
        }
        (
            Outcome::AmountDiffers {
                approved,
                cancel_at_toss,
            },
            Some(toss),
        ) => amount_differs(deps, payment, toss, approved, cancel_at_toss).await,
        (Outcome::AwaitingDeposit, Some(toss)) => awaiting_deposit(toss, now),
        (Outcome::StillOpen { note }, _) => return unknown(deps, payment, note, now).await,
        (outcome, None) => {
            // The decision only reaches these after a Payment object; never charge blind.
            let note = format!("{outcome:?} without a Toss payment");
            return unknown(deps, payment, note, now).await;
        }
    };
    settle(deps, payment, settlement, now).await
}

/// Toss issued a virtual account: kept with the payment (the secret for the deposit
/// callback, the account for the member, the due date for recovery); no points yet.
pub(super) fn awaiting_deposit(toss: &TossPayment, now: DateTime<Utc>) -> Settlement {
    let issued = issued_account(toss);
    let expires_at = issued
        .due_at
        .map(|due| due + domain::payment::deposit::EXPIRY_GRACE);
    Settlement::AwaitingDeposit {
        issued: Some(issued),
        next_look: domain::payment::deposit::next_look(expires_at, now),
    }
}

/// The virtual account, its secret and due date as Toss's payment shows them.
fn issued_account(toss: &TossPayment) -> crate::ports::IssuedAccount {
    let account = toss.virtual_account.clone().unwrap_or_default();
    let due_at = DateTime::parse_from_rfc3339(&account.due_date)
        .ok()
        .map(|due| due.with_timezone(&Utc));
    crate::ports::IssuedAccount {
        secret: toss.secret.clone(),
        account,
        due_at,
    }
}

/// Toss approved another amount (or shows a cancel): cancel what we did not ask for and
/// hand the payment to a person.
async fn amount_differs(
    deps: &PaymentDeps<'_>,
    payment: &PaymentRecord,
    toss: &TossPayment,
    approved: u64,
    cancel_at_toss: bool,
) -> Settlement {
    let expected = payment.amount.won();
    tracing::error!(expected, approved, status = %toss.status, "Toss amount differs from the order");
    let reason = if cancel_at_toss {
        let cancel_key = format!("cancel-{}", payment.order_id);
        match deps
            .gateway
            .cancel(
                &toss.payment_key,
                "주문 금액과 승인 금액 불일치",
                None,
                None,
                None,
                &cancel_key,
            )
            .await
        {
            Ok(after) => format!(
                "approved {approved} instead of {expected}; cancelled at Toss ({})",
                after.status
            ),
            Err(e) => {
                format!("approved {approved} instead of {expected}; cancel at Toss failed: {e}")
            }
        }
    } else {
        format!("Toss shows {} for {approved}", toss.status)
    };
    Settlement::NeedsAttention {
        reason,
        approved_amount: Some(approved),
    }
}

/// Leaves the payment open for recovery's next look, or hands it to a person after the
/// last one.
pub(super) async fn unknown(
    deps: &PaymentDeps<'_>,
    payment: &PaymentRecord,
    note: String,
    now: DateTime<Utc>,
) -> Result<PaymentStatus, AppError> {
    let timings = &deps.timings;
    let settlement = match still_open(payment.recovery_attempts, timings.recovery_max_attempts) {
        StillOpen::HandToPerson => Settlement::NeedsAttention {
            reason: format!(
                "outcome still unknown after {} recovery attempts: {note}",
                payment.recovery_attempts
            ),
            approved_amount: None,
        },
        StillOpen::LookAgain { attempt } => Settlement::Unknown {
            retry_at: now + recovery_delay(timings, attempt),
            note,
        },
    };
    settle(deps, payment, settlement, now).await
}

/// The wait before recovery's look number `attempt` (0-based): exponential from the
/// first delay, capped.
pub(super) fn recovery_delay(timings: &super::PaymentTimings, attempt: u32) -> Duration {
    let delay = ExponentialBuilder::default()
        .with_min_delay(timings.recovery_first_delay)
        .with_max_delay(timings.recovery_max_delay)
        .with_max_times(usize::MAX)
        .build()
        .nth(attempt as usize)
        .unwrap_or(timings.recovery_max_delay);
    Duration::from_std(delay).unwrap_or(Duration::minutes(30))
}

async fn settle(
    deps: &PaymentDeps<'_>,
    payment: &PaymentRecord,
    settlement: Settlement,
    now: DateTime<Utc>,
) -> Result<PaymentStatus, AppError> {
    let status = settlement.status();
    // Only the holder of the current lease may settle (its lease end is the token).
    let guard = payment
        .next_attempt_at
        .map_or(MoveGuard::Free, MoveGuard::Lease);
    let settled = deps
        .store
        .settle(
            &payment.order_id,
            &[PaymentStatus::InProgress],
            &settlement,
            guard,
            now,
        )
        .await?;
    if settled {
        tracing::info!(order_id = %payment.order_id, status = %status, "payment settled");
        Ok(status)
    } else {
        // Another worker (a recovery run) got there first; its answer stands.
        stored_status(deps, payment).await
    }
}

async fn stored_status(
    deps: &PaymentDeps<'_>,
    payment: &PaymentRecord,
) -> Result<PaymentStatus, AppError> {
    let current = deps.store.find(&payment.order_id).await?;
    Ok(current.map_or(PaymentStatus::Unknown, |p| p.status))
}
