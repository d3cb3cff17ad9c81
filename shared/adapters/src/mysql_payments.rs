use crate::mysql::{MySqlStore, infra};
use crate::mysql_points::change_balance;
use app::InfraError;
use app::ports::{
    Claim, MoveGuard, NewPayment, OutboxEvent, PaymentRecord, PaymentStore, Settlement,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::MemberId;
use domain::payment::{Amount, OrderId, PaymentStatus};
use domain::points::PointEntryKind;
use serde_json::json;
use sqlx::mysql::MySqlRow;
use sqlx::{MySql, QueryBuilder, Row, Transaction};

macro_rules! select_payments {
    ($rest:literal) => {
        concat!(
            "SELECT order_id, member_id, order_name, amount, status, payment_key, confirm_key, confirm_attempts, ",
            "recovery_attempts, next_attempt_at, authenticated_at, failure_code, failure_message, approved_amount, ",
            "points_charged, created_at, deposit_secret, virtual_account, deposit_due_at, version FROM payments ",
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
        deposit_secret: row.try_get("deposit_secret").map_err(decode)?,
        virtual_account: row
            .try_get::<Option<String>, _>("virtual_account")
            .map_err(decode)?
            .and_then(|json| serde_json::from_str(&json).ok()),
        deposit_due_at: row.try_get("deposit_due_at").map_err(decode)?,
        version: row.try_get("version").map_err(decode)?,
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
    add_outbox_event(tx, detail_type, order_id.as_str(), detail, now).await
}

/// An outbox event whose id is `{detail_type}:{subject}` (the order, or e.g. a refund of
/// it), so a second write of the same fact is ignored and consumers can dedupe.
pub(crate) async fn add_outbox_event(
    tx: &mut Transaction<'_, MySql>,
    detail_type: &str,
    subject: &str,
    detail: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<(), InfraError> {
    let event_id = format!("{detail_type}:{subject}");
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
                let lease = *lease_until;
                let claimed =
                    claim_for_confirm(&mut tx, order_id, payment_key, confirm_key, lease, now)
                        .await?;
                (PaymentStatus::Ready, claimed, "confirm claimed")
            }
            Claim::Recover {
                seen,
                seen_next_attempt_at,
                lease_until,
            } => {
                let seen_at = (*seen, *seen_next_attempt_at);
                let claimed =
                    claim_for_recovery(&mut tx, order_id, seen_at, *lease_until, now).await?;
                (*seen, claimed, "recovery claimed")
            }
        };
        if claimed {
            let to = PaymentStatus::InProgress;
            record_event(&mut tx, order_id, Some(from), to, detail, now).await?;
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
             WHERE order_id = ? AND status = ? AND confirm_key = ?",
        )
        .bind(to)
        .bind(now)
        .bind(order_id.as_str())
        .bind(PaymentStatus::InProgress.as_str())
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
        guard: MoveGuard,
        now: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        let to = settlement.status();
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(infra("could not start the settlement"))?;
        let Some(payment) = lock_for_move(&mut tx, order_id, from, to, guard).await? else {
            return Ok(false);
        };
        let detail = match settlement {
            Settlement::Done {
                approved_amount,
                approved_at,
                method,
                issued,
            } => {
                let approval = Approval {
                    amount: *approved_amount,
                    at: approved_at.as_deref(),
                    method: method.as_deref(),
                };
                if let Some(issued) = issued {
                    crate::mysql_deposits::keep_issued(&mut tx, &payment, issued).await?;
                }
                settle_done(&mut tx, &payment, approval, now).await?
            }
            Settlement::Failed { code, message } => {
                settle_failed(&mut tx, &payment, code, message, now).await?
            }
            Settlement::Unknown { retry_at, note } => {
                set_status(
                    &mut tx,
                    order_id,
                    PaymentStatus::Unknown,
                    Some(*retry_at),
                    now,
                )
                .await?;
                format!("{note}; next look at {retry_at}")
            }
            Settlement::NeedsAttention {
                reason,
                approved_amount,
            } => settle_attention(&mut tx, &payment, reason, *approved_amount, now).await?,
            Settlement::Expired => {
                set_status(&mut tx, order_id, PaymentStatus::Expired, None, now).await?;
                match payment.status {
                    PaymentStatus::WaitingForDeposit => "virtual account never paid in time",
                    _ => "checkout never confirmed",
                }
                .to_owned()
            }
            Settlement::AwaitingDeposit { issued, next_look } => {
                crate::mysql_deposits::settle_awaiting(
                    &mut tx,
                    &payment,
                    issued.as_ref(),
                    *next_look,
                    now,
                )
                .await?
            }
            Settlement::DepositReversed { next_look } => {
                match crate::mysql_deposits::reverse_deposit(&mut tx, &payment, *next_look, now)
                    .await?
                {
                    Some(detail) => detail,
                    None => return Ok(false),
                }
            }
        };
        record_event(&mut tx, order_id, Some(payment.status), to, &detail, now).await?;
        bump_version(&mut tx, order_id).await?;
        tx.commit()
            .await
            .map_err(infra("could not commit the settlement"))?;
        Ok(true)
    }

    async fn note_look(&self, order_id: &OrderId, version: u64) -> Result<bool, InfraError> {
        let noted = sqlx::query(
            "UPDATE payments SET version = version + 1 WHERE order_id = ? AND version = ?",
        )
        .bind(order_id.as_str())
        .bind(version)
        .execute(self.pool())
        .await
        .map_err(infra("could not note the look at the payment"))?;
        Ok(noted.rows_affected() == 1)
    }

    async fn due_for_recovery(
        &self,
        now: DateTime<Utc>,
        ready_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<PaymentRecord>, InfraError> {
        let rows = sqlx::query(select_payments!(
            "WHERE (status IN (?, ?, ?) AND next_attempt_at <= ?) OR (status = ? AND created_at < ?) \
             ORDER BY status = ?, next_attempt_at, created_at LIMIT ?"
        ))
        .bind(PaymentStatus::Unknown.as_str())
        .bind(PaymentStatus::InProgress.as_str())
        .bind(PaymentStatus::WaitingForDeposit.as_str())
        .bind(now)
        .bind(PaymentStatus::Ready.as_str())
        .bind(ready_before)
        .bind(PaymentStatus::Ready.as_str())
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

pub(crate) type Tx<'a> = Transaction<'a, MySql>;

/// Locks the payment row and checks the move under the lock, so exactly one settler
/// wins: the row is in one of `from`, may become `to`, and (with a `fence`) the settler's
/// lease is still the payment's current one and has not passed on the wall clock.
async fn lock_for_move(
    tx: &mut Tx<'_>,
    order_id: &OrderId,
    from: &[PaymentStatus],
    to: PaymentStatus,
    guard: MoveGuard,
) -> Result<Option<PaymentRecord>, InfraError> {
    let row = sqlx::query(select_payments!("WHERE order_id = ? FOR UPDATE"))
        .bind(order_id.as_str())
        .fetch_optional(&mut **tx)
        .await
        .map_err(infra("could not lock the payment"))?;
    let Some(payment) = row.as_ref().map(payment_from_row).transpose()? else {
        return Ok(None);
    };
    if !from.contains(&payment.status) || !payment.status.can_become(to) {
        return Ok(None);
    }
    let holds = match guard {
        MoveGuard::Free => true,
        MoveGuard::Lease(lease) => payment.next_attempt_at == Some(lease) && Utc::now() < lease,
        MoveGuard::Version(version) => payment.version == version,
    };
    if !holds {
        tracing::warn!(order_id = %order_id, ?guard, "settle refused: the lease passed, another driver holds the payment, or a newer look moved it");
        return Ok(None);
    }
    Ok(Some(payment))
}

async fn bump_version(tx: &mut Tx<'_>, order_id: &OrderId) -> Result<(), InfraError> {
    sqlx::query("UPDATE payments SET version = version + 1 WHERE order_id = ?")
        .bind(order_id.as_str())
        .execute(&mut **tx)
        .await
        .map_err(infra("could not bump the payment's version"))?;
    Ok(())
}

/// A move that changes nothing but the status and the next look.
async fn set_status(
    tx: &mut Tx<'_>,
    order_id: &OrderId,
    to: PaymentStatus,
    next_attempt_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), InfraError> {
    sqlx::query(
        "UPDATE payments SET status = ?, next_attempt_at = ?, updated_at = ? WHERE order_id = ?",
    )
    .bind(to.as_str())
    .bind(next_attempt_at)
    .bind(now)
    .bind(order_id.as_str())
    .execute(&mut **tx)
    .await
    .map_err(infra("could not move the payment"))?;
    Ok(())
}

/// Approved: the payment, the purchase's lot and history entry, the member's points and
/// the event, together.
/// What Toss's approval said.
struct Approval<'a> {
    amount: u64,
    at: Option<&'a str>,
    method: Option<&'a str>,
}

async fn settle_done(
    tx: &mut Tx<'_>,
    payment: &PaymentRecord,
    approval: Approval<'_>,
    now: DateTime<Utc>,
) -> Result<String, InfraError> {
    let (order_id, member) = (&payment.order_id, payment.member_id.0);
    let points = payment.amount.won();
    let approved_amount = approval.amount;
    sqlx::query(
        "UPDATE payments SET status = ?, approved_amount = ?, approved_at = ?, method = ?, \
         points_charged = ?, next_attempt_at = NULL, failure_code = NULL, failure_message = NULL, \
         updated_at = ? WHERE order_id = ?",
    )
    .bind(PaymentStatus::Done.as_str())
    .bind(approved_amount)
    .bind(approval.at)
    .bind(
        approval
            .method
            .map(|m| m.chars().take(20).collect::<String>()),
    )
    .bind(points)
    .bind(now)
    .bind(order_id.as_str())
    .execute(&mut **tx)
    .await
    .map_err(infra("could not mark the payment done"))?;
    // A virtual account paid again after a deposit error tops up its lot; for any other
    // purchase the lot's primary key stays the last line against a double charge.
    let again = payment.status == PaymentStatus::WaitingForDeposit;
    add_purchased_lot(tx, member, order_id.as_str(), points, again, now).await?;
    let event = json!({ "orderId": order_id.as_str(), "memberId": member, "amount": points, "pointsCharged": points });
    add_outbox(tx, "PaymentConfirmed", order_id, event, now).await?;
    Ok(format!(
        "approved {approved_amount}, {points} points charged"
    ))
}

/// The purchase's lot (its primary key, the order, is the last line against a double
/// charge), the member's balance and the history entry with the balance after it.
async fn add_purchased_lot(
    tx: &mut Tx<'_>,
    member: u64,
    order_id: &str,
    points: u64,
    deposited_again: bool,
    now: DateTime<Utc>,
) -> Result<(), InfraError> {
    let insert = "INSERT INTO point_lots (order_id, member_id, bought, remaining, created_at) \
         VALUES (?, ?, ?, ?, ?)";
    let top_up = " ON DUPLICATE KEY UPDATE bought = bought + VALUES(bought), \
         remaining = remaining + VALUES(remaining)";
    let sql = if deposited_again {
        format!("{insert}{top_up}")
    } else {
        insert.to_owned()
    };
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(order_id)
        .bind(member)
        .bind(points)
        .bind(points)
        .bind(now)
        .execute(&mut **tx)
        .await
        .map_err(infra("could not write the purchase's points"))?;
    let points = i64::try_from(points).map_err(|e| InfraError::new("points out of range", e))?;
    change_balance(tx, member, order_id, points, PointEntryKind::Purchase, now).await?;
    Ok(())
}

async fn settle_failed(
    tx: &mut Tx<'_>,
    payment: &PaymentRecord,
    code: &str,
    message: &str,
    now: DateTime<Utc>,
) -> Result<String, InfraError> {
    let order_id = &payment.order_id;
    let message: String = message.chars().take(TEXT_COLUMN_CHARS).collect();
    sqlx::query(
        "UPDATE payments SET status = ?, failure_code = ?, failure_message = ?, next_attempt_at = NULL, \
         updated_at = ? WHERE order_id = ?",
    )
    .bind(PaymentStatus::Failed.as_str())
    .bind(code)
    .bind(&message)
    .bind(now)
    .bind(order_id.as_str())
    .execute(&mut **tx)
    .await
    .map_err(infra("could not mark the payment failed"))?;
    let event = json!({ "orderId": order_id.as_str(), "memberId": payment.member_id.0, "amount": payment.amount.won(), "code": code, "message": message });
    add_outbox(tx, "PaymentFailed", order_id, event, now).await?;
    Ok(format!("{code}: {message}"))
}

async fn settle_attention(
    tx: &mut Tx<'_>,
    payment: &PaymentRecord,
    reason: &str,
    approved_amount: Option<u64>,
    now: DateTime<Utc>,
) -> Result<String, InfraError> {
    let order_id = &payment.order_id;
    let status = PaymentStatus::NeedsAttention.as_str();
    sqlx::query(
        "UPDATE payments SET status = ?, approved_amount = ?, failure_code = ?, \
         failure_message = ?, next_attempt_at = NULL, updated_at = ? WHERE order_id = ?",
    )
    .bind(status)
    .bind(approved_amount)
    .bind(status)
    .bind(reason.chars().take(TEXT_COLUMN_CHARS).collect::<String>())
    .bind(now)
    .bind(order_id.as_str())
    .execute(&mut **tx)
    .await
    .map_err(infra("could not mark the payment for attention"))?;
    let event = json!({ "orderId": order_id.as_str(), "memberId": payment.member_id.0, "amount": payment.amount.won(), "approvedAmount": approved_amount, "reason": reason });
    add_outbox(tx, "PaymentNeedsAttention", order_id, event, now).await?;
    Ok(reason.to_owned())
}

/// `READY` → `IN_PROGRESS` with the payment key and the confirm key stored before Toss is
/// called; false when the payment was not `READY`.
async fn claim_for_confirm(
    tx: &mut Tx<'_>,
    order_id: &OrderId,
    payment_key: &str,
    confirm_key: &str,
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, InfraError> {
    let done = sqlx::query(
        "UPDATE payments SET status = ?, payment_key = ?, confirm_key = ?, confirm_attempts = 1, \
         authenticated_at = ?, next_attempt_at = ?, updated_at = ? WHERE order_id = ? AND status = ?",
    )
    .bind(PaymentStatus::InProgress.as_str())
    .bind(payment_key)
    .bind(confirm_key)
    .bind(now)
    .bind(lease_until)
    .bind(now)
    .bind(order_id.as_str())
    .bind(PaymentStatus::Ready.as_str())
    .execute(&mut **tx)
    .await
    .map_err(infra("could not claim the payment"))?;
    Ok(done.rows_affected() == 1)
}

/// A due payment, exactly as recovery saw it (status and next look), → `IN_PROGRESS`
/// under a new lease; false when someone else moved it first.
/// An IN_PROGRESS payment only once its lease passed; an UNKNOWN one (nobody holds it;
/// its next_attempt_at is only recovery's backoff) also early, for a webhook.
async fn claim_for_recovery(
    tx: &mut Tx<'_>,
    order_id: &OrderId,
    (seen, seen_next_attempt_at): (PaymentStatus, Option<DateTime<Utc>>),
    lease_until: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<bool, InfraError> {
    let done = sqlx::query(
        "UPDATE payments SET status = ?, next_attempt_at = ?, recovery_attempts = recovery_attempts + 1, \
         updated_at = ? WHERE order_id = ? AND status = ? AND next_attempt_at <=> ? \
         AND (status = 'UNKNOWN' OR next_attempt_at <= ?)",
    )
    .bind(PaymentStatus::InProgress.as_str())
    .bind(lease_until)
    .bind(now)
    .bind(order_id.as_str())
    .bind(seen.as_str())
    .bind(seen_next_attempt_at)
    .bind(now)
    .execute(&mut **tx)
    .await
    .map_err(infra("could not claim the payment for recovery"))?;
    Ok(done.rows_affected() == 1)
}
