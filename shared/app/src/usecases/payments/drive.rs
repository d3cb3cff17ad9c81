//! The driver: takes a claimed (`IN_PROGRESS`) payment to its next state from Toss's
//! answers, shared by confirm and recovery.

use super::PaymentDeps;
use crate::error::AppError;
use crate::ports::{GatewayError, PaymentRecord, Settlement, TossPayment};
use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, Duration, Utc};
use domain::payment::{
    AfterRefusal, ConfirmErrorClass, PaymentStatus, TOSS_CONFIRM_WINDOW_SECS, TossVerdict,
    after_refusal, is_our_payment, not_found_is_final, refusal_leaves_doubt, verdict,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Start {
    Confirm,
    Lookup,
}

/// Where one drive of a payment stands between Toss calls.
struct Drive {
    confirm_key: String,
    /// The next confirm must use a new key: the last answer was a definitive error body,
    /// which Toss replays for the same key.
    rotate_key: bool,
    rotations: u32,
    /// An earlier attempt's outcome is not known, so no final-looking answer is a verdict
    /// until Toss shows the payment itself (toss-api.md §5.3).
    uncertain: bool,
}

/// What a lookup leaves to do.
enum AfterLookup {
    ConfirmAgain,
    Done(PaymentStatus),
}

/// Takes a claimed (`IN_PROGRESS`) payment to its next state and returns that state (or
/// the state another worker settled it in first). Every verdict comes from Toss's own
/// word: a refused confirm only when nothing before it was in doubt, otherwise the
/// payment as a lookup shows it.
pub(super) async fn drive(
    deps: &PaymentDeps<'_>,
    payment: PaymentRecord,
    start: Start,
    now: DateTime<Utc>,
) -> Result<PaymentStatus, AppError> {
    let mut state = Drive {
        confirm_key: payment
            .confirm_key
            .clone()
            .unwrap_or_else(|| format!("confirm-{}-1", payment.order_id)),
        rotate_key: false,
        rotations: payment.confirm_attempts,
        // Recovery drives payments whose earlier confirm ended without an answer.
        uncertain: start == Start::Lookup,
    };
    let mut delays = ExponentialBuilder::default()
        .with_min_delay(deps.timings.in_call_first_delay)
        .with_max_times(deps.timings.in_call_retries)
        .build();
    let mut send_confirm = start == Start::Confirm;
    loop {
        if send_confirm && let Some(status) = send(deps, &payment, &mut state, now).await? {
            return Ok(status);
        }
        match look_up(deps, &payment, &state, now).await? {
            AfterLookup::Done(status) => return Ok(status),
            AfterLookup::ConfirmAgain => {}
        }
        let window_open = payment
            .authenticated_at
            .is_none_or(|at| now < at + Duration::seconds(TOSS_CONFIRM_WINDOW_SECS));
        let Some(delay) = delays.next().filter(|_| window_open) else {
            return unknown(
                deps,
                &payment,
                "still not approved after confirm attempts".into(),
                now,
            )
            .await;
        };
        if state.rotate_key && !rotate(deps, &payment, &mut state, now).await? {
            let current = deps.store.find(&payment.order_id).await?;
            return Ok(current.map_or(PaymentStatus::Unknown, |p| p.status));
        }
        tokio::time::sleep(delay).await;
        send_confirm = true;
    }
}

/// One confirm. Some(status) when it settled the payment; None when a lookup must tell.
async fn send(
    deps: &PaymentDeps<'_>,
    payment: &PaymentRecord,
    state: &mut Drive,
    now: DateTime<Utc>,
) -> Result<Option<PaymentStatus>, AppError> {
    let payment_key = payment.payment_key.as_deref().unwrap_or_default();
    let answer = deps
        .gateway
        .confirm(
            payment_key,
            &payment.order_id,
            payment.amount,
            &state.confirm_key,
        )
        .await;
    match answer {
        Ok(toss) => Ok(Some(conclude(deps, payment, &toss, now).await?)),
        Err(GatewayError::Rejected {
            code,
            message,
            http_status,
        }) => {
            tracing::info!(code = %code, http_status, uncertain = state.uncertain, "Toss refused the confirm");
            match after_refusal(&code, state.uncertain) {
                AfterRefusal::SettleFailed => {
                    if ConfirmErrorClass::of(&code) == ConfirmErrorClass::FinalIntegration {
                        tracing::error!(code = %code, "Toss rejected our request: integration or configuration problem");
                    }
                    let failed = Settlement::Failed { code, message };
                    Ok(Some(settle(deps, payment, failed, now).await?))
                }
                AfterRefusal::LookUp { rotate_key } => {
                    state.rotate_key = rotate_key;
                    state.uncertain |= refusal_leaves_doubt(&code);
                    Ok(None)
                }
            }
        }
        Err(GatewayError::NoAnswer(reason)) => {
            tracing::warn!(reason = %reason, "no answer from Toss confirm");
            state.rotate_key = false;
            state.uncertain = true;
            Ok(None)
        }
    }
}

/// Toss's view of the payment after a confirm that did not settle it.
async fn look_up(
    deps: &PaymentDeps<'_>,
    payment: &PaymentRecord,
    state: &Drive,
    now: DateTime<Utc>,
) -> Result<AfterLookup, AppError> {
    let toss = match deps.gateway.lookup(&payment.order_id).await {
        Ok(Some(toss)) => toss,
        // A 404 is "nothing approved yet" while a confirm of ours may still be running.
        Ok(None) if not_found_is_final(payment.authenticated_at, now) => {
            let failed = Settlement::Failed {
                code: "NOT_FOUND_PAYMENT".into(),
                message: "토스페이먼츠에 결제 정보가 없습니다.".into(),
            };
            return Ok(AfterLookup::Done(settle(deps, payment, failed, now).await?));
        }
        Ok(None) => {
            tracing::info!(
                uncertain = state.uncertain,
                "Toss lookup found nothing approved yet"
            );
            return Ok(AfterLookup::ConfirmAgain);
        }
        Err(e) => {
            tracing::warn!(error = %e, "Toss lookup failed; outcome unknown");
            let note = format!("lookup failed: {e}");
            return Ok(AfterLookup::Done(unknown(deps, payment, note, now).await?));
        }
    };
    let verdict = verdict(
        &toss.status,
        toss.total_amount,
        payment.amount,
        failure_of(&toss),
    );
    if verdict == TossVerdict::AwaitingConfirm && is_ours(payment, &toss) {
        return Ok(AfterLookup::ConfirmAgain);
    }
    Ok(AfterLookup::Done(
        conclude(deps, payment, &toss, now).await?,
    ))
}

/// Moves to the next confirm key with a compare-and-set, so two drivers never use two
/// keys at once. False when another driver changed the payment first.
async fn rotate(
    deps: &PaymentDeps<'_>,
    payment: &PaymentRecord,
    state: &mut Drive,
    now: DateTime<Utc>,
) -> Result<bool, AppError> {
    state.rotations += 1;
    let next_key = format!("confirm-{}-{}", payment.order_id, state.rotations + 1);
    let rotated = deps
        .store
        .rotate_confirm_key(&payment.order_id, &state.confirm_key, &next_key, now)
        .await?;
    if rotated {
        state.confirm_key = next_key;
        state.rotate_key = false;
        state.uncertain = true;
    }
    Ok(rotated)
}

fn is_ours(payment: &PaymentRecord, toss: &TossPayment) -> bool {
    is_our_payment(
        (payment.order_id.as_str(), payment.payment_key.as_deref()),
        (&toss.order_id, &toss.payment_key, toss.currency.as_deref()),
    )
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

fn failure_of(toss: &TossPayment) -> Option<(&str, &str)> {
    toss.failure.as_ref().map(|(c, m)| (c.as_str(), m.as_str()))
}

/// Settles from Toss' view of the payment.
async fn conclude(
    deps: &PaymentDeps<'_>,
    payment: &PaymentRecord,
    toss: &TossPayment,
    now: DateTime<Utc>,
) -> Result<PaymentStatus, AppError> {
    if !is_ours(payment, toss) {
        tracing::error!(toss_order_id = %toss.order_id, toss_currency = ?toss.currency, "Toss answered with a payment that is not this order's");
        let reason = format!(
            "Toss answered with another payment (orderId {}, currency {:?}); nothing charged",
            toss.order_id, toss.currency
        );
        let attention = Settlement::NeedsAttention {
            reason,
            approved_amount: None,
        };
        return settle(deps, payment, attention, now).await;
    }
    match verdict(
        &toss.status,
        toss.total_amount,
        payment.amount,
        failure_of(toss),
    ) {
        TossVerdict::Approved => {
            settle(
                deps,
                payment,
                Settlement::Done {
                    approved_amount: toss.total_amount,
                    approved_at: toss.approved_at.clone(),
                },
                now,
            )
            .await
        }
        TossVerdict::AmountDiffers { approved } => {
            tracing::error!(expected = payment.amount.won(), approved, status = %toss.status, "Toss amount differs from the order");
            let reason = if toss.status == "DONE" {
                match deps
                    .gateway
                    .cancel(
                        &toss.payment_key,
                        "주문 금액과 승인 금액 불일치",
                        &format!("cancel-{}", payment.order_id),
                    )
                    .await
                {
                    Ok(after) => format!(
                        "approved {approved} instead of {}; cancelled at Toss ({})",
                        payment.amount.won(),
                        after.status
                    ),
                    Err(e) => format!(
                        "approved {approved} instead of {}; cancel at Toss failed: {e}",
                        payment.amount.won()
                    ),
                }
            } else {
                format!("Toss shows {} for {approved}", toss.status)
            };
            settle(
                deps,
                payment,
                Settlement::NeedsAttention {
                    reason,
                    approved_amount: Some(approved),
                },
                now,
            )
            .await
        }
        TossVerdict::Failed { code, message } => {
            settle(deps, payment, Settlement::Failed { code, message }, now).await
        }
        TossVerdict::AwaitingConfirm | TossVerdict::Undecided => {
            unknown(deps, payment, format!("Toss status {}", toss.status), now).await
        }
    }
}

pub(super) async fn unknown(
    deps: &PaymentDeps<'_>,
    payment: &PaymentRecord,
    note: String,
    now: DateTime<Utc>,
) -> Result<PaymentStatus, AppError> {
    if payment.recovery_attempts >= deps.timings.recovery_max_attempts {
        return settle(
            deps,
            payment,
            Settlement::NeedsAttention {
                reason: format!(
                    "outcome still unknown after {} recovery attempts: {note}",
                    payment.recovery_attempts
                ),
                approved_amount: None,
            },
            now,
        )
        .await;
    }
    let delay = ExponentialBuilder::default()
        .with_min_delay(deps.timings.recovery_first_delay)
        .with_max_delay(deps.timings.recovery_max_delay)
        .with_max_times(usize::MAX)
        .build()
        .nth(payment.recovery_attempts as usize)
        .unwrap_or(deps.timings.recovery_max_delay);
    let retry_at = now + Duration::from_std(delay).unwrap_or(Duration::minutes(30));
    settle(deps, payment, Settlement::Unknown { retry_at, note }, now).await
}

async fn settle(
    deps: &PaymentDeps<'_>,
    payment: &PaymentRecord,
    settlement: Settlement,
    now: DateTime<Utc>,
) -> Result<PaymentStatus, AppError> {
    let status = settlement.status();
    // Only the holder of the current lease may settle (its lease end is the token).
    let fence = payment.next_attempt_at;
    let settled = deps
        .store
        .settle(
            &payment.order_id,
            &[PaymentStatus::InProgress],
            &settlement,
            fence,
            now,
        )
        .await?;
    if settled {
        tracing::info!(order_id = %payment.order_id, status = %status, "payment settled");
        Ok(status)
    } else {
        // Another worker (a recovery run) got there first; its answer stands.
        let current = deps.store.find(&payment.order_id).await?;
        Ok(current.map_or(status, |p| p.status))
    }
}
