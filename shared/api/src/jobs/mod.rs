//! Scheduled jobs (EventBridge Scheduler, Asia/Seoul). Like the route table, the single list
//! the deployed functions, the local gateway's `/local/jobs/{function}` and the template
//! check agree on.

use crate::services::{Needs, Services};
use adapters::metrics::{self, Unit};
use app::AppError;
use app::usecases::flush_views::{FlushRun, FlushViewsDeps, flush_views};
use app::usecases::payments::{PaymentDeps, RefundDeps, recover_payments, recover_refunds};
use app::usecases::recover_view_losses::{
    LossRecoveryReach, RecoverViewLossesDeps, RecoverySummary, recover_view_losses,
};

/// Payments one recovery run takes on; the rest wait for the next minute.
pub const PAYMENT_RECOVERY_BATCH: u32 = 1_000;
/// Refunds one recovery run takes on (after the payments).
pub const REFUND_RECOVERY_BATCH: u32 = 200;
use aws_lambda_events::eventbridge::EventBridgeEvent;
use chrono::{DateTime, Utc};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};
use tracing::Instrument;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduledFunction {
    FlushViews,
    RecoverViewLosses,
    RecoverPayments,
}

impl ScheduledFunction {
    pub const ALL: [ScheduledFunction; 3] = [
        ScheduledFunction::FlushViews,
        ScheduledFunction::RecoverViewLosses,
        ScheduledFunction::RecoverPayments,
    ];

    pub fn name(self) -> &'static str {
        match self {
            ScheduledFunction::FlushViews => "flush-views",
            ScheduledFunction::RecoverViewLosses => "recover-view-losses",
            ScheduledFunction::RecoverPayments => "recover-payments",
        }
    }

    /// The clients built for it and the secrets its cold start checks.
    pub fn needs(self) -> Needs {
        match self {
            ScheduledFunction::FlushViews => Needs {
                redis: true,
                dynamo: true,
                ..Needs::MYSQL
            },
            // Redis: whether an unanswered view's increment landed after all (its marker).
            ScheduledFunction::RecoverViewLosses => Needs {
                redis: true,
                dynamo: true,
                ..Needs::MYSQL
            },
            ScheduledFunction::RecoverPayments => Needs {
                events: true,
                toss: true,
                ..Needs::MYSQL
            },
        }
    }

    /// EventBridge Scheduler expression, evaluated in Asia/Seoul.
    pub fn schedule(self) -> &'static str {
        match self {
            ScheduledFunction::FlushViews => "cron(0 1 * * ? *)",
            ScheduledFunction::RecoverViewLosses => "rate(5 minutes)",
            ScheduledFunction::RecoverPayments => "rate(1 minute)",
        }
    }

    pub fn by_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Runs the job for the scheduled time in the event and returns its summary.
    pub async fn handle(
        self,
        services: &Services,
        event: LambdaEvent<EventBridgeEvent>,
    ) -> Result<Value, JobError> {
        let span = tracing::info_span!("job", function = self.name(), request_id = %event.context.request_id);
        self.run(services, event).instrument(span).await
    }

    async fn run(
        self,
        services: &Services,
        event: LambdaEvent<EventBridgeEvent>,
    ) -> Result<Value, JobError> {
        let deadline = crate::runtime::invocation_deadline(event.context.deadline);
        let now = event.payload.time.unwrap_or_else(|| {
            tracing::warn!("scheduled event without a time; using the clock");
            Utc::now()
        });
        let summary = match self {
            ScheduledFunction::FlushViews => run_flush(services, now, deadline).await?,
            ScheduledFunction::RecoverViewLosses => {
                let recovered = recover_losses(services, now, LossRecoveryReach::Recent).await?;
                json!({ "lossRecovery": recovered })
            }
            ScheduledFunction::RecoverPayments => {
                run_payment_recovery(services, now, deadline).await?
            }
        };
        tracing::info!(job = self.name(), %summary, "job finished");
        Ok(summary)
    }
}

/// The loss recovery over `reach`, its metrics emitted.
async fn recover_losses(
    services: &Services,
    now: DateTime<Utc>,
    reach: LossRecoveryReach,
) -> Result<RecoverySummary, AppError> {
    let deps = RecoverViewLossesDeps {
        ledger: &*services.ledger,
        history: &*services.store,
        counter: &*services.counter,
        profiles: &*services.store,
        landing: services.view_landing,
    };
    let recovered = recover_view_losses(&deps, now, wall_clock_ms(), reach).await?;
    emit_recovery_metrics(&recovered);
    Ok(recovered)
}

/// `ViewsDecidedBlind` is alarmed: those views may be counted twice (their landing
/// markers expired before a recovery run could look). So is `ViewsRecoveredLate`: the
/// recovery had not run for longer than the counters live.
fn emit_recovery_metrics(recovered: &RecoverySummary) {
    metrics::emit(&[
        (
            "ViewsRecovered",
            recovered.views_recovered as f64,
            Unit::Count,
        ),
        (
            "ViewsLandedAnyway",
            recovered.views_landed_anyway as f64,
            Unit::Count,
        ),
        (
            "ViewsDecidedBlind",
            recovered.views_decided_blind as f64,
            Unit::Count,
        ),
        (
            "ViewsRecoveredLate",
            recovered.views_recovered_late as f64,
            Unit::Count,
        ),
    ]);
}

/// The real clock in ms: landing windows are real time, whatever time a job is run for.
pub fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The 01:00 flush, then the loss ledger folded into the same totals right away (views
/// recorded while Redis was down) instead of waiting for the next recovery tick.
async fn run_flush(
    services: &Services,
    now: DateTime<Utc>,
    deadline: Option<DateTime<Utc>>,
) -> Result<Value, JobError> {
    let deps = FlushViewsDeps {
        counter: &*services.counter,
        history: &*services.store,
    };
    let run = FlushRun {
        at: now,
        wall_now: Utc::now(),
        deadline,
    };
    let flushed = flush_views(&deps, run).await?;
    if let Some(pause) = &flushed.paused {
        // An error, so Lambda's retry (EventInvokeConfig) resumes the day.
        return Err(JobError::FlushPaused(format!(
            "flush of {} paused before the deadline after {} shards; the retry resumes it",
            pause.day, pause.shards_done
        )));
    }
    // A run for a future time recovers as of the clock, as the flush did.
    let now = now.min(Utc::now());
    // Once a night the whole ledger: entries older than the counters are applied too.
    let recovered = recover_losses(services, now, LossRecoveryReach::WholeLedger).await?;
    let sum = |f: fn(&app::usecases::flush_views::DayFlush) -> u64| {
        flushed.days.iter().map(f).sum::<u64>() as f64
    };
    metrics::emit(&[
        ("FlushProfiles", sum(|d| d.viewed_profiles), Unit::Count),
        ("FlushMillis", sum(|d| d.millis), Unit::Milliseconds),
        (
            "FlushExpiredDays",
            flushed.expired_unflushed_days.len() as f64,
            Unit::Count,
        ),
        (
            "ViewCounterShardsLost",
            flushed.lost_counter_shards.len() as f64,
            Unit::Count,
        ),
    ]);
    Ok(json!({ "flush": flushed, "lossRecovery": recovered }))
}

async fn run_payment_recovery(
    services: &Services,
    now: DateTime<Utc>,
    deadline: Option<DateTime<Utc>>,
) -> Result<Value, JobError> {
    let Some(gateway) = services.toss.as_ref() else {
        return Err(JobError::Misconfigured("TOSS_SECRET_KEY is not configured"));
    };
    let deps = PaymentDeps {
        store: &*services.store,
        gateway,
        publisher: &*services.publisher,
        timings: services.payment_timings,
    };
    let summary = recover_payments(&deps, now, PAYMENT_RECOVERY_BATCH, deadline).await?;
    metrics::emit(&[
        ("RecoveryAttempts", summary.examined as f64, Unit::Count),
        ("PaymentsDone", summary.done as f64, Unit::Count),
        ("PaymentsFailed", summary.failed as f64, Unit::Count),
        ("PaymentsExpired", summary.expired as f64, Unit::Count),
        (
            "PaymentsNeedsAttention",
            summary.needs_attention as f64,
            Unit::Count,
        ),
        ("PaymentsUnknown", summary.still_unknown as f64, Unit::Count),
        (
            "PaymentsAwaitingDeposit",
            summary.awaiting_deposit as f64,
            Unit::Count,
        ),
    ]);
    let refunds = RefundDeps {
        payments: deps,
        refunds: &*services.store,
        policy: services.refund_policy,
    };
    let refunded = recover_refunds(&refunds, now, REFUND_RECOVERY_BATCH, deadline).await?;
    metrics::emit(&[
        (
            "RefundRecoveryAttempts",
            refunded.examined as f64,
            Unit::Count,
        ),
        ("RefundsDone", refunded.done as f64, Unit::Count),
        ("RefundsRefused", refunded.refused as f64, Unit::Count),
        (
            "RefundsNeedsAttention",
            refunded.needs_attention as f64,
            Unit::Count,
        ),
        ("RefundsUnknown", refunded.still_unknown as f64, Unit::Count),
        ("RefundRecoveryErrors", refunded.errors as f64, Unit::Count),
    ]);
    Ok(json!({ "paymentRecovery": summary, "refundRecovery": refunded }))
}

/// A failed job run. The Lambda error type says whether a retry can help (a dependency
/// that did not answer) or not (configuration), for retry policies and alarms.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error("misconfigured: {0}")]
    Misconfigured(&'static str),
    #[error("{0}")]
    FlushPaused(String),
}

impl From<JobError> for Diagnostic {
    fn from(e: JobError) -> Self {
        let error_type = match &e {
            JobError::App(AppError::Unavailable(_)) => "Retryable.DependencyUnavailable",
            JobError::App(_) => "NonRetryable.InvalidState",
            JobError::Misconfigured(_) => "NonRetryable.Misconfigured",
            JobError::FlushPaused(_) => "Retryable.FlushPaused",
        };
        tracing::error!(error = %e, cause = ?std::error::Error::source(&e), "job failed");
        Diagnostic {
            error_type: error_type.into(),
            error_message: e.to_string(),
        }
    }
}
