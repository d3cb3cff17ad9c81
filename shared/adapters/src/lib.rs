//! Implementations of the app's ports: `MySqlStore` (members, profiles, view history,
//! payments, points), `RedisViewCounter` (per-day view deltas), `DynamoViewLossLedger` (views
//! Redis missed), `DynamoIdempotencyStore` (API Idempotency-Key records), `TossGateway`
//! (Toss Payments), `EventBridgePublisher` (domain events).

mod dynamo;
pub mod dynamo_idempotency;
pub mod dynamo_ledger;
pub mod eventbridge;
pub mod metrics;
pub mod mysql;
pub mod mysql_deposits;
pub mod mysql_payments;
pub mod mysql_points;
pub mod mysql_refunds;
pub mod mysql_webhooks;
pub mod redis_connection;
pub mod redis_counter;
pub mod redis_detail;
pub mod toss;

pub use dynamo_idempotency::DynamoIdempotencyStore;
pub use dynamo_ledger::DynamoViewLossLedger;
pub use eventbridge::EventBridgePublisher;
pub use mysql::MySqlStore;
pub use redis_connection::{RedisConfig, RedisConnection, RedisTimeouts};
pub use redis_counter::RedisViewCounter;
pub use toss::{TossGateway, TossTimeouts};
