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
