use crate::error::AppError;
use crate::ports::{LostView, ProfileReader, ViewCounter, ViewHistory, ViewLoss, ViewLossLedger};
use chrono::{DateTime, Utc};
use domain::KstDay;
use domain::views::{
    COUNTER_RETENTION_DAYS, LOSS_LEDGER_RETENTION_DAYS, LandingRules, LossDecision,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RecoverySummary {
    pub ledger_entries: u64,
    pub entries_applied: u64,
    pub views_recovered: u64,
    /// Ledgered views whose increment landed after all: Redis counts them, not the ledger.
    pub views_landed_anyway: u64,
    /// Ledgered views still inside their landing window, or whose marker Redis could not
    /// be asked about: decided by a later run.
    pub views_undecided: u64,
    /// Ledgered views decided after their landing markers expired: applied from the
    /// ledger, though Redis may have counted them too (alarmed).
    pub views_decided_blind: u64,
    /// Views applied for days older than the counters' retention: recovery had not run
    /// for that long (alarmed; applied all the same, exactly once).
    pub views_recovered_late: u64,
}

/// How far back a run looks in the ledger.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossRecoveryReach {
    /// The days whose counters still exist (the 5-minute run).
    Recent,
    /// Every day the ledger may still hold (the nightly run after the flush).
    WholeLedger,
}

impl LossRecoveryReach {
    fn days_back(self) -> u32 {
        match self {
            LossRecoveryReach::Recent => COUNTER_RETENTION_DAYS,
            LossRecoveryReach::WholeLedger => LOSS_LEDGER_RETENTION_DAYS,
        }
    }
}

pub struct RecoverViewLossesDeps<'a> {
    pub ledger: &'a dyn ViewLossLedger,
    pub history: &'a dyn ViewHistory,
    pub counter: &'a dyn ViewCounter,
    pub profiles: &'a dyn ProfileReader,
    pub landing: LandingRules,
}

/// Settles the ledgered views whose landing window has closed (dropping those whose
/// increment landed in Redis after all), then folds the views only the ledger has into
/// MySQL. MySQL keeps, per profile-day, how many views it already holds, and the
/// difference is added in the same transaction, so any number of runs (even concurrent
/// ones) apply each view exactly once. `wall_now_ms` is the real clock (landing windows
/// are real time); `now` picks the days.
#[tracing::instrument(name = "recover_view_losses", skip_all)]
pub async fn recover_view_losses(
    deps: &RecoverViewLossesDeps<'_>,
    now: DateTime<Utc>,
    wall_now_ms: u64,
    reach: LossRecoveryReach,
) -> Result<RecoverySummary, AppError> {
    let today = KstDay::of(now);
    let counters_kept_after = today.minus_days(COUNTER_RETENTION_DAYS);
    let mut summary = RecoverySummary::default();
    for day in today
        .minus_days(reach.days_back())
        .days_after_through(today)
    {
        settle_undecided(deps, day, wall_now_ms, &mut summary).await?;
        let before = summary.views_recovered;
        for loss in deps.ledger.losses(day).await? {
            apply(deps, &loss, &mut summary).await?;
        }
        if day <= counters_kept_after && summary.views_recovered > before {
            let late = summary.views_recovered - before;
            tracing::error!(%day, views = late, "ledgered views applied after their day's counters expired");
            summary.views_recovered_late += late;
        }
    }
    tracing::info!(
        entries = summary.ledger_entries,
        applied = summary.entries_applied,
        views = summary.views_recovered,
        landed_anyway = summary.views_landed_anyway,
        undecided = summary.views_undecided,
        blind = summary.views_decided_blind,
        late = summary.views_recovered_late,
        "view loss recovery finished"
    );
    Ok(summary)
}

/// Decides each of `day`'s undecided views from its landing marker.
async fn settle_undecided(
    deps: &RecoverViewLossesDeps<'_>,
    day: KstDay,
    wall_now_ms: u64,
    summary: &mut RecoverySummary,
) -> Result<(), AppError> {
    let closed: Vec<LostView> = deps
        .ledger
        .undecided(day)
        .await?
        .into_iter()
        .filter(|view| {
            let window_open = deps
                .landing
                .decide(view.sent_at_ms, wall_now_ms, Some(true))
                == LossDecision::Wait;
            summary.views_undecided += u64::from(window_open);
            !window_open
        })
        .collect();
    if closed.is_empty() {
        return Ok(());
    }
    let found: Vec<Option<bool>> = match deps.counter.landed(&closed).await {
        Ok(found) => found.into_iter().map(Some).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "landing markers unreadable; views wait unless their markers expired");
            vec![None; closed.len()]
        }
    };
    for (view, found) in closed.iter().zip(found) {
        let counted = match deps.landing.decide(view.sent_at_ms, wall_now_ms, found) {
            LossDecision::Wait => {
                summary.views_undecided += 1;
                continue;
            }
            LossDecision::Counted => {
                summary.views_landed_anyway += 1;
                true
            }
            LossDecision::Missed => false,
            LossDecision::MissedBlind => {
                tracing::error!(
                    profile_id = view.profile.0,
                    view_id = view.id.0,
                    "ledgered view decided after its landing marker expired"
                );
                summary.views_decided_blind += 1;
                false
            }
        };
        deps.ledger.settle(view, counted).await?;
    }
    Ok(())
}

/// Brings MySQL up to one profile-day's ledgered views, then refreshes the cached
/// document (its total changed).
async fn apply(
    deps: &RecoverViewLossesDeps<'_>,
    loss: &ViewLoss,
    summary: &mut RecoverySummary,
) -> Result<(), AppError> {
    summary.ledger_entries += 1;
    if loss.applied_hint >= loss.lost {
        return Ok(());
    }
    let added = deps
        .history
        .apply_loss(loss.profile, loss.day, loss.lost)
        .await?;
    if added > 0 {
        summary.entries_applied += 1;
        summary.views_recovered += added;
        refresh_document(deps, loss).await;
    }
    if let Err(e) = deps.ledger.note_applied(loss, loss.lost).await {
        tracing::warn!(error = %e, "could not note the applied count in the ledger; the next run re-checks MySQL");
    }
    Ok(())
}

/// Best effort: a document that cannot be replaced expires within its TTL.
async fn refresh_document(deps: &RecoverViewLossesDeps<'_>, loss: &ViewLoss) {
    let refreshed = match deps.profiles.find(loss.profile).await {
        Ok(Some(profile)) => deps.counter.store_cached(&profile).await,
        Ok(None) => Ok(()),
        Err(e) => Err(e),
    };
    if let Err(e) = refreshed {
        tracing::warn!(error = %e, "cached profile document not refreshed after applied losses");
    }
}
