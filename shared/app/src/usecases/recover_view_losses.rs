use crate::error::AppError;
use crate::ports::{ViewHistory, ViewLossLedger};
use chrono::{DateTime, Utc};
use domain::KstDay;
use domain::views::COUNTER_RETENTION_DAYS;
use serde::Serialize;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RecoverySummary {
    pub ledger_entries: u64,
    pub entries_applied: u64,
    pub views_recovered: u64,
}

pub struct RecoverViewLossesDeps<'a> {
    pub ledger: &'a dyn ViewLossLedger,
    pub history: &'a dyn ViewHistory,
}

/// Folds views recorded in the loss ledger (while Redis was down) into MySQL. MySQL
/// keeps, per ledger entry, how many views it already holds, and the difference is added
/// in the same transaction, so any number of runs (even concurrent ones) apply each view
/// exactly once.
#[tracing::instrument(name = "recover_view_losses", skip_all)]
pub async fn recover_view_losses(
    deps: &RecoverViewLossesDeps<'_>,
    now: DateTime<Utc>,
) -> Result<RecoverySummary, AppError> {
    let today = KstDay::of(now);
    let mut summary = RecoverySummary::default();
    for day in today
        .minus_days(COUNTER_RETENTION_DAYS)
        .days_after_through(today)
    {
        for loss in deps.ledger.losses(day).await? {
            summary.ledger_entries += 1;
            if loss.applied_hint >= loss.lost {
                continue;
            }
            let added = deps
                .history
                .apply_loss(loss.profile, loss.day, loss.lost)
                .await?;
            if added > 0 {
                summary.entries_applied += 1;
                summary.views_recovered += added;
            }
            if let Err(e) = deps.ledger.note_applied(&loss, loss.lost).await {
                tracing::warn!(error = %e, "could not note the applied count in the ledger; the next run re-checks MySQL");
            }
        }
    }
    tracing::info!(
        entries = summary.ledger_entries,
        applied = summary.entries_applied,
        views = summary.views_recovered,
        "view loss recovery finished"
    );
    Ok(summary)
}
