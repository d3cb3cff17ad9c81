//! Typed reads of what a scenario left behind: the database rows, Toss's view (through
//! the sandbox's control API) and the recovery job's summary. Scenario tests assert on
//! these instead of spelling SQL or indexing untyped JSON.

use crate::{TOSS_SECRET_KEY, TestApp, read};
use app::usecases::recover_view_losses::RecoverySummary;
use chrono::{DateTime, Utc};
use domain::payment::PaymentStatus;
use serde::Deserialize;

/// Our row of a payment.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PaymentRow {
    pub status: String,
    pub confirm_attempts: i64,
    pub failure_code: Option<String>,
}

/// Toss's view of an order: its status (`NOT_FOUND` when Toss has no such payment) and
/// the amount it holds.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossPayment {
    #[serde(default = "not_found")]
    pub status: String,
    #[serde(default)]
    pub total_amount: u64,
    /// What Toss can still cancel.
    #[serde(default)]
    pub balance_amount: u64,
}

fn not_found() -> String {
    "NOT_FOUND".into()
}

/// How often the sandbox was asked to confirm a payment, approved it and cancelled it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TossStats {
    pub confirm_requests: u64,
    pub approvals: u64,
    pub cancels: u64,
}

/// The tables whose rows scenarios count.
#[derive(Debug, Clone, Copy)]
pub enum Table {
    Members,
    Profiles,
    Payments,
}

impl Table {
    fn name(self) -> &'static str {
        match self {
            Table::Members => "members",
            Table::Profiles => "profiles",
            Table::Payments => "payments",
        }
    }
}

/// One profile's row of one day's view history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct DailyViews {
    pub redis_views: i64,
    pub recovered_views: i64,
}

impl TestApp {
    /// A one-number read; the test fails if it cannot be made.
    async fn number(
        &self,
        query: sqlx::query::QueryScalar<'_, sqlx::MySql, i64, sqlx::mysql::MySqlArguments>,
    ) -> i64 {
        query.fetch_one(&self.db).await.unwrap()
    }

    /// Our row of `order_id`; panics when there is none.
    pub async fn payment(&self, order_id: &str) -> PaymentRow {
        sqlx::query_as(
            "SELECT status, CAST(confirm_attempts AS SIGNED) AS confirm_attempts, failure_code \
             FROM payments WHERE order_id = ?",
        )
        .bind(order_id)
        .fetch_one(&self.db)
        .await
        .unwrap_or_else(|e| panic!("payment {order_id}: {e}"))
    }

    pub async fn payment_status(&self, order_id: &str) -> String {
        self.payment(order_id).await.status
    }

    /// The statuses `order_id` moved through, oldest first.
    pub async fn payment_history(&self, order_id: &str) -> Vec<PaymentStatus> {
        let names: Vec<String> = sqlx::query_scalar(
            "SELECT to_status FROM payment_events WHERE order_id = ? ORDER BY id",
        )
        .bind(order_id)
        .fetch_all(&self.db)
        .await
        .unwrap();
        names
            .iter()
            .map(|name| PaymentStatus::parse(name).unwrap_or_else(|| panic!("status {name}")))
            .collect()
    }

    /// Payments not settled yet (READY, IN_PROGRESS, UNKNOWN).
    pub async fn open_payments(&self) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM payments WHERE status IN (?, ?, ?)")
            .bind(PaymentStatus::Ready.as_str())
            .bind(PaymentStatus::InProgress.as_str())
            .bind(PaymentStatus::Unknown.as_str())
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    /// The outbox row of `event_id`: `Some(published)` when it was written.
    pub async fn outbox_event(&self, event_id: &str) -> Option<bool> {
        sqlx::query_scalar("SELECT published_at IS NOT NULL FROM outbox WHERE event_id = ?")
            .bind(event_id)
            .fetch_optional(&self.db)
            .await
            .unwrap()
    }

    pub async fn points(&self, member: u64) -> i64 {
        self.number(
            sqlx::query_scalar("SELECT CAST(points AS SIGNED) FROM members WHERE id = ?")
                .bind(member),
        )
        .await
    }

    /// Every member's points added up.
    pub async fn total_points(&self) -> i64 {
        self.number(sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(points), 0) AS SIGNED) FROM members",
        ))
        .await
    }

    /// The lots of `order_id` (0 or 1), checked to equal its PURCHASE history entries.
    pub async fn purchase_lots(&self, order_id: &str) -> i64 {
        let lots = self
            .number(
                sqlx::query_scalar("SELECT COUNT(*) FROM point_lots WHERE order_id = ?")
                    .bind(order_id),
            )
            .await;
        let entries = self
            .number(
                sqlx::query_scalar(
                    "SELECT COUNT(*) FROM point_history WHERE order_id = ? AND kind = 'PURCHASE'",
                )
                .bind(order_id),
            )
            .await;
        assert_eq!(
            lots, entries,
            "{order_id}: lots and PURCHASE entries differ"
        );
        lots
    }

    /// Invariant of every member's points: the balance is the sum of the lots' remaining
    /// points, and the newest history entry's balance is the balance. The members for
    /// whom it does not hold (empty when it holds for all).
    pub async fn members_whose_points_disagree(&self) -> Vec<u64> {
        sqlx::query_scalar(
            "SELECT m.id FROM members m \
             WHERE m.points <> (SELECT COALESCE(SUM(l.remaining), 0) FROM point_lots l WHERE l.member_id = m.id) \
             OR m.points <> COALESCE((SELECT h.balance_after FROM point_history h WHERE h.member_id = m.id \
               ORDER BY h.id DESC LIMIT 1), 0)",
        )
        .fetch_all(&self.db)
        .await
        .expect("the points invariant query")
    }

    pub async fn rows(&self, table: Table) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM {}", table.name());
        self.number(sqlx::query_scalar(sqlx::AssertSqlSafe(sql)))
            .await
    }

    /// A profile's flushed total (`profiles.view_count`).
    pub async fn flushed_views(&self, profile: u64) -> i64 {
        self.number(
            sqlx::query_scalar("SELECT CAST(view_count AS SIGNED) FROM profiles WHERE id = ?")
                .bind(profile),
        )
        .await
    }

    /// Every profile's flushed total added up.
    pub async fn total_flushed_views(&self) -> i64 {
        self.number(sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(view_count), 0) AS SIGNED) FROM profiles",
        ))
        .await
    }

    /// The view-history row of `profile` on `day` (`yyyy-mm-dd`), if the flush wrote one.
    pub async fn daily_views(&self, profile: u64, day: &str) -> Option<DailyViews> {
        sqlx::query_as(
            "SELECT CAST(redis_views AS SIGNED) AS redis_views, \
             CAST(recovered_views AS SIGNED) AS recovered_views \
             FROM profile_view_daily WHERE profile_id = ? AND day = ?",
        )
        .bind(profile)
        .bind(day)
        .fetch_optional(&self.db)
        .await
        .unwrap()
    }

    /// Toss' own view of the order (`GET /v1/payments/orders/{orderId}` on the sandbox).
    pub async fn toss_view(&self, order_id: &str) -> TossPayment {
        let response = self
            .http
            .get(format!("{}/v1/payments/orders/{order_id}", self.toss))
            .basic_auth(TOSS_SECRET_KEY, Some(""))
            .send()
            .await
            .unwrap();
        let (status, body) = read(response).await;
        if status == 404 {
            return TossPayment {
                status: not_found(),
                total_amount: 0,
                balance_amount: 0,
            };
        }
        serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("{body}: {e}"))
    }

    /// The sandbox's counts for `payment_key` (zero for a key nobody touched).
    pub async fn toss_stats(&self, payment_key: &str) -> TossStats {
        let response = self
            .http
            .get(format!(
                "{}/sandbox/payments/{payment_key}/stats",
                self.toss
            ))
            .send()
            .await
            .unwrap();
        let body = read(response).await.1;
        serde_json::from_value(body.clone()).unwrap_or_else(|e| panic!("{body}: {e}"))
    }

    /// A profile's view history over all days: (views from Redis, views recovered from
    /// the loss ledger).
    pub async fn history_views(&self, profile: u64) -> DailyViews {
        sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(redis_views), 0) AS SIGNED) AS redis_views, \
             CAST(COALESCE(SUM(recovered_views), 0) AS SIGNED) AS recovered_views \
             FROM profile_view_daily WHERE profile_id = ?",
        )
        .bind(profile)
        .fetch_one(&self.db)
        .await
        .unwrap()
    }

    /// Views from Redis in every profile's history, added up.
    pub async fn total_history_redis_views(&self) -> i64 {
        sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(redis_views), 0) AS SIGNED) FROM profile_view_daily",
        )
        .fetch_one(&self.db)
        .await
        .unwrap()
    }

    /// The last day folded into a profile's total (`yyyy-mm-dd`).
    pub async fn flushed_through(&self, profile: u64) -> Option<String> {
        sqlx::query_scalar(
            "SELECT DATE_FORMAT(views_flushed_through, '%Y-%m-%d') FROM profiles WHERE id = ?",
        )
        .bind(profile)
        .fetch_one(&self.db)
        .await
        .unwrap()
    }

    /// Completed flush runs recorded for `day` (`yyyy-mm-dd`).
    pub async fn flush_runs(&self, day: &str) -> i64 {
        self.number(
            sqlx::query_scalar("SELECT COUNT(*) FROM view_flush_runs WHERE day = ?").bind(day),
        )
        .await
    }

    /// Runs the view-loss recovery for `at` until no ledgered view waits on its landing
    /// window (the harness's window is 3 s); what those runs did together (entries
    /// counted by the last run).
    pub async fn recover_view_losses(&self, at: DateTime<Utc>) -> RecoverySummary {
        let mut total = RecoverySummary::default();
        for _ in 0..60 {
            let answer = self.run_job("recover-view-losses", at).await;
            let run: RecoverySummary = serde_json::from_value(answer["lossRecovery"].clone())
                .unwrap_or_else(|e| panic!("{answer}: {e}"));
            total.ledger_entries = run.ledger_entries;
            total.entries_applied += run.entries_applied;
            total.views_recovered += run.views_recovered;
            total.views_landed_anyway += run.views_landed_anyway;
            total.views_decided_blind += run.views_decided_blind;
            total.views_recovered_late += run.views_recovered_late;
            if run.views_undecided == 0 {
                return total;
            }
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
        panic!("ledgered views still undecided after 15 s");
    }
}
