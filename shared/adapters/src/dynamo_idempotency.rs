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

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
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
            // Claim a new key, or take over one whose holder died (its lease ran out).
            .condition_expression(
                "attribute_not_exists(pk) OR (#state = :in_progress AND lease_until < :now)",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":in_progress", s("IN_PROGRESS"))
            .expression_attribute_values(":now", n(now.timestamp_millis()))
            .send()
            .await;
        match put {
            Ok(_) => return Ok(IdempotencyBegin::Proceed),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) => {}
            Err(e) => return Err(InfraError::new("could not claim the idempotency key", e)),
        }
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
            .item
            .unwrap_or_default();
        let text = |name: &str| {
            item.get(name)
                .and_then(|v| v.as_s().ok())
                .cloned()
                .unwrap_or_default()
        };
        if text("fingerprint") != fingerprint {
            return Ok(IdempotencyBegin::Mismatch);
        }
        if text("state") == "DONE" {
            let status = item
                .get("status")
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(200);
            return Ok(IdempotencyBegin::Replay {
                status,
                body: text("body"),
            });
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
            .expression_attribute_values(":status", n(status.into()))
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
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(InfraError::new("could not release the idempotency key", e)),
        }
    }
}
