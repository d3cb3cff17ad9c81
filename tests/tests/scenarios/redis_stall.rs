//! Redis stalls (SIGSTOP) while views are in flight: the increments queue unanswered, the
//! requests give up after their 500 ms and hand the views to the loss ledger, and the
//! queued increments run when Redis resumes. Each view must still count exactly once,
//! whether the late increments land (inside the landing window: their markers tell the
//! recovery) or are refused (outside it: only the ledger has them).

use app::ports::ViewLossLedger;
use app::usecases::recover_view_losses::RecoverySummary;
use domain::views::LandingRules;
use futures::future::join_all;
use integration_tests::{OwnRedis, TestApp, kst};
use std::time::Duration;

const DAY: &str = "2026-11-24T14:00:00";
const NEXT_NIGHT: &str = "2026-11-25T01:00:00";
const IN_FLIGHT: u64 = 200;

/// 1 warm-up view, then IN_FLIGHT concurrent views while Redis is frozen for 3 s; after
/// recovery and the flush MySQL must hold every view once. The recovery's summary.
async fn views_through_a_stall(late_after_ms: u64) -> RecoverySummary {
    let redis = OwnRedis::start();
    let app = TestApp::spawn_with_redis_tuned(redis.config(), |services| {
        services.view_landing = LandingRules {
            late_after_ms,
            clock_skew_ms: 250,
        };
    })
    .await;
    let profile = app.signup(serde_json::json!({})).await;
    assert_eq!(app.view(profile, kst(DAY)).await, 1);

    redis.freeze();
    let views = join_all((0..IN_FLIGHT).map(|_| app.view_shown(profile, kst(DAY))));
    let thaw = async {
        tokio::time::sleep(Duration::from_secs(3)).await;
        redis.thaw();
    };
    let (shown, ()) = futures::join!(views, thaw);
    let not_live = shown.iter().filter(|(_, live)| !live).count();
    assert!(not_live > 0, "the stall made requests give up on Redis");
    let ledgered = app
        .services
        .ledger
        .undecided(domain::KstDay::of(kst(DAY)))
        .await
        .unwrap();
    assert_eq!(
        ledgered.len(),
        not_live,
        "every answer not live put its view in the ledger"
    );

    let recovery = app.recover_view_losses(kst(DAY)).await;
    app.run_job("flush-views", kst(NEXT_NIGHT)).await;
    let after_flush = app.recover_view_losses(kst(NEXT_NIGHT)).await;
    assert_eq!(after_flush.views_recovered, 0, "{after_flush:?}");
    let history = app.history_views(profile).await;
    assert_eq!(
        app.flushed_views(profile).await as u64,
        1 + IN_FLIGHT,
        "every view once: {recovery:?}, {history:?}, {not_live} answers not live"
    );
    assert_eq!(
        (history.redis_views + history.recovered_views) as u64,
        1 + IN_FLIGHT
    );
    assert_eq!(app.view(profile, kst(NEXT_NIGHT)).await, 2 + IN_FLIGHT);
    recovery
}

/// Window 5 s > the 3 s stall: the queued increments land, and the ledger drops them.
/// Window 1 s < the stall: Redis refuses the late increments, the ledger has them. (One
/// test, one stall after the other: 200 requests in flight are load enough.)
#[tokio::test]
async fn a_stalled_redis_counts_each_view_once_whether_late_increments_land_or_not() {
    let landed = views_through_a_stall(5_000).await;
    assert!(landed.views_landed_anyway > 0, "{landed:?}");
    assert_eq!(landed.views_decided_blind, 0);

    let refused = views_through_a_stall(1_000).await;
    assert!(refused.views_recovered > 0, "{refused:?}");
    assert_eq!(refused.views_landed_anyway, 0, "{refused:?}");
    assert_eq!(refused.views_decided_blind, 0);
}
