//! The randomized money check (`make chaos-payments`; a bounded run in `make test`).
//!
//! Hundreds of payments through the real stack (local gateway, MariaDB, the AWS emulator,
//! the Toss sandbox): faults drawn at random from the sandbox's whole list, duplicate and
//! concurrent confirms, confirms killed at a random moment (the client goes away, so the
//! handler is dropped at whatever await it was on), recovery runs interleaved and
//! overlapping, and one MariaDB outage mid-run. Then recovery catches up (the sandbox's
//! clock and ours move past every window) and every payment is checked against Toss's
//! own view. The invariant:
//!   - Toss approved (DONE for our amount) ⇔ ours DONE, one ledger row, the points once;
//!   - approved then cancelled at Toss (another amount) ⇔ ours NEEDS_ATTENTION, no points;
//!   - not approved ⇔ ours FAILED or EXPIRED, no points;
//!   - nothing left undecided; Toss never approved a payment twice;
//!   - the members' points sum to the approved amounts.
//!
//! CHAOS_PAYMENTS (default 120) and CHAOS_SEED (default: random) are printed and
//! settable; a violation fails loudly with the seed.

use chrono::{Duration, Utc};
use integration_tests::TestApp;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

const AMOUNT: u64 = 5_000;

/// The sandbox's faults (infra/toss-sandbox/README.md), each a scenario of its own.
const FAULTS: &[&str] = &[
    "",
    "delay-300",
    "delay-2000",
    "hang",
    "drop",
    "fail-PROVIDER_ERROR-1",
    "fail-FAILED_INTERNAL_SYSTEM_PROCESSING-2",
    "fail-UNKNOWN_PAYMENT_ERROR-1",
    "fail-REJECT_CARD_COMPANY-1",
    "abort-REJECT_CARD_COMPANY",
    "amount-4000",
    "late-800",
    "late-2500,lookup-404",
    "lookup-404",
    "partial-FAILED_INTERNAL_SYSTEM_PROCESSING",
    "partial-PROVIDER_ERROR,lookup-404",
];

#[derive(Debug, Clone, Copy)]
enum Action {
    Once,
    Twice,
    Concurrent(u8),
    KilledAfterMs(u64),
    KilledThenRetried(u64),
    /// The confirm use case itself, in process, aborted at whatever await it is on.
    AbortedInProcess(u64),
}

impl Action {
    fn draw(rng: &mut StdRng) -> Self {
        match rng.random_range(0..6) {
            0 => Action::Once,
            1 => Action::Twice,
            2 => Action::Concurrent(rng.random_range(2..=4)),
            3 => Action::KilledAfterMs(rng.random_range(0..1_500)),
            4 => Action::KilledThenRetried(rng.random_range(0..1_500)),
            _ => Action::AbortedInProcess(rng.random_range(0..1_500)),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Action::Once => "once",
            Action::Twice => "twice",
            Action::Concurrent(_) => "concurrent",
            Action::KilledAfterMs(_) => "killed",
            Action::KilledThenRetried(_) => "killed+retried",
            Action::AbortedInProcess(_) => "aborted",
        }
    }
}

struct Payment {
    member: u64,
    order_id: String,
    payment_key: String,
    fault: &'static str,
    action: Action,
}

async fn confirm(app: &Arc<TestApp>, p: &Payment) {
    let _ = app
        .confirm(p.member, &p.payment_key, &p.order_id, AMOUNT)
        .await;
}

/// Plays one payment's action; a killed confirm is a dropped client request.
async fn play(app: Arc<TestApp>, p: Arc<Payment>) {
    match p.action {
        Action::Once => confirm(&app, &p).await,
        Action::Twice => {
            confirm(&app, &p).await;
            confirm(&app, &p).await;
        }
        Action::Concurrent(n) => {
            let all = (0..n).map(|_| confirm(&app, &p));
            futures::future::join_all(all).await;
        }
        Action::KilledAfterMs(ms) | Action::KilledThenRetried(ms) => {
            let (a, q) = (app.clone(), p.clone());
            let task = tokio::spawn(async move { confirm(&a, &q).await });
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            task.abort();
            if matches!(p.action, Action::KilledThenRetried(_)) {
                confirm(&app, &p).await;
            }
        }
        Action::AbortedInProcess(ms) => {
            let (a, q) = (app.clone(), p.clone());
            let task = tokio::spawn(async move { confirm_in_process(&a, &q).await });
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
            task.abort();
        }
    }
}

/// The confirm use case called directly with the app's clients, as the handler does.
async fn confirm_in_process(app: &TestApp, p: &Payment) {
    use app::usecases::payments::{ConfirmForm, PaymentDeps, confirm};
    let services = &app.services;
    let deps = PaymentDeps {
        store: &services.store,
        gateway: services
            .toss
            .as_ref()
            .expect("the test app has a Toss gateway"),
        publisher: &services.publisher,
        timings: services.payment_timings,
    };
    let form = ConfirmForm {
        member_id: Some(p.member),
        payment_key: Some(p.payment_key.clone()),
        order_id: Some(p.order_id.clone()),
        amount: Some(AMOUNT as i64),
    };
    let _ = confirm(&deps, domain::MemberId(p.member), form, Utc::now()).await;
}

/// A recovery run that may fail (the database may be away): its answer is not asserted.
async fn recovery_run(app: &TestApp, minutes_later: i64) {
    let at = Utc::now() + Duration::minutes(minutes_later);
    let _ = app
        .http
        .post(format!("{}/local/jobs/recover-payments", app.base))
        .header(local_gateway::LOCAL_TIME_HEADER, at.to_rfc3339())
        .send()
        .await;
}

fn seed() -> u64 {
    std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_money_invariant_holds_over_random_payments() {
    let count: usize = std::env::var("CHAOS_PAYMENTS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let seed = seed();
    println!("chaos-payments: {count} payments, CHAOS_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let app = Arc::new(TestApp::spawn().await);

    let mut payments = Vec::with_capacity(count);
    for _ in 0..count {
        let member = app.member().await;
        let order_id = app.checkout(member, AMOUNT).await;
        let fault = FAULTS[rng.random_range(0..FAULTS.len())];
        let payment_key = app.authenticate(&order_id, AMOUNT, fault).await;
        let action = Action::draw(&mut rng);
        payments.push(Arc::new(Payment {
            member,
            order_id,
            payment_key,
            fault,
            action,
        }));
    }

    let stop = Arc::new(AtomicBool::new(false));
    let recoveries = spawn_recoveries(app.clone(), stop.clone(), rng.random());
    let outage_at = rng.random_range(0..count.max(1));
    for (i, batch) in payments.chunks(8).enumerate() {
        if i * 8 <= outage_at && outage_at < (i + 1) * 8 {
            database_outage(&app).await;
        }
        let plays = batch
            .iter()
            .map(|p| tokio::spawn(play(app.clone(), p.clone())));
        for play in futures::future::join_all(plays).await {
            play.expect("a payment's play panicked");
        }
    }
    stop.store(true, Ordering::SeqCst);
    recoveries.await.unwrap();

    catch_up(&app).await;
    let table = check(&app, &payments, seed).await;
    println!("{table}");
}

/// Recovery runs every ~300 ms, some overlapping, each at a random "later".
fn spawn_recoveries(
    app: Arc<TestApp>,
    stop: Arc<AtomicBool>,
    seed: u64,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut runs = Vec::new();
        while !stop.load(Ordering::SeqCst) {
            let (a, later) = (app.clone(), rng.random_range(0..4));
            runs.push(tokio::spawn(async move { recovery_run(&a, later).await }));
            tokio::time::sleep(std::time::Duration::from_millis(rng.random_range(100..500))).await;
        }
        futures::future::join_all(runs).await;
    })
}

/// MariaDB away for a second for this app (connections killed, logins refused).
async fn database_outage(app: &TestApp) {
    app.database_available(false).await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    app.database_available(true).await;
}

/// Lets every late approval land, moves Toss's clock and ours past every window, and runs
/// recovery until no payment is open.
async fn catch_up(app: &TestApp) {
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    app.advance_toss_clock(2 * 3600).await;
    for round in 0..20 {
        recovery_run(app, 120 + round * 60).await;
        let open = app
            .scalar(
                "SELECT COUNT(*) FROM payments WHERE status IN ('READY', 'IN_PROGRESS', 'UNKNOWN')",
            )
            .await;
        if open == 0 {
            return;
        }
    }
}

/// Checks each payment against Toss's view; returns the scenario × outcome table.
async fn check(app: &TestApp, payments: &[Arc<Payment>], seed: u64) -> String {
    let mut violations = Vec::new();
    let mut table: BTreeMap<(String, &str), BTreeMap<String, u32>> = BTreeMap::new();
    let mut approved_sum = 0i64;
    for p in payments {
        let ours = app.payment_status(&p.order_id).await;
        let toss: Value = app.toss_view(&p.order_id).await;
        let toss_status = toss["status"].as_str().unwrap_or("NOT_FOUND").to_owned();
        let toss_amount = toss["totalAmount"].as_u64().unwrap_or(0);
        let approvals = app.toss_stats(&p.payment_key).await["approvals"]
            .as_u64()
            .unwrap_or(0);
        let points = app.points(p.member).await;
        let ledger = app.ledger_rows(&p.order_id).await;
        let approved = toss_status == "DONE" && toss_amount == AMOUNT;
        if approved {
            approved_sum += AMOUNT as i64;
        }
        let ok = approvals <= 1
            && match toss_status.as_str() {
                _ if approved => ours == "DONE" && ledger == 1 && points == AMOUNT as i64,
                "CANCELED" | "PARTIAL_CANCELED" | "DONE" => {
                    ours == "NEEDS_ATTENTION" && ledger == 0 && points == 0
                }
                _ => matches!(ours.as_str(), "FAILED" | "EXPIRED") && ledger == 0 && points == 0,
            };
        if !ok {
            violations.push(format!(
                "{} [{} / {:?}]: ours {ours}, Toss {toss_status} {toss_amount} ({approvals} approvals), points {points}, ledger {ledger}",
                p.order_id, p.fault, p.action
            ));
        }
        *table
            .entry((p.fault.to_owned(), p.action.name()))
            .or_default()
            .entry(format!("{ours}/{toss_status}"))
            .or_default() += 1;
    }
    let total_points = app
        .scalar("SELECT COALESCE(SUM(points), 0) FROM members")
        .await;
    if total_points != approved_sum {
        violations.push(format!(
            "points sum {total_points} != approved amounts {approved_sum}"
        ));
    }
    let rendered = render(&table);
    assert!(
        violations.is_empty(),
        "money invariant violated (CHAOS_SEED={seed}, {} payments):\n{}\n\n{rendered}",
        payments.len(),
        violations.join("\n")
    );
    rendered
}

fn render(table: &BTreeMap<(String, &str), BTreeMap<String, u32>>) -> String {
    let mut out = String::from("| fault | action | outcome (ours/Toss) × count |\n|---|---|---|\n");
    for ((fault, action), outcomes) in table {
        let cells: Vec<String> = outcomes.iter().map(|(o, n)| format!("{o} ×{n}")).collect();
        let fault = if fault.is_empty() { "(none)" } else { fault };
        out.push_str(&format!("| {fault} | {action} | {} |\n", cells.join(", ")));
    }
    out
}
