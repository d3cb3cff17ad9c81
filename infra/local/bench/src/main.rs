//! `make bench-views`: view counting measured against its baselines in one run, on the
//! servers the make target starts. Prints each figure and the ratio to its baseline.

use adapters::{RedisConfig, RedisTimeouts, RedisViewCounter};
use api::Services;
use api::services::Settings;
use app::ports::{CachedCount, DetailView, ProfileReader, ViewCounter};
use app::usecases::flush_views::{DayFlush, FlushRun, FlushSummary, FlushViewsDeps, flush_views};
use app::usecases::view_profile::{ViewProfileDeps, ViewStamp, view_profile};
use chrono::{DateTime, TimeZone, Utc};
use domain::views::{LandingRules, ViewId};
use domain::{KstDay, ProfileId};
use secrecy::{ExposeSecret, SecretString};
use sqlx::{Connection, MySqlPool};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

const PROFILES: u64 = 1_000_000;
/// Profiles the per-profile UPDATE baseline of the flush is timed on (a full million
/// takes tens of minutes one statement at a time); its time is scaled to the million.
const FLUSH_BASELINE_SAMPLE: usize = 20_000;
const MEMORY_PROFILES: u64 = 100_000;

pub(crate) fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} not set: run `make bench-views`"))
}

/// Runs `ops` calls of `call` from `concurrency` tasks; returns calls per second.
pub(crate) async fn throughput<F, Fut>(ops: usize, concurrency: usize, call: F) -> f64
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let next = next.clone();
            let call = call.clone();
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= ops {
                        break;
                    }
                    call(i).await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("benchmark task");
    }
    ops as f64 / started.elapsed().as_secs_f64()
}

/// Median of alternating runs of `a` and `b`, so drift on a noisy machine hits both.
async fn compare<A, FA, B, FB>(rounds: usize, a: A, b: B) -> (f64, f64)
where
    A: Fn() -> FA,
    FA: Future<Output = f64>,
    B: Fn() -> FB,
    FB: Future<Output = f64>,
{
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        xs.push(a().await);
        ys.push(b().await);
    }
    xs.sort_by(f64::total_cmp);
    ys.sort_by(f64::total_cmp);
    (xs[rounds / 2], ys[rounds / 2])
}

fn spread_id(i: usize, modulo: u64) -> ProfileId {
    // A multiplicative hash spreads consecutive calls over the table.
    ProfileId((i as u64).wrapping_mul(2_654_435_761) % modulo + 1)
}

#[derive(Default)]
struct Figures {
    rows: Vec<(String, String)>,
    /// Put before every name (the section re-run with added round trips).
    prefix: String,
}

impl Figures {
    fn add(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let (name, value) = (format!("{}{}", self.prefix, name.into()), value.into());
        println!("  {name:<62} {value}");
        self.rows.push((name, value));
    }
}

mod delay;
mod listing;
mod payments;

/// What every section measures on: the seeded database and the services built on it.
struct Bench {
    services: Arc<Services>,
    pool: MySqlPool,
    /// The memory section opens a Redis database of its own on the same server.
    redis_url: SecretString,
    /// When the steady-state flush ran; the sections count views on its KST day.
    now: DateTime<Utc>,
    /// This run's database (section 5 reaches it through a delay line).
    database: String,
}

#[tokio::main]
async fn main() {
    if std::env::args().nth(1).as_deref() == Some("payments") {
        payments::run().await;
        return;
    }
    // `bench views [breakdown] [detail] [hot] [flush] [memory] [round-trip] [list]`: all
    // sections unless some are named.
    let args: Vec<String> = std::env::args().skip(2).collect();
    let run = |section: &str| args.is_empty() || args.iter().any(|a| a == section);
    let bench = set_up().await;
    let mut figures = Figures::default();
    if run("breakdown") {
        breakdown(&bench, &mut figures).await;
    }
    if run("detail") {
        detail(&bench, &mut figures).await;
    }
    if run("hot") {
        hot_profile(&bench, &mut figures).await;
    }
    if run("flush") {
        flush(&bench, &mut figures).await;
    }
    if run("memory") {
        memory(&bench, &mut figures).await;
    }
    if run("round-trip") {
        with_round_trip(&bench, &mut figures).await;
    }
    if run("list") {
        listing::run(&bench, &mut figures).await;
    }
    // Named only (it grows the table to ten million rows): `bench.sh views flush-10m`.
    if args.iter().any(|a| a == "flush-10m") {
        flush_ten_million(&bench, &mut figures).await;
    }
    restore_stack_durability(&bench.pool).await;
    print_summary(&figures);
}

/// A fresh database with a million members and profiles, flushed once.
async fn set_up() -> Bench {
    let admin = env("MYSQL_ADMIN_URL");
    let database = create_database(&admin).await;
    let settings = bench_settings(&admin, &database);
    let services = start_services(&settings).await;
    let pool = services.store.pool().clone();
    // Production durability (RDS commits flush the redo log); the test stack relaxes it.
    sqlx::query("SET GLOBAL innodb_flush_log_at_trx_commit = 1")
        .execute(&pool)
        .await
        .unwrap();
    seed_profiles(&pool).await;
    let now = Utc::now();
    // Steady state: last night's flush has run, so a view reads no day beyond the
    // read-ahead (before the very first flush every view also reads older days).
    run_nightly_flush(&services, now).await;
    wait_for_purge(&pool).await;
    Bench {
        services,
        pool,
        redis_url: settings.redis_url,
        now,
        database,
    }
}

/// Waits until InnoDB has purged the undo history of the seeding (millions of rows): the
/// purge threads would otherwise take a core from under the first sections and make the
/// MySQL baselines look slower than a settled database answers.
async fn wait_for_purge(pool: &MySqlPool) {
    let started = Instant::now();
    let history = || async {
        sqlx::query_scalar::<_, i64>(
            "SELECT `count` FROM information_schema.INNODB_METRICS WHERE name = 'trx_rseg_history_len'",
        )
        .fetch_one(pool)
        .await
        .expect("InnoDB history length")
    };
    while history().await > 1_000 && started.elapsed() < std::time::Duration::from_secs(600) {
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    println!(
        "  InnoDB purge settled in {:.0} s (undo history {})\n",
        started.elapsed().as_secs_f64(),
        history().await
    );
}

/// Section 5: sections 1 and 2 again with a round trip like one inside a VPC added to
/// every MariaDB and Redis call, so the ratios do not rest on loopback's near-free trips.
async fn with_round_trip(bench: &Bench, figures: &mut Figures) {
    // Sleeping threads overshoot by tens of microseconds per hop: the round trip actually
    // added is measured and printed (aim: ~0.3 ms, as between Lambda and ElastiCache/RDS
    // in one availability zone).
    let one_way = std::time::Duration::from_micros(40);
    let admin = env("MYSQL_ADMIN_URL");
    let redis_url = env("REDIS_URL");
    let mysql_proxy = delay::start(&delay::authority(&admin), one_way);
    let redis_proxy = delay::start(&delay::authority(&redis_url), one_way);
    let mut settings = bench_settings(&delay::via(&admin, mysql_proxy), &bench.database);
    settings.redis_url = delay::via(&redis_url, redis_proxy).into();
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let services = Services::new(&settings, &aws, api::services::CallBudget::JOB).unwrap();
    let rtt = redis_ping_micros(&redis_url).await;
    let delayed_rtt = redis_ping_micros(&delay::via(&redis_url, redis_proxy)).await;
    println!(
        "\n5. sections 1 and 2 with {} us added each way (Redis PING: {rtt:.0} us direct, {delayed_rtt:.0} us through the delay line)",
        one_way.as_micros()
    );
    let delayed = Bench {
        services: Arc::new(services),
        pool: bench.pool.clone(),
        redis_url: settings.redis_url.clone(),
        now: bench.now,
        database: bench.database.clone(),
    };
    figures.prefix = format!("+{delayed_rtt:.0} us RTT: ");
    for concurrency in [1usize, 16] {
        detail_at(&delayed, figures, concurrency).await;
    }
    hot_whole_request(&delayed, figures, ProfileId(434_343)).await;
    figures.prefix.clear();
}

/// Median round trip of a Redis PING over `url`, in microseconds.
async fn redis_ping_micros(url: &str) -> f64 {
    let mut conn = redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut samples = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        let _: String = redis::cmd("PING").query_async(&mut conn).await.unwrap();
        samples.push(started.elapsed().as_secs_f64() * 1e6);
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Creates a database of this run's own and returns its name.
async fn create_database(admin: &str) -> String {
    let database = format!("bench_{}", Utc::now().timestamp());
    let mut conn = sqlx::MySqlConnection::connect(admin)
        .await
        .expect("MariaDB reachable");
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.ok();
    database
}

fn bench_settings(admin: &str, database: &str) -> Settings {
    Settings {
        database_url: format!("{admin}/{database}").into(),
        database_max_connections: 32,
        redis_url: env("REDIS_URL").into(),
        // The benchmarks run on the plain single-node stack.
        redis_cluster: false,
        redis_ca_file: None,
        redis_key_prefix: "bench:".into(),
        table_name: env("TABLE_NAME"),
        event_bus_name: "default".into(),
        toss_api_base: String::new(),
        toss_secret_key: None,
        toss_timeout: std::time::Duration::from_secs(30),
        checkout: app::usecases::payments::CheckoutSettings {
            client_key: String::new(),
            success_url: String::new(),
            fail_url: String::new(),
        },
        token_signing_key: None,
        refund_policy: Default::default(),
    }
}

/// The services on the emulated AWS, with the view-loss table and the schema in place.
async fn start_services(settings: &Settings) -> Arc<Services> {
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    adapters::DynamoViewLossLedger::create_table(
        &aws_sdk_dynamodb::Client::new(&aws),
        &settings.table_name,
    )
    .await
    .unwrap();
    let services = Arc::new(Services::new(settings, &aws, api::services::CallBudget::JOB).unwrap());
    services.store.migrate().await.unwrap();
    services
}

async fn seed_profiles(pool: &MySqlPool) {
    println!("seeding {PROFILES} members and profiles …");
    let seeded = Instant::now();
    for sql in [
        // Korean names: one of 10 surnames, two of 40 syllables (16,000 names, each ~62
        // times), drawn by MD5 so they are independent of each other and of the filters
        // below (CRC32 is linear: two CRCs of one id are correlated); one profile has a
        // name of its own (see listing::CASES).
        "INSERT INTO members (id, name, email, created_at) \
         SELECT seq, IF(seq = 777777, '남궁하늘별', CONCAT( \
           ELT(1 + CONV(LEFT(MD5(CONCAT('s', seq)), 8), 16, 10) % 10, '김','이','박','최','정','강','조','윤','장','임'), \
           ELT(1 + CONV(LEFT(MD5(CONCAT('g', seq)), 8), 16, 10) % 40, '가','민','서','지','현','우','준','도','하','예','수','연','윤','은','유','진','시','재','성','영','주','원','승','호','태','동','혜','경','소','아','나','다','채','리','인','한','선','정','희','빈'), \
           ELT(1 + CONV(LEFT(MD5(CONCAT('n', seq)), 8), 16, 10) % 40, '가','민','서','지','현','우','준','도','하','예','수','연','윤','은','유','진','시','재','성','영','주','원','승','호','태','동','혜','경','소','아','나','다','채','리','인','한','선','정','희','빈'))), \
           CONCAT('m', seq, '@bench.example'), NOW(6) FROM seq_1_to_1000000",
        // Category, region and career independent of each other (see listing::CASES):
        // category = id mod 10, region = (id / 10) mod 18, career = (id / 180) mod 41.
        "INSERT INTO profiles (id, member_id, headline, category, career_years, region, introduction, created_at) \
         SELECT seq, seq, '벤치마크 전문가', \
           ELT(1 + seq % 10, 'DEVELOPMENT','DESIGN','MARKETING','BUSINESS','LEGAL','FINANCE','EDUCATION','HEALTH','CAREER','OTHER'), \
           FLOOR(seq / 180) % 41, \
           ELT(1 + FLOOR(seq / 10) % 18, 'SEOUL','BUSAN','DAEGU','INCHEON','GWANGJU','DAEJEON','ULSAN','SEJONG','GYEONGGI','GANGWON','CHUNGBUK','CHUNGNAM','JEONBUK','JEONNAM','GYEONGBUK','GYEONGNAM','JEJU','ONLINE'), \
           '', NOW(6) FROM seq_1_to_1000000",
    ] {
        sqlx::raw_sql(sql).execute(pool).await.expect("seed");
    }
    index_names_as_the_migration_does(pool).await;
    let grams: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM member_name_grams")
        .fetch_one(pool)
        .await
        .expect("count the name fragments");
    println!(
        "  seeded in {:.1} s ({grams} name fragments)\n",
        seeded.elapsed().as_secs_f64()
    );
}

/// The names' fragments (what signup writes), by the migration that creates the index,
/// run again as shipped: also the figure for deploying it on a million members.
async fn index_names_as_the_migration_does(pool: &MySqlPool) {
    let migration = adapters::mysql::MIGRATOR
        .iter()
        .find(|m| m.description.contains("member name grams"))
        .expect("the name fragment migration");
    let started = Instant::now();
    sqlx::raw_sql("DROP TABLE member_name_grams")
        .execute(pool)
        .await
        .expect("drop the empty index");
    sqlx::raw_sql(sqlx::AssertSqlSafe(migration.sql.as_str().to_owned()))
        .execute(pool)
        .await
        .expect("the name fragment migration");
    println!(
        "  name fragment migration on {PROFILES} members: {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

/// The flush as the 01:00 job runs it, on the benchmark's simulated clock (`at` is also
/// the wall clock: the benchmark flushes "tomorrow night" right away).
async fn run_nightly_flush(services: &Services, at: DateTime<Utc>) -> FlushSummary {
    flush_views(
        &FlushViewsDeps {
            counter: &*services.counter,
            history: &*services.store,
        },
        FlushRun {
            at,
            wall_now: at,
            deadline: None,
        },
    )
    .await
    .unwrap()
}

/// Section 0: the two steps of one view timed apart, then together.
async fn breakdown(bench: &Bench, figures: &mut Figures) {
    println!("0. one view, alone: where the time goes (mean of 5,000 sequential calls)");
    let services = &bench.services;
    let today = KstDay::of(bench.now);
    let mean = mean_of_5000;
    let t = Instant::now();
    for i in 0..5_000 {
        services.store.find(spread_id(i, PROFILES)).await.unwrap();
    }
    figures.add(
        "breakdown: MySQL profile read (pool test + query)",
        format!("{:.0} us", mean(t)),
    );
    round_trips(bench, figures).await;
    for i in 0..5_000 {
        // The first pass caches the documents, so the timed one is the warm path.
        warm_count(services, spread_id(i + 7, PROFILES), today).await;
    }
    let t = Instant::now();
    for i in 0..5_000 {
        warm_count(services, spread_id(i + 7, PROFILES), today).await;
    }
    figures.add(
        "breakdown: Redis count (warm: one script, document included)",
        format!("{:.0} us", mean(t)),
    );
    let t = Instant::now();
    for i in 0..5_000 {
        let (row, ()) = futures::join!(
            services.store.find(spread_id(i, PROFILES)),
            warm_count(services, spread_id(i + 7, PROFILES), today)
        );
        row.unwrap();
    }
    figures.add(
        "breakdown: both, concurrently",
        format!("{:.0} us", mean(t)),
    );
}

/// Mean microseconds per call of 5,000 sequential calls started at `started`.
fn mean_of_5000(started: Instant) -> f64 {
    started.elapsed().as_micros() as f64 / 5_000.0
}

/// The two servers' bare round trips beside section 0's figures: the profile read is the
/// pool's connection test (a ping, kept because a thawed Lambda environment holds dead
/// sockets) plus the query; the warm script is one Redis round trip plus the script.
async fn round_trips(bench: &Bench, figures: &mut Figures) {
    let mean = mean_of_5000;
    let mut mysql = bench.pool.acquire().await.unwrap();
    let t = Instant::now();
    for _ in 0..5_000 {
        mysql.ping().await.unwrap();
    }
    figures.add(
        "breakdown: MySQL ping (one round trip)",
        format!("{:.0} us", mean(t)),
    );
    drop(mysql);
    let redis = adapters::RedisConnection::new(&RedisConfig::new(
        bench.redis_url.expose_secret(),
        RedisTimeouts::REQUEST,
    ))
    .unwrap();
    let t = Instant::now();
    for _ in 0..5_000 {
        let _: String = redis
            .run("ping", |mut c| async move {
                redis::cmd("PING").query_async(&mut c).await
            })
            .await
            .unwrap();
    }
    figures.add(
        "breakdown: Redis PING (one round trip)",
        format!("{:.0} us", mean(t)),
    );
}

/// Section 1: the detail use case against the bare read it adds counting to: warm (the
/// document cached: one Redis call, no MySQL) and cold (a miss: the read, then one call
/// that caches and counts).
async fn detail(bench: &Bench, figures: &mut Figures) {
    println!("1. detail use case with counting vs the bare MySQL primary-key read");
    for concurrency in [1usize, 16] {
        detail_at(bench, figures, concurrency).await;
    }
}

/// Profile ids the cold path has not viewed yet (above the warm paths' range).
static NEXT_COLD: AtomicUsize = AtomicUsize::new(0);
const COLD_FROM: u64 = PROFILES / 2;

async fn detail_at(bench: &Bench, figures: &mut Figures, concurrency: usize) {
    let ops = if concurrency == 1 { 4_000 } else { 30_000 };
    let now = bench.now;
    let bare = {
        let services = bench.services.clone();
        move |i: usize| {
            let services = services.clone();
            async move {
                services
                    .store
                    .find(spread_id(i, COLD_FROM))
                    .await
                    .unwrap()
                    .expect("seeded");
            }
        }
    };
    let warm = {
        let services = bench.services.clone();
        move |i: usize| {
            let services = services.clone();
            async move { view(&services, spread_id(i, COLD_FROM), now).await }
        }
    };
    let cold = {
        let services = bench.services.clone();
        move |_| {
            let services = services.clone();
            let fresh = COLD_FROM + 1 + NEXT_COLD.fetch_add(1, Ordering::Relaxed) as u64;
            async move { view(&services, ProfileId(fresh), now).await }
        }
    };
    // Warm-up over the very ids measured: rows in the buffer pool, documents cached.
    throughput(ops, concurrency, bare.clone()).await;
    throughput(ops, concurrency, warm.clone()).await;
    let (bare_rate, warm_rate) = compare(
        5,
        || throughput(ops, concurrency, bare.clone()),
        || throughput(ops, concurrency, warm.clone()),
    )
    .await;
    let (_, cold_rate) = compare(
        3,
        || throughput(ops / 4, concurrency, bare.clone()),
        || throughput(ops / 4, concurrency, cold.clone()),
    )
    .await;
    let label = |what: &str| format!("detail, {concurrency} concurrent: {what}");
    figures.add(label("bare read"), format!("{bare_rate:.0}/s"));
    figures.add(
        label("warm detail (cached document)"),
        format!("{warm_rate:.0}/s"),
    );
    figures.add(
        label("warm / bare (goal >= 2x)"),
        format!("{:.2}x", warm_rate / bare_rate),
    );
    figures.add(
        label("cold detail (cache miss)"),
        format!("{cold_rate:.0}/s"),
    );
    figures.add(
        label("cold / bare"),
        format!("{:.2}x", cold_rate / bare_rate),
    );
}

/// One call of the detail use case, counting the view.
async fn view(services: &Services, profile: ProfileId, now: DateTime<Utc>) {
    let deps = ViewProfileDeps {
        profiles: &*services.store,
        counter: &*services.counter,
        ledger: &*services.ledger,
        landing: services.view_landing,
    };
    view_profile(&deps, profile, now, stamp()).await.unwrap();
}

/// A fresh view stamped with the real clock.
fn stamp() -> ViewStamp {
    ViewStamp {
        id: ViewId(uuid::Uuid::new_v4().as_u64_pair().0 >> 2),
        sent_at_ms: api::jobs::wall_clock_ms(),
    }
}

/// A fresh view of `profile` as the detail use case sends it to the counter.
fn detail_view(landing: LandingRules, profile: ProfileId, today: KstDay) -> DetailView {
    let stamp = stamp();
    DetailView {
        profile,
        today,
        closed_days: domain::views::unflushed_closed_days(None, today),
        id: stamp.id,
        sent_at_ms: stamp.sent_at_ms,
        late_after_ms: landing.late_after_ms,
    }
}

/// The warm path's one counter call, caching the document first when it is missing.
async fn warm_count(services: &Services, profile: ProfileId, today: KstDay) {
    let view = detail_view(services.view_landing, profile, today);
    if services.counter.count_cached(&view).await.unwrap() == CachedCount::Miss {
        let row = services.store.find(profile).await.unwrap().expect("seeded");
        services.counter.fill_and_count(&view, &row).await.unwrap();
    }
}

/// The naive design's counting step: one row update per view.
async fn increment_view_count(services: &Services, profile: ProfileId) {
    sqlx::query("UPDATE profiles SET view_count = view_count + 1 WHERE id = ?")
        .bind(profile.0)
        .execute(services.store.pool())
        .await
        .unwrap();
}

/// Section 2: one profile everyone views, whole request and counting step alone.
async fn hot_profile(bench: &Bench, figures: &mut Figures) {
    println!(
        "\n2. one hot profile, 32 concurrent viewers: this design vs UPDATE view_count + 1 per view"
    );
    let hot = ProfileId(424_242);
    hot_whole_request(bench, figures, hot).await;
    hot_counting_step(bench, figures, hot).await;
}

async fn hot_whole_request(bench: &Bench, figures: &mut Figures, hot: ProfileId) {
    let now = bench.now;
    let ours = {
        let services = bench.services.clone();
        move |_| {
            let services = services.clone();
            async move { view(&services, hot, now).await }
        }
    };
    let naive = {
        let services = bench.services.clone();
        move |_| {
            let services = services.clone();
            async move {
                increment_view_count(&services, hot).await;
                services.store.find(hot).await.unwrap().expect("seeded");
            }
        }
    };
    let (ours_rate, naive_rate) = compare(
        3,
        || throughput(20_000, 32, ours.clone()),
        || throughput(3_000, 32, naive.clone()),
    )
    .await;
    figures.add(
        "hot profile: per-day deltas in Redis",
        format!("{ours_rate:.0}/s"),
    );
    figures.add(
        "hot profile: UPDATE view_count = view_count + 1",
        format!("{naive_rate:.0}/s"),
    );
    figures.add(
        "hot profile: ratio, whole request (goal >= 10x)",
        format!("{:.1}x", ours_rate / naive_rate),
    );
}

async fn hot_counting_step(bench: &Bench, figures: &mut Figures, hot: ProfileId) {
    let now = bench.now;
    let count_only = {
        let services = bench.services.clone();
        move |_| {
            let services = services.clone();
            async move {
                warm_count(&services, hot, KstDay::of(now)).await;
            }
        }
    };
    let update_only = {
        let services = bench.services.clone();
        move |_| {
            let services = services.clone();
            async move { increment_view_count(&services, hot).await }
        }
    };
    let (count_rate, update_rate) = compare(
        3,
        || throughput(40_000, 32, count_only.clone()),
        || throughput(4_000, 32, update_only.clone()),
    )
    .await;
    figures.add(
        "hot profile, counting step only: Redis increment",
        format!("{count_rate:.0}/s"),
    );
    figures.add(
        "hot profile, counting step only: UPDATE + 1",
        format!("{update_rate:.0}/s"),
    );
    figures.add(
        "hot profile, counting step only: ratio (goal >= 10x)",
        format!("{:.1}x", count_rate / update_rate),
    );
}

/// Section 3: the nightly flush of a day on which every profile was viewed.
async fn flush(bench: &Bench, figures: &mut Figures) {
    println!("\n3. flush of {PROFILES} viewed profiles: batched vs one UPDATE per profile");
    let day = KstDay::of(bench.now);
    count_every_profile(bench, day).await;
    let baseline_total = per_profile_flush_seconds(bench, day).await;

    let (flushed, batched) = flush_night_after(bench, day).await;
    assert_eq!(flushed.viewed_profiles, PROFILES);
    assert_eq!(flushed.applied_profiles, PROFILES);
    figures.add(
        format!("flush {PROFILES}: one UPDATE per profile ({FLUSH_BASELINE_SAMPLE} timed, scaled)"),
        format!("{baseline_total:.1} s"),
    );
    figures.add(
        format!(
            "flush {PROFILES}: batched ({} rows/transaction)",
            app::usecases::flush_views::FLUSH_BATCH_ROWS
        ),
        format!("{batched:.1} s"),
    );
    figures.add(
        "flush: ratio (goal >= 20x, batched < 60 s)",
        format!("{:.1}x", baseline_total / batched),
    );
    let rerun = Instant::now();
    let again = run_nightly_flush(&bench.services, night_after(day)).await;
    assert!(
        again.days.is_empty(),
        "a completed day is not flushed again"
    );
    figures.add(
        "flush: second run of the same night",
        format!("{:.2} s, 0 days", rerun.elapsed().as_secs_f64()),
    );
}

/// Sets `day`'s counters to a count for every profile.
async fn count_every_profile(bench: &Bench, day: KstDay) {
    // Today's counters: the views above are overwritten, so exactly the million remain.
    let counts: Vec<(ProfileId, u64)> = (1..=PROFILES)
        .map(|id| (ProfileId(id), id % 7 + 1))
        .collect();
    load_day(&bench.redis_url, &bench.services.counter, day, &counts).await;
}

/// 01:00 KST of the night after `day`, when the nightly flush takes it.
fn night_after(day: KstDay) -> DateTime<Utc> {
    Utc.from_utc_datetime(&day.next().date().and_hms_opt(1, 0, 0).unwrap())
        - chrono::Duration::hours(9)
}

/// The flush of the night after `day`: that day's result and the whole run's seconds.
async fn flush_night_after(bench: &Bench, day: KstDay) -> (DayFlush, f64) {
    let started = Instant::now();
    let summary = run_nightly_flush(&bench.services, night_after(day)).await;
    let seconds = started.elapsed().as_secs_f64();
    let flushed = summary
        .days
        .into_iter()
        .find(|d| d.day == day.to_string())
        .expect("the day flushed");
    (flushed, seconds)
}

/// Section 7: the table grown to 10,000,000 profiles, a day on which 1 in 10 of them was
/// viewed, flushed end to end by the nightly job's use case.
async fn flush_ten_million(bench: &Bench, figures: &mut Figures) {
    const TOTAL: u64 = 10_000_000;
    println!("\n7. flush of a day at {TOTAL} profiles, 1 in 10 viewed");
    let seeded = Instant::now();
    for sql in [
        "INSERT INTO members (id, name, email, created_at) \
         SELECT seq, CONCAT('전문가', seq), CONCAT('m', seq, '@bench.example'), NOW(6) FROM seq_1000001_to_10000000",
        "INSERT INTO profiles (id, member_id, headline, category, career_years, region, introduction, created_at) \
         SELECT seq, seq, '벤치마크 전문가', 'DEVELOPMENT', 0, 'SEOUL', '', NOW(6) FROM seq_1000001_to_10000000",
    ] {
        sqlx::raw_sql(sql).execute(&bench.pool).await.expect("seed");
    }
    println!(
        "  grown to {TOTAL} in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );
    // Tomorrow: a day no other section counts views on.
    let day = KstDay::of(bench.now).next();
    let counts: Vec<(ProfileId, u64)> = (1..=TOTAL / 10)
        .map(|i| (ProfileId(i * 10), i % 7 + 1))
        .collect();
    load_day(&bench.redis_url, &bench.services.counter, day, &counts).await;
    let (flushed, run_seconds) = flush_night_after(bench, day).await;
    figures.add(
        "flush, 10,000,000 profiles, 1 in 10 viewed: the day",
        format!(
            "{:.1} s ({} profiles, {} views)",
            flushed.millis as f64 / 1e3,
            flushed.viewed_profiles,
            flushed.views
        ),
    );
    figures.add(
        "flush, 10,000,000 profiles: the whole run",
        format!("{run_seconds:.1} s"),
    );
}

/// Writes a whole day of counts at once in the counter's layout and TTL (what counting
/// each view would leave, without a million script calls). The bench runs on one node.
async fn load_day(
    redis_url: &SecretString,
    counter: &RedisViewCounter,
    day: KstDay,
    counts: &[(ProfileId, u64)],
) {
    let mut redis = redis::Client::open(redis_url.expose_secret())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let ttl = adapters::redis_counter::TTL_SECONDS as i64;
    for chunk in counts.chunks(10_000) {
        let mut pipe = redis::pipe();
        for (profile, views) in chunk {
            let slot = domain::views::CounterSlot::of(*profile);
            let key = counter.bucket_key(day, slot);
            let index = counter.index_key(day, slot.shard);
            pipe.hset(&key, slot.field, *views).ignore();
            pipe.expire(&key, ttl).ignore();
            pipe.sadd(&index, slot.bucket).ignore();
            pipe.expire(&index, ttl).ignore();
        }
        let () = pipe.query_async(&mut redis).await.unwrap();
    }
}

/// One UPDATE per profile, timed on a sample of `day`'s counts and scaled to the million.
async fn per_profile_flush_seconds(bench: &Bench, day: KstDay) -> f64 {
    let mut sample = Vec::new();
    for shard in 0..domain::views::SHARDS {
        sample.extend(bench.services.counter.day_shard(day, shard).await.unwrap());
        if sample.len() >= FLUSH_BASELINE_SAMPLE {
            break;
        }
    }
    sample.truncate(FLUSH_BASELINE_SAMPLE);
    // The baseline writes an earlier day, so the batched flush below still has every
    // profile to do.
    let baseline_day = day.previous().date();
    let started = Instant::now();
    for (profile, views) in &sample {
        sqlx::query(
            "UPDATE profiles SET view_count = view_count + ?, views_flushed_through = ? \
             WHERE id = ? AND (views_flushed_through IS NULL OR views_flushed_through < ?)",
        )
        .bind(*views)
        .bind(baseline_day)
        .bind(profile.0)
        .bind(baseline_day)
        .execute(&bench.pool)
        .await
        .unwrap();
    }
    let per_profile = started.elapsed().as_secs_f64() / sample.len() as f64;
    per_profile * PROFILES as f64
}

/// Section 4: Redis memory of the bucketed layout against one key per profile per day.
async fn memory(bench: &Bench, figures: &mut Figures) {
    println!("\n4. Redis bytes per viewed profile-day vs one key per profile per day");
    // A database of its own, emptied before each layout, so neither layout pays for the
    // other's keyspace growth.
    let memory_db = format!("{}/9", bench.redis_url.expose_secret());
    let mut redis = redis::Client::open(memory_db.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let counter =
        RedisViewCounter::new(&RedisConfig::new(&memory_db, RedisTimeouts::JOB), "").unwrap();
    let mem_day = KstDay::of(bench.now);
    for (label, stride) in [
        ("every profile viewed", 1u64),
        ("1 in 10 profiles viewed", 10),
        ("1 in 100 of 10,000,000 profiles viewed (sparse)", 100),
    ] {
        let ours = bucketed_bytes(&mut redis, &counter, stride, mem_day).await;
        let naive = key_per_day_bytes(&mut redis, stride, mem_day).await;
        empty_database(&mut redis).await;
        figures.add(
            format!("memory, {label}: bucketed hashes"),
            format!("{ours:.1} B/profile-day"),
        );
        figures.add(
            format!("memory, {label}: one key per profile-day"),
            format!("{naive:.1} B/profile-day"),
        );
        figures.add(
            format!("memory, {label}: ratio (goal <= 0.5x)"),
            format!("{:.2}x", ours / naive),
        );
    }
    let document = document_bytes(bench, &mut redis, &counter).await;
    figures.add(
        "memory: one cached profile document (10-minute TTL)",
        format!("{document:.0} B"),
    );
    let (marker_mb, per_view) = marker_bytes(&mut redis, &counter).await;
    figures.add(
        "memory: landing markers at 1,000 views/s (kept 1 hour)",
        format!("{marker_mb:.1} MB ({per_view:.1} B/view)"),
    );
}

/// Bytes of one cached profile document (the detail script's hash: version, JSON,
/// flushed total, watermark), over DOCUMENTS seeded profiles filled through the real
/// script. MEMORY USAGE counts the key and its value; the TTL entry adds a few bytes.
async fn document_bytes(
    bench: &Bench,
    redis: &mut redis::aio::MultiplexedConnection,
    counter: &RedisViewCounter,
) -> f64 {
    const DOCUMENTS: u64 = 10_000;
    empty_database(redis).await;
    let today = KstDay::of(bench.now);
    let mut total = 0i64;
    for i in 0..DOCUMENTS {
        let profile = spread_id(i as usize, PROFILES);
        let row = bench
            .services
            .store
            .find(profile)
            .await
            .unwrap()
            .expect("seeded");
        let view = detail_view(bench.services.view_landing, profile, today);
        counter.fill_and_count(&view, &row).await.unwrap();
        let bytes: Option<i64> = redis::cmd("MEMORY")
            .arg("USAGE")
            .arg(counter.document_key(profile))
            .query_async(redis)
            .await
            .unwrap();
        total += bytes.expect("document cached");
    }
    empty_database(redis).await;
    total as f64 / DOCUMENTS as f64
}

/// Redis bytes of the landing markers at a steady VIEWS_PER_SECOND for their whole TTL
/// (an hour of views written as the detail script writes them: the view id into its
/// shard's set of its 10-second slot, the TTL set on the set's first write).
async fn marker_bytes(
    redis: &mut redis::aio::MultiplexedConnection,
    counter: &RedisViewCounter,
) -> (f64, f64) {
    const VIEWS_PER_SECOND: u64 = 1_000;
    let seconds = domain::views::MARKER_TTL_SECS;
    empty_database(redis).await;
    let before = used_memory(redis).await;
    let start_ms = api::jobs::wall_clock_ms();
    let mut created = std::collections::HashSet::new();
    for second in 0..seconds {
        let mut pipe = redis::pipe();
        for i in 0..VIEWS_PER_SECOND {
            let sent_at_ms = start_ms + second * 1_000 + i;
            let shard = spread_id((second * VIEWS_PER_SECOND + i) as usize, PROFILES).0 % 64;
            let key = counter.seen_key(shard, sent_at_ms);
            pipe.sadd(&key, uuid::Uuid::new_v4().as_u64_pair().0 >> 2)
                .ignore();
            if created.insert(key.clone()) {
                pipe.expire(&key, domain::views::MARKER_TTL_SECS as i64)
                    .ignore();
            }
        }
        let () = pipe.query_async(redis).await.unwrap();
    }
    let bytes = (used_memory(redis).await - before) as f64;
    empty_database(redis).await;
    (bytes / 1e6, bytes / (VIEWS_PER_SECOND * seconds) as f64)
}

/// The `i`th of MEMORY_PROFILES viewed profiles when every `stride`th one is viewed.
fn viewed_profile(stride: u64, i: u64) -> u64 {
    stride * i + 1
}

/// Bytes per profile-day of this design's counters (hashes per bucket).
async fn bucketed_bytes(
    redis: &mut redis::aio::MultiplexedConnection,
    counter: &RedisViewCounter,
    stride: u64,
    day: KstDay,
) -> f64 {
    empty_database(redis).await;
    let before = used_memory(redis).await;
    // The writes a first view of the day makes to the counters (the detail script's
    // HINCRBY and index SADD with their TTLs), without the cached document or the landing
    // marker, which are measured on their own.
    let ttl = adapters::redis_counter::TTL_SECONDS as i64;
    for chunk in (0..MEMORY_PROFILES).collect::<Vec<_>>().chunks(10_000) {
        let mut pipe = redis::pipe();
        for i in chunk {
            let slot = domain::views::CounterSlot::of(ProfileId(viewed_profile(stride, *i)));
            let key = counter.bucket_key(day, slot);
            let index = counter.index_key(day, slot.shard);
            pipe.hincr(&key, slot.field, 1).ignore();
            pipe.expire(&key, ttl).ignore();
            pipe.sadd(&index, slot.bucket).ignore();
            pipe.expire(&index, ttl).ignore();
        }
        let () = pipe.query_async(redis).await.unwrap();
    }
    (used_memory(redis).await - before) as f64 / MEMORY_PROFILES as f64
}

/// Bytes per profile-day of the naive layout: one expiring key per profile per day.
async fn key_per_day_bytes(
    redis: &mut redis::aio::MultiplexedConnection,
    stride: u64,
    day: KstDay,
) -> f64 {
    empty_database(redis).await;
    let before = used_memory(redis).await;
    for chunk in (0..MEMORY_PROFILES).collect::<Vec<_>>().chunks(10_000) {
        let mut pipe = redis::pipe();
        for i in chunk {
            let key = format!(
                "profile:view:{}:{}",
                viewed_profile(stride, *i),
                day.compact()
            );
            pipe.incr(&key, 1)
                .ignore()
                .expire(&key, 8 * 24 * 3600)
                .ignore();
        }
        let () = pipe.query_async(redis).await.unwrap();
    }
    (used_memory(redis).await - before) as f64 / MEMORY_PROFILES as f64
}

async fn empty_database(redis: &mut redis::aio::MultiplexedConnection) {
    let _: () = redis::cmd("FLUSHDB")
        .arg("SYNC")
        .query_async(redis)
        .await
        .unwrap();
}

/// Back to the test stack's relaxed redo-log flush (set_up chose the production one).
async fn restore_stack_durability(pool: &MySqlPool) {
    sqlx::query("SET GLOBAL innodb_flush_log_at_trx_commit = 2")
        .execute(pool)
        .await
        .ok();
}

fn print_summary(figures: &Figures) {
    println!("\nSummary (copy into the README):\n");
    println!("| measurement | figure |\n|---|---|");
    for (name, value) in &figures.rows {
        println!("| {name} | {value} |");
    }
}

async fn used_memory(conn: &mut redis::aio::MultiplexedConnection) -> i64 {
    let info: String = redis::cmd("INFO")
        .arg("memory")
        .query_async(conn)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory in INFO")
}
