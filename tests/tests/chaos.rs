//! The randomized money check (`make chaos-payments`; a bounded run in `make test`).
//!
//! Hundreds of payments through the real stack (local gateway, MariaDB, the AWS emulator,
//! the Toss sandbox): faults drawn at random from the sandbox's whole list, duplicate and
//! concurrent confirms, confirms killed at a random moment (the client goes away, so the
//! handler is dropped at whatever await it was on), recovery runs interleaved and
//! overlapping, and one restart of the stack's MariaDB server mid-run (stopped, cleanly or
//! by SIGKILL, while confirms and recovery runs are in flight; down for a moment; started
//! again on the same port and data dir: the pools must reconnect). Then recovery catches
//! up (the sandbox's clock and ours move past every window) and every payment is checked
//! against Toss's own view. The invariant:
//!   - Toss approved (DONE for our amount) ⇔ ours DONE, one lot and one PURCHASE entry,
//!     the points once;
//!   - approved then cancelled at Toss (another amount) ⇔ ours NEEDS_ATTENTION, no points;
//!   - not approved ⇔ ours FAILED or EXPIRED, no points;
//!   - nothing left undecided; Toss never approved a payment twice;
//!   - the members' points sum to the approved amounts, and each member's balance is the
//!     sum of their lots' remaining points and their history's last balance.
//!
//! Then every approved purchase gets a random refund play (none, whole, partial, two
//! partials, 2–4 concurrent asks, a killed ask; cancels with the sandbox's cancel faults),
//! a quarter of them after a partial cancel in Toss's merchant console and its webhook
//! (delivered twice), while recovery runs. Throughout, the sandbox also sends its own
//! webhooks to our route (some duplicated, reordered or with a lying body; retried on
//! Toss's schedule when our route fails, e.g. while MariaDB is down); recovery catches up, and (`chaos/refunds.rs`):
//!   - no refund is left open; none needs attention;
//!   - per purchase: bought = remaining + refunded + clawed back, refunded = the points of
//!     its refunds that Toss did not refuse, Toss's balance = approved − the money of its
//!     DONE refunds − what was clawed back, and Toss cancelled once per DONE refund (and
//!     once in the console);
//!   - points held + points refunded + points clawed back = points bought.
//!
//! Last, a quarter as many purchases by virtual account get random confirm actions and
//! random deposit plays at Toss (none, a deposit, a deposit error, a new deposit), with
//! webhooks and recovery meanwhile; their invariants (`chaos/deposits.rs`) are checked
//! before and after the due dates pass.
//!
//! CHAOS_PAYMENTS (default 120) and CHAOS_SEED (default: random) are printed and
//! settable; a violation fails loudly with the seed.

use chrono::{Duration, Utc};
use integration_tests::{MysqlStop, TestApp, stop_stack_mysql};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

const AMOUNT: u64 = 5_000;

/// The sandbox's faults (infra/local/toss-sandbox/README.md), each a scenario of its own.
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

/// Faults for the refund phase's cancels, added to a payment's confirm fault (never to
/// `amount-…`, whose recovery cancels at Toss itself).
const CANCEL_FAULTS: &[&str] = &[
    "",
    "",
    "cancel-drop",
    "cancel-fail-FAILED_REFUND_PROCESS-1",
    "cancel-fail-FORBIDDEN_CONSECUTIVE_REQUEST-1",
    "cancel-fail-NOT_CANCELABLE_PAYMENT-1",
];

/// How Toss's own webhooks about a payment arrive (the sandbox sends them to our route
/// throughout the run: approvals, aborts, expiries, every cancel).
const WEBHOOK_FAULTS: &[&str] = &[
    "",
    "",
    "webhook-duplicate",
    "webhook-reorder",
    "webhook-lie",
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
    cancel_fault: &'static str,
    action: Action,
}

/// Confirms and recovery runs under way (what the MariaDB restart waits for).
static CONFIRMS_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static RECOVERIES_IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// Counts one in `counter` while alive (also when its task is aborted).
struct InFlight(&'static AtomicUsize);

impl InFlight {
    fn new(counter: &'static AtomicUsize) -> Self {
        counter.fetch_add(1, Ordering::SeqCst);
        Self(counter)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Where the MariaDB restart is: before it, down (from the moment MariaDB is told to stop
/// until it answers again), after it. The answers of requests that overlapped the
/// outage are tallied for the output.
static OUTAGE: AtomicUsize = AtomicUsize::new(BEFORE);
const BEFORE: usize = 0;
const DOWN: usize = 1;
const AFTER: usize = 2;
static ANSWERS_ACROSS_OUTAGE: Mutex<BTreeMap<String, u32>> = Mutex::new(BTreeMap::new());

/// Tallies `answer` if its request, sent when the outage was at `sent`, overlapped it.
fn tally(sent: usize, answer: String) {
    let answered = OUTAGE.load(Ordering::SeqCst);
    if sent == DOWN || answered == DOWN || (sent == BEFORE && answered == AFTER) {
        *ANSWERS_ACROSS_OUTAGE
            .lock()
            .unwrap()
            .entry(answer)
            .or_default() += 1;
    }
}

async fn confirm(app: &Arc<TestApp>, p: &Payment) {
    let _in_flight = InFlight::new(&CONFIRMS_IN_FLIGHT);
    let sent = OUTAGE.load(Ordering::SeqCst);
    let (status, body) = app
        .confirm(p.member, &p.payment_key, &p.order_id, AMOUNT)
        .await;
    let code = body["code"].as_str().unwrap_or("-");
    tally(sent, format!("confirm {status} {code}"));
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
    let _in_flight = InFlight::new(&CONFIRMS_IN_FLIGHT);
    let services = &app.services;
    let deps = PaymentDeps {
        store: &*services.store,
        gateway: services
            .toss
            .as_ref()
            .expect("the test app has a Toss gateway"),
        publisher: &*services.publisher,
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
    let _in_flight = InFlight::new(&RECOVERIES_IN_FLIGHT);
    let at = Utc::now() + Duration::minutes(minutes_later);
    let sent = OUTAGE.load(Ordering::SeqCst);
    let answer = app
        .http
        .post(format!("{}/local/jobs/recover-payments", app.base))
        .header(local_gateway::LOCAL_TIME_HEADER, at.to_rfc3339())
        .send()
        .await;
    tally(
        sent,
        match answer {
            Ok(response) => format!("recovery run {}", response.status().as_u16()),
            Err(_) => "recovery run: no answer".into(),
        },
    );
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
    app.register_webhooks().await;

    let mut payments = Vec::with_capacity(count);
    for _ in 0..count {
        let member = app.member().await;
        let order_id = app.checkout(member, AMOUNT).await;
        let fault = FAULTS[rng.random_range(0..FAULTS.len())];
        let cancel_fault = match CANCEL_FAULTS[rng.random_range(0..CANCEL_FAULTS.len())] {
            _ if fault.starts_with("amount-") => "",
            drawn => drawn,
        };
        let webhook_fault = WEBHOOK_FAULTS[rng.random_range(0..WEBHOOK_FAULTS.len())];
        let faults = [fault, cancel_fault, webhook_fault]
            .into_iter()
            .filter(|f| !f.is_empty())
            .collect::<Vec<_>>()
            .join(",");
        let payment_key = app.authenticate(&order_id, AMOUNT, &faults).await;
        let action = Action::draw(&mut rng);
        payments.push(Arc::new(Payment {
            member,
            order_id,
            payment_key,
            fault,
            cancel_fault,
            action,
        }));
    }

    let stop = Arc::new(AtomicBool::new(false));
    let recoveries = spawn_recoveries(app.clone(), stop.clone(), rng.random());
    // The restart is armed at a batch in the first two thirds, so that plays are still
    // to come when it waits for confirms in flight.
    let batches = count.div_ceil(8);
    let restart_batch = rng.random_range(0..(batches * 2 / 3).max(1));
    let restart = Restart {
        how: if rng.random_bool(0.5) {
            MysqlStop::Clean
        } else {
            MysqlStop::Crash
        },
        // Shorter or longer than the pool's acquire timeout (3 s): requests either wait for
        // the server or give up on it.
        down_for: std::time::Duration::from_millis(rng.random_range(1_000..6_000)),
    };
    let mut restarting = None;
    for (i, batch) in payments.chunks(8).enumerate() {
        let plays: Vec<_> = batch
            .iter()
            .map(|p| tokio::spawn(play(app.clone(), p.clone())))
            .collect();
        if i == restart_batch {
            restarting = Some(tokio::spawn(restart.run(i)));
        }
        for play in futures::future::join_all(plays).await {
            play.expect("a payment's play panicked");
        }
    }
    let report = restarting
        .expect("the restart was armed")
        .await
        .expect("the MariaDB restart panicked");
    stop.store(true, Ordering::SeqCst);
    recoveries.await.unwrap();

    catch_up(&app).await;
    let table = check(&app, &payments, seed).await;
    println!("{table}");
    println!("{report}");
    let refunds = refunds::run(&app, &payments, &mut rng).await;
    println!("{}", refunds::check(&app, &payments, seed, &refunds).await);
    println!(
        "{}",
        deposits::run(&app, (count / 4).max(4), &mut rng, seed).await
    );
    println!("{}", webhook_tally(&app).await);
}

/// How the sandbox's own webhooks fared (they may still be retrying: nothing depends on
/// them, the invariants hold with or without them).
async fn webhook_tally(app: &TestApp) -> String {
    let mut states: BTreeMap<String, usize> = BTreeMap::new();
    let mut attempts = 0;
    for delivery in app.webhook_deliveries("").await {
        *states
            .entry(delivery["state"].as_str().unwrap_or("-").to_owned())
            .or_default() += 1;
        attempts += delivery["attempts"].as_array().map_or(0, Vec::len);
    }
    format!("chaos-payments: sandbox webhooks {states:?}, {attempts} attempts")
}

#[path = "chaos/refunds.rs"]
mod refunds;

#[path = "chaos/deposits.rs"]
mod deposits;

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

/// One restart of the stack's MariaDB server.
#[derive(Clone, Copy)]
struct Restart {
    how: MysqlStop,
    down_for: std::time::Duration,
}

impl Restart {
    /// Waits until confirms and a recovery run are in flight (at most 10 s), stops
    /// MariaDB, waits `down_for`, starts it again; returns what happened, for the output.
    async fn run(self, batch: usize) -> Outcome {
        let armed = Instant::now();
        let in_flight = || {
            (
                CONFIRMS_IN_FLIGHT.load(Ordering::SeqCst),
                RECOVERIES_IN_FLIGHT.load(Ordering::SeqCst),
            )
        };
        while !matches!(in_flight(), (c, r) if c >= 2 && r >= 1)
            && armed.elapsed() < std::time::Duration::from_secs(10)
        {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let (confirms, recoveries) = in_flight();
        let stopping = Instant::now();
        OUTAGE.store(DOWN, Ordering::SeqCst);
        let mysql = stop_stack_mysql(self.how).await;
        let stopped = Instant::now();
        println!(
            "chaos-payments: MariaDB stopped ({:?}) in batch {batch} with {confirms} confirms \
             and {recoveries} recovery runs in flight; the process was gone after {} ms",
            self.how,
            (stopped - stopping).as_millis()
        );
        tokio::time::sleep(self.down_for).await;
        let starting = Instant::now();
        mysql.start().await;
        let answering = Instant::now();
        OUTAGE.store(AFTER, Ordering::SeqCst);
        let down = (answering - stopping).as_millis();
        println!("chaos-payments: MariaDB answering again, {down} ms after it was told to stop");
        // (the requests still open now are answered later: the tally is taken at the end)
        Outcome {
            batch,
            how: self.how,
            confirms,
            recoveries,
            stopping: stopped - stopping,
            kept_down: starting - stopped,
            starting: answering - starting,
        }
    }
}

/// What the restart did, for the output.
struct Outcome {
    batch: usize,
    how: MysqlStop,
    confirms: usize,
    recoveries: usize,
    stopping: std::time::Duration,
    kept_down: std::time::Duration,
    starting: std::time::Duration,
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let answers: Vec<String> = ANSWERS_ACROSS_OUTAGE
            .lock()
            .unwrap()
            .iter()
            .map(|(answer, n)| format!("{answer} ×{n}"))
            .collect();
        write!(
            f,
            "chaos-payments: MariaDB restarted in batch {} ({:?} stop, {} confirms and {} \
             recovery runs in flight): down {} ms from the stop to answering again (stopping \
             {} ms, kept down {} ms, starting {} ms); answers to the requests that overlapped \
             the outage: {}",
            self.batch,
            self.how,
            self.confirms,
            self.recoveries,
            (self.stopping + self.kept_down + self.starting).as_millis(),
            self.stopping.as_millis(),
            self.kept_down.as_millis(),
            self.starting.as_millis(),
            if answers.is_empty() {
                "none".to_owned()
            } else {
                answers.join(", ")
            }
        )
    }
}

/// Lets every late approval land, moves Toss's clock and ours past every window, and runs
/// recovery until no payment is open.
async fn catch_up(app: &TestApp) {
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    app.advance_toss_clock(2 * 3600).await;
    for round in 0..20 {
        recovery_run(app, 120 + round * 60).await;
        if app.open_payments().await == 0 {
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
        let toss = app.toss_view(&p.order_id).await;
        let (toss_status, toss_amount) = (toss.status, toss.total_amount);
        let approvals = app.toss_stats(&p.payment_key).await.approvals;
        let points = app.points(p.member).await;
        let lots = app.purchase_lots(&p.order_id).await;
        let approved = toss_status == "DONE" && toss_amount == AMOUNT;
        if approved {
            approved_sum += AMOUNT as i64;
        }
        let ok = approvals <= 1
            && match toss_status.as_str() {
                _ if approved => ours == "DONE" && lots == 1 && points == AMOUNT as i64,
                "CANCELED" | "PARTIAL_CANCELED" | "DONE" => {
                    ours == "NEEDS_ATTENTION" && lots == 0 && points == 0
                }
                _ => matches!(ours.as_str(), "FAILED" | "EXPIRED") && lots == 0 && points == 0,
            };
        if !ok {
            violations.push(format!(
                "{} [{} / {:?}]: ours {ours}, Toss {toss_status} {toss_amount} ({approvals} approvals), points {points}, lots {lots}",
                p.order_id, p.fault, p.action
            ));
        }
        *table
            .entry((p.fault.to_owned(), p.action.name()))
            .or_default()
            .entry(format!("{ours}/{toss_status}"))
            .or_default() += 1;
    }
    let total_points = app.total_points().await;
    if total_points != approved_sum {
        violations.push(format!(
            "points sum {total_points} != approved amounts {approved_sum}"
        ));
    }
    let disagreeing = app.members_whose_points_disagree().await;
    if !disagreeing.is_empty() {
        violations.push(format!(
            "members whose balance is not their lots' remaining points or their history's last balance: {disagreeing:?}"
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
