use integration_tests::{OwnRedis, TestApp, kst};

/// Redis goes away mid-run and comes back: every request still answers 200 (showing what
/// MySQL and the ledger hold, marked not live), the views Redis could not take go to the
/// DynamoDB loss ledger, the same process reconnects on its own, and after recovery (run
/// twice) and the flush MySQL holds every view once.
#[tokio::test]
async fn views_during_a_redis_outage_are_recovered_exactly_once() {
    let redis = OwnRedis::start();
    let app = TestApp::spawn_with_redis(redis.config()).await;
    let profile = app.signup(serde_json::json!({})).await;
    let day = kst("2026-11-24T14:00:00");
    let mut sent = 0;

    for _ in 0..10 {
        app.view(profile, day).await;
        sent += 1;
    }

    redis.stop();
    for i in 1..=15 {
        // `view_shown` asserts the 200.
        let shown = app.view_shown(profile, day).await;
        assert_eq!(
            shown,
            (i, false),
            "while Redis is down the count shown is MySQL's total plus the ledger's views"
        );
        sent += 1;
    }
    // Whether those increments landed cannot be told while Redis is down: they wait.
    let waiting = app.run_job("recover-view-losses", day).await;
    assert_eq!(waiting["lossRecovery"]["viewsRecovered"], 0, "{waiting}");

    redis.start_again();
    for _ in 0..5 {
        app.view(profile, day).await;
        sent += 1;
    }
    // The first call after the restart may still meet the dead connection (that view goes
    // to the ledger); by the second the connection is back by itself.
    let after_restart = app.recover_view_losses(day).await;
    assert!(
        (15..=16).contains(&after_restart.views_recovered),
        "{after_restart:?}"
    );
    assert_eq!(after_restart.views_landed_anyway, 0, "{after_restart:?}");
    // Shown = MySQL (what was just recovered, refreshed into the cached document) + Redis
    // (10 from before the outage, the rest of the 5, and this view): 31 exactly, only if
    // this view went to Redis.
    assert_eq!(
        app.view(profile, day).await,
        31,
        "counting resumed in Redis after the restart"
    );
    sent += 1;

    // Recovery again (twice), then the nightly flush of the day.
    let next_night = kst("2026-11-25T01:00:00");
    app.recover_view_losses(next_night).await;
    let again = app.recover_view_losses(next_night).await;
    assert_eq!(again.views_recovered, 0, "nothing is applied twice");
    app.run_job("flush-views", next_night).await;
    app.run_job("flush-views", next_night).await;

    assert_eq!(app.flushed_views(profile).await, sent);
    assert_eq!(
        {
            let h = app.history_views(profile).await;
            h.redis_views + h.recovered_views
        },
        sent
    );
    assert_eq!(app.listed_count(profile, next_night).await, sent as u64);
}
