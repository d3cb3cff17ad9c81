use crate::error::AppError;
use crate::ports::{ShardFlush, ViewCounter, ViewHistory};
use chrono::{DateTime, Utc};
use domain::KstDay;
use domain::views::{
    SHARDS, expired_unflushed_days, flush_must_pause, flush_today, shards_with_lost_counters,
    unflushed_closed_days,
};
use serde::Serialize;
use std::time::Instant;

/// Rows per MySQL transaction: big enough that round trips do not dominate, small enough
/// that one transaction's locks and undo stay modest.
pub const FLUSH_BATCH_ROWS: usize = 5_000;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FlushSummary {
    pub days: Vec<DayFlush>,
    /// Days that were never flushed and whose counters have already expired (also when
    /// no flush ever completed: counted from the first profile's day).
    pub expired_unflushed_days: Vec<String>,
    /// Shards whose Redis counters vanished since the last run (node replaced empty,
    /// data flushed or evicted): the views they held are lost.
    pub lost_counter_shards: Vec<u64>,
    /// Set when the run stopped before its deadline with a day unfinished: the next run
    /// resumes that day after the shards done.
    pub paused: Option<FlushPause>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FlushPause {
    pub day: String,
    pub shards_done: u64,
}

/// When a flush run is for and how long it may take.
#[derive(Debug, Clone, Copy)]
pub struct FlushRun {
    /// The time the run is for (the schedule's).
    pub at: DateTime<Utc>,
    /// The real clock, which bounds `at`: a run for a future time must not close today.
    pub wall_now: DateTime<Utc>,
    /// The invocation's deadline: no shard starts within `FLUSH_STOP_MARGIN_SECS` of it.
    pub deadline: Option<DateTime<Utc>>,
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
    /// Shards an earlier run of this day had finished, skipped by this one.
    pub resumed_shards: u64,
    pub millis: u64,
}

pub struct FlushViewsDeps<'a> {
    pub counter: &'a dyn ViewCounter,
    pub history: &'a dyn ViewHistory,
}

/// Moves every closed, unflushed day's Redis deltas into MySQL, oldest day first (a
/// profile's watermark only moves forward, so an older day flushed after a newer one
/// would be skipped). Restartable and idempotent: a profile already holding a day is not
/// added again, each finished shard is recorded so the next run resumes after it, and a
/// day is recorded as complete only after all its shards. Stops (`paused`) rather than
/// start a shard it may not finish before the deadline.
#[tracing::instrument(name = "flush_views", skip_all)]
pub async fn flush_views(
    deps: &FlushViewsDeps<'_>,
    run: FlushRun,
) -> Result<FlushSummary, AppError> {
    if run.at > run.wall_now {
        tracing::warn!(at = %run.at, wall_now = %run.wall_now, "flush asked for a future time; flushing as of the clock");
    }
    let now = run.at.min(run.wall_now);
    let today = flush_today(run.at, run.wall_now);
    let last = deps.history.last_completed_flush().await?;
    let mut summary = FlushSummary {
        expired_unflushed_days: expired_days(deps, last, today).await?,
        ..FlushSummary::default()
    };
    summary.lost_counter_shards = check_counter_markers(deps, now).await?;
    for day in unflushed_closed_days(last, today) {
        match flush_day(deps, day, now, run.deadline).await? {
            DayOutcome::Flushed(flushed) => {
                tracing::info!(day = %flushed.day, viewed_profiles = flushed.viewed_profiles, views = flushed.views,
                    applied_profiles = flushed.applied_profiles, resumed_shards = flushed.resumed_shards,
                    millis = flushed.millis, "day flushed");
                summary.days.push(flushed);
            }
            DayOutcome::Paused(pause) => {
                tracing::warn!(day = %pause.day, shards_done = pause.shards_done, "flush paused before the deadline");
                summary.paused = Some(pause);
                break;
            }
        }
    }
    Ok(summary)
}

/// Days whose counters expired unflushed, logged as errors.
async fn expired_days(
    deps: &FlushViewsDeps<'_>,
    last: Option<KstDay>,
    today: KstDay,
) -> Result<Vec<String>, AppError> {
    let first_profile_day = match last {
        Some(_) => None,
        None => deps.history.first_profile_day().await?,
    };
    let expired: Vec<String> = expired_unflushed_days(last, first_profile_day, today)
        .into_iter()
        .map(|d| d.to_string())
        .collect();
    if !expired.is_empty() {
        tracing::error!(days = ?expired, "view counters expired before they were flushed");
    }
    Ok(expired)
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

enum DayOutcome {
    Flushed(DayFlush),
    /// The deadline came first.
    Paused(FlushPause),
}

/// Flushes the shards of `day` earlier runs did not finish, then records the day.
async fn flush_day(
    deps: &FlushViewsDeps<'_>,
    day: KstDay,
    now: DateTime<Utc>,
    deadline: Option<DateTime<Utc>>,
) -> Result<DayOutcome, AppError> {
    let started = Instant::now();
    let mut done = deps.history.flushed_shards(day).await?;
    let resumed_shards = done.len() as u64;
    let mut applied_profiles = 0u64;
    for shard in 0..SHARDS {
        if done.iter().any(|d| d.shard == shard) {
            continue;
        }
        if flush_must_pause(Utc::now(), deadline) {
            return Ok(DayOutcome::Paused(FlushPause {
                day: day.to_string(),
                shards_done: done.len() as u64,
            }));
        }
        let (flushed, applied) = flush_shard(deps, day, shard).await?;
        done.push(flushed);
        applied_profiles += applied;
        if done.len() % 16 == 0 {
            tracing::info!(day = %day, shards_done = done.len(), "flush progress");
        }
    }
    let viewed_profiles = done.iter().map(|d| d.profiles).sum();
    let views = done.iter().map(|d| d.views).sum();
    deps.history
        .complete_flush(day, viewed_profiles, views, now)
        .await?;
    Ok(DayOutcome::Flushed(DayFlush {
        day: day.to_string(),
        viewed_profiles,
        views,
        applied_profiles,
        resumed_shards,
        millis: started.elapsed().as_millis() as u64,
    }))
}

/// One shard of a day, in batches, then recorded as done; returns it and how many
/// profiles this run added to.
async fn flush_shard(
    deps: &FlushViewsDeps<'_>,
    day: KstDay,
    shard: u64,
) -> Result<(ShardFlush, u64), AppError> {
    let entries = deps.counter.day_shard(day, shard).await?;
    let mut applied = 0;
    for batch in entries.chunks(FLUSH_BATCH_ROWS) {
        applied += deps.history.apply_flush_batch(day, batch).await?;
    }
    let flushed = ShardFlush {
        shard,
        profiles: entries.len() as u64,
        views: entries.iter().map(|(_, views)| views).sum(),
    };
    deps.history.complete_shard(day, &flushed).await?;
    Ok((flushed, applied))
}
