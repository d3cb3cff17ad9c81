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
use secrecy::{ExposeSecret, SecretString};
use std::time::Duration;

/// The clients a function uses, built once per execution environment and shared by all
/// its invocations: only those its route or job declares it needs (`Needs`). Nothing here
/// opens a connection: the first request that needs a server connects, so a cold start
/// does no network work it might not need.
pub struct Services {
    pub store: Built<MySqlStore>,
    pub counter: Built<RedisViewCounter>,
    pub ledger: Built<DynamoViewLossLedger>,
    pub idempotency: Built<DynamoIdempotencyStore>,
    pub publisher: Built<EventBridgePublisher>,
    /// Present where a Toss secret key is configured (the payment functions only).
    pub toss: Option<TossGateway>,
    pub checkout: CheckoutSettings,
    pub payment_timings: PaymentTimings,
    pub refund_policy: domain::refund::RefundPolicy,
    /// When a view's increment counts as too late, and the clock skew allowed (the detail
    /// route and the loss recovery must agree).
    pub view_landing: domain::views::LandingRules,
    pub collator: KoreanCollator,
    /// Present where a token signing key is configured (signup, login, the authorizer).
    pub tokens: Option<TokenIssuer>,
    pub auth_limits: AuthLimits,
}

/// A client the function declared it needs, or nothing. Using one it did not declare is a
/// wiring bug, caught by the test that runs every function with only its declared clients.
pub struct Built<T> {
    what: &'static str,
    client: Option<T>,
}

impl<T> Built<T> {
    fn new(
        what: &'static str,
        wanted: bool,
        build: impl FnOnce() -> Result<T, InfraError>,
    ) -> Result<Self, InfraError> {
        let client = if wanted { Some(build()?) } else { None };
        Ok(Self { what, client })
    }

    /// A client built outside (a test's own, on the same servers).
    pub fn with(what: &'static str, client: T) -> Self {
        Self {
            what,
            client: Some(client),
        }
    }
}

impl<T> std::ops::Deref for Built<T> {
    type Target = T;

    fn deref(&self) -> &T {
        self.client.as_ref().unwrap_or_else(|| {
            panic!(
                "{} is not built for this function: declare it in its route's or job's `needs`",
                self.what
            )
        })
    }
}

/// Settings read once per cold start from the environment (see `template.yaml` and
/// `infra/local/stack.sh`), secrets from Secrets Manager. A required setting that is
/// missing or malformed fails the cold start with its name; secrets are `SecretString`s,
/// which never print.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Holds the database password.
    pub database_url: SecretString,
    pub database_max_connections: u32,
    /// May hold an AUTH token.
    pub redis_url: SecretString,
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
    /// Only where the function calls Toss (its own secret, `TOSS_SECRET_ID`).
    pub toss_secret_key: Option<SecretString>,
    pub toss_timeout: Duration,
    pub checkout: CheckoutSettings,
    /// Only where the function issues or verifies tokens (`TOKEN_SECRET_ID`).
    pub token_signing_key: Option<SecretString>,
    /// The refund rules (`REFUND_*`; the defaults follow the FSS norms, see domain::refund).
    pub refund_policy: domain::refund::RefundPolicy,
}

/// What a function needs, declared by its route or job: the clients `Services` builds for
/// it, and the secrets whose absence fails its cold start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Needs {
    pub mysql: bool,
    pub redis: bool,
    /// The DynamoDB table (view-loss ledger, API idempotency keys).
    pub dynamo: bool,
    /// The EventBridge bus (the payment outbox).
    pub events: bool,
    pub toss: bool,
    pub tokens: bool,
}

impl Needs {
    /// Every client (the local gateway, the tests and the benches serve every route).
    pub const ALL: Needs = Needs {
        mysql: true,
        redis: true,
        dynamo: true,
        events: true,
        toss: true,
        tokens: true,
    };
    /// MySQL only; the base the routes and jobs add to.
    pub const MYSQL: Needs = Needs {
        mysql: true,
        redis: false,
        dynamo: false,
        events: false,
        toss: false,
        tokens: false,
    };
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

/// A number setting: its default when unset, a cold-start failure naming it when it is
/// not a number (never a silent default).
fn number<T: std::str::FromStr>(name: &'static str, default: T) -> Result<T, InfraError>
where
    T::Err: std::fmt::Display,
{
    optional(name).map_or(Ok(default), |raw| {
        raw.parse()
            .map_err(|e| InfraError::new(name, format!("must be a number, not {raw:?}: {e}")))
    })
}

/// The refund rules from `REFUND_COOLING_OFF_DAYS`, `REFUND_FEE_PERCENT` and
/// `REFUND_FEE_FREE_AFTER_USED_PERCENT`; percentages above 100 fail the cold start.
fn refund_policy() -> Result<domain::refund::RefundPolicy, InfraError> {
    let default = domain::refund::RefundPolicy::default();
    let percent = |name: &'static str, default: u64| {
        number(name, default).and_then(|p| {
            (p <= 100)
                .then_some(p)
                .ok_or_else(|| InfraError::new(name, format!("must be 0..=100, not {p}")))
        })
    };
    Ok(domain::refund::RefundPolicy {
        cooling_off_days: number("REFUND_COOLING_OFF_DAYS", default.cooling_off_days)?,
        fee_percent: percent("REFUND_FEE_PERCENT", default.fee_percent)?,
        fee_free_after_used_percent: percent(
            "REFUND_FEE_FREE_AFTER_USED_PERCENT",
            default.fee_free_after_used_percent,
        )?,
    })
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

/// Each Secrets Manager secret (a JSON object of strings), the variable naming it, and
/// the only names taken from it: a function's role can read only the secrets it uses, so
/// the Toss key reaches only the functions that call Toss.
const SECRETS: [(&str, &[&str]); 3] = [
    ("SECRET_ID", &["DATABASE_URL", "REDIS_URL"]),
    ("TOKEN_SECRET_ID", &["TOKEN_SIGNING_KEY"]),
    ("TOSS_SECRET_ID", &["TOSS_SECRET_KEY"]),
];

type SecretValues = std::collections::HashMap<String, SecretString>;

impl Settings {
    pub fn from_env() -> Result<Self, InfraError> {
        Self::from_env_and(&SecretValues::new())
    }

    /// Environment settings, with `secrets` taking precedence for the names it holds.
    fn from_env_and(secrets: &SecretValues) -> Result<Self, InfraError> {
        let secret = |name: &'static str| {
            secrets
                .get(name)
                .cloned()
                .or_else(|| optional(name).map(SecretString::from))
        };
        let required = |name: &'static str| {
            secret(name).ok_or_else(|| InfraError::new(name, "is not set (nor in its secret)"))
        };
        let settings = Self {
            database_url: required("DATABASE_URL")?,
            database_max_connections: number("DATABASE_MAX_CONNECTIONS", 2)?,
            redis_url: required("REDIS_URL")?,
            redis_cluster: flag("REDIS_CLUSTER")?,
            redis_ca_file: optional("REDIS_CA_FILE").map(Into::into),
            redis_key_prefix: std::env::var("REDIS_KEY_PREFIX").unwrap_or_default(),
            table_name: env("TABLE_NAME")?,
            event_bus_name: env_or("EVENT_BUS_NAME", "default"),
            toss_api_base: env_or("TOSS_API_BASE", "https://api.tosspayments.com"),
            toss_secret_key: secret("TOSS_SECRET_KEY"),
            toss_timeout: Duration::from_secs(number("TOSS_TIMEOUT_SECONDS", 30)?),
            checkout: CheckoutSettings {
                client_key: env_or("TOSS_CLIENT_KEY", ""),
                success_url: env_or("TOSS_SUCCESS_URL", "http://127.0.0.1:3000/payments/success"),
                fail_url: env_or("TOSS_FAIL_URL", "http://127.0.0.1:3000/payments/fail"),
            },
            token_signing_key: secret("TOKEN_SIGNING_KEY"),
            refund_policy: refund_policy()?,
        };
        if flag("REQUIRE_TLS")? {
            settings.check_tls()?;
        }
        Ok(settings)
    }

    /// Fails the cold start when a secret the function needs is missing.
    pub fn require(&self, needs: Needs) -> Result<(), InfraError> {
        if needs.toss && self.toss_secret_key.is_none() {
            return Err(InfraError::new(
                "TOSS_SECRET_KEY",
                "is needed by this function (secret TOSS_SECRET_ID)",
            ));
        }
        if needs.tokens && self.token_signing_key.is_none() {
            return Err(InfraError::new(
                "TOKEN_SIGNING_KEY",
                "is needed by this function (secret TOKEN_SECRET_ID)",
            ));
        }
        Ok(())
    }

    /// With `REQUIRE_TLS=true` (the template sets it) a connection that could fall back to
    /// plain TCP, or trust an unverified certificate, fails the cold start instead.
    fn check_tls(&self) -> Result<(), InfraError> {
        if !self.redis_url.expose_secret().starts_with("rediss://") {
            return Err(InfraError::new(
                "REDIS_URL",
                "must be rediss:// (TLS) where REQUIRE_TLS is set",
            ));
        }
        if !verifies_tls(self.database_url.expose_secret()) {
            return Err(InfraError::new(
                "DATABASE_URL",
                "needs ?ssl-mode=VERIFY_IDENTITY (or VERIFY_CA) where REQUIRE_TLS is set",
            ));
        }
        Ok(())
    }

    /// Settings for a deployed function: the environment, plus the secrets of each
    /// Secrets Manager secret its environment names (`SECRETS`), read once per cold start
    /// (the template never holds them).
    pub async fn load(aws: &aws_config::SdkConfig) -> Result<Self, InfraError> {
        Self::load_secrets(aws, SECRETS.map(|(variable, _)| optional(variable))).await
    }

    /// The environment with the secrets of these secret ids (ids or ARNs), in the order of
    /// `SECRETS`: the service secret, the token secret, the Toss secret.
    pub async fn load_secrets(
        aws: &aws_config::SdkConfig,
        secret_ids: [Option<String>; 3],
    ) -> Result<Self, InfraError> {
        let mut values = SecretValues::new();
        for ((_, names), secret_id) in SECRETS.iter().zip(secret_ids) {
            if let Some(secret_id) = secret_id {
                values.extend(read_secret(aws, &secret_id, names).await?);
            }
        }
        Self::from_env_and(&values)
    }
}

/// The token signing key alone, for the authorizer (which reads no other setting): from
/// the secret `TOKEN_SECRET_ID` names, else `TOKEN_SIGNING_KEY`; missing fails the cold
/// start.
pub async fn load_token_key(aws: &aws_config::SdkConfig) -> Result<SecretString, InfraError> {
    token_key(aws, optional("TOKEN_SECRET_ID").as_deref()).await
}

/// The token signing key from the secret `secret_id`, else from `TOKEN_SIGNING_KEY`.
pub async fn token_key(
    aws: &aws_config::SdkConfig,
    secret_id: Option<&str>,
) -> Result<SecretString, InfraError> {
    const NAME: &str = "TOKEN_SIGNING_KEY";
    let from_secret = match secret_id {
        Some(secret_id) => read_secret(aws, secret_id, &[NAME]).await?.remove(NAME),
        None => None,
    };
    from_secret
        .or_else(|| optional(NAME).map(SecretString::from))
        .ok_or_else(|| {
            InfraError::new(NAME, "is needed by the authorizer (secret TOKEN_SECRET_ID)")
        })
}

/// The values of `names` in the secret `secret_id` (an id or ARN); other names in it are
/// ignored (logged by name), so a secret cannot hand a function more than it should get.
async fn read_secret(
    aws: &aws_config::SdkConfig,
    secret_id: &str,
    names: &[&str],
) -> Result<SecretValues, InfraError> {
    let secret = aws_sdk_secretsmanager::Client::new(aws)
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| InfraError::new("could not read a secret", e))?;
    let values: std::collections::HashMap<String, String> =
        serde_json::from_str(secret.secret_string().unwrap_or("{}"))
            .map_err(|e| InfraError::new("a secret is not a JSON object of strings", e))?;
    let mut taken = SecretValues::new();
    for (name, value) in values {
        if names.contains(&name.as_str()) {
            taken.insert(name, value.into());
        } else {
            tracing::warn!(secret_name = %name, "ignored: this secret may not provide it");
        }
    }
    Ok(taken)
}

impl Settings {
    pub fn redis_config(&self, timeouts: RedisTimeouts) -> RedisConfig {
        RedisConfig {
            url: self.redis_url.expose_secret().to_owned(),
            cluster: self.redis_cluster,
            ca_file: self.redis_ca_file.clone(),
            timeouts,
        }
    }
}

/// How long a caller waits for DynamoDB: a detail view must not hang on a browned-out
/// table (the view is then lost and logged), a job can wait longer. Each attempt and the
/// whole operation with the SDK's retries are bounded.
#[derive(Debug, Clone, Copy)]
pub struct DynamoTimeouts {
    pub attempt: std::time::Duration,
    pub operation: std::time::Duration,
}

impl DynamoTimeouts {
    pub const REQUEST: Self = Self {
        attempt: std::time::Duration::from_millis(2_000),
        operation: std::time::Duration::from_millis(5_000),
    };
    pub const JOB: Self = Self {
        attempt: std::time::Duration::from_secs(10),
        operation: std::time::Duration::from_secs(60),
    };

    /// A DynamoDB client on `aws` with these timeouts.
    pub fn client(self, aws: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
        let timeouts = aws_sdk_dynamodb::config::timeout::TimeoutConfig::builder()
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build();
        let config = aws_sdk_dynamodb::config::Builder::from(aws)
            .timeout_config(timeouts)
            .build();
        aws_sdk_dynamodb::Client::from_conf(config)
    }
}

/// What one invocation may wait on its dependencies: a request little, a job more.
#[derive(Debug, Clone, Copy)]
pub struct CallBudget {
    pub redis: RedisTimeouts,
    pub dynamo: DynamoTimeouts,
}

impl CallBudget {
    pub const REQUEST: Self = Self {
        redis: RedisTimeouts::REQUEST,
        dynamo: DynamoTimeouts::REQUEST,
    };
    pub const JOB: Self = Self {
        redis: RedisTimeouts::JOB,
        dynamo: DynamoTimeouts::JOB,
    };
}

impl Services {
    /// Every client (the local gateway, the tests, the benches).
    pub fn new(
        settings: &Settings,
        aws: &aws_config::SdkConfig,
        budget: CallBudget,
    ) -> Result<Self, InfraError> {
        Self::for_needs(settings, aws, budget, Needs::ALL)
    }

    /// The clients `needs` names, and no other.
    pub fn for_needs(
        settings: &Settings,
        aws: &aws_config::SdkConfig,
        budget: CallBudget,
        needs: Needs,
    ) -> Result<Self, InfraError> {
        let dynamo = || budget.dynamo.client(aws);
        let table = || settings.table_name.clone();
        Ok(Self {
            store: Built::new("MySQL", needs.mysql, || {
                let url = settings.database_url.expose_secret();
                Ok(MySqlStore::new(lambda_pool(
                    url,
                    settings.database_max_connections,
                )?))
            })?,
            counter: Built::new("Redis", needs.redis, || {
                let config = settings.redis_config(budget.redis);
                RedisViewCounter::new(&config, settings.redis_key_prefix.clone())
            })?,
            ledger: Built::new("the view-loss ledger (DynamoDB)", needs.dynamo, || {
                Ok(DynamoViewLossLedger::new(dynamo(), table()))
            })?,
            idempotency: Built::new("the idempotency store (DynamoDB)", needs.dynamo, || {
                Ok(DynamoIdempotencyStore::new(dynamo(), table()))
            })?,
            publisher: Built::new("the event bus (EventBridge)", needs.events, || {
                let client = aws_sdk_eventbridge::Client::new(aws);
                Ok(EventBridgePublisher::new(
                    client,
                    settings.event_bus_name.clone(),
                ))
            })?,
            toss: needs
                .toss
                .then(|| toss_gateway(settings))
                .transpose()?
                .flatten(),
            checkout: settings.checkout.clone(),
            payment_timings: PaymentTimings::default(),
            refund_policy: settings.refund_policy,
            view_landing: domain::views::LandingRules::default(),
            collator: KoreanCollator::new(),
            tokens: settings
                .token_signing_key
                .as_ref()
                .filter(|_| needs.tokens)
                .map(|key| TokenIssuer::new(key.expose_secret().as_bytes())),
            auth_limits: AuthLimits::default(),
        })
    }
}

/// The Toss client, where the secret key is configured.
fn toss_gateway(settings: &Settings) -> Result<Option<TossGateway>, InfraError> {
    let Some(key) = settings.toss_secret_key.as_ref() else {
        return Ok(None);
    };
    let timeouts = TossTimeouts {
        request: settings.toss_timeout,
        ..TossTimeouts::default()
    };
    TossGateway::new(&settings.toss_api_base, key.expose_secret(), timeouts).map(Some)
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
