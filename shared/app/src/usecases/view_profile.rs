use crate::error::AppError;
use crate::ports::{
    CachedCount, CountError, DetailView, LostView, ProfileReader, ProfileRecord, ViewCounter,
    ViewLossLedger,
};
use chrono::{DateTime, Utc};
use domain::views::{LandingRules, ViewId, flushed_through, unflushed_closed_days};
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
    /// False while the counter is down: `view_count` is then what MySQL and the loss
    /// ledger hold, without the counter's unflushed views.
    pub counts_live: bool,
}

/// Who a detail view is: its id and when it was first sent (wall clock), made by the
/// caller once per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ViewStamp {
    pub id: ViewId,
    pub sent_at_ms: u64,
}

pub struct ViewProfileDeps<'a> {
    pub profiles: &'a dyn ProfileReader,
    pub counter: &'a dyn ViewCounter,
    pub ledger: &'a dyn ViewLossLedger,
    pub landing: LandingRules,
}

/// Returns the profile and counts this view, exactly once.
///
/// Warm (the profile's document is cached): one counter call counts the view and answers
/// the document with its live count; no MySQL. Cold: MySQL once, then one call caches the
/// document and counts. A view is only counted beside a document, so an unknown id is
/// never counted. A counter that does not answer (or refuses the increment as late) hands
/// the view to the loss ledger; its recovery job tells from the landing marker whether
/// the increment landed anyway (`domain::views::landing`).
#[tracing::instrument(name = "view_profile", skip_all, fields(profile_id = id.0))]
pub async fn view_profile(
    deps: &ViewProfileDeps<'_>,
    id: ProfileId,
    now: DateTime<Utc>,
    stamp: ViewStamp,
) -> Result<ProfileView, AppError> {
    let today = KstDay::of(now);
    let view = DetailView {
        profile: id,
        today,
        closed_days: unflushed_closed_days(None, today),
        id: stamp.id,
        sent_at_ms: stamp.sent_at_ms,
        late_after_ms: deps.landing.late_after_ms,
    };
    match deps.counter.count_cached(&view).await {
        Ok(CachedCount::Counted {
            profile,
            view_count,
        }) => Ok(live(profile, view_count)),
        Ok(CachedCount::Miss) => cold(deps, &view).await,
        Err(e) => counter_down(deps, &view, e, None).await,
    }
}

fn live(profile: ProfileRecord, view_count: u64) -> ProfileView {
    ProfileView {
        profile,
        view_count,
        recorded_in: ViewRecordedIn::Counter,
        counts_live: true,
    }
}

/// No cached document: read MySQL, then cache and count in one call.
async fn cold(deps: &ViewProfileDeps<'_>, view: &DetailView) -> Result<ProfileView, AppError> {
    let profile = deps
        .profiles
        .find(view.profile)
        .await?
        .ok_or(AppError::ProfileNotFound)?;
    match deps.counter.fill_and_count(view, &profile).await {
        // The cached document may be newer than the row read (an edit in between).
        Ok((cached, view_count)) => Ok(live(cached, view_count)),
        Err(e) => counter_down(deps, view, e, Some(profile)).await,
    }
}

/// The counter did not count the view (no answer, or refused as late): record it in the
/// loss ledger and show what is known.
async fn counter_down(
    deps: &ViewProfileDeps<'_>,
    view: &DetailView,
    error: CountError,
    profile: Option<ProfileRecord>,
) -> Result<ProfileView, AppError> {
    let profile = match profile {
        Some(profile) => profile,
        // Without a document the counter counts nothing, and a profile that does not
        // exist has none: its view is simply not found.
        None => deps
            .profiles
            .find(view.profile)
            .await?
            .ok_or(AppError::ProfileNotFound)?,
    };
    tracing::warn!(error = %error, day = %view.today, "view counter did not count, recording the view in the loss ledger");
    let lost = LostView {
        profile: view.profile,
        day: view.today,
        id: view.id,
        sent_at_ms: view.sent_at_ms,
    };
    let recorded_in = match deps.ledger.record_loss(&lost).await {
        Ok(()) => ViewRecordedIn::LossLedger,
        Err(e) => {
            tracing::error!(error = %e, day = %view.today, "view lost: counter and loss ledger both unavailable");
            ViewRecordedIn::Nowhere
        }
    };
    let view_count = profile.flushed_views + held_in_ledger(deps, &profile, view.today).await;
    Ok(ProfileView {
        profile,
        view_count,
        recorded_in,
        counts_live: false,
    })
}

/// Views the ledger holds for today, and yesterday when it is after the profile's
/// watermark: two reads at most while the counter is down (older ledgered views are
/// settled by the recovery job within minutes of the counter coming back).
async fn held_in_ledger(deps: &ViewProfileDeps<'_>, profile: &ProfileRecord, today: KstDay) -> u64 {
    let through = flushed_through(profile.own_flushed_through, profile.global_flushed_through);
    let yesterday = today.previous();
    let mut days = vec![today];
    if through.is_none_or(|t| yesterday > t) {
        days.push(yesterday);
    }
    deps.ledger
        .held_views(profile.id, &days)
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "shown count misses the loss ledger");
            0
        })
}
