use app::ports::ViewHistory;
use domain::{KstDay, ProfileId};
use integration_tests::{TestApp, kst};

/// A flush that died after its first batch is finished by the next run without counting
/// the first batch twice.
#[tokio::test]
async fn an_interrupted_flush_is_completed_by_the_next_run_without_double_counting() {
    let app = TestApp::spawn().await;
    let mut profiles = Vec::new();
    for i in 0..6 {
        let id = app
            .signup(serde_json::json!({ "name": format!("전문가{i}") }))
            .await;
        profiles.push(id);
    }
    let day = kst("2026-11-24T12:00:00");
    for (i, id) in profiles.iter().enumerate() {
        for _ in 0..=i {
            app.view(*id, day).await;
        }
    }
    // The "crashed" run applied the first three profiles' deltas and never recorded the day.
    let first_batch: Vec<(ProfileId, u64)> = profiles[..3]
        .iter()
        .enumerate()
        .map(|(i, id)| (ProfileId(*id), i as u64 + 1))
        .collect();
    let applied = app
        .services
        .store
        .apply_flush_batch(KstDay::of(day), &first_batch)
        .await
        .unwrap();
    assert_eq!(applied, 3);

    let summary = app.run_job("flush-views", kst("2026-11-25T01:00:00")).await;
    let day_summary = summary["flush"]["days"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["day"] == "2026-11-24")
        .unwrap()
        .clone();
    assert_eq!(day_summary["viewedProfiles"], 6);
    assert_eq!(
        day_summary["appliedProfiles"], 3,
        "only the profiles the crashed run missed"
    );
    assert_eq!(app.total_flushed_views().await, 21);
    for (i, id) in profiles.iter().enumerate() {
        assert_eq!(app.flushed_views(*id).await, i as i64 + 1);
    }
    assert_eq!(app.flush_runs("2026-11-24").await, 1);
}

/// A re-run (or an overlapping run) leaves the history row of a profile it does not add
/// to as it was: the row must keep matching what the profile's total received, even when
/// the batch now carries another number for it.
#[tokio::test]
async fn a_rerun_leaves_the_history_of_profiles_already_flushed_alone() {
    let app = TestApp::spawn().await;
    let profile = app.signup(serde_json::json!({})).await;
    let day = KstDay::of(kst("2026-11-24T12:00:00"));
    let store = &app.services.store;
    let applied = store
        .apply_flush_batch(day, &[(ProfileId(profile), 3)])
        .await
        .unwrap();
    assert_eq!(applied, 1);
    let again = store
        .apply_flush_batch(day, &[(ProfileId(profile), 999)])
        .await
        .unwrap();
    assert_eq!(again, 0, "already flushed: nothing added");
    assert_eq!(app.flushed_views(profile).await, 3);
    let row = app.daily_views(profile, "2026-11-24").await.expect("a row");
    assert_eq!(
        row.redis_views, 3,
        "the history row still matches the total"
    );
}

/// The flush and the loss recovery write the same rows (a profile's total and its day's
/// history row). Run together on the same profiles and day, round after round, neither
/// may fail with a deadlock: both take the profile rows first.
#[tokio::test]
async fn flush_and_loss_recovery_on_the_same_rows_do_not_deadlock() {
    const PROFILES: usize = 40;
    const ROUNDS: u32 = 8;
    let app = TestApp::spawn().await;
    let mut ids = Vec::new();
    for _ in 0..PROFILES {
        ids.push(ProfileId(app.signup(serde_json::json!({})).await));
    }
    let store = &app.services.store;
    let mut day = KstDay::of(kst("2026-11-01T12:00:00"));
    for round in 0..ROUNDS {
        // Days in order: the flush only moves a profile's watermark forward.
        day = day.next();
        let batch: Vec<(ProfileId, u64)> = ids.iter().map(|id| (*id, 2)).collect();
        // The recovery goes through the profiles from the other end, one transaction each,
        // several at once.
        let recoveries =
            futures::future::try_join_all(ids.iter().rev().map(|id| store.apply_loss(*id, day, 1)));
        let (flushed, recovered) = futures::join!(store.apply_flush_batch(day, &batch), recoveries);
        let flushed = flushed.unwrap_or_else(|e| panic!("round {round}: the flush failed: {e}"));
        let recovered =
            recovered.unwrap_or_else(|e| panic!("round {round}: a recovery failed: {e}"));
        assert_eq!(flushed, PROFILES as u64);
        assert_eq!(recovered.iter().sum::<u64>(), PROFILES as u64);
    }
    for id in &ids {
        assert_eq!(app.flushed_views(id.0).await, 3 * i64::from(ROUNDS));
    }
}

/// A flush asked for a time in the future (a manual run with a wrong `time`) flushes as
/// of the clock: today stays open, and today's views keep counting.
#[tokio::test]
async fn a_flush_for_a_future_time_does_not_close_today() {
    let app = TestApp::spawn().await;
    let profile = app.signup(serde_json::json!({})).await;
    let now = chrono::Utc::now();
    let today = KstDay::of(now).to_string();
    assert_eq!(app.view(profile, now).await, 1);
    let future = now + chrono::Duration::days(3);
    let summary = app.run_job("flush-views", future).await;
    assert!(
        summary["flush"]["days"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["day"] != today.as_str()),
        "{summary}"
    );
    assert_eq!(app.flush_runs(&today).await, 0, "today is not closed");
    assert_eq!(app.flushed_views(profile).await, 0);
    assert_eq!(app.view(profile, chrono::Utc::now()).await, 2);
}

/// Counters of days nobody flushed expire after 8 days. Those days are reported even when
/// no flush ever completed (counted from the first profile's creation day).
#[tokio::test]
async fn days_expired_before_any_flush_are_reported() {
    let app = TestApp::spawn().await;
    app.signup_at(serde_json::json!({}), Some(kst("2026-11-10T09:00:00")))
        .await;
    let summary = app.run_job("flush-views", kst("2026-11-21T01:00:00")).await;
    // Today is the 21st: the counters of the 13th and before are gone.
    assert_eq!(
        summary["flush"]["expiredUnflushedDays"],
        serde_json::json!(["2026-11-10", "2026-11-11", "2026-11-12", "2026-11-13"]),
        "{summary}"
    );
}

/// A ledger entry for a day whose counters have expired (recovery did not run for over a
/// week) is not skipped: the nightly run, which reads the whole ledger, applies it once
/// and reports it as late (alarmed).
#[tokio::test]
async fn a_ledger_entry_older_than_the_counters_is_applied_by_the_nightly_run_and_reported() {
    use app::ports::{LostView, ViewLossLedger};
    let app = TestApp::spawn().await;
    let profile = app.signup(serde_json::json!({})).await;
    let old_day = KstDay::of(kst("2026-11-10T12:00:00"));
    let view = LostView {
        profile: ProfileId(profile),
        day: old_day,
        id: domain::views::ViewId(7),
        sent_at_ms: api::jobs::wall_clock_ms() - 60_000,
    };
    app.services.ledger.record_loss(&view).await.unwrap();
    let night = kst("2026-11-25T01:00:00");

    let regular = app.recover_view_losses(night).await;
    assert_eq!(
        regular.views_recovered, 0,
        "beyond the 5-minute run's reach"
    );
    let nightly = app.run_job("flush-views", night).await;
    assert_eq!(nightly["lossRecovery"]["viewsRecovered"], 1, "{nightly}");
    assert_eq!(
        nightly["lossRecovery"]["viewsRecoveredLate"], 1,
        "{nightly}"
    );
    assert_eq!(app.flushed_views(profile).await, 1);
    let again = app.run_job("flush-views", night).await;
    assert_eq!(again["lossRecovery"]["viewsRecovered"], 0, "{again}");
    assert_eq!(app.flushed_views(profile).await, 1);
}

/// A run that would start a shard too close to its invocation's deadline stops and
/// records nothing for the day; a run killed after some shards left them recorded, and
/// the next run resumes after them (here: shard 0, which holds every profile of this
/// test, was done; the next run adds nothing to it and completes the day).
#[tokio::test]
async fn a_flush_stops_before_its_deadline_and_the_next_run_resumes_after_the_shards_done() {
    use app::ports::{ShardFlush, ViewCounter};
    use app::usecases::flush_views::{FlushRun, FlushViewsDeps, flush_views};
    let app = TestApp::spawn().await;
    let profiles = [
        app.signup(serde_json::json!({})).await,
        app.signup(serde_json::json!({})).await,
    ];
    let at = kst("2026-11-24T12:00:00");
    for (i, profile) in profiles.iter().enumerate() {
        for _ in 0..=i {
            app.view(*profile, at).await;
        }
    }
    let deps = FlushViewsDeps {
        counter: &*app.services.counter,
        history: &*app.services.store,
    };
    let night = kst("2026-11-25T01:00:00");
    let near_deadline = FlushRun {
        at: night,
        wall_now: chrono::Utc::now(),
        deadline: Some(chrono::Utc::now() + chrono::Duration::seconds(30)),
    };
    let paused = flush_views(&deps, near_deadline).await.unwrap();
    let pause = paused.paused.expect("paused");
    // Never flushed: the oldest day whose counters may exist comes first.
    assert_eq!((pause.day.as_str(), pause.shards_done), ("2026-11-18", 0));
    assert!(paused.days.is_empty());
    assert_eq!(app.flush_runs("2026-11-24").await, 0);
    assert_eq!(app.total_flushed_views().await, 0);

    // The killed run: shard 0 applied and recorded, then nothing.
    let day = KstDay::of(at);
    let shard0 = app.services.counter.day_shard(day, 0).await.unwrap();
    assert_eq!(shard0.len(), 2, "both profiles live in shard 0");
    app.services
        .store
        .apply_flush_batch(day, &shard0)
        .await
        .unwrap();
    let done = ShardFlush {
        shard: 0,
        profiles: 2,
        views: 3,
    };
    app.services.store.complete_shard(day, &done).await.unwrap();

    let resumed = flush_views(
        &deps,
        FlushRun {
            at: night,
            wall_now: chrono::Utc::now(),
            deadline: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(resumed.paused, None);
    let flushed = resumed.days.iter().find(|d| d.day == "2026-11-24").unwrap();
    assert_eq!(flushed.resumed_shards, 1);
    assert_eq!((flushed.viewed_profiles, flushed.views), (2, 3));
    assert_eq!(flushed.applied_profiles, 0, "shard 0 was done");
    assert_eq!(app.flush_runs("2026-11-24").await, 1);
    assert_eq!(app.flushed_views(profiles[0]).await, 1);
    assert_eq!(app.flushed_views(profiles[1]).await, 2);
}
