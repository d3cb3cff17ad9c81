//! Toss webhook deliveries (deduped on the transmission id) and clawbacks of cancels made
//! outside our API.

use crate::mysql::{MySqlStore, infra};
use crate::mysql_payments::add_outbox_event;
use crate::mysql_points::change_balance;
use crate::mysql_refunds::refunds_so_far;
use app::InfraError;
use app::ports::{Clawback, DeliveryStart, WebhookStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::payment::{OrderId, PaymentStatus};
use domain::points::PointEntryKind;
use domain::webhook::{Delivery, cancelled_outside, clawback_split};
use serde_json::json;
use sqlx::{MySql, Transaction};

type Tx<'a> = Transaction<'a, MySql>;

/// The locked purchase a clawback works on.
struct LockedLot {
    member: u64,
    approved: u64,
    remaining: u64,
    accounted: u64,
}

async fn lock_lot(tx: &mut Tx<'_>, order_id: &OrderId) -> Result<Option<LockedLot>, InfraError> {
    let payment: Option<(u64, String, Option<u64>)> = sqlx::query_as(
        "SELECT member_id, status, approved_amount FROM payments WHERE order_id = ? FOR UPDATE",
    )
    .bind(order_id.as_str())
    .fetch_optional(&mut **tx)
    .await
    .map_err(infra("could not lock the payment"))?;
    let Some((member, status, Some(approved))) = payment else {
        return Ok(None);
    };
    if status != PaymentStatus::Done.as_str() {
        return Ok(None);
    }
    let lot: Option<(u64, u64, u64)> = sqlx::query_as(
        "SELECT remaining, clawed_back, clawback_shortfall FROM point_lots WHERE order_id = ? FOR UPDATE",
    )
    .bind(order_id.as_str())
    .fetch_optional(&mut **tx)
    .await
    .map_err(infra("could not lock the purchase's points"))?;
    Ok(lot.map(|(remaining, clawed, short)| LockedLot {
        member,
        approved,
        remaining,
        accounted: clawed + short,
    }))
}

#[async_trait]
impl WebhookStore for MySqlStore {
    async fn record_delivery(
        &self,
        delivery: &Delivery,
        now: DateTime<Utc>,
    ) -> Result<DeliveryStart, InfraError> {
        let inserted = sqlx::query(
            "INSERT IGNORE INTO toss_webhook_deliveries \
             (transmission_id, event_type, order_id, retried_count, received_at) VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&delivery.transmission_id)
        .bind(&delivery.event_type)
        .bind(delivery.order_id.as_ref().map(OrderId::as_str))
        .bind(delivery.retried_count)
        .bind(now)
        .execute(self.pool())
        .await
        .map_err(infra("could not record the webhook delivery"))?;
        if inserted.rows_affected() == 1 {
            return Ok(DeliveryStart::New);
        }
        let outcome: Option<String> = sqlx::query_scalar(
            "SELECT outcome FROM toss_webhook_deliveries WHERE transmission_id = ?",
        )
        .bind(&delivery.transmission_id)
        .fetch_one(self.pool())
        .await
        .map_err(infra("could not read the webhook delivery"))?;
        Ok(outcome.map_or(DeliveryStart::Unfinished, |outcome| {
            DeliveryStart::Handled { outcome }
        }))
    }

    async fn finish_delivery(
        &self,
        transmission_id: &str,
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<(), InfraError> {
        sqlx::query(
            "UPDATE toss_webhook_deliveries SET outcome = ?, handled_at = ? WHERE transmission_id = ?",
        )
        .bind(outcome.chars().take(40).collect::<String>())
        .bind(now)
        .bind(transmission_id)
        .execute(self.pool())
        .await
        .map_err(infra("could not finish the webhook delivery"))?;
        Ok(())
    }

    async fn claw_back(
        &self,
        order_id: &OrderId,
        toss_balance: u64,
        now: DateTime<Utc>,
    ) -> Result<Clawback, InfraError> {
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(infra("could not start the clawback"))?;
        let Some(lot) = lock_lot(&mut tx, order_id).await? else {
            return Ok(Clawback::NotAPurchase);
        };
        // Includes earlier clawbacks; a refund waiting for a person counts as open (its
        // money may be part of what Toss shows cancelled: no clawback may guess).
        let (accounted_won, refund_open) = refunds_so_far(&mut tx, order_id).await?;
        if refund_open {
            return Ok(Clawback::RefundOpen);
        }
        let won = cancelled_outside(lot.approved, toss_balance, accounted_won, 0);
        if won == 0 {
            return Ok(Clawback::Nothing);
        }
        let (points, shortfall) = clawback_split(won, lot.remaining);
        take_from_lot(&mut tx, order_id, points, shortfall).await?;
        let taken = i64::try_from(points).map_err(|e| InfraError::new("points out of range", e))?;
        if taken > 0 {
            change_balance(
                &mut tx,
                lot.member,
                order_id.as_str(),
                -taken,
                PointEntryKind::Clawback,
                now,
            )
            .await?;
        }
        let detail = json!({
            "orderId": order_id.as_str(), "memberId": lot.member, "cancelledOutside": won,
            "points": points, "shortfall": shortfall,
        });
        // One event per clawback: its id carries what was accounted for after it.
        let subject = format!("{}:{}", lot.accounted + won, order_id);
        add_outbox_event(&mut tx, "PointsClawedBack", &subject, detail, now).await?;
        tx.commit()
            .await
            .map_err(infra("could not commit the clawback"))?;
        Ok(Clawback::Taken { points, shortfall })
    }
}

async fn take_from_lot(
    tx: &mut Tx<'_>,
    order_id: &OrderId,
    points: u64,
    shortfall: u64,
) -> Result<(), InfraError> {
    sqlx::query(
        "UPDATE point_lots SET remaining = remaining - ?, clawed_back = clawed_back + ?, \
         clawback_shortfall = clawback_shortfall + ? WHERE order_id = ?",
    )
    .bind(points)
    .bind(points)
    .bind(shortfall)
    .bind(order_id.as_str())
    .execute(&mut **tx)
    .await
    .map_err(infra("could not take the points back"))?;
    Ok(())
}
