use domain::ValidationError;
use std::error::Error as StdError;

pub type BoxError = Box<dyn StdError + Send + Sync + 'static>;

/// A dependency (database, cache, ledger) failed or timed out. `what` names the step in
/// words an operator can act on; the source keeps the driver's detail for the logs.
#[derive(Debug, thiserror::Error)]
#[error("{what}")]
pub struct InfraError {
    pub what: &'static str,
    #[source]
    pub source: BoxError,
}

impl InfraError {
    pub fn new(what: &'static str, source: impl Into<BoxError>) -> Self {
        Self {
            what,
            source: source.into(),
        }
    }
}

/// Everything a use case can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    #[error("email already registered")]
    DuplicateEmail,
    #[error("profile not found")]
    ProfileNotFound,
    /// A valid token whose member is not (or no longer) in the database.
    #[error("member not found")]
    MemberNotFound,
    #[error(transparent)]
    Unavailable(#[from] InfraError),
}
