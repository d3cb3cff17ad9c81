//! Toss's webhook deliveries as a settlement path: recorded once per transmission,
//! answered within Toss's 10 s, and never trusted: the body only names an order, the
//! payment is fetched again from Toss and only that lookup is acted on.

use super::deposit::{DepositOutcome, check_deposit};
use super::recovery::recover_one;
use super::{PaymentDeps, publish_pending};
use crate::error::AppError;
use crate::ports::{Clawback, DeliveryStart, WebhookStore};
use chrono::{DateTime, Utc};
use domain::payment::PaymentStatus;
use domain::webhook::{Delivery, deposit_secret_matches, says_deposit_undone};

pub struct WebhookDeps<'a> {
    pub payments: PaymentDeps<'a>,
    pub deliveries: &'a dyn WebhookStore,
}

/// What a delivery led to (also stored with it, for the audit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// This transmission was handled before.
    Duplicate,
    /// Not about a payment of ours, or nothing to do: logged.
    Ignored(&'static str),
    /// An open payment of ours, settled as recovery would.
    Settled(PaymentStatus),
    /// A confirm or recovery holds the payment right now; it settles it.
    InFlight,
    /// Points taken back for a cancel made outside our API.
    ClawedBack { points: u64, shortfall: u64 },
    /// A refund of ours is unsettled; its recovery decides first.
    RefundOpen,
    /// A virtual account's deposit (`DONE`), deposit error (`WAITING_FOR_DEPOSIT`) or
    /// expiry, as Toss's lookup showed it.
    Deposit(PaymentStatus),
}

impl WebhookOutcome {
    pub fn label(&self) -> String {
        match self {
            Self::Duplicate => "duplicate".into(),
            Self::Ignored(why) => format!("ignored: {why}"),
            Self::Settled(status) => format!("settled {}", status.as_str()),
            Self::InFlight => "in flight".into(),
            Self::ClawedBack { points, shortfall } => format!("clawed back {points}/{shortfall}"),
            Self::RefundOpen => "refund open".into(),
            Self::Deposit(status) => format!("deposit: {}", status.as_str()),
        }
    }
}

/// Handles one delivery. An error (Toss or the database not answering) leaves the
/// delivery unfinished: the route answers 5xx and Toss's retry handles it again.
#[tracing::instrument(name = "webhook", skip_all, fields(transmission_id = %delivery.transmission_id))]
pub async fn receive_webhook(
    deps: &WebhookDeps<'_>,
    delivery: &Delivery,
    now: DateTime<Utc>,
) -> Result<WebhookOutcome, AppError> {
    if let DeliveryStart::Handled { .. } = deps.deliveries.record_delivery(delivery, now).await? {
        return Ok(WebhookOutcome::Duplicate);
    }
    let outcome = act_on(deps, delivery, now).await?;
    tracing::info!(outcome = %outcome.label(), event_type = %delivery.event_type, "webhook handled");
    deps.deliveries
        .finish_delivery(&delivery.transmission_id, &outcome.label(), now)
        .await?;
    if let Some(order_id) = &delivery.order_id {
        publish_pending(&deps.payments, Some(order_id)).await;
    }
    Ok(outcome)
}

async fn act_on(
    deps: &WebhookDeps<'_>,
    delivery: &Delivery,
    now: DateTime<Utc>,
) -> Result<WebhookOutcome, AppError> {
    let Some(order_id) = &delivery.order_id else {
        return Ok(WebhookOutcome::Ignored("names no order of ours"));
    };
    let Some(ours) = deps.payments.store.find(order_id).await? else {
        return Ok(WebhookOutcome::Ignored("not our order"));
    };
    if !deposit_secret_matches(delivery, ours.deposit_secret.as_deref()) {
        return Ok(WebhookOutcome::Ignored(
            "deposit callback secret does not match",
        ));
    }
    match ours.status {
        PaymentStatus::Unknown | PaymentStatus::InProgress => {
            Ok(match recover_one(&deps.payments, &ours, now).await? {
                Some(status) => WebhookOutcome::Settled(status),
                None => WebhookOutcome::InFlight,
            })
        }
        PaymentStatus::WaitingForDeposit => deposit(deps, &ours, now, delivery).await,
        PaymentStatus::Done if ours.virtual_account.is_some() => {
            match deposit(deps, &ours, now, delivery).await? {
                WebhookOutcome::Deposit(status) => Ok(WebhookOutcome::Deposit(status)),
                _ => claw_back_if_cancelled(deps, &ours.order_id, now).await,
            }
        }
        PaymentStatus::Done => claw_back_if_cancelled(deps, &ours.order_id, now).await,
        _ => Ok(WebhookOutcome::Ignored("nothing to do in this state")),
    }
}

async fn deposit(
    deps: &WebhookDeps<'_>,
    ours: &crate::ports::PaymentRecord,
    now: DateTime<Utc>,
    delivery: &Delivery,
) -> Result<WebhookOutcome, AppError> {
    // The secret was checked before: only then does the callback's word count at all.
    let undone = says_deposit_undone(delivery);
    Ok(
        match check_deposit(&deps.payments, ours, now, undone).await? {
            DepositOutcome::Moved(status) => WebhookOutcome::Deposit(status),
            DepositOutcome::Unchanged => WebhookOutcome::Ignored("no deposit change at Toss"),
            DepositOutcome::Refused(why) => WebhookOutcome::Ignored(why),
        },
    )
}

/// A DONE payment: what Toss shows now (not what the body said) decides.
async fn claw_back_if_cancelled(
    deps: &WebhookDeps<'_>,
    order_id: &domain::payment::OrderId,
    now: DateTime<Utc>,
) -> Result<WebhookOutcome, AppError> {
    let looked = deps.payments.gateway.lookup(order_id).await.map_err(|e| {
        AppError::Unavailable(crate::InfraError::new(
            "Toss lookup for a webhook failed",
            e,
        ))
    })?;
    let Some(toss) = looked.filter(|t| t.order_id == order_id.as_str()) else {
        return Ok(WebhookOutcome::Ignored("Toss has no such payment"));
    };
    let (Some(balance), "CANCELED" | "PARTIAL_CANCELED") =
        (toss.balance_amount, toss.status.as_str())
    else {
        return Ok(WebhookOutcome::Ignored("Toss shows no cancel"));
    };
    Ok(
        match deps.deliveries.claw_back(order_id, balance, now).await? {
            Clawback::Nothing => WebhookOutcome::Ignored("every cancel is accounted for"),
            Clawback::RefundOpen => WebhookOutcome::RefundOpen,
            Clawback::NotAPurchase => WebhookOutcome::Ignored("no approved purchase"),
            Clawback::Taken { points, shortfall } => {
                WebhookOutcome::ClawedBack { points, shortfall }
            }
        },
    )
}
