//! What the use cases need from the outside world, one small trait per capability.

use crate::error::InfraError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::listing::{Cursor, ProfileFilter};
use domain::{Category, KstDay, MemberId, NewMember, ProfileId, Region};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registered {
    pub member_id: MemberId,
    pub profile_id: ProfileId,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("email already registered")]
    DuplicateEmail,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

#[async_trait]
pub trait MemberRegistry: Send + Sync {
    /// Creates the member and its profile together, or neither.
    async fn register(
        &self,
        member: &NewMember,
        now: DateTime<Utc>,
    ) -> Result<Registered, RegisterError>;
}

/// A profile row as stored, with what the view count needs: the flushed total and the
/// watermarks telling which Redis days it already contains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRecord {
    pub id: ProfileId,
    pub member_id: MemberId,
    pub name: String,
    pub headline: String,
    pub category: Category,
    pub career_years: u8,
    pub region: Region,
    pub introduction: String,
    pub created_at: DateTime<Utc>,
    pub flushed_views: u64,
    pub own_flushed_through: Option<KstDay>,
    /// Last day the flush job completed for all profiles, read in the same statement as
    /// the row so the two are consistent.
    pub global_flushed_through: Option<KstDay>,
}

#[async_trait]
pub trait ProfileReader: Send + Sync {
    async fn find(&self, id: ProfileId) -> Result<Option<ProfileRecord>, InfraError>;
}

#[async_trait]
pub trait ProfileSearch: Send + Sync {
    /// Newest first, strictly below the cursor, at most `limit` rows.
    async fn search(
        &self,
        filter: &ProfileFilter,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> Result<Vec<ProfileRecord>, InfraError>;
}

/// Per-day view deltas in a fast shared counter store (Redis).
#[async_trait]
pub trait ViewCounter: Send + Sync {
    /// Adds one view to `today` and returns today's delta after the increment together
    /// with the deltas of `closed_days` (same order), in one round trip.
    async fn count_view(
        &self,
        profile: ProfileId,
        today: KstDay,
        closed_days: &[KstDay],
    ) -> Result<(u64, Vec<u64>), InfraError>;

    /// Takes back a view counted for a profile that turned out not to exist.
    async fn uncount_view(&self, profile: ProfileId, today: KstDay) -> Result<(), InfraError>;

    /// Sum of the deltas of the given days, per profile (same order), in one round trip.
    async fn sum_days(&self, wanted: &[(ProfileId, Vec<KstDay>)]) -> Result<Vec<u64>, InfraError>;

    /// Every profile viewed on `day` in one shard, with its delta.
    async fn day_shard(&self, day: KstDay, shard: u64)
    -> Result<Vec<(ProfileId, u64)>, InfraError>;
}

/// Durable record of views that could not be counted in Redis (DynamoDB).
#[async_trait]
pub trait ViewLossLedger: Send + Sync {
    async fn record_loss(&self, profile: ProfileId, day: KstDay) -> Result<(), InfraError>;
    /// Every ledger entry of `day`.
    async fn losses(&self, day: KstDay) -> Result<Vec<ViewLoss>, InfraError>;
    /// Notes how many of an entry's views MySQL holds, so later runs can skip it. Only a
    /// hint: MySQL's own record decides what is applied.
    async fn note_applied(&self, loss: &ViewLoss, applied: u64) -> Result<(), InfraError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewLoss {
    pub profile: ProfileId,
    pub day: KstDay,
    pub lost: u64,
    pub applied_hint: u64,
}

/// MySQL side of the view history: totals, per-day rows, flush runs, applied losses.
#[async_trait]
pub trait ViewHistory: Send + Sync {
    async fn last_completed_flush(&self) -> Result<Option<KstDay>, InfraError>;
    /// Adds each profile's delta for `day` unless that profile already has `day` flushed.
    /// Returns how many profiles were updated.
    async fn apply_flush_batch(
        &self,
        day: KstDay,
        deltas: &[(ProfileId, u64)],
    ) -> Result<u64, InfraError>;
    async fn complete_flush(
        &self,
        day: KstDay,
        profiles: u64,
        views: u64,
        now: DateTime<Utc>,
    ) -> Result<(), InfraError>;
    /// Brings MySQL up to `lost` views for this ledger entry; returns how many views this
    /// call added (0 when already applied). Exactly once however often it is called.
    async fn apply_loss(
        &self,
        profile: ProfileId,
        day: KstDay,
        lost: u64,
    ) -> Result<u64, InfraError>;
}
