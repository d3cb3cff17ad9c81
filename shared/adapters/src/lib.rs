//! Implementations of the app's ports: `MySqlStore` (members, profiles, view history),
//! `RedisViewCounter` (per-day view deltas), `DynamoViewLossLedger` (views Redis missed).

pub mod dynamo_ledger;
pub mod mysql;
pub mod redis_counter;

pub use dynamo_ledger::DynamoViewLossLedger;
pub use mysql::MySqlStore;
pub use redis_counter::{RedisTimeouts, RedisViewCounter};
