//! The virtual-account phase of the randomized money run: purchases paid by virtual
//! account (가상계좌), confirmed with random actions and confirm faults, then random
//! deposit plays at Toss (none, a deposit, a deposit error, a new deposit after one) with
//! the sandbox's webhooks (some duplicated, reordered or lying) and recovery runs
//! meanwhile. Invariants, checked before and after every due date has passed:
//!   - Toss shows our amount deposited (`DONE`) ⇔ ours `DONE`, the lot's remaining and
//!     the member's balance are the amount (charged once per deposit standing);
//!   - Toss shows the account waiting ⇔ ours `WAITING_FOR_DEPOSIT` before the due date,
//!     `EXPIRED` after it, and no points;
//!   - never approved (the confirm failed) ⇔ ours `FAILED` or `EXPIRED`, no points;
//!   - every member's balance is their lots' remaining points and their history's last
//!     balance.

use super::{Action, Payment, catch_up, play, recovery_run, spawn_recoveries};
use integration_tests::TestApp;
use rand::RngExt;
use rand::rngs::StdRng;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Confirm faults whose outcome a virtual account can take (not `amount-`, whose
/// recovery cancels at Toss).
const CONFIRM_FAULTS: &[&str] = &[
    "",
    "delay-300",
    "drop",
    "late-800",
    "fail-PROVIDER_ERROR-1",
    "lookup-404",
];
const WEBHOOK_FAULTS: &[&str] = &["", "webhook-duplicate", "webhook-reorder", "webhook-lie"];

/// The webhook faults a payment with this confirm fault can take. `webhook-lie` is
/// defined against lookups that tell the truth; under `lookup-404` a waiting account is
/// hidden from every lookup, so a deposit error's callback (carrying the secret only Toss
/// and we know) is Toss's only word on it, and a lie there is no behaviour of Toss's in
/// any reading of its docs: a forged callback lacks the secret, and that case has its own
/// scenario test (a_forged_deposit_callback_…).
fn webhook_faults(confirm_fault: &str) -> &'static [&'static str] {
    match confirm_fault {
        "lookup-404" => &WEBHOOK_FAULTS[..3],
        _ => WEBHOOK_FAULTS,
    }
}

/// What happens at the bank, in order (each step a sandbox call; a step Toss refuses,
/// e.g. a deposit into an account never issued, changes nothing).
const PLAYS: &[&[&str]] = &[
    &[],
    &["deposit"],
    &["deposit", "deposit-error"],
    &["deposit", "deposit-error", "deposit"],
];

pub async fn run(app: &Arc<TestApp>, count: usize, rng: &mut StdRng, seed: u64) -> String {
    let mut payments = Vec::with_capacity(count);
    for _ in 0..count {
        let member = app.member().await;
        let order_id = app.checkout(member, super::AMOUNT).await;
        let fault = CONFIRM_FAULTS[rng.random_range(0..CONFIRM_FAULTS.len())];
        let webhooks = webhook_faults(fault);
        let webhook = webhooks[rng.random_range(0..webhooks.len())];
        let faults = [fault, webhook]
            .iter()
            .filter(|f| !f.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(",");
        let payment_key = app
            .authenticate_by(&order_id, super::AMOUNT, &faults, "VIRTUAL_ACCOUNT")
            .await;
        let action = Action::draw(rng);
        let bank = PLAYS[rng.random_range(0..PLAYS.len())];
        payments.push((
            Arc::new(Payment {
                member,
                order_id,
                payment_key,
                fault,
                cancel_fault: "",
                action,
            }),
            bank,
        ));
    }
    let stop = Arc::new(AtomicBool::new(false));
    let recoveries = spawn_recoveries(app.clone(), stop.clone(), rng.random());
    for batch in payments.chunks(8) {
        let confirms = batch
            .iter()
            .map(|(p, _)| tokio::spawn(play(app.clone(), p.clone())));
        futures::future::join_all(confirms).await;
    }
    catch_up(app).await;
    let deposits = payments.iter().map(|(p, bank)| {
        let (app, p, bank, pause) = (app.clone(), p.clone(), *bank, rng.random_range(0..300));
        tokio::spawn(async move {
            for step in bank {
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                let url = format!("{}/sandbox/payments/{}/{step}", app.toss, p.payment_key);
                let _ = app.http.post(url).send().await;
            }
        })
    });
    futures::future::join_all(deposits).await;
    settle_webhooks(app).await;
    stop.store(true, Ordering::SeqCst);
    recoveries.await.unwrap();
    let before = check(app, &payments, false, seed).await;
    // Past every due date (7 days) and its grace hour, on both clocks.
    app.advance_toss_clock(8 * 24 * 3600).await;
    recovery_run(app, 8 * 24 * 60 + 180).await;
    settle_webhooks(app).await;
    let after = check(app, &payments, true, seed).await;
    format!("chaos-payments: virtual accounts before the due dates {before}; after {after}")
}

/// Waits (up to 20 s) until no sandbox webhook is still to be sent.
async fn settle_webhooks(app: &TestApp) {
    let started = std::time::Instant::now();
    while started.elapsed() < std::time::Duration::from_secs(20) {
        let deliveries = app.webhook_deliveries("").await;
        if deliveries
            .iter()
            .all(|d| d["state"] == "DELIVERED" || d["state"] == "FAILED")
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

struct Truth {
    status: String,
    total: u64,
}

/// Toss's payment as it is (`lookup-404` hides a deposit undone from the lookups).
async fn truth(app: &TestApp, payment_key: &str) -> Truth {
    let body = app.sandbox_payment(payment_key).await;
    Truth {
        status: body["status"].as_str().unwrap_or("NOT_FOUND").to_owned(),
        total: body["totalAmount"].as_u64().unwrap_or(0),
    }
}

async fn check(
    app: &TestApp,
    payments: &[(Arc<Payment>, &[&str])],
    due: bool,
    seed: u64,
) -> String {
    let mut violations = Vec::new();
    let mut outcomes: BTreeMap<String, u32> = BTreeMap::new();
    for (p, bank) in payments {
        let ours = app.payment_status(&p.order_id).await;
        let toss = truth(app, &p.payment_key).await;
        let points = app.points(p.member).await;
        let paid = super::AMOUNT as i64;
        let ok = match toss.status.as_str() {
            "DONE" => ours == "DONE" && points == paid && toss.total == super::AMOUNT,
            "WAITING_FOR_DEPOSIT" if due => ours == "EXPIRED" && points == 0,
            "WAITING_FOR_DEPOSIT" => ours == "WAITING_FOR_DEPOSIT" && points == 0,
            _ => matches!(ours.as_str(), "FAILED" | "EXPIRED") && points == 0,
        };
        if !ok {
            violations.push(format!(
                "{} [{} / {:?} / bank {bank:?}]: ours {ours}, Toss {} {}, points {points}",
                p.order_id,
                p.payment_key
                    .split_once('.')
                    .map_or("", |(_, faults)| faults),
                p.action,
                toss.status,
                toss.total
            ));
        }
        *outcomes
            .entry(format!("{ours}/{}", toss.status))
            .or_default() += 1;
    }
    let disagreeing = app.members_whose_points_disagree().await;
    if !disagreeing.is_empty() {
        violations.push(format!("members whose points disagree: {disagreeing:?}"));
    }
    assert!(
        violations.is_empty(),
        "virtual-account invariant violated (CHAOS_SEED={seed}, due dates passed: {due}):\n{}",
        violations.join("\n")
    );
    format!("{outcomes:?}")
}
