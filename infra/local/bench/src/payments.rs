//! `make bench-payments`: confirm throughput and latency against the Toss sandbox with
//! no added latency, next to the sandbox alone in the same run, and one recovery run
//! over 1,000 payments whose confirm died after Toss approved.

use crate::env;
use adapters::{TossGateway, TossTimeouts};
use api::Services;
use api::services::Settings;
use app::ports::NewPayment;
use app::ports::{Claim, GatewayError, PaymentGateway, PaymentStore, TossPayment};
use app::usecases::payments::{ConfirmForm, PaymentDeps, confirm, recover_payments};
use async_trait::async_trait;
use chrono::{Duration, Utc};
use domain::payment::{Amount, OrderId, PaymentStatus};
use sqlx::Connection;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

const SECRET: &str = "test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R";
const CONFIRMS: usize = 2_000;
const CONCURRENCY: usize = 16;
const STALE: usize = 1_000;
const AMOUNT: u64 = 5_000;

/// Counts the calls recovery makes to Toss.
struct CountingGateway {
    inner: TossGateway,
    calls: AtomicU64,
}

#[async_trait]
impl PaymentGateway for CountingGateway {
    async fn confirm(
        &self,
        key: &str,
        order: &OrderId,
        amount: Amount,
        idem: &str,
    ) -> Result<TossPayment, GatewayError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.confirm(key, order, amount, idem).await
    }
    async fn lookup(&self, order: &OrderId) -> Result<Option<TossPayment>, GatewayError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner.lookup(order).await
    }
    async fn cancel(
        &self,
        key: &str,
        reason: &str,
        amount: Option<u64>,
        refundable: Option<u64>,
        refund_account: Option<&domain::refund_account::RefundAccount>,
        idem: &str,
    ) -> Result<TossPayment, GatewayError> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.inner
            .cancel(key, reason, amount, refundable, refund_account, idem)
            .await
    }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Runs `call` for each item from CONCURRENCY tasks; returns (calls/s, sorted latencies ms).
async fn timed<T, F, Fut>(items: Vec<T>, call: F) -> (f64, Vec<f64>)
where
    T: Send + 'static,
    F: Fn(T) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let queue = Arc::new(std::sync::Mutex::new(items));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (queue, latencies, call) = (queue.clone(), latencies.clone(), call.clone());
            tokio::spawn(async move {
                loop {
                    let Some(item) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let t = Instant::now();
                    call(item).await;
                    latencies
                        .lock()
                        .unwrap()
                        .push(t.elapsed().as_secs_f64() * 1000.0);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let mut latencies = Arc::try_unwrap(latencies).unwrap().into_inner().unwrap();
    let rate = latencies.len() as f64 / started.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    (rate, latencies)
}

/// An authenticated payment: (order id, payment key).
type Authenticated = (String, String);

/// A timed run: (calls/s, sorted latencies ms).
type Timing = (f64, Vec<f64>);

/// One recovery run over the STALE payments.
struct Recovery {
    seconds: f64,
    toss_calls_per_payment: f64,
}

pub async fn run() {
    let admin = env("MYSQL_ADMIN_URL");
    let database = create_database(&admin).await;
    let toss_base = start_sandbox().await;
    let settings = bench_settings(&admin, &database, &toss_base);
    let services = start_services(&settings).await;

    let mut prepared = prepare_payments(&services, &toss_base).await;
    let stale = prepared.split_off(2 * CONFIRMS);
    let ours_items = prepared.split_off(CONFIRMS);
    let alone_items = prepared;

    let gateway = Arc::new(TossGateway::new(&toss_base, SECRET, TossTimeouts::default()).unwrap());
    let alone = time_sandbox_alone(&gateway, alone_items).await;
    let ours = time_our_confirm(&services, &gateway, ours_items).await;
    let bus = time_event_bus_alone(&services).await;
    let recovery = time_recovery(&services, &gateway, &stale).await;
    print_table(&alone, &ours, &bus, &recovery);
}

/// Creates a database of this run's own and returns its name.
async fn create_database(admin: &str) -> String {
    let database = format!("bench_pay_{}", Utc::now().timestamp());
    let mut conn = sqlx::MySqlConnection::connect(admin).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.ok();
    database
}

/// A Toss sandbox with no added latency, in process; returns its base URL.
async fn start_sandbox() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let toss_base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(toss_sandbox::serve(
        listener,
        toss_sandbox::Sandbox::new(vec![SECRET.into()]),
    ));
    toss_base
}

fn bench_settings(admin: &str, database: &str, toss_base: &str) -> Settings {
    Settings {
        database_url: format!("{admin}/{database}").into(),
        database_max_connections: 32,
        redis_url: env("REDIS_URL").into(),
        redis_cluster: false,
        redis_ca_file: None,
        redis_key_prefix: "benchpay:".into(),
        table_name: env("TABLE_NAME"),
        event_bus_name: "bench-payments".into(),
        toss_api_base: toss_base.to_owned(),
        toss_secret_key: Some(SECRET.into()),
        toss_timeout: std::time::Duration::from_secs(30),
        checkout: app::usecases::payments::CheckoutSettings {
            client_key: String::new(),
            success_url: "http://127.0.0.1/success".into(),
            fail_url: "http://127.0.0.1/fail".into(),
        },
        token_signing_key: None,
        refund_policy: Default::default(),
    }
}

/// The services on the emulated AWS, with the event bus, the schema and member 1 in place.
async fn start_services(settings: &Settings) -> Arc<Services> {
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    adapters::EventBridgePublisher::create_bus(
        &aws_sdk_eventbridge::Client::new(&aws),
        &settings.event_bus_name,
    )
    .await
    .unwrap();
    let services = Arc::new(Services::new(settings, &aws, api::services::CallBudget::JOB).unwrap());
    services.store.migrate().await.unwrap();
    sqlx::raw_sql("INSERT INTO members (id, name, email, created_at) VALUES (1, '벤치', 'bench@example.com', NOW(6))")
        .execute(services.store.pool())
        .await
        .unwrap();
    services
}

/// Every payment the run confirms or recovers, created and authenticated at the sandbox.
async fn prepare_payments(services: &Services, toss_base: &str) -> Vec<Authenticated> {
    let http = reqwest::Client::new();
    println!(
        "preparing {} authenticated payments …",
        2 * CONFIRMS + STALE
    );
    let mut prepared = Vec::new();
    for _ in 0..(2 * CONFIRMS + STALE) {
        let seed = uuid::Uuid::new_v4().simple().to_string();
        let order = NewPayment {
            order_id: OrderId::new_random(&seed),
            member_id: domain::MemberId(1),
            order_name: "포인트 충전".into(),
            amount: Amount::parse(AMOUNT as i64).unwrap(),
        };
        services.store.create(&order, Utc::now()).await.unwrap();
        prepared.push(authenticate(&http, toss_base, order.order_id.to_string()).await);
    }
    prepared
}

/// What the buyer's browser does at Toss's payment window: returns the payment key.
async fn authenticate(http: &reqwest::Client, toss_base: &str, order_id: String) -> Authenticated {
    let url = format!(
        "{toss_base}/sandbox/authenticate?orderId={order_id}&amount={AMOUNT}&orderName=bench&successUrl=http://127.0.0.1/s&failUrl=http://127.0.0.1/f"
    );
    let body: serde_json::Value = http
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (order_id, body["paymentKey"].as_str().unwrap().to_owned())
}

/// The baseline: Toss's confirm call and nothing else.
async fn time_sandbox_alone(gateway: &Arc<TossGateway>, items: Vec<Authenticated>) -> Timing {
    let gateway = gateway.clone();
    timed(items, move |(order_id, key): Authenticated| {
        let gateway = gateway.clone();
        async move {
            let order = OrderId::parse(&order_id).unwrap();
            let idem = format!("confirm-{order_id}-1");
            let paid = gateway
                .confirm(&key, &order, Amount::parse(AMOUNT as i64).unwrap(), &idem)
                .await
                .unwrap();
            assert_eq!(paid.status, "DONE");
        }
    })
    .await
}

/// The confirm use case: claim, Toss, settle, outbox, publish.
async fn time_our_confirm(
    services: &Arc<Services>,
    gateway: &Arc<TossGateway>,
    items: Vec<Authenticated>,
) -> Timing {
    let (services, gateway) = (services.clone(), gateway.clone());
    timed(items, move |(order_id, key): Authenticated| {
        let (services, gateway) = (services.clone(), gateway.clone());
        async move {
            let deps = PaymentDeps {
                store: &*services.store,
                gateway: &*gateway,
                publisher: &*services.publisher,
                timings: services.payment_timings,
            };
            let form = ConfirmForm {
                member_id: Some(1),
                payment_key: Some(key),
                order_id: Some(order_id),
                amount: Some(AMOUNT as i64),
            };
            let done = confirm(&deps, domain::MemberId(1), form, Utc::now())
                .await
                .unwrap();
            assert_eq!(done.status, PaymentStatus::Done);
        }
    })
    .await
}

/// The emulated EventBridge alone (each confirm publishes one event), to tell our cost
/// from the emulator's.
async fn time_event_bus_alone(services: &Arc<Services>) -> Timing {
    let services = services.clone();
    timed((0..CONFIRMS as u64).collect(), move |i: u64| {
        let services = services.clone();
        async move {
            let event = app::ports::OutboxEvent {
                id: i,
                event_id: format!("Bench:{i}"),
                detail_type: "Bench".into(),
                detail: "{}".into(),
            };
            use app::ports::EventPublisher;
            services.publisher.publish(&[event]).await.unwrap();
        }
    })
    .await
}

/// One recovery run over `stale`, after making each a confirm that died after Toss
/// approved: claimed, approved at Toss, never settled.
async fn time_recovery(
    services: &Services,
    gateway: &TossGateway,
    stale: &[Authenticated],
) -> Recovery {
    let now = Utc::now();
    for (order_id, key) in stale {
        let order = OrderId::parse(order_id).unwrap();
        let idem = format!("confirm-{order_id}-1");
        let claim = Claim::Confirm {
            payment_key: key.clone(),
            confirm_key: idem.clone(),
            lease_until: now + Duration::seconds(90),
        };
        assert!(services.store.claim(&order, claim, now).await.unwrap());
        gateway
            .confirm(key, &order, Amount::parse(AMOUNT as i64).unwrap(), &idem)
            .await
            .unwrap();
    }
    let counting = CountingGateway {
        inner: gateway.clone(),
        calls: AtomicU64::new(0),
    };
    let deps = PaymentDeps {
        store: &*services.store,
        gateway: &counting,
        publisher: &*services.publisher,
        timings: services.payment_timings,
    };
    let started = Instant::now();
    let summary = recover_payments(&deps, now + Duration::minutes(5), 1_000, None)
        .await
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(summary.done, STALE as u64, "{summary:?}");
    Recovery {
        seconds,
        toss_calls_per_payment: counting.calls.load(Ordering::Relaxed) as f64 / STALE as f64,
    }
}

fn p50_p99(sorted_ms: &[f64]) -> String {
    format!(
        "{:.1} / {:.1} ms",
        percentile(sorted_ms, 0.5),
        percentile(sorted_ms, 0.99)
    )
}

fn print_table(alone: &Timing, ours: &Timing, bus: &Timing, recovery: &Recovery) {
    let ((alone_rate, alone_ms), (ours_rate, ours_ms), (bus_rate, bus_ms)) = (alone, ours, bus);
    let rows = [
        (
            "sandbox alone: confirm calls/s",
            format!("{alone_rate:.0}/s"),
        ),
        ("sandbox alone: p50 / p99", p50_p99(alone_ms)),
        (
            "our confirm (claim, Toss, settle, outbox, publish): /s",
            format!("{ours_rate:.0}/s"),
        ),
        ("our confirm: p50 / p99", p50_p99(ours_ms)),
        (
            "our confirm throughput / sandbox alone",
            format!("{:.2}x", ours_rate / alone_rate),
        ),
        (
            "EventBridge emulator (moto) PutEvents alone: /s",
            format!("{bus_rate:.0}/s"),
        ),
        ("EventBridge emulator: p50 / p99", p50_p99(bus_ms)),
        (
            "recovery of 1,000 approved-but-unsettled payments, one run",
            format!("{:.1} s", recovery.seconds),
        ),
        (
            "recovery: Toss calls per payment",
            format!("{:.2}", recovery.toss_calls_per_payment),
        ),
    ];
    println!(
        "\n{CONFIRMS} confirms each, {CONCURRENCY} concurrent, sandbox with no added latency\n"
    );
    println!("| measurement | figure |\n|---|---|");
    for (name, value) in rows {
        println!("| {name} | {value} |");
    }
}
