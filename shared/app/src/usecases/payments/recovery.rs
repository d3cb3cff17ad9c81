//! The recovery job: finishes open payments, expires abandoned checkouts, sweeps the
//! outbox.

use super::deposit::{DepositOutcome, check_deposit};
use super::drive::{drive, lease_from_now};
use super::{PaymentDeps, publish_pending};
use crate::error::AppError;
use crate::ports::{Claim, MoveGuard, PaymentRecord, Settlement};
use chrono::{DateTime, Duration, Utc};
use domain::payment::drive::Start;
use domain::payment::{PaymentStatus, TOSS_CHECKOUT_WINDOW_SECS, TOSS_CONFIRM_WINDOW_SECS};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRecoverySummary {
    pub examined: u64,
    pub done: u64,
    pub failed: u64,
    pub expired: u64,
    pub needs_attention: u64,
    pub still_unknown: u64,
    /// Virtual accounts looked at that still wait for their deposit.
    #[serde(default)]
    pub awaiting_deposit: u64,
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
            Ok(Some(PaymentStatus::WaitingForDeposit)) => summary.awaiting_deposit += 1,
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
pub(super) async fn recover_one(
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
                MoveGuard::Free,
                now,
            )
            .await?;
        return Ok(expired.then_some(PaymentStatus::Expired));
    }
    if payment.status == PaymentStatus::WaitingForDeposit {
        // No claim: looks at Toss, each move conditional on the version it read.
        return Ok(match check_deposit(deps, payment, now, false).await? {
            DepositOutcome::Moved(status) => Some(status),
            DepositOutcome::Unchanged => Some(PaymentStatus::WaitingForDeposit),
            DepositOutcome::Refused(_) => None,
        });
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
    Ok(Some(drive(deps, claimed, Start::LookUp, now).await?))
}
