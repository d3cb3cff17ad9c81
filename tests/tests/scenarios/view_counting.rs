use futures::future::join_all;
use integration_tests::{TestApp, kst};
use std::collections::BTreeSet;

#[tokio::test]
async fn five_hundred_concurrent_views_count_exactly_five_hundred() {
    let app = TestApp::spawn().await;
    let profile = app.signup(serde_json::json!({})).await;
    let at = kst("2026-11-24T15:00:00");

    let counts = join_all((0..500).map(|_| app.view(profile, at))).await;

    // Every view saw its own number: no two requests shared an increment.
    let distinct: BTreeSet<u64> = counts.iter().copied().collect();
    assert_eq!(distinct, (1..=500).collect::<BTreeSet<u64>>());
    assert_eq!(app.listed_count(profile, at).await, 500);
}

#[tokio::test]
async fn views_at_2359_and_0001_kst_land_on_different_days_and_flush_moves_the_closed_one() {
    let app = TestApp::spawn().await;
    let profile = app.signup(serde_json::json!({})).await;
    let late = kst("2026-11-24T23:59:59");
    let early = kst("2026-11-25T00:00:01");

    for expected in 1..=3 {
        assert_eq!(app.view(profile, late).await, expected);
    }
    for expected in 4..=5 {
        assert_eq!(app.view(profile, early).await, expected);
    }

    let flush_time = kst("2026-11-25T01:00:00");
    let before_flush = app.listed_count(profile, flush_time).await;
    assert_eq!(before_flush, 5);

    let first = app.run_job("flush-views", flush_time).await;
    let day = first["flush"]["days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["day"] == "2026-11-24")
        .expect("24th flushed")
        .clone();
    assert_eq!(
        (
            day["viewedProfiles"].as_u64(),
            day["views"].as_u64(),
            day["appliedProfiles"].as_u64()
        ),
        (Some(1), Some(3), Some(1))
    );

    // Only the closed day moved into MySQL; the 25th's two views are still in Redis.
    assert_eq!(app.flushed_views(profile).await, 3);
    assert_eq!(
        app.daily_views(profile, "2026-11-24")
            .await
            .map(|d| d.redis_views),
        Some(3)
    );
    assert_eq!(app.daily_views(profile, "2026-11-25").await, None);
    assert_eq!(
        app.listed_count(profile, flush_time).await,
        before_flush,
        "the shown count does not move at flush"
    );

    // Running it again adds nothing.
    app.run_job("flush-views", flush_time).await;
    app.run_job("flush-views", flush_time).await;
    assert_eq!(app.flushed_views(profile).await, 3);
    assert_eq!(app.history_views(profile).await.redis_views, 3);
    assert_eq!(app.listed_count(profile, flush_time).await, 5);
    assert_eq!(
        app.view(profile, flush_time).await,
        6,
        "detail agrees with the list after the flush"
    );

    // The next night closes the 25th (2 views at 00:00:01 and 1 at 01:00).
    let next_night = kst("2026-11-26T01:00:00");
    app.run_job("flush-views", next_night).await;
    assert_eq!(app.flushed_views(profile).await, 6);
    assert_eq!(
        app.daily_views(profile, "2026-11-25")
            .await
            .map(|d| d.redis_views),
        Some(3)
    );
    assert_eq!(app.listed_count(profile, next_night).await, 6);
}

#[tokio::test]
async fn unflushed_days_from_a_missed_night_still_show_and_catch_up_oldest_first() {
    let app = TestApp::spawn().await;
    let profile = app.signup(serde_json::json!({})).await;
    // Views on three days, and no flush for two nights.
    app.view(profile, kst("2026-11-20T10:00:00")).await;
    app.view(profile, kst("2026-11-21T10:00:00")).await;
    app.view(profile, kst("2026-11-21T11:00:00")).await;
    assert_eq!(
        app.view(profile, kst("2026-11-23T09:00:00")).await,
        4,
        "days beyond the read-ahead still count"
    );

    let summary = app.run_job("flush-views", kst("2026-11-24T01:00:00")).await;
    let days: Vec<&str> = summary["flush"]["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["day"].as_str().unwrap())
        .collect();
    let mut sorted = days.clone();
    sorted.sort();
    assert_eq!(days, sorted, "oldest day first");
    assert!(days.ends_with(&["2026-11-21", "2026-11-22", "2026-11-23"]));
    assert_eq!(app.flushed_views(profile).await, 4);
    assert_eq!(
        app.flushed_through(profile).await.as_deref(),
        Some("2026-11-23")
    );
    assert_eq!(
        app.listed_count(profile, kst("2026-11-24T02:00:00")).await,
        4
    );
}

/// The servers are configured as deployed: a day's bucket with every one of its 512
/// profiles viewed is still a compact listpack (`hash-max-listpack-entries 512`), the
/// setting the counters' memory figures rest on. (Written as the flush reads it back.)
#[tokio::test]
async fn a_full_bucket_stays_a_compact_listpack_on_the_servers() {
    use domain::views::{BUCKET_WIDTH, CounterSlot};
    let app = TestApp::spawn().await;
    let day = domain::KstDay::of(kst("2026-11-24T12:00:00"));
    let slot = CounterSlot::of(domain::ProfileId(7 * BUCKET_WIDTH));
    let key = app.services.counter.bucket_key(day, slot);
    let redis = adapters::RedisConnection::new(&app.redis).unwrap();
    let fields = key.clone();
    redis
        .run("HINCRBY", |mut conn| async move {
            let mut pipe = redis::pipe();
            for field in 0..BUCKET_WIDTH {
                pipe.hincr(&fields, field, 1).ignore();
            }
            pipe.query_async::<()>(&mut conn).await
        })
        .await
        .unwrap();
    assert_eq!(app.redis_encoding(&key).await, "listpack");
}
