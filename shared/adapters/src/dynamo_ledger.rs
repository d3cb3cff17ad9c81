use app::InfraError;
use app::ports::{ViewLoss, ViewLossLedger};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TimeToLiveSpecification,
};
use chrono::Utc;
use domain::{KstDay, ProfileId};

/// Ledger partitions per day. A DynamoDB partition takes about 1,000 writes/s; while
/// Redis is down every view lands here, so a day's entries are spread over this many.
pub const LEDGER_SHARDS: u64 = 8;
/// Ledger entries outlive the recovery window by weeks, for investigations.
const LEDGER_TTL_DAYS: i64 = 35;

/// The view-loss ledger in the service's single DynamoDB table (`pk`, `sk`, TTL attribute
/// `expires_at`). Item: `pk = VIEWLOSS#<yyyyMMdd>#<shard>`, `sk = <profileId>`,
/// `lost` (views recorded), `applied` (hint of how many MySQL holds).
#[derive(Clone)]
pub struct DynamoViewLossLedger {
    client: Client,
    table: String,
}

impl DynamoViewLossLedger {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn partition(day: KstDay, shard: u64) -> String {
        format!("VIEWLOSS#{}#{shard}", day.compact())
    }

    /// Creates the service table (local stack and tests; production gets it from the SAM
    /// template). Succeeds if it already exists.
    pub async fn create_table(client: &Client, table: &str) -> Result<(), InfraError> {
        let key = |name: &str, kind| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .expect("complete key schema")
        };
        let attr = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .expect("complete attribute definition")
        };
        let created = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .key_schema(key("pk", KeyType::Hash))
            .key_schema(key("sk", KeyType::Range))
            .attribute_definitions(attr("pk"))
            .attribute_definitions(attr("sk"))
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_in_use_exception()) =>
            {
                return Ok(());
            }
            Err(e) => return Err(InfraError::new("could not create the DynamoDB table", e)),
        }
        client
            .update_time_to_live()
            .table_name(table)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name("expires_at")
                    .build()
                    .expect("complete TTL specification"),
            )
            .send()
            .await
            .map_err(|e| InfraError::new("could not enable the table TTL", e))?;
        Ok(())
    }
}

fn number(item: &std::collections::HashMap<String, AttributeValue>, name: &str) -> u64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[async_trait]
impl ViewLossLedger for DynamoViewLossLedger {
    async fn record_loss(&self, profile: ProfileId, day: KstDay) -> Result<(), InfraError> {
        let expires_at = (Utc::now() + chrono::Duration::days(LEDGER_TTL_DAYS)).timestamp();
        self.client
            .update_item()
            .table_name(&self.table)
            .key(
                "pk",
                AttributeValue::S(Self::partition(day, profile.0 % LEDGER_SHARDS)),
            )
            .key("sk", AttributeValue::S(profile.0.to_string()))
            .update_expression("ADD lost :one SET expires_at = if_not_exists(expires_at, :expires)")
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .expression_attribute_values(":expires", AttributeValue::N(expires_at.to_string()))
            .send()
            .await
            .map_err(|e| InfraError::new("could not record a lost view in DynamoDB", e))?;
        Ok(())
    }

    async fn losses(&self, day: KstDay) -> Result<Vec<ViewLoss>, InfraError> {
        let mut out = Vec::new();
        for shard in 0..LEDGER_SHARDS {
            let mut pages = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", AttributeValue::S(Self::partition(day, shard)))
                .consistent_read(true)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page =
                    page.map_err(|e| InfraError::new("could not read the view-loss ledger", e))?;
                for item in page.items() {
                    let Some(profile) = item
                        .get("sk")
                        .and_then(|v| v.as_s().ok())
                        .and_then(|s| s.parse().ok())
                    else {
                        tracing::warn!("skipping a malformed view-loss ledger item");
                        continue;
                    };
                    out.push(ViewLoss {
                        profile: ProfileId(profile),
                        day,
                        lost: number(item, "lost"),
                        applied_hint: number(item, "applied"),
                    });
                }
            }
        }
        Ok(out)
    }

    async fn note_applied(&self, loss: &ViewLoss, applied: u64) -> Result<(), InfraError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(
                "pk",
                AttributeValue::S(Self::partition(loss.day, loss.profile.0 % LEDGER_SHARDS)),
            )
            .key("sk", AttributeValue::S(loss.profile.0.to_string()))
            .update_expression("SET applied = :n")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(applied) OR applied < :n)",
            )
            .expression_attribute_values(":n", AttributeValue::N(applied.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(InfraError::new(
                "could not note applied losses in DynamoDB",
                e,
            )),
        }
    }
}
