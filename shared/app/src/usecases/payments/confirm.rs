//! Confirm: claim the payment, then let the driver take it to its next state within
//! the confirm budget.

use super::drive::{drive, lease_from_now, unknown};
use super::{PaymentDeps, PaymentError, acting_member, publish_pending, required};
use crate::error::AppError;
use crate::ports::{Claim, PaymentRecord};
use chrono::{DateTime, Utc};
use domain::MemberId;
use domain::payment::drive::{Start, confirm_key};
use domain::payment::{OrderId, PaymentKey};
use serde::Deserialize;

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

/// Confirms a payment the member authenticated at Toss (README "Payments: flow, states,
/// guarantees") and returns the payment as it stands afterwards: `DONE` (points charged),
/// `FAILED`, or — while the outcome is unknown — `IN_PROGRESS`/`UNKNOWN` for recovery to
/// finish.
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

    let payment = find(deps, &order_id).await?;
    check_request(&payment, member, &payment_key, amount)?;
    let claim = Claim::Confirm {
        payment_key: payment_key.as_str().to_owned(),
        confirm_key: confirm_key(order_id.as_str(), 1),
        lease_until: lease_from_now(deps.timings.lease),
    };
    if !deps.store.claim(&order_id, claim, now).await? {
        // Someone else confirmed or is confirming: answer from the stored state.
        let current = find(deps, &order_id).await?;
        if current
            .payment_key
            .as_deref()
            .is_some_and(|k| k != payment_key.as_str())
        {
            return Err(PaymentError::PaymentKeyMismatch);
        }
        return Ok(current);
    }
    let claimed = find(deps, &order_id).await?;
    drive_within_budget(deps, &claimed, now).await
}

async fn find(deps: &PaymentDeps<'_>, order_id: &OrderId) -> Result<PaymentRecord, PaymentError> {
    deps.store
        .find(order_id)
        .await?
        .ok_or(PaymentError::PaymentNotFound)
}

/// The confirm must name the member's own order, its amount, and no other payment key.
fn check_request(
    payment: &PaymentRecord,
    member: MemberId,
    payment_key: &PaymentKey,
    amount: i64,
) -> Result<(), PaymentError> {
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
    if payment
        .payment_key
        .as_deref()
        .is_some_and(|existing| existing != payment_key.as_str())
    {
        return Err(PaymentError::PaymentKeyMismatch);
    }
    Ok(())
}

/// Drives the claimed payment within the confirm budget and answers it as it stands.
async fn drive_within_budget(
    deps: &PaymentDeps<'_>,
    claimed: &PaymentRecord,
    now: DateTime<Utc>,
) -> Result<PaymentRecord, PaymentError> {
    let order_id = &claimed.order_id;
    let driven = tokio::time::timeout(
        deps.timings.confirm_budget,
        drive(deps, claimed.clone(), Start::Confirm, now),
    )
    .await;
    let Ok(driven) = driven else {
        // Out of time with Toss still busy: whatever it decides, recovery finds out.
        tracing::warn!("confirm ran out of time; recorded as unknown for recovery");
        let note = "confirm ran out of time".to_owned();
        if let Err(e) = unknown(deps, claimed, note, now).await {
            tracing::error!(error = %e, "could not record the unknown outcome; the lease runs out and recovery finishes it");
        }
        return Ok(deps.store.find(order_id).await?.unwrap_or(claimed.clone()));
    };
    match driven {
        Ok(_) => {}
        // Toss may have approved, but the result could not be written. The claim's lease
        // runs out and recovery finishes the payment; the member is told it is pending.
        Err(AppError::Unavailable(e)) => {
            tracing::error!(error = %e, "could not record the confirm outcome; recovery will finish it");
            return Ok(claimed.clone());
        }
        Err(e) => return Err(e.into()),
    }
    // This order's events now; anything older is the recovery job's sweep.
    publish_pending(deps, Some(order_id)).await;
    match deps.store.find(order_id).await {
        Ok(Some(current)) => Ok(current),
        Ok(None) => Err(PaymentError::PaymentNotFound),
        Err(e) => {
            tracing::error!(error = %e, "could not read the settled payment");
            Ok(claimed.clone())
        }
    }
}
