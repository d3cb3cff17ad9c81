//! Points purchases through Toss: checkout, confirm, status and recovery, following the
//! state machine of `domain::payment`. The Toss call always happens outside any database
//! transaction; what is known before it (the claim and its Idempotency-Key) is written
//! first, and what it returns is written in one transaction after it.

mod checkout;
mod confirm;
mod deposit;
mod drive;
mod recovery;
mod refund;
mod webhook;

pub use checkout::{Checkout, CheckoutForm, CheckoutSettings, checkout, payment_status};
pub use confirm::{ConfirmForm, confirm};
pub use deposit::{DepositOutcome, check_deposit};
pub use recovery::{PaymentRecoverySummary, READY_EXPIRES_AFTER_SECS, recover_payments};
pub use refund::{
    REFUND_REASON_MAX_CHARS, RefundDeps, RefundError, RefundForm, RefundRecoverySummary,
    recover_refunds, refund,
};
pub use webhook::{WebhookDeps, WebhookOutcome, receive_webhook};

use crate::error::AppError;
use crate::ports::{EventPublisher, PaymentGateway, PaymentStore};
use chrono::{Duration, Utc};
use domain::payment::OrderId;
use domain::{MemberId, ValidationError};
use std::time::Duration as StdDuration;

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

pub(super) fn required<T>(value: Option<T>, field: &str) -> Result<T, ValidationError> {
    value.ok_or_else(|| ValidationError::missing(field))
}

/// The caller (from the verified token) acts only for itself: a body `memberId`, kept for
/// compatibility with the original API, must name the caller.
pub(super) fn acting_member(
    caller: MemberId,
    body_member: Option<u64>,
) -> Result<MemberId, PaymentError> {
    match body_member {
        Some(named) if named != caller.0 => Err(PaymentError::NotYou),
        _ => Ok(caller),
    }
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
