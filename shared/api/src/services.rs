use adapters::mysql::lambda_pool;
use adapters::{
    DynamoIdempotencyStore, DynamoViewLossLedger, EventBridgePublisher, MySqlStore, RedisConfig,
    RedisTimeouts, RedisViewCounter, TossGateway, TossTimeouts,
};
use app::InfraError;
use app::auth::TokenIssuer;
use app::usecases::payments::{CheckoutSettings, PaymentTimings};
use app::usecases::signup::AuthLimits;
use domain::listing::KoreanCollator;
use std::time::Duration;

/// The clients a function uses, built once per execution environment and shared by all
/// its invocations. Nothing here opens a connection: the first request that needs a
/// server connects, so a cold start does no network work it might not need.
pub struct Services {
    pub store: MySqlStore,
    pub counter: RedisViewCounter,
    pub ledger: DynamoViewLossLedger,
    pub idempotency: DynamoIdempotencyStore,
    pub publisher: EventBridgePublisher,
    /// Present where a Toss secret key is configured (the payment functions only).
    pub toss: Option<TossGateway>,
    pub checkout: CheckoutSettings,
    pub payment_timings: PaymentTimings,
    pub collator: KoreanCollator,
    /// Present where a token signing key is configured (signup, login, the authorizer).
    pub tokens: Option<TokenIssuer>,
    pub auth_limits: AuthLimits,
}

/// Settings read from the environment (see `template.yaml` and `infra/local/stack.sh`),
/// secrets from Secrets Manager when `SECRET_ID` names one.
#[derive(Clone)]
pub struct Settings {
    pub database_url: String,
    pub database_max_connections: u32,
    pub redis_url: String,
    /// Speak the cluster protocol (ElastiCache cluster mode, ElastiCache Serverless).
    pub redis_cluster: bool,
    /// PEM of a private CA that signs Redis's TLS certificate (empty: the public roots).
    pub redis_ca_file: Option<std::path::PathBuf>,
    /// Prefix of every Redis key; lets several test runs share one Redis.
    pub redis_key_prefix: String,
    pub table_name: String,
    pub event_bus_name: String,
    /// `https://api.tosspayments.com`, or the local sandbox.
    pub toss_api_base: String,
    pub toss_secret_key: Option<String>,
    pub toss_timeout: Duration,
    pub checkout: CheckoutSettings,
    pub token_signing_key: Option<String>,
}

impl std::fmt::Debug for Settings {
    // By hand, so secrets and credentials in URLs never reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("table_name", &self.table_name)
            .field("event_bus_name", &self.event_bus_name)
            .field("toss_api_base", &self.toss_api_base)
            .field(
                "toss_secret_key",
                &self.toss_secret_key.as_ref().map(|_| "<set>"),
            )
            .field(
                "token_signing_key",
                &self.token_signing_key.as_ref().map(|_| "<set>"),
            )
            .finish_non_exhaustive()
    }
}

fn env(name: &'static str) -> Result<String, InfraError> {
    std::env::var(name).map_err(|e| InfraError::new(name, e))
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

fn optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `true` or `false` (unset or empty: `false`); anything else fails the cold start rather
/// than pick a topology by guess.
fn flag(name: &'static str) -> Result<bool, InfraError> {
    match optional(name).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(InfraError::new(
            name,
            format!("must be true or false, not {other:?}"),
        )),
    }
}

/// Whether a MySQL URL's `ssl-mode` makes sqlx verify the server's certificate (sqlx's
/// default, PREFERRED, silently falls back to plain TCP).
fn verifies_tls(database_url: &str) -> bool {
    let Some((_, query)) = database_url.split_once('?') else {
        return false;
    };
    form_urlencoded::parse(query.as_bytes()).any(|(name, value)| {
        matches!(name.as_ref(), "ssl-mode" | "sslmode")
            && matches!(
                value.to_ascii_uppercase().as_str(),
                "VERIFY_IDENTITY" | "VERIFY_CA" | "VERIFY-IDENTITY" | "VERIFY-CA"
            )
    })
}

/// The secrets a Secrets Manager secret may hold (a JSON object of strings).
const SECRET_NAMES: [&str; 4] = [
    "DATABASE_URL",
    "REDIS_URL",
    "TOSS_SECRET_KEY",
    "TOKEN_SIGNING_KEY",
];

impl Settings {
    pub fn from_env() -> Result<Self, InfraError> {
        Self::from_env_and(&std::collections::HashMap::new())
    }

    /// Environment settings, with `secrets` taking precedence for the names it holds.
    fn from_env_and(
        secrets: &std::collections::HashMap<String, String>,
    ) -> Result<Self, InfraError> {
        let secret = |name: &'static str| secrets.get(name).cloned().or_else(|| optional(name));
        let settings = Self {
            database_url: secret("DATABASE_URL").map_or_else(|| env("DATABASE_URL"), Ok)?,
            database_max_connections: env_or("DATABASE_MAX_CONNECTIONS", "2").parse().unwrap_or(2),
            redis_url: secret("REDIS_URL").map_or_else(|| env("REDIS_URL"), Ok)?,
            redis_cluster: flag("REDIS_CLUSTER")?,
            redis_ca_file: optional("REDIS_CA_FILE").map(Into::into),
            redis_key_prefix: std::env::var("REDIS_KEY_PREFIX").unwrap_or_default(),
            table_name: env("TABLE_NAME")?,
            event_bus_name: env_or("EVENT_BUS_NAME", "default"),
            toss_api_base: env_or("TOSS_API_BASE", "https://api.tosspayments.com"),
            toss_secret_key: secret("TOSS_SECRET_KEY"),
            toss_timeout: Duration::from_secs(
                env_or("TOSS_TIMEOUT_SECONDS", "30").parse().unwrap_or(30),
            ),
            checkout: CheckoutSettings {
                client_key: env_or("TOSS_CLIENT_KEY", ""),
                success_url: env_or("TOSS_SUCCESS_URL", "http://127.0.0.1:3000/payments/success"),
                fail_url: env_or("TOSS_FAIL_URL", "http://127.0.0.1:3000/payments/fail"),
            },
            token_signing_key: secret("TOKEN_SIGNING_KEY"),
        };
        if flag("REQUIRE_TLS")? {
            settings.check_tls()?;
        }
        Ok(settings)
    }

    /// With `REQUIRE_TLS=true` (the template sets it) a connection that could fall back to
    /// plain TCP, or trust an unverified certificate, fails the cold start instead.
    fn check_tls(&self) -> Result<(), InfraError> {
        if !self.redis_url.starts_with("rediss://") {
            return Err(InfraError::new(
                "REDIS_URL",
                "must be rediss:// (TLS) where REQUIRE_TLS is set",
            ));
        }
        if !verifies_tls(&self.database_url) {
            return Err(InfraError::new(
                "DATABASE_URL",
                "needs ?ssl-mode=VERIFY_IDENTITY (or VERIFY_CA) where REQUIRE_TLS is set",
            ));
        }
        Ok(())
    }

    /// Settings for a deployed function: the environment, plus the secrets of the Secrets
    /// Manager secret named by `SECRET_ID`, read once per cold start (the template never
    /// holds them).
    pub async fn load(aws: &aws_config::SdkConfig) -> Result<Self, InfraError> {
        Self::load_secret(aws, optional("SECRET_ID").as_deref()).await
    }

    /// The environment with the secrets of `secret_id` (a Secrets Manager secret id or ARN).
    pub async fn load_secret(
        aws: &aws_config::SdkConfig,
        secret_id: Option<&str>,
    ) -> Result<Self, InfraError> {
        let Some(secret_id) = secret_id else {
            return Self::from_env();
        };
        let secret = aws_sdk_secretsmanager::Client::new(aws)
            .get_secret_value()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| InfraError::new("could not read the service secret", e))?;
        let mut values: std::collections::HashMap<String, String> =
            serde_json::from_str(secret.secret_string().unwrap_or("{}")).map_err(|e| {
                InfraError::new("the service secret is not a JSON object of strings", e)
            })?;
        values.retain(|name, _| SECRET_NAMES.contains(&name.as_str()));
        Self::from_env_and(&values)
    }
}

impl Settings {
    pub fn redis_config(&self, timeouts: RedisTimeouts) -> RedisConfig {
        RedisConfig {
            url: self.redis_url.clone(),
            cluster: self.redis_cluster,
            ca_file: self.redis_ca_file.clone(),
            timeouts,
        }
    }
}

impl Services {
    /// Services of a deployed function, configured from its environment and secret.
    pub async fn from_env(redis_timeouts: RedisTimeouts) -> Result<Self, InfraError> {
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let settings = Settings::load(&aws).await?;
        Self::new(&settings, &aws, redis_timeouts)
    }

    pub fn new(
        settings: &Settings,
        aws: &aws_config::SdkConfig,
        redis_timeouts: RedisTimeouts,
    ) -> Result<Self, InfraError> {
        let dynamo = aws_sdk_dynamodb::Client::new(aws);
        let toss = settings
            .toss_secret_key
            .as_deref()
            .map(|key| {
                TossGateway::new(
                    &settings.toss_api_base,
                    key,
                    TossTimeouts {
                        request: settings.toss_timeout,
                        ..TossTimeouts::default()
                    },
                )
            })
            .transpose()?;
        Ok(Self {
            store: MySqlStore::new(lambda_pool(
                &settings.database_url,
                settings.database_max_connections,
            )?),
            counter: RedisViewCounter::new(
                &settings.redis_config(redis_timeouts),
                settings.redis_key_prefix.clone(),
            )?,
            ledger: DynamoViewLossLedger::new(dynamo.clone(), settings.table_name.clone()),
            idempotency: DynamoIdempotencyStore::new(dynamo, settings.table_name.clone()),
            publisher: EventBridgePublisher::new(
                aws_sdk_eventbridge::Client::new(aws),
                settings.event_bus_name.clone(),
            ),
            toss,
            checkout: settings.checkout.clone(),
            payment_timings: PaymentTimings::default(),
            collator: KoreanCollator::new(),
            tokens: settings
                .token_signing_key
                .as_deref()
                .map(|key| TokenIssuer::new(key.as_bytes())),
            auth_limits: AuthLimits::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::verifies_tls;

    #[test]
    fn only_verifying_ssl_modes_count_as_tls() {
        let cases = [
            ("mysql://u:p@h:3306/db", false),
            ("mysql://u:p@h:3306/db?ssl-mode=PREFERRED", false),
            ("mysql://u:p@h:3306/db?ssl-mode=REQUIRED", false),
            ("mysql://u:p@h:3306/db?ssl-mode=VERIFY_IDENTITY", true),
            (
                "mysql://u:p@h:3306/db?ssl-ca=/ca.pem&ssl-mode=verify_ca",
                true,
            ),
            ("mysql://u:p@h:3306/db?sslmode=VERIFY_IDENTITY", true),
            ("mysql://u:p@h:3306/db?x=ssl-mode%3DVERIFY_CA", false),
        ];
        for (url, verifies) in cases {
            assert_eq!(verifies_tls(url), verifies, "{url}");
        }
    }
}
