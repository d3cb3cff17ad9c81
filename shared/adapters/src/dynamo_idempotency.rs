use crate::dynamo::{condition_failed, n, s};
use app::InfraError;
use app::ports::{IdempotencyBegin, IdempotencyStore};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Duration, Utc};

/// Stored answers are replayed for a day; a client retrying later gets a fresh run, which
/// the payment state machine makes safe anyway.
const RECORD_TTL_HOURS: i64 = 24;

/// API idempotency records in the service table: `pk = IDEM#<scope>#<key>`, `sk = IDEM`,
/// `state` (IN_PROGRESS | DONE), `fingerprint`, `lease_until` (epoch ms), `status`, `body`.
#[derive(Clone)]
pub struct DynamoIdempotencyStore {
    client: Client,
    table: String,
}

impl DynamoIdempotencyStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn pk(scope: &str, key: &str) -> AttributeValue {
        AttributeValue::S(format!("IDEM#{scope}#{key}"))
    }
}

impl DynamoIdempotencyStore {
    /// Claims a new key, or takes over one whose holder died (its lease ran out).
    async fn claim(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", Self::pk(scope, key))
            .item("sk", s("IDEM"))
            .item("state", s("IN_PROGRESS"))
            .item("fingerprint", s(fingerprint))
            .item("lease_until", n(lease_until.timestamp_millis()))
            .item(
                "expires_at",
                n((now + Duration::hours(RECORD_TTL_HOURS)).timestamp()),
            )
            .condition_expression(
                "attribute_not_exists(pk) OR (#state = :in_progress AND lease_until < :now)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":in_progress", s("IN_PROGRESS"))
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .send()
            .await;
        match put {
            Ok(_) => Ok(true),
            Err(e) if condition_failed(&e) => Ok(false),
            Err(e) => Err(InfraError::new("could not claim the idempotency key", e)),
        }
    }

    /// What the record of a key already claimed says; None when there is none (any more).
    async fn existing(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
    ) -> Result<Option<IdempotencyBegin>, InfraError> {
        let item = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", Self::pk(scope, key))
            .key("sk", s("IDEM"))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| InfraError::new("could not read the idempotency record", e))?
            .item;
        let Some(item) = item else {
            return Ok(None);
        };
        let text = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        if text("fingerprint") != fingerprint {
            return Ok(Some(IdempotencyBegin::Mismatch));
        }
        if text("state") == "DONE" {
            let status = item
                .get("status")
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(200);
            return Ok(Some(IdempotencyBegin::Replay {
                status,
                body: text("body"),
            }));
        }
        Ok(Some(IdempotencyBegin::InProgress))
    }
}

#[async_trait]
impl IdempotencyStore for DynamoIdempotencyStore {
    async fn begin(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<IdempotencyBegin, InfraError> {
        // A claim that fails and then finds no record met a holder that released the key
        // in between: the key is free again, so claim it again (a few times at most).
        for _ in 0..3 {
            if self
                .claim(scope, key, fingerprint, lease_until, now)
                .await?
            {
                return Ok(IdempotencyBegin::Proceed);
            }
            if let Some(found) = self.existing(scope, key, fingerprint).await? {
                return Ok(found);
            }
        }
        Ok(IdempotencyBegin::InProgress)
    }

    async fn finish(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<(), InfraError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", Self::pk(scope, key))
            .key("sk", s("IDEM"))
            .update_expression("SET #state = :done, #status = :status, body = :body, expires_at = :expires REMOVE lease_until")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":done", s("DONE"))
            .expression_attribute_values(":status", n(status))
            .expression_attribute_values(":body", s(body))
            .expression_attribute_values(":expires", n((now + Duration::hours(RECORD_TTL_HOURS)).timestamp()))
            .send()
            .await
            .map_err(|e| InfraError::new("could not store the idempotent response", e))?;
        Ok(())
    }

    async fn release(&self, scope: &str, key: &str) -> Result<(), InfraError> {
        let deleted = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", Self::pk(scope, key))
            .key("sk", s("IDEM"))
            .condition_expression("#state = :in_progress")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":in_progress", s("IN_PROGRESS"))
            .send()
            .await;
        match deleted {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(InfraError::new("could not release the idempotency key", e)),
        }
    }
}
