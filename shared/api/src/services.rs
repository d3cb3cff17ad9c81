use adapters::mysql::lambda_pool;
use adapters::{DynamoViewLossLedger, MySqlStore, RedisTimeouts, RedisViewCounter};
use app::InfraError;
use domain::listing::KoreanCollator;

/// The clients a function uses, built once per execution environment and shared by all
/// its invocations. Nothing here opens a connection: the first request that needs a
/// server connects, so a cold start does no network work it might not need.
pub struct Services {
    pub store: MySqlStore,
    pub counter: RedisViewCounter,
    pub ledger: DynamoViewLossLedger,
    pub collator: KoreanCollator,
}

/// Settings read from the environment (see `template.yaml` and `infra/local/stack.sh`).
#[derive(Debug, Clone)]
pub struct Settings {
    pub database_url: String,
    pub database_max_connections: u32,
    pub redis_url: String,
    /// Prefix of every Redis key; lets several test runs share one Redis.
    pub redis_key_prefix: String,
    pub table_name: String,
}

fn env(name: &'static str) -> Result<String, InfraError> {
    std::env::var(name).map_err(|e| InfraError::new(name, e))
}

impl Settings {
    pub fn from_env() -> Result<Self, InfraError> {
        Ok(Self {
            database_url: env("DATABASE_URL")?,
            database_max_connections: std::env::var("DATABASE_MAX_CONNECTIONS")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(2),
            redis_url: env("REDIS_URL")?,
            redis_key_prefix: std::env::var("REDIS_KEY_PREFIX").unwrap_or_default(),
            table_name: env("TABLE_NAME")?,
        })
    }
}

impl Services {
    /// Services of a deployed function, configured from its environment.
    pub async fn from_env(redis_timeouts: RedisTimeouts) -> Result<Self, InfraError> {
        let settings = Settings::from_env()?;
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        Self::new(
            &settings,
            aws_sdk_dynamodb::Client::new(&aws),
            redis_timeouts,
        )
    }

    pub fn new(
        settings: &Settings,
        dynamo: aws_sdk_dynamodb::Client,
        redis_timeouts: RedisTimeouts,
    ) -> Result<Self, InfraError> {
        Ok(Self {
            store: MySqlStore::new(lambda_pool(
                &settings.database_url,
                settings.database_max_connections,
            )?),
            counter: RedisViewCounter::new(
                &settings.redis_url,
                settings.redis_key_prefix.clone(),
                redis_timeouts,
            )?,
            ledger: DynamoViewLossLedger::new(dynamo, settings.table_name.clone()),
            collator: KoreanCollator::new(),
        })
    }
}
