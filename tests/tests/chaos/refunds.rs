//! The refund phase of the randomized money run: random refund plays on every approved
//! purchase, recovery meanwhile and after, then the invariants over lots, refunds and
//! Toss's own balances.

use super::{AMOUNT, Payment, recovery_run, spawn_recoveries};
use integration_tests::TestApp;
use rand::RngExt;
use rand::rngs::StdRng;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Debug, Clone, Copy)]
pub enum Play {
    Whole,
    Partial(u64),
    TwoPartials(u64, u64),
    Concurrent(u8),
    KilledAfterMs(u64),
}

impl Play {
    fn draw(rng: &mut StdRng) -> Self {
        let part = |rng: &mut StdRng| rng.random_range(1..AMOUNT);
        match rng.random_range(0..5) {
            0 => Play::Whole,
            1 => Play::Partial(part(rng)),
            2 => Play::TwoPartials(part(rng), part(rng)),
            3 => Play::Concurrent(rng.random_range(2..=4)),
            _ => Play::KilledAfterMs(rng.random_range(0..300)),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Play::Whole => "whole",
            Play::Partial(_) => "partial",
            Play::TwoPartials(..) => "two partials",
            Play::Concurrent(_) => "concurrent",
            Play::KilledAfterMs(_) => "killed",
        }
    }
}

async fn ask(app: &TestApp, p: &Payment, amount: Option<u64>) {
    let path = format!("/api/payments/toss/{}/refund", p.order_id);
    let body = json!({ "reason": "카오스 환불", "amount": amount }).to_string();
    let _ = app.post_json_as(p.member, &path, &body).await;
}

async fn play(app: Arc<TestApp>, p: Arc<Payment>, refund: Play) {
    match refund {
        Play::Whole => ask(&app, &p, None).await,
        Play::Partial(points) => ask(&app, &p, Some(points)).await,
        Play::TwoPartials(a, b) => {
            ask(&app, &p, Some(a)).await;
            ask(&app, &p, Some(b)).await;
        }
        Play::Concurrent(n) => {
            futures::future::join_all((0..n).map(|_| ask(&app, &p, None))).await;
        }
        Play::KilledAfterMs(ms) => {
            let (a, q) = (app.clone(), p.clone());
            let task = tokio::spawn(async move { ask(&a, &q, None).await });
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            task.abort();
        }
    }
}

/// A cancel in Toss's merchant console of `won`, then its webhook delivered twice.
async fn console_cancel(app: &TestApp, p: &Payment, won: u64) {
    let response = app
        .http
        .post(format!(
            "{}/sandbox/payments/{}/console-cancel",
            app.toss, p.payment_key
        ))
        .json(&json!({ "cancelAmount": won }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "console cancel of {}", p.order_id);
    let body = json!({
        "eventType": "PAYMENT_STATUS_CHANGED",
        "createdAt": "2026-12-02T21:00:00.000000",
        "data": { "orderId": p.order_id, "status": "CANCELED" },
    });
    for _ in 0..2 {
        let response = app
            .http
            .post(format!("{}/api/payments/toss/webhook", app.base))
            .header("content-type", "application/json")
            .header(
                "tosspayments-webhook-transmission-id",
                format!("console-{}", p.order_id),
            )
            .body(body.to_string())
            .send()
            .await
            .expect("the webhook delivery");
        let status = response.status().as_u16();
        let answer: serde_json::Value = response.json().await.unwrap_or_default();
        assert_eq!(status, 200, "webhook of {}: {answer}", p.order_id);
    }
}

/// Plays a refund on most approved purchases (some get none; some first get a partial
/// cancel in the merchant console and its webhook), eight at a time, with recovery
/// running; then recovery catches up. Returns each played purchase's play.
pub async fn run(
    app: &Arc<TestApp>,
    payments: &[Arc<Payment>],
    rng: &mut StdRng,
) -> BTreeMap<String, Play> {
    let mut plays = BTreeMap::new();
    for p in payments {
        if app.payment_status(&p.order_id).await == "DONE" && rng.random_bool(0.8) {
            if rng.random_bool(0.25) {
                console_cancel(app, p, rng.random_range(1..AMOUNT / 2)).await;
            }
            plays.insert(p.order_id.clone(), Play::draw(rng));
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let recoveries = spawn_recoveries(app.clone(), stop.clone(), rng.random());
    let played: Vec<_> = payments
        .iter()
        .filter_map(|p| plays.get(&p.order_id).map(|play| (p.clone(), *play)))
        .collect();
    for batch in played.chunks(8) {
        let tasks = batch
            .iter()
            .map(|(p, refund)| tokio::spawn(play(app.clone(), p.clone(), *refund)));
        for task in futures::future::join_all(tasks).await {
            task.expect("a refund play panicked");
        }
    }
    stop.store(true, Ordering::SeqCst);
    recoveries.await.unwrap();
    for round in 0..20 {
        recovery_run(app, 240 + round * 60).await;
        if open_refunds(app).await == 0 {
            break;
        }
    }
    plays
}

async fn open_refunds(app: &TestApp) -> i64 {
    sqlx::query_scalar("SELECT COUNT(*) FROM refunds WHERE status IN ('REQUESTED', 'UNKNOWN')")
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// A purchase's lot and its refunds as MariaDB holds them.
#[derive(Debug, sqlx::FromRow)]
struct Ledger {
    bought: i64,
    remaining: i64,
    refunded: i64,
    clawed_back: i64,
    shortfall: i64,
    /// Points of its refunds Toss did not refuse.
    taken: i64,
    /// Money of its DONE refunds, and how many there are.
    done_won: i64,
    done: i64,
    attention: i64,
}

async fn ledger(app: &TestApp, order_id: &str) -> Ledger {
    sqlx::query_as(
        "SELECT CAST(l.bought AS SIGNED) AS bought, CAST(l.remaining AS SIGNED) AS remaining, \
         CAST(l.refunded AS SIGNED) AS refunded, CAST(l.clawed_back AS SIGNED) AS clawed_back, \
         CAST(l.clawback_shortfall AS SIGNED) AS shortfall, \
         CAST(COALESCE(SUM(IF(r.status <> 'REFUSED', r.points, 0)), 0) AS SIGNED) AS taken, \
         CAST(COALESCE(SUM(IF(r.status = 'DONE', r.refund_won, 0)), 0) AS SIGNED) AS done_won, \
         CAST(COALESCE(SUM(r.status = 'DONE'), 0) AS SIGNED) AS done, \
         CAST(COALESCE(SUM(r.status = 'NEEDS_ATTENTION'), 0) AS SIGNED) AS attention \
         FROM point_lots l LEFT JOIN refunds r ON r.order_id = l.order_id \
         WHERE l.order_id = ? \
         GROUP BY l.order_id, l.bought, l.remaining, l.refunded, l.clawed_back, l.clawback_shortfall",
    )
    .bind(order_id)
    .fetch_one(&app.db)
    .await
    .unwrap_or_else(|e| panic!("{order_id}: {e}"))
}

/// The refund invariants; panics naming the seed, else returns the play × outcome table.
pub async fn check(
    app: &TestApp,
    payments: &[Arc<Payment>],
    seed: u64,
    plays: &BTreeMap<String, Play>,
) -> String {
    let mut violations = Vec::new();
    let mut table: BTreeMap<(&str, &str), BTreeMap<String, u32>> = BTreeMap::new();
    let (mut held, mut refunded, mut bought) = (0i64, 0i64, 0i64);
    let open = open_refunds(app).await;
    if open != 0 {
        violations.push(format!(
            "{open} refunds still open after recovery caught up"
        ));
    }
    for p in payments.iter().filter(|p| app_done(plays, p)) {
        let l = ledger(app, &p.order_id).await;
        let toss = app.toss_view(&p.order_id).await;
        let cancels = app.toss_stats(&p.payment_key).await.cancels as i64;
        let console_cancels = i64::from(l.clawed_back + l.shortfall > 0);
        let consistent = l.bought == l.remaining + l.refunded + l.clawed_back
            && l.refunded == l.taken
            && toss.balance_amount as i64
                == toss.total_amount as i64 - l.done_won - l.clawed_back - l.shortfall
            && cancels == l.done + console_cancels
            && l.attention == 0;
        if !consistent {
            violations.push(format!(
                "{} [{} / {}]: {l:?}, Toss balance {} of {}, {cancels} cancels",
                p.order_id,
                p.cancel_fault,
                plays[&p.order_id].name(),
                toss.balance_amount,
                toss.total_amount
            ));
        }
        held += l.remaining;
        refunded += l.refunded + l.clawed_back;
        bought += l.bought;
        *table
            .entry((plays[&p.order_id].name(), p.cancel_fault))
            .or_default()
            .entry(format!(
                "{} refunded, {} done",
                if l.refunded == 0 {
                    "none"
                } else if l.remaining == 0 {
                    "all"
                } else {
                    "part"
                },
                l.done
            ))
            .or_default() += 1;
    }
    // Points held + points refunded + points clawed back = points bought.
    let total_bought: i64 =
        sqlx::query_scalar("SELECT CAST(COALESCE(SUM(bought), 0) AS SIGNED) FROM point_lots")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let total_kept: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(remaining + refunded + clawed_back), 0) AS SIGNED) FROM point_lots",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    if total_kept != total_bought || held + refunded != bought {
        violations.push(format!(
            "points held + refunded + clawed back {total_kept} != points bought {total_bought} (played: {held} + {refunded} vs {bought})"
        ));
    }
    let disagreeing = app.members_whose_points_disagree().await;
    if !disagreeing.is_empty() {
        violations.push(format!(
            "balances disagree with lots or history: {disagreeing:?}"
        ));
    }
    assert!(
        violations.is_empty(),
        "refund invariant violated (CHAOS_SEED={seed}, {} refund plays):\n{}",
        plays.len(),
        violations.join("\n")
    );
    let mut out = String::from("| refund play | cancel fault | outcome × count |\n|---|---|---|\n");
    for ((play, fault), outcomes) in &table {
        let cells: Vec<String> = outcomes.iter().map(|(o, n)| format!("{o} ×{n}")).collect();
        out.push_str(&format!("| {play} | `{fault}` | {} |\n", cells.join(", ")));
    }
    out
}

fn app_done(plays: &BTreeMap<String, Play>, p: &Payment) -> bool {
    plays.contains_key(&p.order_id)
}
