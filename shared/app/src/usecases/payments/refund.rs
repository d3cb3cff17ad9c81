//! Refunds of purchases through Toss's cancel API, exactly once: the intent and the
//! points it takes are written before Toss is called (they cannot be refunded twice or
//! spent meanwhile), every cancel carries a deterministic Idempotency-Key and the
//! balance it expects (`refundableAmount`), a refusal gives the points back, and an
//! unknown outcome is settled by recovery from Toss's own view of the payment.

use super::drive::{lease_from_now, recovery_delay};
use super::{PaymentDeps, publish_pending, required};
use crate::error::AppError;
use crate::ports::{
    GatewayError, RefundOpenError, RefundRecord, RefundRequest, RefundSettlement, RefundStore,
};
use chrono::{DateTime, Utc};
use domain::payment::OrderId;
use domain::refund::{
    CancelAnswer, CancelVerdict, LookupVerdict, RefundPolicy, RefundStatus, judge_cancel,
    judge_lookup,
};
use domain::refund_account::RefundAccount;
use domain::{MemberId, ValidationError};
use serde::{Deserialize, Serialize};

/// What a refund needs: the payment side (store, Toss, publisher, timings) and its own.
pub struct RefundDeps<'a> {
    pub payments: PaymentDeps<'a>,
    pub refunds: &'a dyn RefundStore,
    pub policy: RefundPolicy,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundForm {
    pub reason: Option<String>,
    /// Points to refund; absent: all that remains of the purchase.
    #[serde(default, deserialize_with = "domain::json::whole_i64")]
    pub amount: Option<i64>,
    /// Where the money goes for a virtual-account purchase (required there, docs/toss.md §3).
    pub refund_account: Option<domain::refund_account::RefundAccountForm>,
}

pub const REFUND_REASON_MAX_CHARS: usize = 200;

impl RefundForm {
    fn parse(self) -> Result<(String, Option<u64>, Option<RefundAccount>), ValidationError> {
        let account = self.refund_account.clone().map(|f| f.parse()).transpose()?;
        let (reason, amount) = self.parse_reason_and_amount()?;
        Ok((reason, amount, account))
    }

    fn parse_reason_and_amount(self) -> Result<(String, Option<u64>), ValidationError> {
        let reason = required(self.reason, "reason")?;
        let reason = reason.trim();
        let chars = reason.chars().count();
        if chars == 0 || chars > REFUND_REASON_MAX_CHARS || reason.chars().any(char::is_control) {
            return Err(ValidationError::invalid(
                "reason",
                format!("제어 문자 없이 1자 이상 {REFUND_REASON_MAX_CHARS}자 이하여야 합니다."),
            ));
        }
        let amount = match self.amount {
            None => None,
            Some(n) if (1..=domain::payment::Amount::MAX).contains(&n) => Some(n.unsigned_abs()),
            Some(_) => {
                return Err(ValidationError::invalid(
                    "amount",
                    "1 이상의 정수(포인트)여야 합니다.",
                ));
            }
        };
        Ok((reason.to_owned(), amount))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RefundError {
    #[error(transparent)]
    Open(#[from] RefundOpenError),
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<ValidationError> for RefundError {
    fn from(e: ValidationError) -> Self {
        RefundError::App(e.into())
    }
}

/// The refund ask: write the intent, then ask Toss once (the route answers from the
/// refund's status: DONE 200, REFUSED 4xx, otherwise 202 and recovery settles it).
#[tracing::instrument(name = "refund", skip_all, fields(order_id = %raw_order_id))]
pub async fn refund(
    deps: &RefundDeps<'_>,
    caller: MemberId,
    raw_order_id: &str,
    form: RefundForm,
    refund_id: &str,
    now: DateTime<Utc>,
) -> Result<RefundRecord, RefundError> {
    let order_id = OrderId::parse(raw_order_id)?;
    let (reason, points, refund_account) = form.parse()?;
    let lease_until = lease_from_now(deps.payments.timings.lease);
    let request = RefundRequest {
        refund_id,
        member: caller,
        order_id: &order_id,
        points,
        reason: &reason,
        refund_account: refund_account.as_ref(),
        lease_until,
        now,
    };
    let opened = deps.refunds.open_refund(&request, &deps.policy).await?;
    Ok(ask_toss(deps, &opened, lease_until, now).await?)
}

/// One cancel call for `refund` (held until `fence`) and its settlement; the refund as
/// it stands afterwards.
async fn ask_toss(
    deps: &RefundDeps<'_>,
    refund: &RefundRecord,
    fence: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<RefundRecord, AppError> {
    let answer = deps
        .payments
        .gateway
        .cancel(
            &refund.payment_key,
            &refund.reason,
            Some(refund.refund_won),
            Some(refund.refundable_before),
            refund.refund_account.as_ref(),
            &refund.cancel_key(),
        )
        .await;
    let settlement = settlement_of(deps, refund, &answer, now);
    settle(deps, refund, &settlement, fence, now).await
}

fn settlement_of(
    deps: &RefundDeps<'_>,
    refund: &RefundRecord,
    answer: &Result<crate::ports::TossPayment, GatewayError>,
    now: DateTime<Utc>,
) -> RefundSettlement {
    let (verdict, code, message) = match answer {
        Ok(_) => (judge_cancel(CancelAnswer::Cancelled), "", ""),
        Err(GatewayError::NoAnswer(detail)) => {
            (judge_cancel(CancelAnswer::NoAnswer), "", detail.as_str())
        }
        Err(GatewayError::Rejected {
            http_status,
            code,
            message,
        }) => (
            judge_cancel(CancelAnswer::Rejected {
                http_status: *http_status,
                code,
            }),
            code.as_str(),
            message.as_str(),
        ),
    };
    let unknown = |new_key| RefundSettlement::Unknown {
        retry_at: now + recovery_delay(&deps.payments.timings, refund.recovery_attempts),
        new_key,
        note: format!("cancel not settled: {code} {message}")
            .trim()
            .to_owned(),
    };
    match verdict {
        CancelVerdict::Done => RefundSettlement::Done,
        CancelVerdict::Refused => RefundSettlement::Refused {
            code: code.to_owned(),
            message: message.to_owned(),
        },
        CancelVerdict::AgainSameKey => unknown(false),
        CancelVerdict::AgainNewKey => unknown(true),
    }
}

async fn settle(
    deps: &RefundDeps<'_>,
    refund: &RefundRecord,
    settlement: &RefundSettlement,
    fence: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<RefundRecord, AppError> {
    let moved = deps
        .refunds
        .settle_refund(refund, settlement, fence, now)
        .await?;
    if moved {
        publish_pending(&deps.payments, Some(&refund.order_id)).await;
    }
    deps.refunds
        .find_refund(&refund.refund_id)
        .await?
        .ok_or_else(|| {
            AppError::Unavailable(crate::InfraError::new(
                "the refund disappeared",
                refund.refund_id.clone(),
            ))
        })
}

/// What one recovery run did with the open refunds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundRecoverySummary {
    pub examined: u32,
    pub done: u32,
    pub refused: u32,
    pub needs_attention: u32,
    pub still_unknown: u32,
    /// Left for the next run: the invocation had less than a lease left.
    pub deferred: u32,
    /// Failed on a dependency; the next run looks again.
    pub errors: u32,
}

/// Settles the open refunds whose lease or wait has passed: Toss's payment says whether
/// the cancel ran (its cancellable balance against our settled refunds); one that did
/// not run is asked again (same key after no answer, a new one after an error). Each
/// refund is handled on its own; the run stops claiming when `deadline` is near.
#[tracing::instrument(name = "recover_refunds", skip_all)]
pub async fn recover_refunds(
    deps: &RefundDeps<'_>,
    now: DateTime<Utc>,
    limit: u32,
    deadline: Option<DateTime<Utc>>,
) -> Result<RefundRecoverySummary, AppError> {
    let mut summary = RefundRecoverySummary::default();
    for refund in deps.refunds.due_refunds(now, limit).await? {
        let lease_length = deps.payments.timings.lease;
        if deadline.is_some_and(|d| Utc::now() + lease_length > d) {
            summary.deferred += 1;
            continue;
        }
        let lease = lease_from_now(lease_length);
        if !deps.refunds.claim_refund(&refund, lease).await? {
            continue;
        }
        summary.examined += 1;
        let claimed = RefundRecord {
            next_attempt_at: Some(lease),
            recovery_attempts: refund.recovery_attempts + 1,
            ..refund
        };
        match recover_one(deps, &claimed, lease, now)
            .await
            .map(|r| r.status)
        {
            Ok(RefundStatus::Done) => summary.done += 1,
            Ok(RefundStatus::Refused) => summary.refused += 1,
            Ok(RefundStatus::NeedsAttention) => summary.needs_attention += 1,
            Ok(_) => summary.still_unknown += 1,
            Err(e) => {
                tracing::error!(refund_id = %claimed.refund_id, error = %e, "recovery of this refund failed; the run goes on");
                summary.errors += 1;
            }
        }
    }
    Ok(summary)
}

async fn recover_one(
    deps: &RefundDeps<'_>,
    refund: &RefundRecord,
    fence: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<RefundRecord, AppError> {
    let timings = &deps.payments.timings;
    if refund.recovery_attempts > timings.recovery_max_attempts {
        let reason = format!("no verdict after {} looks", refund.recovery_attempts - 1);
        return settle(
            deps,
            refund,
            &RefundSettlement::NeedsAttention { reason },
            fence,
            now,
        )
        .await;
    }
    let looked = deps.payments.gateway.lookup(&refund.order_id).await;
    let settled_won = deps.refunds.refunded_won(&refund.order_id).await?;
    let verdict = match &looked {
        Ok(Some(toss)) => toss.balance_amount.map(|balance| {
            judge_lookup(
                refund.approved_amount,
                balance,
                settled_won,
                refund.refund_won,
            )
        }),
        Ok(None) => Some(LookupVerdict::Inconsistent),
        Err(_) => None,
    };
    let settlement = match verdict {
        Some(LookupVerdict::Landed) => RefundSettlement::Done,
        Some(LookupVerdict::NotLanded) => return ask_toss(deps, refund, fence, now).await,
        Some(LookupVerdict::Inconsistent) => RefundSettlement::NeedsAttention {
            reason: format!(
                "Toss's payment shows cancels no refund of ours explains (approved {}, ours settled {settled_won}, this {})",
                refund.approved_amount, refund.refund_won
            ),
        },
        None => RefundSettlement::Unknown {
            retry_at: now + recovery_delay(timings, refund.recovery_attempts),
            new_key: false,
            note: "lookup gave no verdict".into(),
        },
    };
    settle(deps, refund, &settlement, fence, now).await
}
