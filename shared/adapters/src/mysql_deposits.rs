//! Virtual accounts in MySQL: the issued account kept with the payment, deposits credited
//! to the purchase's lot (again after a deposit error) and deposit errors taking the
//! points back. Each runs inside the settlement transaction that holds the payment's row.

use crate::mysql::infra;
use crate::mysql_payments::{Tx, add_outbox_event};
use crate::mysql_points::change_balance;
use app::InfraError;
use app::ports::{IssuedAccount, PaymentRecord};
use chrono::{DateTime, Utc};
use domain::payment::PaymentStatus;
use domain::points::PointEntryKind;
use serde_json::json;

/// `WAITING_FOR_DEPOSIT` with the next look; the account, secret and due date when the
/// confirm just issued them (a later look keeps what is stored).
pub(crate) async fn settle_awaiting(
    tx: &mut Tx<'_>,
    payment: &PaymentRecord,
    issued: Option<&IssuedAccount>,
    next_look: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<String, InfraError> {
    let account = issued
        .map(|i| serde_json::to_string(&i.account))
        .transpose()
        .map_err(|e| InfraError::new("could not encode the virtual account", e))?;
    sqlx::query(
        "UPDATE payments SET status = ?, next_attempt_at = ?, \
         deposit_secret = COALESCE(?, deposit_secret), virtual_account = COALESCE(?, virtual_account), \
         deposit_due_at = COALESCE(?, deposit_due_at), method = COALESCE(?, method), updated_at = ? \
         WHERE order_id = ?",
    )
    .bind(PaymentStatus::WaitingForDeposit.as_str())
    .bind(next_look)
    .bind(issued.and_then(|i| i.secret.as_deref()))
    .bind(account)
    .bind(issued.and_then(|i| i.due_at))
    .bind(issued.map(|_| "가상계좌"))
    .bind(now)
    .bind(payment.order_id.as_str())
    .execute(&mut **tx)
    .await
    .map_err(infra("could not store the virtual account"))?;
    Ok(match issued {
        Some(i) => format!("virtual account issued, due {:?}", i.due_at),
        None => format!("still waiting for the deposit; next look at {next_look}"),
    })
}

/// A virtual account first seen already paid (our confirm's answer was lost, the deposit
/// came before recovery's look): its secret, account and due date are kept where none is
/// stored yet, so its later deposit callbacks can be checked.
pub(crate) async fn keep_issued(
    tx: &mut Tx<'_>,
    payment: &PaymentRecord,
    issued: &IssuedAccount,
) -> Result<(), InfraError> {
    let account = serde_json::to_string(&issued.account)
        .map_err(|e| InfraError::new("could not encode the virtual account", e))?;
    sqlx::query(
        "UPDATE payments SET deposit_secret = COALESCE(deposit_secret, ?), \
         virtual_account = COALESCE(virtual_account, ?), deposit_due_at = COALESCE(deposit_due_at, ?) \
         WHERE order_id = ?",
    )
    .bind(issued.secret.as_deref())
    .bind(account)
    .bind(issued.due_at)
    .bind(payment.order_id.as_str())
    .execute(&mut **tx)
    .await
    .map_err(infra("could not keep the virtual account"))?;
    Ok(())
}

/// A deposit error: the deposit's points leave the lot (its `bought` too: they were never
/// paid for) and the payment waits again. `None` (nothing changed) when part of the lot
/// was refunded or clawed back already: which money the bank took back is then a
/// person's question.
pub(crate) async fn reverse_deposit(
    tx: &mut Tx<'_>,
    payment: &PaymentRecord,
    next_look: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Option<String>, InfraError> {
    let order_id = payment.order_id.as_str();
    let points = payment.points_charged;
    let lot: Option<(u64, u64)> =
        sqlx::query_as("SELECT bought, remaining FROM point_lots WHERE order_id = ? FOR UPDATE")
            .bind(order_id)
            .fetch_optional(&mut **tx)
            .await
            .map_err(infra("could not lock the purchase's points"))?;
    if lot != Some((points, points)) || points == 0 {
        tracing::error!(
            order_id,
            ?lot,
            points,
            "deposit error on a purchase already refunded or clawed back: a person must look"
        );
        return Ok(None);
    }
    sqlx::query("UPDATE point_lots SET bought = 0, remaining = 0 WHERE order_id = ?")
        .bind(order_id)
        .execute(&mut **tx)
        .await
        .map_err(infra("could not take the deposit's points back"))?;
    let taken = i64::try_from(points).map_err(|e| InfraError::new("points out of range", e))?;
    let member = payment.member_id.0;
    change_balance(
        tx,
        member,
        order_id,
        -taken,
        PointEntryKind::DepositReversed,
        now,
    )
    .await?;
    sqlx::query(
        "UPDATE payments SET status = ?, points_charged = 0, approved_at = NULL, next_attempt_at = ?, \
         updated_at = ? WHERE order_id = ?",
    )
    .bind(PaymentStatus::WaitingForDeposit.as_str())
    .bind(next_look)
    .bind(now)
    .bind(order_id)
    .execute(&mut **tx)
    .await
    .map_err(infra("could not mark the payment waiting again"))?;
    let reversals: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM point_history WHERE order_id = ? AND kind = ?")
            .bind(order_id)
            .bind(PointEntryKind::DepositReversed.as_str())
            .fetch_one(&mut **tx)
            .await
            .map_err(infra("could not count the deposit errors"))?;
    let detail = json!({ "orderId": order_id, "memberId": member, "points": points });
    let subject = format!("{reversals}:{order_id}");
    add_outbox_event(tx, "DepositReversed", &subject, detail, now).await?;
    Ok(Some(format!("deposit error: {points} points taken back")))
}
