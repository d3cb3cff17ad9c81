//! Refunds of purchases (the `refunds` table) and what they do to the points: the lot,
//! the balance and the history move in the transaction that moves the refund.

use crate::mysql::{MySqlStore, infra};
use crate::mysql_payments::add_outbox_event;
use crate::mysql_points::change_balance;
use app::InfraError;
use app::ports::{RefundOpenError, RefundRecord, RefundRequest, RefundSettlement, RefundStore};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::payment::{OrderId, PaymentStatus};
use domain::points::PointEntryKind;
use domain::refund::{Lot, PayMethod, RefundPolicy, RefundQuote, RefundStatus, quote_refund};
use serde_json::json;
use sqlx::mysql::MySqlRow;
use sqlx::{MySql, Row, Transaction};

type Tx<'a> = Transaction<'a, MySql>;

/// Columns of a refund with its payment's key and approved amount.
const SELECT_REFUND: &str = "SELECT r.refund_id, r.order_id, r.member_id, p.payment_key, \
     COALESCE(p.approved_amount, p.amount) AS approved_amount, r.points, r.fee, r.refund_won, \
     r.refundable_before, r.reason, r.status, r.cancel_attempt, r.recovery_attempts, \
     r.next_attempt_at, r.failure_code, r.failure_message, r.refund_account \
     FROM refunds r JOIN payments p ON p.order_id = r.order_id";

fn refund_from_row(row: &MySqlRow) -> Result<RefundRecord, InfraError> {
    let decode = |e: sqlx::Error| InfraError::new("refund row has an unexpected shape", e);
    let status: String = row.try_get("status").map_err(decode)?;
    let order_id: String = row.try_get("order_id").map_err(decode)?;
    let payment_key: Option<String> = row.try_get("payment_key").map_err(decode)?;
    Ok(RefundRecord {
        refund_id: row.try_get("refund_id").map_err(decode)?,
        order_id: OrderId::stored(order_id),
        member_id: domain::MemberId(row.try_get("member_id").map_err(decode)?),
        payment_key: payment_key.unwrap_or_default(),
        approved_amount: row.try_get("approved_amount").map_err(decode)?,
        points: row.try_get("points").map_err(decode)?,
        fee: row.try_get("fee").map_err(decode)?,
        refund_won: row.try_get("refund_won").map_err(decode)?,
        refundable_before: row.try_get("refundable_before").map_err(decode)?,
        reason: row.try_get("reason").map_err(decode)?,
        status: RefundStatus::parse(&status)
            .ok_or_else(|| InfraError::new("unknown refund status in database", status.clone()))?,
        cancel_attempt: row.try_get("cancel_attempt").map_err(decode)?,
        recovery_attempts: row.try_get("recovery_attempts").map_err(decode)?,
        next_attempt_at: row.try_get("next_attempt_at").map_err(decode)?,
        failure_code: row.try_get("failure_code").map_err(decode)?,
        failure_message: row.try_get("failure_message").map_err(decode)?,
        refund_account: row
            .try_get::<Option<String>, _>("refund_account")
            .map_err(decode)?
            .and_then(|json| serde_json::from_str(&json).ok()),
    })
}

/// The purchase a refund is asked for, locked: its payment and its lot.
struct LockedPurchase {
    approved_amount: u64,
    lot: Lot,
}

async fn lock_purchase(
    tx: &mut Tx<'_>,
    request: &RefundRequest<'_>,
) -> Result<LockedPurchase, RefundOpenError> {
    let payment: Option<(u64, String, Option<u64>, Option<String>)> = sqlx::query_as(
        "SELECT member_id, status, approved_amount, method FROM payments WHERE order_id = ? FOR UPDATE",
    )
    .bind(request.order_id.as_str())
    .fetch_optional(&mut **tx)
    .await
    .map_err(infra("could not lock the payment to refund"))?;
    let (member, status, approved, method) = payment.ok_or(RefundOpenError::PaymentNotFound)?;
    if member != request.member.0 {
        return Err(RefundOpenError::NotYourOrder);
    }
    if status != PaymentStatus::Done.as_str() {
        return Err(RefundOpenError::NotRefundable);
    }
    let lot: Option<(u64, u64, u64, DateTime<Utc>)> = sqlx::query_as(
        "SELECT bought, remaining, refunded + clawed_back, created_at FROM point_lots \
         WHERE order_id = ? FOR UPDATE",
    )
    .bind(request.order_id.as_str())
    .fetch_optional(&mut **tx)
    .await
    .map_err(infra("could not lock the purchase's points"))?;
    let (bought, remaining, refunded, paid_at) = lot.ok_or(RefundOpenError::NotRefundable)?;
    // Clawed-back points count as given back, not as used (the policy's "used" share).
    // Purchases recorded before the method was kept are treated as cards.
    let method = method
        .as_deref()
        .and_then(PayMethod::from_toss_label)
        .unwrap_or(PayMethod::Card);
    // Deposited money has no card to go back to (docs/toss.md §3 refundReceiveAccount).
    if method == PayMethod::VirtualAccount && request.refund_account.is_none() {
        return Err(RefundOpenError::RefundAccountRequired);
    }
    Ok(LockedPurchase {
        approved_amount: approved.unwrap_or(bought),
        lot: Lot {
            bought,
            remaining,
            refunded,
            paid_at,
            method,
        },
    })
}

/// The money Toss cancelled that we account for (DONE refunds and clawbacks of cancels
/// made outside our API), and whether another refund is unsettled.
pub(crate) async fn refunds_so_far(
    tx: &mut Tx<'_>,
    order_id: &OrderId,
) -> Result<(u64, bool), InfraError> {
    let (settled, open): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COALESCE(SUM(IF(status = 'DONE', refund_won, 0)), 0) \
           + COALESCE((SELECT clawed_back + clawback_shortfall FROM point_lots WHERE order_id = ?), 0) \
           AS SIGNED), \
         CAST(COALESCE(SUM(status IN ('REQUESTED', 'UNKNOWN', 'NEEDS_ATTENTION')), 0) AS SIGNED) \
         FROM refunds WHERE order_id = ?",
    )
    .bind(order_id.as_str())
    .bind(order_id.as_str())
    .fetch_one(&mut **tx)
    .await
    .map_err(infra("could not read the purchase's refunds"))?;
    Ok((settled.unsigned_abs(), open > 0))
}

/// Moves `points` between a lot and its member's balance (negative: out of the lot) and
/// writes the history entry with the balance after it.
async fn move_points(
    tx: &mut Tx<'_>,
    (order_id, member): (&OrderId, u64),
    points: i64,
    kind: PointEntryKind,
    now: DateTime<Utc>,
) -> Result<(), InfraError> {
    // What leaves the lot for a refund is counted as refunded, and back if Toss refuses.
    sqlx::query(
        "UPDATE point_lots SET remaining = remaining + ?, refunded = refunded - ? \
         WHERE order_id = ?",
    )
    .bind(points)
    .bind(points)
    .bind(order_id.as_str())
    .execute(&mut **tx)
    .await
    .map_err(infra("could not change the purchase's remaining points"))?;
    change_balance(tx, member, order_id.as_str(), points, kind, now).await
}

async fn insert_refund(
    tx: &mut Tx<'_>,
    request: &RefundRequest<'_>,
    quote: &RefundQuote,
    refundable_before: u64,
) -> Result<(), InfraError> {
    sqlx::query(
        "INSERT INTO refunds (refund_id, order_id, member_id, points, fee, refund_won, refundable_before, \
         reason, status, next_attempt_at, created_at, updated_at, refund_account) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(request.refund_id)
    .bind(request.order_id.as_str())
    .bind(request.member.0)
    .bind(quote.points)
    .bind(quote.fee)
    .bind(quote.refund_won)
    .bind(refundable_before)
    .bind(request.reason)
    .bind(RefundStatus::Requested.as_str())
    .bind(request.lease_until)
    .bind(request.now)
    .bind(request.now)
    .bind(
        request
            .refund_account
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| InfraError::new("could not encode the refund account", e))?,
    )
    .execute(&mut **tx)
    .await
    .map_err(infra("could not write the refund"))?;
    Ok(())
}

impl MySqlStore {
    async fn find_refund_in(
        &self,
        tx: Option<&mut Tx<'_>>,
        refund_id: &str,
        lock: bool,
    ) -> Result<Option<RefundRecord>, InfraError> {
        let sql = format!(
            "{SELECT_REFUND} WHERE r.refund_id = ?{}",
            if lock { " FOR UPDATE" } else { "" }
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(refund_id);
        let row = match tx {
            Some(tx) => query.fetch_optional(&mut **tx).await,
            None => query.fetch_optional(self.pool()).await,
        }
        .map_err(infra("could not read the refund"))?;
        row.as_ref().map(refund_from_row).transpose()
    }
}

#[async_trait]
impl RefundStore for MySqlStore {
    async fn open_refund(
        &self,
        request: &RefundRequest<'_>,
        policy: &RefundPolicy,
    ) -> Result<RefundRecord, RefundOpenError> {
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(infra("could not start the refund"))?;
        let purchase = lock_purchase(&mut tx, request).await?;
        let (settled_won, open) = refunds_so_far(&mut tx, request.order_id).await?;
        if open {
            return Err(RefundOpenError::InProgress);
        }
        let quote = quote_refund(policy, &purchase.lot, request.points, request.now)?;
        let refundable_before = purchase.approved_amount.saturating_sub(settled_won);
        let points =
            i64::try_from(quote.points).map_err(|e| InfraError::new("points out of range", e))?;
        let subject = (request.order_id, request.member.0);
        move_points(
            &mut tx,
            subject,
            -points,
            PointEntryKind::Refund,
            request.now,
        )
        .await?;
        insert_refund(&mut tx, request, &quote, refundable_before).await?;
        let refund = self
            .find_refund_in(Some(&mut tx), request.refund_id, false)
            .await?
            .ok_or_else(|| {
                InfraError::new(
                    "the refund just written is missing",
                    request.refund_id.to_owned(),
                )
            })?;
        tx.commit()
            .await
            .map_err(infra("could not commit the refund"))?;
        Ok(refund)
    }

    async fn settle_refund(
        &self,
        refund: &RefundRecord,
        settlement: &RefundSettlement,
        fence: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        let mut tx = self
            .pool()
            .begin()
            .await
            .map_err(infra("could not start the refund's settlement"))?;
        // The payment's row first, as open_refund takes it: one lock order, no deadlock.
        sqlx::query("SELECT id FROM payments WHERE order_id = ? FOR UPDATE")
            .bind(refund.order_id.as_str())
            .fetch_optional(&mut *tx)
            .await
            .map_err(infra("could not lock the refund's payment"))?;
        let Some(current) = self
            .find_refund_in(Some(&mut tx), &refund.refund_id, true)
            .await?
        else {
            return Ok(false);
        };
        if current.status != refund.status
            || current.next_attempt_at != Some(fence)
            || Utc::now() >= fence
        {
            tracing::warn!(refund_id = %refund.refund_id, "refund settle refused: moved on, or the lease passed");
            return Ok(false);
        }
        apply_refund_settlement(&mut tx, &current, settlement, now).await?;
        tx.commit()
            .await
            .map_err(infra("could not commit the refund's settlement"))?;
        Ok(true)
    }

    async fn due_refunds(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<RefundRecord>, InfraError> {
        let sql = format!(
            "{SELECT_REFUND} WHERE r.status IN ('REQUESTED', 'UNKNOWN') AND r.next_attempt_at <= ? \
             ORDER BY r.next_attempt_at LIMIT ?"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(limit)
            .fetch_all(self.pool())
            .await
            .map_err(infra("could not read the refunds to recover"))?;
        rows.iter().map(refund_from_row).collect()
    }

    async fn claim_refund(
        &self,
        refund: &RefundRecord,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        let claimed = sqlx::query(
            "UPDATE refunds SET next_attempt_at = ?, recovery_attempts = recovery_attempts + 1 \
             WHERE refund_id = ? AND status = ? AND next_attempt_at = ?",
        )
        .bind(lease_until)
        .bind(&refund.refund_id)
        .bind(refund.status.as_str())
        .bind(refund.next_attempt_at)
        .execute(self.pool())
        .await
        .map_err(infra("could not claim the refund"))?;
        Ok(claimed.rows_affected() == 1)
    }

    async fn refunded_won(&self, order_id: &OrderId) -> Result<u64, InfraError> {
        let won: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(refund_won), 0) \
               + (SELECT COALESCE(MAX(clawed_back + clawback_shortfall), 0) FROM point_lots WHERE order_id = ?) AS SIGNED) \
             FROM refunds WHERE order_id = ? AND status = 'DONE'",
        )
        .bind(order_id.as_str())
        .bind(order_id.as_str())
        .fetch_one(self.pool())
        .await
        .map_err(infra("could not read the purchase's refunds"))?;
        Ok(won.unsigned_abs())
    }

    async fn find_refund(&self, refund_id: &str) -> Result<Option<RefundRecord>, InfraError> {
        self.find_refund_in(None, refund_id, false).await
    }

    async fn refunds_of(&self, order_id: &OrderId) -> Result<Vec<RefundRecord>, InfraError> {
        let sql =
            format!("{SELECT_REFUND} WHERE r.order_id = ? ORDER BY r.created_at DESC, r.refund_id");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(order_id.as_str())
            .fetch_all(self.pool())
            .await
            .map_err(infra("could not list the order's refunds"))?;
        rows.iter().map(refund_from_row).collect()
    }
}

/// The locked refund's move, with what it does to the points and the outbox.
async fn apply_refund_settlement(
    tx: &mut Tx<'_>,
    refund: &RefundRecord,
    settlement: &RefundSettlement,
    now: DateTime<Utc>,
) -> Result<(), InfraError> {
    let change = RowChange::of(settlement);
    if matches!(settlement, RefundSettlement::Refused { .. }) {
        let points =
            i64::try_from(refund.points).map_err(|e| InfraError::new("points out of range", e))?;
        let subject = (&refund.order_id, refund.member_id.0);
        move_points(tx, subject, points, PointEntryKind::RefundReversed, now).await?;
    }
    let message: Option<String> = change.message.map(|m| m.chars().take(500).collect());
    sqlx::query(
        "UPDATE refunds SET status = ?, next_attempt_at = ?, failure_code = COALESCE(?, failure_code), \
         failure_message = COALESCE(?, failure_message), cancel_attempt = cancel_attempt + ?, \
         updated_at = ? WHERE refund_id = ?",
    )
    .bind(change.status.as_str())
    .bind(change.next_attempt_at)
    .bind(change.code)
    .bind(message)
    .bind(u32::from(change.new_key))
    .bind(now)
    .bind(&refund.refund_id)
    .execute(&mut **tx)
    .await
    .map_err(infra("could not move the refund"))?;
    add_refund_event(tx, refund, change.status, now).await
}

/// What a settlement writes on the refund's row.
struct RowChange<'a> {
    status: RefundStatus,
    next_attempt_at: Option<DateTime<Utc>>,
    code: Option<&'a str>,
    message: Option<&'a str>,
    new_key: bool,
}

impl<'a> RowChange<'a> {
    fn of(settlement: &'a RefundSettlement) -> Self {
        let plain = |status| RowChange {
            status,
            next_attempt_at: None,
            code: None,
            message: None,
            new_key: false,
        };
        match settlement {
            RefundSettlement::Done => plain(RefundStatus::Done),
            RefundSettlement::Refused { code, message } => RowChange {
                code: Some(code),
                message: Some(message),
                ..plain(RefundStatus::Refused)
            },
            RefundSettlement::Unknown {
                retry_at,
                new_key,
                note,
            } => RowChange {
                next_attempt_at: Some(*retry_at),
                message: Some(note),
                new_key: *new_key,
                ..plain(RefundStatus::Unknown)
            },
            RefundSettlement::NeedsAttention { reason } => RowChange {
                message: Some(reason),
                ..plain(RefundStatus::NeedsAttention)
            },
        }
    }
}

/// `PaymentRefunded` for a DONE refund, `RefundNeedsAttention` for one a person must see.
async fn add_refund_event(
    tx: &mut Tx<'_>,
    refund: &RefundRecord,
    status: RefundStatus,
    now: DateTime<Utc>,
) -> Result<(), InfraError> {
    let detail_type = match status {
        RefundStatus::Done => "PaymentRefunded",
        RefundStatus::NeedsAttention => "RefundNeedsAttention",
        _ => return Ok(()),
    };
    let detail = json!({
        "orderId": refund.order_id.as_str(), "refundId": refund.refund_id,
        "memberId": refund.member_id.0, "points": refund.points, "fee": refund.fee,
        "refundWon": refund.refund_won,
    });
    // Ends in ":<orderId>", as the outbox sweep per order expects.
    let subject = format!("{}:{}", refund.refund_id, refund.order_id);
    add_outbox_event(tx, detail_type, &subject, detail, now).await
}
