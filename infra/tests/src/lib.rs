//! Test harness: every test gets its own database, Redis key prefix and DynamoDB table on
//! the servers `make test` started, and its own local gateway on a random port.

use adapters::RedisTimeouts;
use api::Services;
use api::services::Settings;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::Connection;
use std::net::TcpListener as StdListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

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
    pub redis_url: String,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with_redis(&env("REDIS_URL")).await
    }

    pub async fn spawn_with_redis(redis_url: &str) -> Self {
        let admin_url = env("MYSQL_ADMIN_URL");
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
        admin.close().await.ok();

        let settings = Settings {
            database_url: format!("{admin_url}/{database}"),
            database_max_connections: 10,
            redis_url: redis_url.to_owned(),
            redis_key_prefix: format!("t{}:", &id[..12]),
            table_name: format!("t-{id}"),
        };
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let dynamo = aws_sdk_dynamodb::Client::new(&aws);
        adapters::DynamoViewLossLedger::create_table(&dynamo, &settings.table_name)
            .await
            .expect("create the test table");
        let services = Services::new(&settings, dynamo, RedisTimeouts::REQUEST).expect("services");
        services.store.migrate().await.expect("migrations");
        let db = services.store.pool().clone();
        let services = Arc::new(services);

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
            redis_prefix: settings.redis_key_prefix,
            redis_url: redis_url.to_owned(),
        }
    }

    pub async fn post_json(&self, path: &str, body: &str) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .expect("request sent");
        read(response).await
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
        let mut body = json!({
            "name": "홍길동",
            "email": format!("{}@example.com", uuid::Uuid::new_v4().simple()),
            "headline": "10년차 백엔드 개발자",
            "category": "DEVELOPMENT",
            "careerYears": 10,
            "region": "SEOUL",
            "introduction": "안녕하세요",
        });
        for (k, v) in fields.as_object().expect("object").iter() {
            body[k] = v.clone();
        }
        let (status, reply) = self
            .post_json("/api/members/signup", &body.to_string())
            .await;
        assert_eq!(status, 201, "{reply}");
        reply["result"]["profileId"].as_u64().expect("profileId")
    }

    pub async fn view(&self, profile: u64, at: DateTime<Utc>) -> u64 {
        let (status, reply) = self
            .get(&format!("/api/profiles/{profile}"), Some(at))
            .await;
        assert_eq!(status, 200, "{reply}");
        reply["result"]["viewCount"].as_u64().expect("viewCount")
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

    pub async fn scalar(&self, sql: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
            "SELECT CAST(({sql}) AS SIGNED)"
        )))
        .fetch_one(&self.db)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// Redis keys this test created.
    pub async fn redis_keys(&self) -> Vec<String> {
        let client = redis::Client::open(self.redis_url.as_str()).unwrap();
        let mut conn = client.get_multiplexed_async_connection().await.unwrap();
        // KEYS is fine on a test server; production code never enumerates keys.
        redis::cmd("KEYS")
            .arg(format!("{}*", self.redis_prefix))
            .query_async(&mut conn)
            .await
            .unwrap()
    }
}

async fn read(response: reqwest::Response) -> (u16, Value) {
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

/// A Redis server of the test's own, which it can stop and start again on the same port
/// (data kept across the restart, as a failover would keep it).
pub struct OwnRedis {
    pub port: u16,
    dir: PathBuf,
}

impl OwnRedis {
    pub fn start() -> Self {
        let port = StdListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = std::env::temp_dir().join(format!(
            "redis-test-{port}-{}",
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let redis = Self { port, dir };
        redis.start_again();
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn start_again(&self) {
        let status = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "yes",
            ])
            .arg("--dir")
            .arg(&self.dir)
            .arg("--logfile")
            .arg(self.dir.join("redis.log"))
            .status()
            .expect("redis-server on PATH");
        assert!(status.success());
        for _ in 0..100 {
            if self.cli(&["ping"]) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server on {} did not start", self.port);
    }

    /// Stops the server, saving its data to disk first.
    pub fn stop(&self) {
        self.cli(&["shutdown", "save"]);
        for _ in 0..100 {
            if !self.cli(&["ping"]) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("redis-server on {} did not stop", self.port);
    }

    fn cli(&self, args: &[&str]) -> bool {
        Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .map(|o| {
                o.status.success() && String::from_utf8_lossy(&o.stdout).trim() == "PONG"
                    || args != ["ping"] && o.status.success()
            })
            .unwrap_or(false)
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = Command::new("redis-cli")
            .args(["-p", &self.port.to_string(), "shutdown", "nosave"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
