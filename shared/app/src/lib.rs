//! Use cases of the product, each a function over the narrowest ports it needs.
//! Adapters (MySQL, Redis, DynamoDB) implement the ports; tests and benchmarks drive the
//! use cases with real adapters against real servers.

pub mod auth;
pub mod error;
pub mod ports;
pub mod usecases;

pub use error::{AppError, InfraError};
