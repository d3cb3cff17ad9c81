use crate::mysql::MySqlStore;
use app::InfraError;
use app::ports::{Claim, NewPayment, OutboxEvent, PaymentRecord, PaymentStore, Settlement};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::MemberId;
use domain::payment::{Amount, OrderId, PaymentStatus};
use serde_json::json;
use sqlx::mysql::MySqlRow;
use sqlx::{MySql, QueryBuilder, Row, Transaction};

fn infra(what: &'static str) -> impl FnOnce(sqlx::Error) -> InfraError {
    move |e| InfraError::new(what, e)
}

macro_rules! select_payments {
    ($rest:literal) => {
        concat!(
            "SELECT order_id, member_id, order_name, amount, status, payment_key, confirm_key, confirm_attempts, ",
            "recovery_attempts, next_attempt_at, authenticated_at, failure_code, failure_message, approved_amount, ",
            "points_charged, created_at FROM payments ",
            $rest
        )
    };
}

fn payment_from_row(row: &MySqlRow) -> Result<PaymentRecord, InfraError> {
    let decode = |e: sqlx::Error| InfraError::new("payment row has an unexpected shape", e);
    let order_id: String = row.try_get("order_id").map_err(decode)?;
    let status: String = row.try_get("status").map_err(decode)?;
    let amount: u64 = row.try_get("amount").map_err(decode)?;
    Ok(PaymentRecord {
        // Stored rows are what they are: the range checks of new input do not apply (an
        // amount allowed once must still be recoverable after the limit changed).
        order_id: OrderId::stored(order_id),
        member_id: MemberId(row.try_get("member_id").map_err(decode)?),
        order_name: row.try_get("order_name").map_err(decode)?,
        amount: Amount::stored(amount),
        status: PaymentStatus::parse(&status)
            .ok_or_else(|| InfraError::new("unknown payment status in database", status.clone()))?,
        payment_key: row.try_get("payment_key").map_err(decode)?,
        confirm_key: row.try_get("confirm_key").map_err(decode)?,
        confirm_attempts: row.try_get("confirm_attempts").map_err(decode)?,
        recovery_attempts: row.try_get("recovery_attempts").map_err(decode)?,
        next_attempt_at: row.try_get("next_attempt_at").map_err(decode)?,
        authenticated_at: row.try_get("authenticated_at").map_err(decode)?,
        failure_code: row.try_get("failure_code").map_err(decode)?,
        failure_message: row.try_get("failure_message").map_err(decode)?,
        approved_amount: row.try_get("approved_amount").map_err(decode)?,
        points_charged: row.try_get("points_charged").map_err(decode)?,
        created_at: row.try_get("created_at").map_err(decode)?,
    })
}

/// `payments.failure_message` and `payment_events.detail` are `VARCHAR(510)` (migration
/// 20261124000002): longer texts are cut to fit rather than fail the transaction.
const TEXT_COLUMN_CHARS: usize = 510;

async fn record_event(
    tx: &mut Transaction<'_, MySql>,
    order_id: &OrderId,
    from: Option<PaymentStatus>,
    to: PaymentStatus,
    detail: &str,
    now: DateTime<Utc>,
) -> Result<(), InfraError> {
    let detail: String = detail.chars().take(TEXT_COLUMN_CHARS).collect();
    sqlx::query("INSERT INTO payment_events (order_id, from_status, to_status, detail, created_at) VALUES (?, ?, ?, ?, ?)")
        .bind(order_id.as_str())
        .bind(from.map(PaymentStatus::as_str))
        .bind(to.as_str())
        .bind(detail)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(infra("could not append the payment event"))?;
    Ok(())
}

async fn add_outbox(
    tx: &mut Transaction<'_, MySql>,
    detail_type: &str,
    order_id: &OrderId,
    detail: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), InfraError> {
    // Deterministic: one event of a type per order, whoever writes it.
    let event_id = format!("{detail_type}:{order_id}");
    let mut detail = detail;
    detail["eventId"] = json!(event_id);
    sqlx::query(
        "INSERT IGNORE INTO outbox (event_id, detail_type, detail, created_at) VALUES (?, ?, ?, ?)",
    )
    .bind(&event_id)
    .bind(detail_type)
    .bind(detail.to_string())
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(infra("could not write the outbox event"))?;
    Ok(())
}

#[async_trait]
impl PaymentStore for MySqlStore {
    async fn member_exists(&self, member: MemberId) -> Result<bool, InfraError> {
        let found: Option<u64> = sqlx::query_scalar("SELECT id FROM members WHERE id = ?")
            .bind(member.0)
            .fetch_optional(self.pool())
            .await
            .map_err(infra("could not read the member"))?;
        Ok(found.is_some())
    }

    async fn create(&self, payment: &NewPayment, now: DateTime<Utc>) -> Result<(), InfraError> {
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(infra("could not start the checkout transaction"))?;
        sqlx::query(
            "INSERT INTO payments (order_id, member_id, order_name, amount, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(payment.order_id.as_str())
        .bind(payment.member_id.0)
        .bind(&payment.order_name)
        .bind(payment.amount.won())
        .bind(PaymentStatus::Ready.as_str())
        .bind(now)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(infra("could not create the payment"))?;
        record_event(
            &mut tx,
            &payment.order_id,
            None,
            PaymentStatus::Ready,
            "checkout",
            now,
        )
        .await?;
        tx.commit()
            .await
            .map_err(infra("could not commit the checkout"))?;
        Ok(())
    }

    async fn find(&self, order_id: &OrderId) -> Result<Option<PaymentRecord>, InfraError> {
        let row = sqlx::query(select_payments!("WHERE order_id = ?"))
            .bind(order_id.as_str())
            .fetch_optional(self.pool())
            .await
            .map_err(infra("could not read the payment"))?;
        row.as_ref().map(payment_from_row).transpose()
    }

    async fn claim(
        &self,
        order_id: &OrderId,
        claim: Claim,
        now: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(infra("could not start the claim"))?;
        let (from, claimed, detail) = match &claim {
            Claim::Confirm {
                payment_key,
                confirm_key,
                lease_until,
            } => {
                let done = sqlx::query(
                    "UPDATE payments SET status = 'IN_PROGRESS', payment_key = ?, confirm_key = ?, confirm_attempts = 1, \
                     authenticated_at = ?, next_attempt_at = ?, updated_at = ? WHERE order_id = ? AND status = 'READY'",
                )
                .bind(payment_key)
                .bind(confirm_key)
                .bind(now)
                .bind(*lease_until)
                .bind(now)
                .bind(order_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(infra("could not claim the payment"))?;
                (
                    PaymentStatus::Ready,
                    done.rows_affected() == 1,
                    "confirm claimed",
                )
            }
            Claim::Recover {
                seen,
                seen_next_attempt_at,
                lease_until,
            } => {
                let done = sqlx::query(
                    "UPDATE payments SET status = 'IN_PROGRESS', next_attempt_at = ?, recovery_attempts = recovery_attempts + 1, \
                     updated_at = ? WHERE order_id = ? AND status = ? AND next_attempt_at <=> ? AND next_attempt_at <= ?",
                )
                .bind(*lease_until)
                .bind(now)
                .bind(order_id.as_str())
                .bind(seen.as_str())
                .bind(*seen_next_attempt_at)
                .bind(now)
                .execute(&mut *tx)
                .await
                .map_err(infra("could not claim the payment for recovery"))?;
                (*seen, done.rows_affected() == 1, "recovery claimed")
            }
        };
        if claimed {
            record_event(
                &mut tx,
                order_id,
                Some(from),
                PaymentStatus::InProgress,
                detail,
                now,
            )
            .await?;
        }
        tx.commit()
            .await
            .map_err(infra("could not commit the claim"))?;
        Ok(claimed)
    }

    async fn rotate_confirm_key(
        &self,
        order_id: &OrderId,
        from: &str,
        to: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        let done = sqlx::query(
            "UPDATE payments SET confirm_key = ?, confirm_attempts = confirm_attempts + 1, updated_at = ? \
             WHERE order_id = ? AND status = 'IN_PROGRESS' AND confirm_key = ?",
        )
        .bind(to)
        .bind(now)
        .bind(order_id.as_str())
        .bind(from)
        .execute(self.pool())
        .await
        .map_err(infra("could not rotate the confirm key"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn settle(
        &self,
        order_id: &OrderId,
        from: &[PaymentStatus],
        settlement: &Settlement,
        fence: Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        let to = settlement.status();
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(infra("could not start the settlement"))?;
        // Lock the row and check the move under the lock: exactly one settler wins.
        let row = sqlx::query(select_payments!("WHERE order_id = ? FOR UPDATE"))
            .bind(order_id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(infra("could not lock the payment"))?;
        let Some(payment) = row.as_ref().map(payment_from_row).transpose()? else {
            return Ok(false);
        };
        if !from.contains(&payment.status) || !payment.status.can_become(to) {
            return Ok(false);
        }
        if let Some(lease) = fence
            && (payment.next_attempt_at != Some(lease) || Utc::now() >= lease)
        {
            tracing::warn!(order_id = %order_id, "settle refused: the lease passed or another driver holds the payment");
            return Ok(false);
        }
        let detail = match settlement {
            Settlement::Done {
                approved_amount,
                approved_at,
            } => {
                let points = payment.amount.won();
                sqlx::query(
                    "UPDATE payments SET status = 'DONE', approved_amount = ?, approved_at = ?, points_charged = ?, \
                     next_attempt_at = NULL, failure_code = NULL, failure_message = NULL, updated_at = ? WHERE order_id = ?",
                )
                .bind(*approved_amount)
                .bind(approved_at.as_deref())
                .bind(points)
                .bind(now)
                .bind(order_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(infra("could not mark the payment done"))?;
                // The unique order key on the ledger is the last line against a double charge.
                sqlx::query("INSERT INTO point_ledger (member_id, order_id, points, created_at) VALUES (?, ?, ?, ?)")
                    .bind(payment.member_id.0)
                    .bind(order_id.as_str())
                    .bind(points)
                    .bind(now)
                    .execute(&mut *tx)
                    .await
                    .map_err(infra("could not write the point ledger"))?;
                sqlx::query("UPDATE members SET points = points + ? WHERE id = ?")
                    .bind(points)
                    .bind(payment.member_id.0)
                    .execute(&mut *tx)
                    .await
                    .map_err(infra("could not add the points"))?;
                let event = json!({ "orderId": order_id.as_str(), "memberId": payment.member_id.0, "amount": payment.amount.won(), "pointsCharged": points });
                add_outbox(&mut tx, "PaymentConfirmed", order_id, event, now).await?;
                format!("approved {approved_amount}, {points} points charged")
            }
            Settlement::Failed { code, message } => {
                let message: String = message.chars().take(TEXT_COLUMN_CHARS).collect();
                sqlx::query(
                    "UPDATE payments SET status = 'FAILED', failure_code = ?, failure_message = ?, next_attempt_at = NULL, \
                     updated_at = ? WHERE order_id = ?",
                )
                .bind(code)
                .bind(&message)
                .bind(now)
                .bind(order_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(infra("could not mark the payment failed"))?;
                let event = json!({ "orderId": order_id.as_str(), "memberId": payment.member_id.0, "amount": payment.amount.won(), "code": code, "message": message });
                add_outbox(&mut tx, "PaymentFailed", order_id, event, now).await?;
                format!("{code}: {message}")
            }
            Settlement::Unknown { retry_at, note } => {
                sqlx::query("UPDATE payments SET status = 'UNKNOWN', next_attempt_at = ?, updated_at = ? WHERE order_id = ?")
                    .bind(*retry_at)
                    .bind(now)
                    .bind(order_id.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(infra("could not mark the payment unknown"))?;
                format!("{note}; next look at {retry_at}")
            }
            Settlement::NeedsAttention {
                reason,
                approved_amount,
            } => {
                sqlx::query(
                    "UPDATE payments SET status = 'NEEDS_ATTENTION', approved_amount = ?, failure_code = 'NEEDS_ATTENTION', \
                     failure_message = ?, next_attempt_at = NULL, updated_at = ? WHERE order_id = ?",
                )
                .bind(*approved_amount)
                .bind(reason.chars().take(TEXT_COLUMN_CHARS).collect::<String>())
                .bind(now)
                .bind(order_id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(infra("could not mark the payment for attention"))?;
                let event = json!({ "orderId": order_id.as_str(), "memberId": payment.member_id.0, "amount": payment.amount.won(), "approvedAmount": approved_amount, "reason": reason });
                add_outbox(&mut tx, "PaymentNeedsAttention", order_id, event, now).await?;
                reason.clone()
            }
            Settlement::Expired => {
                sqlx::query("UPDATE payments SET status = 'EXPIRED', next_attempt_at = NULL, updated_at = ? WHERE order_id = ?")
                    .bind(now)
                    .bind(order_id.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(infra("could not expire the payment"))?;
                "checkout never confirmed".to_owned()
            }
        };
        record_event(&mut tx, order_id, Some(payment.status), to, &detail, now).await?;
        tx.commit()
            .await
            .map_err(infra("could not commit the settlement"))?;
        Ok(true)
    }

    async fn due_for_recovery(
        &self,
        now: DateTime<Utc>,
        ready_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<PaymentRecord>, InfraError> {
        let rows = sqlx::query(select_payments!(
            "WHERE (status IN ('UNKNOWN', 'IN_PROGRESS') AND next_attempt_at <= ?) OR (status = 'READY' AND created_at < ?) \
             ORDER BY status = 'READY', next_attempt_at, created_at LIMIT ?"
        ))
        .bind(now)
        .bind(ready_before)
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .map_err(infra("could not list payments due for recovery"))?;
        rows.iter().map(payment_from_row).collect()
    }

    async fn unpublished_events(
        &self,
        order_id: Option<&OrderId>,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>, InfraError> {
        // Event ids end in ":<orderId>" (see add_outbox).
        let suffix = order_id.map_or_else(|| "%".to_owned(), |o| format!("%:{o}"));
        let rows = sqlx::query(
            "SELECT id, event_id, detail_type, detail FROM outbox WHERE published_at IS NULL AND event_id LIKE ? ORDER BY id LIMIT ?",
        )
        .bind(suffix)
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .map_err(infra("could not read the outbox"))?;
        rows.iter()
            .map(|row| {
                Ok(OutboxEvent {
                    id: row.try_get("id").map_err(infra("bad outbox row"))?,
                    event_id: row.try_get("event_id").map_err(infra("bad outbox row"))?,
                    detail_type: row
                        .try_get("detail_type")
                        .map_err(infra("bad outbox row"))?,
                    detail: row.try_get("detail").map_err(infra("bad outbox row"))?,
                })
            })
            .collect()
    }

    async fn mark_published(&self, ids: &[u64], now: DateTime<Utc>) -> Result<(), InfraError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut query: QueryBuilder<MySql> = QueryBuilder::new("UPDATE outbox SET published_at = ");
        query
            .push_bind(now)
            .push(" WHERE published_at IS NULL AND id IN (");
        let mut list = query.separated(", ");
        for id in ids {
            list.push_bind(*id);
        }
        query.push(")");
        query
            .build()
            .execute(self.pool())
            .await
            .map_err(infra("could not mark events published"))?;
        Ok(())
    }
}
