//! Scenarios a product person would recognise, run against real MariaDB, Redis and the
//! AWS emulator through the local gateway. One binary, one fresh database per test.

mod auth;
mod confirm_idempotency;
mod deployment;
mod emulator;
mod flush;
mod listing;
mod openapi;
mod payment_recovery;
mod payments;
mod points;
mod profile_edit;
mod redis_faults;
mod redis_outage;
mod redis_stall;
mod refunds;
mod signup_and_validation;
mod toss_verdicts;
mod toss_webhooks;
mod view_counting;
mod virtual_accounts;
