//! Points purchases through Toss: checkout, confirm, status and recovery, following the
//! state machine of `domain::payment`. The Toss call always happens outside any database
//! transaction; what is known before it (the claim and its Idempotency-Key) is written
//! first, and what it returns is written in one transaction after it.

use crate::error::AppError;
use crate::ports::{
    Claim, EventPublisher, GatewayError, NewPayment, PaymentGateway, PaymentRecord, PaymentStore,
    Settlement, TossPayment,
};
use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, Duration, Utc};
use domain::payment::{
    AfterRefusal, Amount, ConfirmErrorClass, OrderId, PaymentKey, PaymentStatus,
    TOSS_CHECKOUT_WINDOW_SECS, TOSS_CONFIRM_WINDOW_SECS, TossVerdict, after_refusal,
    is_our_payment, not_found_is_final, parse_order_name, refusal_leaves_doubt, verdict,
};
use domain::{MemberId, ValidationError};
use serde::{Deserialize, Serialize};
use std::time::Duration as StdDuration;

/// What the client needs to open the Toss payment window.
#[derive(Debug, Clone)]
pub struct CheckoutSettings {
    pub client_key: String,
    pub success_url: String,
    pub fail_url: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckoutForm {
    #[serde(default, deserialize_with = "domain::json::whole_i64")]
    pub amount: Option<i64>,
    pub order_name: Option<String>,
    #[serde(default, deserialize_with = "domain::json::whole_u64")]
    pub member_id: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Checkout {
    pub order_id: String,
    pub amount: u64,
    pub order_name: String,
    pub member_id: u64,
    pub success_url: String,
    pub fail_url: String,
    pub client_key: String,
}

#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("member not found")]
    MemberNotFound,
    #[error("payment not found")]
    PaymentNotFound,
    #[error("another member's order")]
    NotYourOrder,
    #[error("acting for another member")]
    NotYou,
    #[error("amount differs from the order")]
    AmountMismatch,
    #[error("a different payment key is already attached to this order")]
    PaymentKeyMismatch,
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<ValidationError> for PaymentError {
    fn from(e: ValidationError) -> Self {
        PaymentError::App(e.into())
    }
}

impl From<crate::InfraError> for PaymentError {
    fn from(e: crate::InfraError) -> Self {
        PaymentError::App(e.into())
    }
}

fn required<T>(value: Option<T>, field: &str) -> Result<T, ValidationError> {
    value.ok_or_else(|| ValidationError::missing(field))
}

/// The caller (from the verified token) acts only for itself: a body `memberId`, kept for
/// compatibility with the original API, must name the caller.
fn acting_member(caller: MemberId, body_member: Option<u64>) -> Result<MemberId, PaymentError> {
    match body_member {
        Some(named) if named != caller.0 => Err(PaymentError::NotYou),
        _ => Ok(caller),
    }
}

#[tracing::instrument(name = "checkout", skip_all)]
pub async fn checkout(
    store: &dyn PaymentStore,
    settings: &CheckoutSettings,
    caller: MemberId,
    form: CheckoutForm,
    order_id_seed: &str,
    now: DateTime<Utc>,
) -> Result<Checkout, PaymentError> {
    let amount = Amount::parse(required(form.amount, "amount")?)?;
    let order_name = parse_order_name(&required(form.order_name, "orderName")?)?;
    let member = acting_member(caller, form.member_id)?;
    if !store.member_exists(member).await? {
        return Err(PaymentError::MemberNotFound);
    }
    let payment = NewPayment {
        order_id: OrderId::new_random(order_id_seed),
        member_id: member,
        order_name,
        amount,
    };
    store.create(&payment, now).await?;
    tracing::info!(order_id = %payment.order_id, member_id = member.0, amount = amount.won(), "checkout created");
    Ok(Checkout {
        order_id: payment.order_id.to_string(),
        amount: amount.won(),
        order_name: payment.order_name,
        member_id: member.0,
        success_url: settings.success_url.clone(),
        fail_url: settings.fail_url.clone(),
        client_key: settings.client_key.clone(),
    })
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmForm {
    #[serde(default, deserialize_with = "domain::json::whole_u64")]
    pub member_id: Option<u64>,
    pub payment_key: Option<String>,
    pub order_id: Option<String>,
    #[serde(default, deserialize_with = "domain::json::whole_i64")]
    pub amount: Option<i64>,
}

/// How long a claim may talk to Toss before recovery may take the payment over: longer
/// than the Toss read timeout plus the final transaction, shorter than Toss' window.
#[derive(Debug, Clone, Copy)]
pub struct PaymentTimings {
    pub lease: Duration,
    /// Confirms sent again within one request after a transient answer.
    pub in_call_retries: usize,
    pub in_call_first_delay: StdDuration,
    /// Recovery looks again after this, doubling, up to `recovery_max_delay`…
    pub recovery_first_delay: StdDuration,
    pub recovery_max_delay: StdDuration,
    /// …and hands the payment to a person after this many looks.
    pub recovery_max_attempts: u32,
    /// The most a confirm request spends on Toss calls before it records `UNKNOWN` and
    /// answers 202, whatever Toss does. The route lowers it to what the invocation has left.
    pub confirm_budget: StdDuration,
}

/// What a confirm keeps of its invocation to record `UNKNOWN` and answer after its budget.
pub const CONFIRM_RESERVE: StdDuration = StdDuration::from_secs(4);

impl Default for PaymentTimings {
    fn default() -> Self {
        Self {
            lease: Duration::seconds(90),
            in_call_retries: 2,
            in_call_first_delay: StdDuration::from_millis(300),
            recovery_first_delay: StdDuration::from_secs(30),
            recovery_max_delay: StdDuration::from_secs(30 * 60),
            recovery_max_attempts: 12,
            // The template's confirm function Timeout (29 s) less CONFIRM_RESERVE and slack.
            confirm_budget: StdDuration::from_secs(24),
        }
    }
}

pub struct PaymentDeps<'a> {
    pub store: &'a dyn PaymentStore,
    pub gateway: &'a dyn PaymentGateway,
    pub publisher: &'a dyn EventPublisher,
    pub timings: PaymentTimings,
}

/// Confirms a payment the member authenticated at Toss (DESIGN §4) and returns the
/// payment as it stands afterwards: `DONE` (points charged), `FAILED`, or — while the
/// outcome is unknown — `IN_PROGRESS`/`UNKNOWN` for recovery to finish.
#[tracing::instrument(name = "confirm", skip_all, fields(order_id))]
pub async fn confirm(
    deps: &PaymentDeps<'_>,
    caller: MemberId,
    form: ConfirmForm,
    now: DateTime<Utc>,
) -> Result<PaymentRecord, PaymentError> {
    let member = acting_member(caller, form.member_id)?;
    let payment_key = PaymentKey::parse(&required(form.payment_key, "paymentKey")?)?;
    let order_id = OrderId::parse(&required(form.order_id, "orderId")?)?;
    let amount = required(form.amount, "amount")?;
    tracing::Span::current().record("order_id", order_id.as_str());

    let payment = deps
        .store
        .find(&order_id)
        .await?
        .ok_or(PaymentError::PaymentNotFound)?;
    if payment.member_id != member {
        return Err(PaymentError::NotYourOrder);
    }
    if i64::try_from(payment.amount.won()).ok() != Some(amount) {
        tracing::warn!(
            stored = payment.amount.won(),
            sent = amount,
            "confirm amount differs from the order; Toss not called"
        );
        return Err(PaymentError::AmountMismatch);
    }
    if let Some(existing) = &payment.payment_key
        && existing != payment_key.as_str()
    {
        return Err(PaymentError::PaymentKeyMismatch);
    }

    let confirm_key = format!("confirm-{order_id}-1");
    let claimed = deps
        .store
        .claim(
            &order_id,
            Claim::Confirm {
                payment_key: payment_key.as_str().to_owned(),
                confirm_key: confirm_key.clone(),
                lease_until: lease_from_now(deps.timings.lease),
            },
            now,
        )
        .await?;
    if !claimed {
        // Someone else confirmed or is confirming: answer from the stored state.
        let current = deps
            .store
            .find(&order_id)
            .await?
            .ok_or(PaymentError::PaymentNotFound)?;
        if current
            .payment_key
            .as_deref()
            .is_some_and(|k| k != payment_key.as_str())
        {
            return Err(PaymentError::PaymentKeyMismatch);
        }
        return Ok(current);
    }
    let claimed = deps
        .store
        .find(&order_id)
        .await?
        .ok_or(PaymentError::PaymentNotFound)?;
    let driven = tokio::time::timeout(
        deps.timings.confirm_budget,
        drive(deps, claimed.clone(), Start::Confirm, now),
    )
    .await;
    let Ok(driven) = driven else {
        // Out of time with Toss still busy: whatever it decides, recovery finds out.
        tracing::warn!("confirm ran out of time; recorded as unknown for recovery");
        let note = "confirm ran out of time".to_owned();
        if let Err(e) = unknown(deps, &claimed, note, now).await {
            tracing::error!(error = %e, "could not record the unknown outcome; the lease runs out and recovery finishes it");
        }
        return Ok(deps.store.find(&order_id).await?.unwrap_or(claimed));
    };
    match driven {
        Ok(_) => {}
        // Toss may have approved, but the result could not be written. The claim's lease
        // runs out and recovery finishes the payment; the member is told it is pending.
        Err(AppError::Unavailable(e)) => {
            tracing::error!(error = %e, "could not record the confirm outcome; recovery will finish it");
            return Ok(claimed);
        }
        Err(e) => return Err(e.into()),
    }
    // This order's events now; anything older is the recovery job's sweep.
    publish_pending(deps, Some(&order_id)).await;
    match deps.store.find(&order_id).await {
        Ok(Some(current)) => Ok(current),
        Ok(None) => Err(PaymentError::PaymentNotFound),
        Err(e) => {
            tracing::error!(error = %e, "could not read the settled payment");
            Ok(claimed)
        }
    }
}

pub async fn payment_status(
    store: &dyn PaymentStore,
    caller: MemberId,
    order_id: &str,
) -> Result<PaymentRecord, PaymentError> {
    let order_id = OrderId::parse(order_id)?;
    let payment = store
        .find(&order_id)
        .await?
        .ok_or(PaymentError::PaymentNotFound)?;
    if payment.member_id != caller {
        return Err(PaymentError::NotYourOrder);
    }
    Ok(payment)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
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
async fn drive(
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
fn lease_from_now(lease: Duration) -> DateTime<Utc> {
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

async fn unknown(
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

/// Publishes outbox events written by committed transactions. A failure leaves them for
/// the recovery job's sweep; consumers dedupe on the deterministic event id.
pub async fn publish_pending(deps: &PaymentDeps<'_>, order_id: Option<&OrderId>) -> u64 {
    let mut published = 0;
    loop {
        let events = match deps.store.unpublished_events(order_id, 100).await {
            Ok(events) if !events.is_empty() => events,
            Ok(_) => return published,
            Err(e) => {
                tracing::warn!(error = %e, "could not read the outbox");
                return published;
            }
        };
        match deps.publisher.publish(&events).await {
            Ok(ids) if !ids.is_empty() => {
                if let Err(e) = deps.store.mark_published(&ids, Utc::now()).await {
                    tracing::warn!(error = %e, "published events not marked; they will be sent again");
                    return published;
                }
                published += ids.len() as u64;
                if ids.len() < events.len() {
                    return published;
                }
            }
            Ok(_) => return published,
            Err(e) => {
                tracing::warn!(error = %e, "event publishing failed; the recovery job retries");
                return published;
            }
        }
    }
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRecoverySummary {
    pub examined: u64,
    pub done: u64,
    pub failed: u64,
    pub expired: u64,
    pub needs_attention: u64,
    pub still_unknown: u64,
    pub skipped: u64,
    /// Payments whose handling failed (logged); the run went on without them.
    pub errors: u64,
    /// Payments left for the next run because the invocation had less than a lease left.
    pub deferred: u64,
    pub events_published: u64,
}

/// A checkout is abandoned only once nothing can still be confirmed: Toss's payment
/// window (30 min), then the confirm window of an authentication at its last moment
/// (10 min), then slack.
pub const READY_EXPIRES_AFTER_SECS: i64 =
    TOSS_CHECKOUT_WINDOW_SECS + TOSS_CONFIRM_WINDOW_SECS + 5 * 60;

/// One recovery run: finishes payments whose outcome is unknown or whose confirm died,
/// expires abandoned checkouts, and publishes outbox events left behind. Each payment is
/// handled on its own: one that fails is logged and counted, and the run goes on. It
/// stops claiming when the invocation (`deadline`, wall clock) has less than a lease left.
#[tracing::instrument(name = "recover_payments", skip_all)]
pub async fn recover_payments(
    deps: &PaymentDeps<'_>,
    now: DateTime<Utc>,
    batch: u32,
    deadline: Option<DateTime<Utc>>,
) -> Result<PaymentRecoverySummary, AppError> {
    let mut summary = PaymentRecoverySummary::default();
    let ready_before = now - Duration::seconds(READY_EXPIRES_AFTER_SECS);
    let due = deps
        .store
        .due_for_recovery(now, ready_before, batch)
        .await?;
    for payment in due {
        if deadline.is_some_and(|d| Utc::now() + deps.timings.lease > d) {
            summary.deferred += 1;
            continue;
        }
        summary.examined += 1;
        match recover_one(deps, &payment, now).await {
            Ok(Some(PaymentStatus::Done)) => summary.done += 1,
            Ok(Some(PaymentStatus::Failed)) => summary.failed += 1,
            Ok(Some(PaymentStatus::Expired)) => summary.expired += 1,
            Ok(Some(PaymentStatus::NeedsAttention)) => summary.needs_attention += 1,
            Ok(Some(_)) => summary.still_unknown += 1,
            Ok(None) => summary.skipped += 1,
            Err(e) => {
                tracing::error!(order_id = %payment.order_id, error = %e, "recovery of this payment failed; the run goes on");
                summary.errors += 1;
            }
        }
    }
    summary.events_published = publish_pending(deps, None).await;
    tracing::info!(?summary, "payment recovery finished");
    Ok(summary)
}

/// Expires an abandoned checkout, or claims and drives an open payment. None when another
/// worker got there first.
async fn recover_one(
    deps: &PaymentDeps<'_>,
    payment: &PaymentRecord,
    now: DateTime<Utc>,
) -> Result<Option<PaymentStatus>, AppError> {
    if payment.status == PaymentStatus::Ready {
        let expired = deps
            .store
            .settle(
                &payment.order_id,
                &[PaymentStatus::Ready],
                &Settlement::Expired,
                None,
                now,
            )
            .await?;
        return Ok(expired.then_some(PaymentStatus::Expired));
    }
    let claim = Claim::Recover {
        seen: payment.status,
        seen_next_attempt_at: payment.next_attempt_at,
        lease_until: lease_from_now(deps.timings.lease),
    };
    if !deps.store.claim(&payment.order_id, claim, now).await? {
        return Ok(None);
    }
    let Some(claimed) = deps.store.find(&payment.order_id).await? else {
        return Ok(None);
    };
    Ok(Some(drive(deps, claimed, Start::Lookup, now).await?))
}
