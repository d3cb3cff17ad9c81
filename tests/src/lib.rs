//! Test harness: every test gets its own database, Redis key prefix and DynamoDB table on
//! the servers `make test` started, and its own local gateway on a random port.

use adapters::{RedisConfig, RedisConnection, RedisTimeouts};
use api::Services;
use api::services::Settings;
use app::usecases::payments::PaymentRecoverySummary;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::Connection;
use std::sync::Arc;
use std::time::Duration;

mod facts;
mod redis_servers;
pub use facts::{DailyViews, PaymentRow, Table, TossPayment, TossStats};
pub use redis_servers::{OwnCluster, OwnRedis, Relay};

pub const TOSS_SECRET_KEY: &str = "test_sk_zXLkKEypNArWmo50nX3lmeaxYG5R";

pub fn env(name: &str) -> String {
    std::env::var(name)
        .unwrap_or_else(|_| panic!("{name} is not set: run the suite with `make test`"))
}

pub struct TestApp {
    pub base: String,
    pub http: reqwest::Client,
    pub services: Arc<Services>,
    pub db: sqlx::MySqlPool,
    pub redis_prefix: String,
    pub redis: RedisConfig,
    /// Base URL of this test's Toss sandbox.
    pub toss: String,
    pub database: String,
    pub db_user: String,
    /// The settings the services were built from (e.g. to build a function's own set).
    pub settings: Settings,
    /// Access token of each member signed up through `signup`.
    tokens: std::sync::Mutex<std::collections::HashMap<u64, String>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with_redis(stack_redis()).await
    }

    pub async fn spawn_with_redis(redis: RedisConfig) -> Self {
        Self::spawn_configured(redis, 10_000, |_, _| {}).await
    }

    /// On `redis`, with the services tuned by `tune`.
    pub async fn spawn_with_redis_tuned(
        redis: RedisConfig,
        tune: impl FnOnce(&mut Services),
    ) -> Self {
        Self::spawn_configured(redis, 10_000, |_, services| tune(services)).await
    }

    /// With the production signup limit per client address.
    pub async fn spawn_with_signup_limit(limit: u32) -> Self {
        Self::spawn_configured(stack_redis(), limit, |_, _| {}).await
    }

    /// With the services adjusted by `tune` (e.g. payment timings) before serving.
    pub async fn spawn_tuned(tune: impl FnOnce(&mut Services)) -> Self {
        Self::spawn_configured(stack_redis(), 10_000, |_, services| tune(services)).await
    }

    /// Like `spawn_tuned`, with the settings the services were built from (e.g. the
    /// test's table name, for a client of its own on the same table).
    pub async fn spawn_tuned_with_settings(tune: impl FnOnce(&Settings, &mut Services)) -> Self {
        Self::spawn_configured(stack_redis(), 10_000, tune).await
    }

    async fn spawn_configured(
        redis: RedisConfig,
        signups_per_client: u32,
        tune: impl FnOnce(&Settings, &mut Services),
    ) -> Self {
        let admin_url = mysql_admin_url();
        let id = uuid::Uuid::new_v4().simple().to_string();
        let database = format!("t_{id}");
        let mut admin = sqlx::MySqlConnection::connect(&admin_url)
            .await
            .expect("MariaDB reachable");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE DATABASE {database} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
        )))
        .execute(&mut admin)
        .await
        .expect("create the test database");
        // A database user of the test's own, so a test can lock it out (MariaDB
        // unavailable to this app only) without disturbing the others.
        let user = format!("u_{}", &id[..12]);
        for statement in [
            format!("CREATE USER '{user}'@'%' IDENTIFIED BY 'pw'"),
            format!("GRANT ALL PRIVILEGES ON {database}.* TO '{user}'@'%'"),
        ] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
                .execute(&mut admin)
                .await
                .expect("create the test user");
        }
        admin.close().await.ok();
        let host = env("MYSQL_ADMIN_URL")
            .rsplit('@')
            .next()
            .expect("host in MYSQL_ADMIN_URL")
            .to_owned();

        // A Toss sandbox of the test's own (its clock and faults are per test).
        let toss_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let toss_base = format!("http://{}", toss_listener.local_addr().unwrap());
        tokio::spawn(toss_sandbox::serve(
            toss_listener,
            toss_sandbox::Sandbox::new(vec![TOSS_SECRET_KEY.to_owned()]),
        ));

        let settings = Settings {
            database_url: format!("mysql://{user}:pw@{host}/{database}{}", mysql_url_query())
                .into(),
            database_max_connections: 10,
            redis_url: redis.url.clone().into(),
            redis_cluster: redis.cluster,
            redis_ca_file: redis.ca_file.clone(),
            redis_key_prefix: format!("t{}:", &id[..12]),
            table_name: format!("t-{id}"),
            event_bus_name: format!("t-{id}"),
            toss_api_base: toss_base.clone(),
            toss_secret_key: Some(TOSS_SECRET_KEY.into()),
            // Short, so a hanging Toss turns into "unknown" quickly.
            toss_timeout: Duration::from_millis(1_500),
            checkout: app::usecases::payments::CheckoutSettings {
                client_key: "test_ck_sandbox".into(),
                success_url: "http://127.0.0.1/success".into(),
                fail_url: "http://127.0.0.1/fail".into(),
            },
            token_signing_key: Some(format!("test-signing-key-{id}").into()),
            refund_policy: Default::default(),
        };
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        adapters::DynamoViewLossLedger::create_table(
            &aws_sdk_dynamodb::Client::new(&aws),
            &settings.table_name,
        )
        .await
        .expect("create the test table");
        adapters::EventBridgePublisher::create_bus(
            &aws_sdk_eventbridge::Client::new(&aws),
            &settings.event_bus_name,
        )
        .await
        .expect("create the test bus");
        let mut services = Services::new(
            &settings,
            &aws,
            // Requests' Redis bounds; DynamoDB gets a job's, since the emulator serves one
            // request at a time in Python and a burst of hundreds queues for seconds,
            // which DynamoDB never does (the request bounds are checked on their own).
            api::services::CallBudget {
                redis: adapters::RedisTimeouts::REQUEST,
                dynamo: api::services::DynamoTimeouts::JOB,
            },
        )
        .expect("services");
        services.payment_timings.in_call_first_delay = Duration::from_millis(50);
        // A short landing window, so loss recovery can decide ledgered views within a
        // scenario: 3 s (production: 5 s + twice 5 s of clock skew).
        services.view_landing = domain::views::LandingRules {
            late_after_ms: 2_500,
            clock_skew_ms: 250,
        };
        // Scenarios sign up dozens of members from one address; the limit has its own test.
        services.auth_limits.signups_per_client = signups_per_client;
        tune(&settings, &mut services);
        services.store.migrate().await.expect("migrations");
        let db = services.store.pool().clone();
        let services = Arc::new(services);
        let toss = toss_base;

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(local_gateway::serve(listener, services.clone()));
        Self {
            base,
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(64)
                .build()
                .unwrap(),
            services,
            db,
            redis_prefix: settings.redis_key_prefix.clone(),
            redis,
            toss,
            database,
            db_user: user,
            settings,
            tokens: Default::default(),
        }
    }

    /// Locks this test's database user out and drops its connections, or lets it back in.
    pub async fn database_available(&self, available: bool) {
        let mut admin = sqlx::MySqlConnection::connect(&mysql_admin_url())
            .await
            .unwrap();
        let lock = if available { "UNLOCK" } else { "LOCK" };
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "ALTER USER '{}'@'%' ACCOUNT {lock}",
            self.db_user
        )))
        .execute(&mut admin)
        .await
        .unwrap();
        if !available {
            let ids: Vec<i64> = sqlx::query_scalar(
                "SELECT CAST(id AS SIGNED) FROM information_schema.processlist WHERE user = ?",
            )
            .bind(&self.db_user)
            .fetch_all(&mut admin)
            .await
            .unwrap();
            for id in ids {
                let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!("KILL CONNECTION {id}")))
                    .execute(&mut admin)
                    .await;
            }
        }
    }

    pub async fn post_json(&self, path: &str, body: &str) -> (u16, Value) {
        self.post_json_at(path, body, None).await
    }

    /// A POST as if sent at `at` (the local gateway's time header), else now.
    pub async fn post_json_at(
        &self,
        path: &str,
        body: &str,
        at: Option<DateTime<Utc>>,
    ) -> (u16, Value) {
        self.send_json(reqwest::Method::POST, None, path, body, at)
            .await
    }

    /// Sends a JSON body, as `member` (with its access token) if given, at `at` if given.
    async fn send_json(
        &self,
        method: reqwest::Method,
        member: Option<u64>,
        path: &str,
        body: &str,
        at: Option<DateTime<Utc>>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_owned());
        if let Some(member) = member {
            request = request.bearer_auth(self.token(member));
        }
        if let Some(at) = at {
            request = request.header(local_gateway::LOCAL_TIME_HEADER, at.to_rfc3339());
        }
        read(request.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str, at: Option<DateTime<Utc>>) -> (u16, Value) {
        let mut request = self.http.get(format!("{}{path}", self.base));
        if let Some(at) = at {
            request = request.header(local_gateway::LOCAL_TIME_HEADER, at.to_rfc3339());
        }
        read(request.send().await.expect("request sent")).await
    }

    /// Signs up a member with valid defaults overridden by `fields`; returns the profile id.
    pub async fn signup(&self, fields: Value) -> u64 {
        self.signup_at(fields, None).await
    }

    /// Signs a member up as if at `at` (their profile's creation time), else now.
    pub async fn signup_at(&self, fields: Value, at: Option<DateTime<Utc>>) -> u64 {
        let mut body = json!({
            "name": "홍길동",
            "email": format!("{}@example.com", uuid::Uuid::new_v4().simple()),
            "headline": "10년차 백엔드 개발자",
            "category": "DEVELOPMENT",
            "careerYears": 10,
            "region": "SEOUL",
            "introduction": "안녕하세요",
            "password": "correct horse battery",
        });
        for (k, v) in fields.as_object().expect("object").iter() {
            body[k] = v.clone();
        }
        let (status, reply) = self
            .post_json_at("/api/members/signup", &body.to_string(), at)
            .await;
        assert_eq!(status, 201, "{reply}");
        let member = reply["result"]["memberId"].as_u64().expect("memberId");
        let token = reply["result"]["accessToken"]
            .as_str()
            .expect("accessToken")
            .to_owned();
        self.tokens.lock().unwrap().insert(member, token);
        reply["result"]["profileId"].as_u64().expect("profileId")
    }

    pub async fn view(&self, profile: u64, at: DateTime<Utc>) -> u64 {
        self.view_shown(profile, at).await.0
    }

    /// One detail view: the count shown and whether it is live (`countsLive`).
    pub async fn view_shown(&self, profile: u64, at: DateTime<Utc>) -> (u64, bool) {
        let (status, reply) = self
            .get(&format!("/api/profiles/{profile}"), Some(at))
            .await;
        assert_eq!(status, 200, "{reply}");
        (
            reply["result"]["viewCount"].as_u64().expect("viewCount"),
            reply["result"]["countsLive"].as_bool().expect("countsLive"),
        )
    }

    /// The view count the list shows for `profile`.
    pub async fn listed_count(&self, profile: u64, at: DateTime<Utc>) -> u64 {
        let (status, reply) = self.get("/api/profiles?size=100", Some(at)).await;
        assert_eq!(status, 200, "{reply}");
        reply["result"]["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["profileId"].as_u64() == Some(profile))
            .expect("profile listed")["viewCount"]
            .as_u64()
            .unwrap()
    }

    pub async fn run_job(&self, name: &str, at: DateTime<Utc>) -> Value {
        let response = self
            .http
            .post(format!("{}/local/jobs/{name}", self.base))
            .header(local_gateway::LOCAL_TIME_HEADER, at.to_rfc3339())
            .send()
            .await
            .expect("job request sent");
        let (status, body) = read(response).await;
        assert_eq!(status, 200, "job {name} failed: {body}");
        body
    }

    /// Redis' encoding of `key` (`OBJECT ENCODING`).
    pub async fn redis_encoding(&self, key: &str) -> String {
        let redis = RedisConnection::new(&self.redis).unwrap();
        let key = key.to_owned();
        redis
            .run("OBJECT ENCODING", |mut conn| async move {
                redis::cmd("OBJECT")
                    .arg("ENCODING")
                    .arg(key)
                    .query_async(&mut conn)
                    .await
            })
            .await
            .unwrap()
    }

    /// Redis keys this test created.
    pub async fn redis_keys(&self) -> Vec<String> {
        let redis = RedisConnection::new(&self.redis).unwrap();
        let pattern = format!("{}*", self.redis_prefix);
        // KEYS is fine on a test server (a cluster client asks every primary and joins
        // the answers); production code never enumerates keys.
        redis
            .run("KEYS", |mut conn| async move {
                redis::cmd("KEYS").arg(pattern).query_async(&mut conn).await
            })
            .await
            .unwrap()
    }
}

/// How [`stop_stack_mysql`] stops the stack's MariaDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MysqlStop {
    /// SIGTERM: a clean shutdown (connections closed, open transactions rolled back).
    Clean,
    /// SIGKILL: a crash; InnoDB recovers from its log when it starts again.
    Crash,
}

/// Stops the MariaDB server of the stack the suite runs on (`stack.sh stop-mysql`), for
/// every test on it; returns once the process is gone. Panics if that fails.
pub async fn stop_stack_mysql(how: MysqlStop) -> StoppedMysql {
    let signal = match how {
        MysqlStop::Clean => "term",
        MysqlStop::Crash => "kill",
    };
    let args = ["stop-mysql".to_owned(), env("STACK_DIR"), signal.to_owned()];
    tokio::task::spawn_blocking(move || stack_command(&args))
        .await
        .expect("the stack command's thread")
        .unwrap_or_else(|e| panic!("{e}"));
    StoppedMysql { started: false }
}

/// The stack's MariaDB, stopped by [`stop_stack_mysql`].
#[must_use = "MariaDB stays down until this is started again or dropped"]
pub struct StoppedMysql {
    started: bool,
}

impl StoppedMysql {
    /// Starts it again on the same port and data dir (`stack.sh start-mysql`); returns
    /// once it answers. Panics if that fails.
    pub async fn start(mut self) {
        let args = ["start-mysql".to_owned(), env("STACK_DIR")];
        tokio::task::spawn_blocking(move || stack_command(&args))
            .await
            .expect("the stack command's thread")
            .unwrap_or_else(|e| panic!("{e}"));
        self.started = true;
    }
}

impl Drop for StoppedMysql {
    /// A test that panicked (or was dropped) while MariaDB was down starts it again here,
    /// so the tests run after it on the same stack find it up.
    fn drop(&mut self) {
        if !self.started
            && let Err(e) = stack_command(&["start-mysql".to_owned(), env("STACK_DIR")])
        {
            eprintln!("could not start MariaDB again: {e}");
        }
    }
}

/// `bash $STACK_SCRIPT <args>` (infra/local/stack.sh), blocking.
fn stack_command(args: &[String]) -> Result<(), String> {
    let mut command = std::process::Command::new("bash");
    command.arg(env("STACK_SCRIPT")).args(args);
    let output = command.output().map_err(|e| format!("{command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?}: {}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// The Redis of the stack `make test` started, in its topology (single node or cluster,
/// TLS or not), as `infra/local/stack.sh` describes it.
pub fn stack_redis() -> RedisConfig {
    RedisConfig {
        url: env("REDIS_URL"),
        cluster: std::env::var("REDIS_CLUSTER").is_ok_and(|v| v == "true"),
        ca_file: std::env::var("REDIS_CA_FILE")
            .ok()
            .filter(|v| !v.is_empty())
            .map(Into::into),
        timeouts: RedisTimeouts::REQUEST,
    }
}

/// The stack's TLS settings for MySQL URLs (`?ssl-mode=VERIFY_IDENTITY&ssl-ca=…`, or empty).
pub fn mysql_url_query() -> String {
    std::env::var("MYSQL_URL_QUERY").unwrap_or_default()
}

pub fn mysql_admin_url() -> String {
    format!("{}/{}", env("MYSQL_ADMIN_URL"), mysql_url_query())
}

pub(crate) async fn read(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body)
}

/// `yyyy-mm-ddThh:mm:ss` in Asia/Seoul as an instant.
pub fn kst(local: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("{local}+09:00"))
        .expect("KST time")
        .with_timezone(&Utc)
}

/// An order of a new member, checked out and authenticated at the sandbox.
pub struct Order {
    pub member: u64,
    pub order_id: String,
    pub payment_key: String,
}

/// Payment helpers: our API on one side, the test's Toss sandbox on the other.
impl TestApp {
    /// A new member's order for `amount`, authenticated with the sandbox `faults`.
    pub async fn authenticated_order(&self, amount: u64, faults: &str) -> Order {
        let member = self.member().await;
        let order_id = self.checkout(member, amount).await;
        let payment_key = self.authenticate(&order_id, amount, faults).await;
        Order {
            member,
            order_id,
            payment_key,
        }
    }

    /// The owner confirms `order` for `amount`, as the success page does.
    pub async fn confirm_order(&self, order: &Order, amount: u64) -> (u16, Value) {
        self.confirm(order.member, &order.payment_key, &order.order_id, amount)
            .await
    }

    /// One recovery run as if `minutes_later` had passed; its summary.
    pub async fn recover_payments(&self, minutes_later: i64) -> PaymentRecoverySummary {
        let at = Utc::now() + chrono::Duration::minutes(minutes_later);
        let answer = self.run_job("recover-payments", at).await;
        serde_json::from_value(answer["paymentRecovery"].clone())
            .unwrap_or_else(|e| panic!("{answer}: {e}"))
    }

    /// The access token `signup` received for `member`.
    pub fn token(&self, member: u64) -> String {
        self.tokens
            .lock()
            .unwrap()
            .get(&member)
            .cloned()
            .expect("a member signed up by this test")
    }

    /// GETs as `member` (with its access token).
    pub async fn get_as(&self, member: u64, path: &str) -> (u16, Value) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(self.token(member))
            .send()
            .await
            .expect("request sent");
        read(response).await
    }

    /// `PATCH /api/profiles/me` as `member` with `body`, at `at` (KST days of the counts).
    pub async fn edit_profile_as(
        &self,
        member: u64,
        body: &str,
        at: DateTime<Utc>,
    ) -> (u16, Value) {
        let path = "/api/profiles/me";
        self.send_json(reqwest::Method::PATCH, Some(member), path, body, Some(at))
            .await
    }

    /// The member owning `profile`.
    pub async fn owner(&self, profile: u64) -> u64 {
        sqlx::query_scalar::<_, u64>("SELECT member_id FROM profiles WHERE id = ?")
            .bind(profile)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    /// POSTs JSON as `member` (with its access token).
    pub async fn post_json_as(&self, member: u64, path: &str, body: &str) -> (u16, Value) {
        self.send_json(reqwest::Method::POST, Some(member), path, body, None)
            .await
    }

    /// Signs up a member; returns the member id.
    pub async fn member(&self) -> u64 {
        let profile = self.signup(json!({})).await;
        self.owner(profile).await
    }

    /// `POST /api/payments/toss/checkout`; returns the order id.
    pub async fn checkout(&self, member: u64, amount: u64) -> String {
        let (status, body) = self
            .post_json_as(
                member,
                "/api/payments/toss/checkout",
                &json!({ "amount": amount, "orderName": "포인트 충전", "memberId": member })
                    .to_string(),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["result"]["orderId"].as_str().unwrap().to_owned()
    }

    /// What the Toss widget does after the member pays: authenticate at Toss and come
    /// back with a paymentKey. `faults` picks sandbox faults (see infra/local/toss-sandbox).
    pub async fn authenticate(&self, order_id: &str, amount: u64, faults: &str) -> String {
        self.authenticate_by(order_id, amount, faults, "카드").await
    }

    /// A new member's order paid by virtual account (가상계좌) in the widget.
    pub async fn virtual_account_order(&self, amount: u64, faults: &str) -> Order {
        let member = self.member().await;
        let order_id = self.checkout(member, amount).await;
        let payment_key = self
            .authenticate_by(&order_id, amount, faults, "VIRTUAL_ACCOUNT")
            .await;
        Order {
            member,
            order_id,
            payment_key,
        }
    }

    /// `authenticate` with the payment method the shopper picked.
    pub async fn authenticate_by(
        &self,
        order_id: &str,
        amount: u64,
        faults: &str,
        method: &str,
    ) -> String {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/sandbox/authenticate", self.toss),
            &[
                ("orderId", order_id),
                ("amount", &amount.to_string()),
                ("orderName", "포인트 충전"),
                ("successUrl", "http://127.0.0.1/success"),
                ("failUrl", "http://127.0.0.1/fail"),
                ("faults", faults),
                ("method", method),
            ],
        )
        .unwrap();
        let response = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .unwrap();
        let (status, body) = read(response).await;
        assert_eq!(status, 200, "{body}");
        body["paymentKey"].as_str().unwrap().to_owned()
    }

    pub async fn confirm(
        &self,
        member: u64,
        payment_key: &str,
        order_id: &str,
        amount: u64,
    ) -> (u16, Value) {
        self.confirm_at(member, payment_key, order_id, amount, None)
            .await
    }

    pub async fn confirm_at(
        &self,
        member: u64,
        payment_key: &str,
        order_id: &str,
        amount: u64,
        at: Option<DateTime<Utc>>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .post(format!("{}/api/payments/toss/confirm", self.base))
            .header("content-type", "application/json")
            .bearer_auth(self.token(member))
            .body(json!({ "memberId": member, "paymentKey": payment_key, "orderId": order_id, "amount": amount }).to_string());
        if let Some(at) = at {
            request = request.header(local_gateway::LOCAL_TIME_HEADER, at.to_rfc3339());
        }
        read(request.send().await.expect("confirm sent")).await
    }

    /// Toss's Payment object for the order, as its lookup answers it.
    pub async fn toss_payment(&self, order_id: &str) -> Value {
        let url = format!("{}/v1/payments/orders/{order_id}", self.toss);
        let response = self
            .http
            .get(url)
            .basic_auth(TOSS_SECRET_KEY, Some(""))
            .send();
        read(response.await.unwrap()).await.1
    }

    /// The sandbox's own record of a payment (`GET /sandbox/payments/{key}`): Toss's truth,
    /// also where a `lookup-404` fault hides it from the lookups.
    pub async fn sandbox_payment(&self, payment_key: &str) -> Value {
        let url = format!("{}/sandbox/payments/{payment_key}", self.toss);
        read(self.http.get(url).send().await.unwrap()).await.1
    }

    /// Registers this test's webhook route with its Toss sandbox, as a merchant does in
    /// Toss's developer center: from now on the sandbox sends its webhooks here.
    pub async fn register_webhooks(&self) {
        let url = format!("{}/api/payments/toss/webhook", self.base);
        let response = self
            .http
            .post(format!("{}/sandbox/webhooks", self.toss))
            .json(&json!({ "url": url }))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }

    /// The sandbox's deliveries about `payment_key` (state, attempts, body); all of them
    /// for an empty key.
    pub async fn webhook_deliveries(&self, payment_key: &str) -> Vec<Value> {
        let url = reqwest::Url::parse_with_params(
            &format!("{}/sandbox/webhooks", self.toss),
            &[("paymentKey", payment_key)],
        )
        .unwrap();
        let response = self.http.get(url).send().await.unwrap();
        let (_, body) = read(response).await;
        body["deliveries"].as_array().cloned().unwrap_or_default()
    }

    /// Waits (up to 10 s) until the sandbox has `n` deliveries about `payment_key` that
    /// are all delivered or all attempted at least `attempts` times; returns them.
    pub async fn wait_for_webhooks(
        &self,
        payment_key: &str,
        n: usize,
        attempts: usize,
    ) -> Vec<Value> {
        let started = std::time::Instant::now();
        loop {
            let deliveries = self.webhook_deliveries(payment_key).await;
            let settled = |d: &Value| {
                d["state"] == "DELIVERED"
                    || d["attempts"]
                        .as_array()
                        .is_some_and(|a| a.len() >= attempts)
            };
            let done = deliveries.len() >= n && deliveries.iter().all(settled);
            if done || started.elapsed() > Duration::from_secs(10) {
                return deliveries;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn advance_toss_clock(&self, seconds: i64) {
        let response = self
            .http
            .post(format!("{}/sandbox/clock", self.toss))
            .json(&json!({ "advanceSeconds": seconds }))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
}
