use crate::error::AppError;
use crate::ports::{ViewCounter, ViewHistory};
use chrono::{DateTime, Utc};
use domain::views::{
    COUNTER_RETENTION_DAYS, SHARDS, shards_with_lost_counters, unflushed_closed_days,
};
use domain::{KstDay, ProfileId};
use serde::Serialize;
use std::time::Instant;

/// Rows per MySQL transaction: big enough that round trips do not dominate, small enough
/// that one transaction's locks and undo stay modest.
pub const FLUSH_BATCH_ROWS: usize = 5_000;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FlushSummary {
    pub days: Vec<DayFlush>,
    /// Days that were never flushed and whose counters have already expired.
    pub expired_unflushed_days: Vec<String>,
    /// Shards whose Redis counters vanished since the last run (node replaced empty,
    /// data flushed or evicted): the views they held are lost.
    pub lost_counter_shards: Vec<u64>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DayFlush {
    pub day: String,
    pub viewed_profiles: u64,
    pub views: u64,
    /// Profiles updated by this run; fewer than `viewed_profiles` when a previous,
    /// interrupted run had already flushed some of them.
    pub applied_profiles: u64,
    pub millis: u64,
}

pub struct FlushViewsDeps<'a> {
    pub counter: &'a dyn ViewCounter,
    pub history: &'a dyn ViewHistory,
}

/// Moves every closed, unflushed day's Redis deltas into MySQL, oldest day first (a
/// profile's watermark only moves forward, so an older day flushed after a newer one
/// would be skipped). Restartable and idempotent: a profile already holding a day is not
/// added again, and a day is recorded as complete only after all its batches.
#[tracing::instrument(name = "flush_views", skip_all)]
pub async fn flush_views(
    deps: &FlushViewsDeps<'_>,
    now: DateTime<Utc>,
) -> Result<FlushSummary, AppError> {
    let today = KstDay::of(now);
    let last = deps.history.last_completed_flush().await?;
    let mut summary = FlushSummary::default();
    if let Some(last) = last {
        let oldest_kept = today.minus_days(COUNTER_RETENTION_DAYS);
        summary.expired_unflushed_days = last
            .days_after_through(oldest_kept)
            .into_iter()
            .map(|d| d.to_string())
            .collect();
        if !summary.expired_unflushed_days.is_empty() {
            tracing::error!(days = ?summary.expired_unflushed_days, "view counters expired before they were flushed");
        }
    }
    summary.lost_counter_shards = check_counter_markers(deps, now).await?;
    for day in unflushed_closed_days(last, today) {
        let flushed = flush_day(deps, day, now).await?;
        tracing::info!(day = %flushed.day, viewed_profiles = flushed.viewed_profiles, views = flushed.views,
            applied_profiles = flushed.applied_profiles, millis = flushed.millis, "day flushed");
        summary.days.push(flushed);
    }
    Ok(summary)
}

/// Compares each shard's Redis marker with the one recorded last time (a missing one is
/// set anew), then records what is there now. Never silent: a lost shard is logged.
async fn check_counter_markers(
    deps: &FlushViewsDeps<'_>,
    now: DateTime<Utc>,
) -> Result<Vec<u64>, AppError> {
    let ours = format!("{}", now.timestamp_micros());
    let present = deps.counter.claim_markers(&ours).await?;
    let recorded = deps.history.counter_markers().await?;
    let lost = shards_with_lost_counters(&recorded, &present);
    if !lost.is_empty() {
        tracing::error!(shards = ?lost, "Redis view counters were lost (their shard markers are gone)");
    }
    let now_there: Vec<(u64, String)> = present
        .into_iter()
        .enumerate()
        .map(|(shard, found)| (shard as u64, found.unwrap_or_else(|| ours.clone())))
        .collect();
    deps.history.record_counter_markers(&now_there).await?;
    Ok(lost)
}

async fn flush_day(
    deps: &FlushViewsDeps<'_>,
    day: KstDay,
    now: DateTime<Utc>,
) -> Result<DayFlush, AppError> {
    let started = Instant::now();
    let (mut viewed_profiles, mut views, mut applied_profiles) = (0u64, 0u64, 0u64);
    let mut batch: Vec<(ProfileId, u64)> = Vec::with_capacity(FLUSH_BATCH_ROWS);
    for shard in 0..SHARDS {
        for entry in deps.counter.day_shard(day, shard).await? {
            viewed_profiles += 1;
            views += entry.1;
            batch.push(entry);
            if batch.len() == FLUSH_BATCH_ROWS {
                applied_profiles += deps.history.apply_flush_batch(day, &batch).await?;
                batch.clear();
            }
        }
        if (shard + 1) % 16 == 0 {
            tracing::info!(day = %day, shards_done = shard + 1, viewed_profiles, "flush progress");
        }
    }
    if !batch.is_empty() {
        applied_profiles += deps.history.apply_flush_batch(day, &batch).await?;
    }
    deps.history
        .complete_flush(day, viewed_profiles, views, now)
        .await?;
    Ok(DayFlush {
        day: day.to_string(),
        viewed_profiles,
        views,
        applied_profiles,
        millis: started.elapsed().as_millis() as u64,
    })
}
