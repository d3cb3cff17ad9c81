use crate::dynamo::{condition_failed, n, s};
use app::InfraError;
use app::ports::{LostView, ViewLoss, ViewLossLedger};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, KeySchemaElement, KeyType,
    ScalarAttributeType, TimeToLiveSpecification, TransactWriteItem, Update,
};
use chrono::Utc;
use domain::views::ViewId;
use domain::{KstDay, ProfileId};

/// Ledger partitions per day. A DynamoDB partition takes about 1,000 writes/s; while
/// Redis is down every view lands here, so a day's entries are spread over this many.
pub const LEDGER_SHARDS: u64 = 8;

/// The view-loss ledger in the service's single DynamoDB table (`pk`, `sk`, TTL attribute
/// `expires_at`). Undecided view: `pk = VIEWPENDING#<yyyyMMdd>#<shard>`,
/// `sk = <profileId>#<viewId>`, `sent_at` (ms). Settled tally per profile-day:
/// `pk = VIEWLOSS#<yyyyMMdd>#<shard>`, `sk = <profileId>`, `lost` (views only the ledger
/// has), `counted` (views whose increment landed after all), `applied` (hint of how many
/// MySQL holds).
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

    /// The profile-day tallies of settled views.
    fn partition(day: KstDay, shard: u64) -> String {
        format!("VIEWLOSS#{}#{shard}", day.compact())
    }

    /// The views not settled yet, one item each.
    fn undecided_partition(day: KstDay, profile: ProfileId) -> String {
        format!(
            "VIEWPENDING#{}#{}",
            day.compact(),
            profile.0 % LEDGER_SHARDS
        )
    }

    /// Every item of partition `pk`, read consistently.
    async fn query_all(&self, pk: &str) -> Result<Vec<Item>, InfraError> {
        let mut pages = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk))
            .consistent_read(true)
            .into_paginator()
            .send();
        let mut items = Vec::new();
        while let Some(page) = pages.next().await {
            let page =
                page.map_err(|e| InfraError::new("could not read the view-loss ledger", e))?;
            items.extend(page.items().iter().cloned());
        }
        Ok(items)
    }

    /// Views of `profile` on `day` not settled yet. (Settled ones are applied to MySQL
    /// by the same recovery run, within moments.)
    async fn held_on(&self, profile: ProfileId, day: KstDay) -> Result<u64, InfraError> {
        let counted = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(Self::undecided_partition(day, profile)))
            .expression_attribute_values(":prefix", s(format!("{}#", profile.0)))
            .select(aws_sdk_dynamodb::types::Select::Count)
            .send()
            .await
            .map_err(|e| InfraError::new("could not read the view-loss ledger", e))?;
        Ok(counted.count().max(0) as u64)
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

type Item = std::collections::HashMap<String, AttributeValue>;

fn expires_at() -> i64 {
    // Entries outlive the counters by weeks: the nightly recovery still applies them.
    let days = i64::from(domain::views::LOSS_LEDGER_RETENTION_DAYS);
    (Utc::now() + chrono::Duration::days(days)).timestamp()
}

/// An undecided item of `day`: `sk = <profileId>#<viewId>`, `sent_at`.
fn undecided_view(item: &Item, day: KstDay) -> Option<LostView> {
    let (profile, id) = item.get("sk")?.as_s().ok()?.split_once('#')?;
    Some(LostView {
        profile: ProfileId(profile.parse().ok()?),
        day,
        id: ViewId(id.parse().ok()?),
        sent_at_ms: item.get("sent_at")?.as_n().ok()?.parse().ok()?,
    })
}

/// The transaction failed because the undecided item was gone: settled before.
fn already_settled(
    e: &aws_sdk_dynamodb::error::SdkError<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError,
    >,
) -> bool {
    e.as_service_error()
        .and_then(|s| match s {
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError::TransactionCanceledException(c) => Some(c),
            _ => None,
        })
        .is_some_and(|c| {
            c.cancellation_reasons()
                .first()
                .and_then(|r| r.code())
                .is_some_and(|code| code == "ConditionalCheckFailed")
        })
}

fn number(item: &Item, name: &str) -> u64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[async_trait]
impl ViewLossLedger for DynamoViewLossLedger {
    async fn record_loss(&self, view: &LostView) -> Result<(), InfraError> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(Self::undecided_partition(view.day, view.profile)))
            .item("sk", s(format!("{}#{}", view.profile.0, view.id.0)))
            .item("sent_at", n(view.sent_at_ms))
            .item("expires_at", n(expires_at()))
            // A retried put (the SDK retries a lost answer) finds its own item: done.
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match put {
            Ok(_) => Ok(()),
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(InfraError::new(
                "could not record a lost view in DynamoDB",
                e,
            )),
        }
    }

    async fn undecided(&self, day: KstDay) -> Result<Vec<LostView>, InfraError> {
        let mut out = Vec::new();
        for shard in 0..LEDGER_SHARDS {
            let pk = format!("VIEWPENDING#{}#{shard}", day.compact());
            for item in self.query_all(&pk).await? {
                match undecided_view(&item, day) {
                    Some(view) => out.push(view),
                    None => tracing::warn!("skipping a malformed undecided view-loss item"),
                }
            }
        }
        Ok(out)
    }

    async fn settle(&self, view: &LostView, counted: bool) -> Result<(), InfraError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(Self::undecided_partition(view.day, view.profile)))
            .key("sk", s(format!("{}#{}", view.profile.0, view.id.0)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .expect("complete delete");
        let tally = if counted { "counted" } else { "lost" };
        let update = Update::builder()
            .table_name(&self.table)
            .key(
                "pk",
                s(Self::partition(view.day, view.profile.0 % LEDGER_SHARDS)),
            )
            .key("sk", s(view.profile.0.to_string()))
            .update_expression(format!(
                "ADD {tally} :one SET expires_at = if_not_exists(expires_at, :expires)"
            ))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":expires", n(expires_at()))
            .build()
            .expect("complete update");
        // One transaction: the view leaves the undecided set exactly when its profile-day
        // tally takes it, so settling twice (a retry, two runs) cannot count it twice.
        let settled = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().delete(delete).build())
            .transact_items(TransactWriteItem::builder().update(update).build())
            .send()
            .await;
        match settled {
            Ok(_) => Ok(()),
            Err(e) if already_settled(&e) => Ok(()),
            Err(e) => Err(InfraError::new(
                "could not settle a lost view in DynamoDB",
                e,
            )),
        }
    }

    async fn held_views(&self, profile: ProfileId, days: &[KstDay]) -> Result<u64, InfraError> {
        let per_day = days.iter().map(|day| self.held_on(profile, *day));
        let counts = futures::future::try_join_all(per_day).await?;
        Ok(counts.into_iter().sum())
    }

    async fn losses(&self, day: KstDay) -> Result<Vec<ViewLoss>, InfraError> {
        let mut out = Vec::new();
        for shard in 0..LEDGER_SHARDS {
            for item in self.query_all(&Self::partition(day, shard)).await? {
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
                    lost: number(&item, "lost"),
                    applied_hint: number(&item, "applied"),
                });
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
            Err(e) if condition_failed(&e) => Ok(()),
            Err(e) => Err(InfraError::new(
                "could not note applied losses in DynamoDB",
                e,
            )),
        }
    }
}
