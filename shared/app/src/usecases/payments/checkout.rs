//! Checkout (a `READY` payment for the Toss window) and the status a member polls.

use super::{PaymentError, acting_member, required};
use crate::ports::{NewPayment, PaymentRecord, PaymentStore};
use chrono::{DateTime, Utc};
use domain::MemberId;
use domain::payment::{Amount, OrderId, parse_order_name};
use serde::{Deserialize, Serialize};

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
