//! The owner edits their profile; the cached document beside the counters never serves
//! the old one after the answer, and the flushed total travels with its watermark, so a
//! cached document stays exact while the flush runs.

use app::InfraError;
use app::ports::{ProfileReader, ProfileRecord};
use app::usecases::view_profile::{ViewProfileDeps, ViewStamp, view_profile};
use async_trait::async_trait;
use domain::ProfileId;
use domain::views::ViewId;
use integration_tests::{TestApp, kst};
use serde_json::json;
use tokio::sync::Notify;

const DAY: &str = "2026-11-24T14:00:00";

fn headline(body: &serde_json::Value) -> &str {
    body["result"]["headline"].as_str().unwrap_or("-")
}

#[tokio::test]
async fn the_owner_edits_and_every_later_view_shows_the_edit() {
    let app = TestApp::spawn().await;
    let profile = app.signup(json!({})).await;
    let member = app.owner(profile).await;
    assert_eq!(
        app.view(profile, kst(DAY)).await,
        1,
        "the document is cached now"
    );

    let (status, edited) = app
        .edit_profile_as(
            member,
            r#"{"headline": " 데이터 엔지니어 ", "careerYears": 12, "region": "BUSAN"}"#,
            kst(DAY),
        )
        .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(headline(&edited), "데이터 엔지니어");
    assert_eq!(edited["result"]["viewCount"], 1, "an edit counts no view");
    assert_eq!(edited["result"]["introduction"], "안녕하세요", "kept");

    let (status, shown) = app
        .get(&format!("/api/profiles/{profile}"), Some(kst(DAY)))
        .await;
    assert_eq!(status, 200);
    assert_eq!(headline(&shown), "데이터 엔지니어");
    assert_eq!(
        (
            &shown["result"]["careerYears"],
            &shown["result"]["region"],
            &shown["result"]["viewCount"]
        ),
        (&json!(12), &json!("BUSAN"), &json!(2))
    );
}

#[tokio::test]
async fn bad_edits_get_a_4xx_and_change_nothing() {
    let app = TestApp::spawn().await;
    let profile = app.signup(json!({})).await;
    let member = app.owner(profile).await;
    for (body, code) in [
        (r#"{}"#, "MISSING_FIELD"),
        (r#"{"headline": null}"#, "MISSING_FIELD"),
        (r#"{"headline": "   "}"#, "INVALID_FIELD"),
        (r#"{"careerYears": 71}"#, "INVALID_FIELD"),
        (r#"{"careerYears": 1.5}"#, "INVALID_FIELD"),
        (r#"{"category": "ASTROLOGY"}"#, "INVALID_FIELD"),
        // Not editable: refused by name, not silently ignored.
        (r#"{"name": "새 이름"}"#, "INVALID_FIELD"),
        (r#"{"headline": "ok", "viewCount": 999}"#, "INVALID_FIELD"),
        (r#"[1]"#, "INVALID_JSON"),
    ] {
        let (status, answer) = app.edit_profile_as(member, body, kst(DAY)).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some(code)),
            "{body}: {answer}"
        );
    }
    let (status, answer) = app
        .post_json("/api/profiles/me", r#"{"headline": "x"}"#)
        .await;
    assert_ne!(status, 200, "{answer}");
    let (status, shown) = app
        .get(&format!("/api/profiles/{profile}"), Some(kst(DAY)))
        .await;
    assert_eq!(status, 200);
    assert_eq!(headline(&shown), "10년차 백엔드 개발자");
}

/// A reader that read the row, then waits (a slow cold miss): `read` fires once it has
/// the row, and it returns only after `release`.
struct SlowReader<'a> {
    app: &'a TestApp,
    read: Notify,
    release: Notify,
}

#[async_trait]
impl ProfileReader for SlowReader<'_> {
    async fn find(&self, id: ProfileId) -> Result<Option<ProfileRecord>, InfraError> {
        let row = self.app.services.store.find(id).await;
        self.read.notify_one();
        self.release.notified().await;
        row
    }
}

/// The race the version guards against: a cache miss reads the row, the owner's edit
/// commits and replaces the cached document, and only then does the miss try to cache
/// the row it read. It must not win: its own answer and every later one show the edit.
#[tokio::test]
async fn a_miss_filling_the_cache_with_the_row_from_before_an_edit_does_not_win() {
    let app = TestApp::spawn().await;
    let profile = app.signup(json!({})).await;
    let member = app.owner(profile).await;
    let slow = SlowReader {
        app: &app,
        read: Notify::new(),
        release: Notify::new(),
    };
    let deps = ViewProfileDeps {
        profiles: &slow,
        counter: &*app.services.counter,
        ledger: &*app.services.ledger,
        landing: app.services.view_landing,
    };
    let stamp = ViewStamp {
        id: ViewId(7),
        sent_at_ms: api::jobs::wall_clock_ms(),
    };
    let miss = view_profile(&deps, ProfileId(profile), kst(DAY), stamp);
    let edit = async {
        slow.read.notified().await;
        let (status, edited) = app
            .edit_profile_as(member, r#"{"headline": "편집 후"}"#, kst(DAY))
            .await;
        assert_eq!(status, 200, "{edited}");
        slow.release.notify_one();
    };
    let (viewed, ()) = futures::join!(miss, edit);
    let viewed = viewed.expect("the slow view answers");
    assert_eq!(
        viewed.profile.headline, "편집 후",
        "the older row lost to the edit"
    );
    assert_eq!(viewed.view_count, 1);

    let (_, shown) = app
        .get(&format!("/api/profiles/{profile}"), Some(kst(DAY)))
        .await;
    assert_eq!(headline(&shown), "편집 후");
    assert_eq!(shown["result"]["viewCount"], 2);
}

/// The flush folds a day into MySQL while cached documents keep the total and watermark
/// they were read with; each pair is exact, so views answered during the flush count on
/// without a gap or a double (sequential views: each must show exactly one more).
#[tokio::test]
async fn views_answered_from_the_cache_stay_exact_while_the_flush_runs() {
    let app = TestApp::spawn().await;
    let profiles = [
        app.signup(json!({})).await,
        app.signup(json!({})).await,
        app.signup(json!({})).await,
    ];
    for (i, profile) in profiles.iter().enumerate() {
        for _ in 0..=i {
            app.view(*profile, kst(DAY)).await;
        }
    }
    let night = kst("2026-11-25T01:00:00");
    let flush = async {
        for _ in 0..3 {
            app.run_job("flush-views", night).await;
        }
    };
    let views = async {
        let mut shown = Vec::new();
        for round in 0..20u64 {
            for (i, profile) in profiles.iter().enumerate() {
                let expected = i as u64 + 1 + round + 1;
                shown.push((app.view(*profile, night).await, expected));
            }
        }
        shown
    };
    let ((), shown) = futures::join!(flush, views);
    for (got, expected) in shown {
        assert_eq!(got, expected);
    }
    for (i, profile) in profiles.iter().enumerate() {
        assert_eq!(
            app.flushed_views(*profile).await,
            i as i64 + 1,
            "day 24 flushed once"
        );
        assert_eq!(app.listed_count(*profile, night).await, i as u64 + 21);
    }
}

/// Cached documents never crowd out the counters (Redis runs `noeviction`, so a full
/// Redis would refuse counts): above 80% of `maxmemory` no document is cached and views
/// are still counted, served from MySQL; with room again, documents are cached again.
#[tokio::test]
async fn documents_are_not_cached_while_redis_is_nearly_full() {
    let redis = integration_tests::OwnRedis::start();
    let app = TestApp::spawn_with_redis(redis.config()).await;
    let profile = app.signup(serde_json::json!({})).await;
    let at = kst("2026-11-24T14:00:00");
    // Ballast, so the headroom left under the limit is megabytes, not the few kilobytes a
    // connection's buffers can take (noeviction would then refuse the counts themselves).
    // (SETRANGE makes the 20 MB server-side: no big request buffer to be freed later.)
    redis
        .cli(&["setrange", "ballast", &(20 << 20).to_string(), "x"])
        .expect("SETRANGE");
    let info = redis.cli(&["info", "memory"]).expect("INFO answers");
    let used: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory");
    // Used memory is then 85% of the limit: over the documents' 80% ceiling.
    let limit = (used * 100 / 85).to_string();
    redis
        .cli(&["config", "set", "maxmemory", &limit])
        .expect("CONFIG SET");
    let cached = |keys: Vec<String>| keys.iter().any(|k| k.contains(":doc:"));

    assert_eq!(app.view(profile, at).await, 1);
    assert_eq!(app.view(profile, at).await, 2);
    assert!(
        !cached(app.redis_keys().await),
        "no document while Redis is nearly full"
    );

    redis
        .cli(&["config", "set", "maxmemory", "0"])
        .expect("CONFIG SET");
    assert_eq!(app.view(profile, at).await, 3);
    assert!(cached(app.redis_keys().await), "cached again with room");
    assert_eq!(app.view(profile, at).await, 4);
}
