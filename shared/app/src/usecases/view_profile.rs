use crate::error::AppError;
use crate::ports::{ProfileReader, ProfileRecord, ViewCounter, ViewLossLedger};
use chrono::{DateTime, Utc};
use domain::views::{flushed_through, read_ahead_days, unflushed_closed_days};
use domain::{KstDay, ProfileId};

/// How the view behind a detail response was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewRecordedIn {
    Counter,
    LossLedger,
    /// Neither store answered: the view is lost and logged as such.
    Nowhere,
}

#[derive(Debug, Clone)]
pub struct ProfileView {
    pub profile: ProfileRecord,
    pub view_count: u64,
    pub recorded_in: ViewRecordedIn,
}

pub struct ViewProfileDeps<'a> {
    pub profiles: &'a dyn ProfileReader,
    pub counter: &'a dyn ViewCounter,
    pub ledger: &'a dyn ViewLossLedger,
}

/// Returns the profile and counts this view.
///
/// The row read and the counter increment run concurrently: the response then costs one
/// round trip's latency instead of two. The price is that an unknown id is counted for a
/// moment; that increment is taken back before answering 404.
#[tracing::instrument(name = "view_profile", skip_all, fields(profile_id = id.0))]
pub async fn view_profile(
    deps: &ViewProfileDeps<'_>,
    id: ProfileId,
    now: DateTime<Utc>,
) -> Result<ProfileView, AppError> {
    let today = KstDay::of(now);
    let read_ahead = read_ahead_days(today);
    let (row, counted) = futures::join!(
        deps.profiles.find(id),
        deps.counter.count_view(id, today, &read_ahead)
    );

    let profile = match row {
        Ok(Some(profile)) => profile,
        Ok(None) | Err(_) => {
            if counted.is_ok()
                && let Err(e) = deps.counter.uncount_view(id, today).await
            {
                tracing::warn!(error = %e, "could not take back the view of an unreadable profile");
            }
            return Err(match row {
                Err(e) => e.into(),
                _ => AppError::ProfileNotFound,
            });
        }
    };

    match counted {
        Ok((today_views, read_ahead_views)) => {
            let counts = Counted {
                today: today_views,
                read_ahead: &read_ahead,
                read_ahead_views: &read_ahead_views,
            };
            let view_count = live_count(deps, &profile, today, counts).await;
            Ok(ProfileView {
                profile,
                view_count,
                recorded_in: ViewRecordedIn::Counter,
            })
        }
        Err(counter_error) => {
            // The increment may or may not have landed; the ledger makes sure the view is
            // not lost (at worst a timed-out increment that did land is counted twice).
            tracing::warn!(error = %counter_error, day = %today, "view counter unavailable, recording the view in the loss ledger");
            let recorded_in = match deps.ledger.record_loss(id, today).await {
                Ok(()) => ViewRecordedIn::LossLedger,
                Err(e) => {
                    tracing::error!(error = %e, day = %today, "view lost: counter and loss ledger both unavailable");
                    ViewRecordedIn::Nowhere
                }
            };
            let view_count = profile.flushed_views + 1;
            Ok(ProfileView {
                profile,
                view_count,
                recorded_in,
            })
        }
    }
}

/// What the counting script answered: today's count and the read-ahead days' counts.
struct Counted<'a> {
    today: u64,
    read_ahead: &'a [KstDay],
    read_ahead_views: &'a [u64],
}

/// The flushed total plus every unflushed day: the read-ahead days from the counting
/// script, older ones (only when the flush job is days behind) read separately.
async fn live_count(
    deps: &ViewProfileDeps<'_>,
    profile: &ProfileRecord,
    today: KstDay,
    counted: Counted<'_>,
) -> u64 {
    let flushed = flushed_through(profile.own_flushed_through, profile.global_flushed_through);
    let mut pending: u64 = 0;
    let mut not_read = Vec::new();
    for day in unflushed_closed_days(flushed, today) {
        match counted.read_ahead.iter().position(|d| *d == day) {
            Some(i) => pending += counted.read_ahead_views[i],
            None => not_read.push(day),
        }
    }
    if !not_read.is_empty() {
        match deps.counter.sum_days(&[(profile.id, not_read)]).await {
            Ok(sums) => pending += sums[0],
            Err(e) => tracing::warn!(error = %e, "shown count misses unflushed days"),
        }
    }
    profile.flushed_views + pending + counted.today
}
