//! Virtual accounts after the confirm: the deposit (points charged), a deposit error
//! (points taken back), and the due date passing unpaid (expired). Toss's lookup decides,
//! never a webhook body; `domain::payment::deposit` says what each view means.

use super::PaymentDeps;
use crate::error::AppError;
use crate::ports::{MoveGuard, PaymentRecord, Settlement, TossPayment};
use chrono::{DateTime, Utc};
use domain::payment::PaymentStatus;
use domain::payment::deposit::{DepositStep, deposit_step};

/// What a look at a virtual-account payment did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DepositOutcome {
    /// The payment moved to this status.
    Moved(PaymentStatus),
    /// Still waiting (next look scheduled), or nothing to do.
    Unchanged,
    /// Toss has no such payment of ours, or the move was refused under the lock.
    Refused(&'static str),
}

/// Looks before giving up when newer looks or settlements keep overtaking this one: the
/// error makes a webhook answer 5xx (Toss delivers again) and recovery look next run.
const LOOK_ATTEMPTS: usize = 5;

/// One look's end: finished, or overtaken by a newer look or settlement (look again).
enum Look {
    Finished(DepositOutcome),
    Overtaken,
}

/// Looks the payment up at Toss and applies what that says. `callback_says_undone`: a
/// deposit callback whose secret matched says `WAITING_FOR_DEPOSIT`. Looks are not
/// claimed: each moves the payment only at the version it read before asking Toss, so of
/// two looks at once (two callbacks, a callback and recovery) the older view never lands
/// after the newer; the one overtaken reads again and looks again.
pub async fn check_deposit(
    deps: &PaymentDeps<'_>,
    payment: &PaymentRecord,
    now: DateTime<Utc>,
    callback_says_undone: bool,
) -> Result<DepositOutcome, AppError> {
    let mut seen = payment.clone();
    for _ in 0..LOOK_ATTEMPTS {
        if let Look::Finished(outcome) = look(deps, &seen, now, callback_says_undone).await? {
            return Ok(outcome);
        }
        match deps.store.find(&payment.order_id).await? {
            Some(fresh) if fresh.version != seen.version => seen = fresh,
            _ => {
                return Ok(DepositOutcome::Refused(
                    "the move was refused; a person must look",
                ));
            }
        }
    }
    Err(AppError::Unavailable(crate::InfraError::new(
        "looks at a virtual account kept being overtaken",
        format!("{LOOK_ATTEMPTS} attempts for {}", payment.order_id),
    )))
}

async fn look(
    deps: &PaymentDeps<'_>,
    payment: &PaymentRecord,
    now: DateTime<Utc>,
    callback_says_undone: bool,
) -> Result<Look, AppError> {
    let looked = deps.gateway.lookup(&payment.order_id).await.map_err(|e| {
        AppError::Unavailable(crate::InfraError::new(
            "Toss lookup of a virtual account failed",
            e,
        ))
    })?;
    let found = looked.filter(|t| t.order_id == payment.order_id.as_str());
    match found.or_else(|| not_approved(payment, callback_says_undone)) {
        Some(toss) => apply(deps, payment, &toss, now).await,
        None => Ok(Look::Finished(DepositOutcome::Refused(
            "Toss has no such payment",
        ))),
    }
}

/// A lookup 404 for an account we know Toss issued: Toss documents its lookup as one of
/// approved payments (docs/toss.md §3), so the 404 says "not paid (now)": an account
/// waiting is still waiting (and expires after its due date); a deposited one counts as
/// undone only if a deposit callback with the right secret said so too.
fn not_approved(payment: &PaymentRecord, callback_says_undone: bool) -> Option<TossPayment> {
    let waiting = match payment.status {
        PaymentStatus::WaitingForDeposit => true,
        PaymentStatus::Done => callback_says_undone,
        _ => false,
    };
    waiting.then(|| TossPayment {
        payment_key: payment.payment_key.clone().unwrap_or_default(),
        order_id: payment.order_id.as_str().to_owned(),
        status: "WAITING_FOR_DEPOSIT".to_owned(),
        total_amount: payment.amount.won(),
        currency: None,
        approved_at: None,
        failure: None,
        method: None,
        balance_amount: None,
        secret: None,
        virtual_account: None,
    })
}

async fn apply(
    deps: &PaymentDeps<'_>,
    payment: &PaymentRecord,
    toss: &TossPayment,
    now: DateTime<Utc>,
) -> Result<Look, AppError> {
    let step = deposit_step(
        payment.status,
        &toss.status,
        toss.total_amount,
        payment.amount,
        payment.deposit_due_at,
        now,
    );
    let looks_again = matches!(step, DepositStep::LookAgain { .. });
    let settlement = match step {
        DepositStep::Credit => Settlement::Done {
            approved_amount: toss.total_amount,
            approved_at: toss.approved_at.clone(),
            method: toss.method.clone(),
            // Kept since the account was issued.
            issued: None,
        },
        DepositStep::Reverse => Settlement::DepositReversed {
            next_look: domain::payment::deposit::next_look(expiry(payment), now),
        },
        DepositStep::Expire { .. } => Settlement::Expired,
        DepositStep::LookAgain { at } => Settlement::AwaitingDeposit {
            issued: None,
            next_look: at,
        },
        DepositStep::Attention { reason } => Settlement::NeedsAttention {
            reason,
            approved_amount: Some(toss.total_amount),
        },
        DepositStep::Nothing => {
            // Even a look that changes nothing is recorded: an older look's move loses.
            let noted = deps
                .store
                .note_look(&payment.order_id, payment.version)
                .await?;
            return Ok(match noted {
                true => Look::Finished(DepositOutcome::Unchanged),
                false => Look::Overtaken,
            });
        }
    };
    let status = settlement.status();
    let guard = MoveGuard::Version(payment.version);
    let moved = deps
        .store
        .settle(
            &payment.order_id,
            &[payment.status],
            &settlement,
            guard,
            now,
        )
        .await?;
    Ok(match (moved, looks_again) {
        (true, true) => Look::Finished(DepositOutcome::Unchanged),
        (true, false) => {
            tracing::info!(order_id = %payment.order_id, status = %status, "virtual account settled");
            Look::Finished(DepositOutcome::Moved(status))
        }
        (false, _) => Look::Overtaken,
    })
}

fn expiry(payment: &PaymentRecord) -> Option<DateTime<Utc>> {
    payment
        .deposit_due_at
        .map(|due| due + domain::payment::deposit::EXPIRY_GRACE)
}
