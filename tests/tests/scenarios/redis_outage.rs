use adapters::DynamoViewLossLedger;
use app::ports::{LostView, ViewLossLedger};
use aws_sdk_dynamodb::config::interceptors::{
    BeforeDeserializationInterceptorContextMut, BeforeTransmitInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use domain::views::ViewId;
use domain::{KstDay, ProfileId};
use integration_tests::{OwnRedis, TestApp, kst};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

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

/// A ledger write whose answer is lost: DynamoDB stored the item, the answer becomes a
/// 500 on the way back, and the SDK sends the same put again. The view must be held once
/// (one item per view id, put only if absent), and recovery applies it once.
#[tokio::test]
async fn a_ledger_write_whose_answer_is_lost_is_retried_and_held_once() {
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let lost_answers = Arc::new(AtomicUsize::new(0));
    let puts = Arc::new(AtomicUsize::new(0));
    let app = TestApp::spawn_tuned_with_settings(|settings, services| {
        let sdk = aws_sdk_dynamodb::config::Builder::from(&aws)
            .interceptor(LoseFirstPutAnswer {
                lost: lost_answers.clone(),
                puts: puts.clone(),
                sending_put: Arc::default(),
            })
            .build();
        services.ledger = api::services::Built::with(
            "the view-loss ledger (DynamoDB)",
            DynamoViewLossLedger::new(
                aws_sdk_dynamodb::Client::from_conf(sdk),
                settings.table_name.clone(),
            ),
        );
    })
    .await;
    let profile = app.signup(serde_json::json!({})).await;
    let at = kst("2026-11-24T14:00:00");
    let view = LostView {
        profile: ProfileId(profile),
        day: KstDay::of(at),
        id: ViewId(42),
        // Sent a minute ago: its landing window has closed, recovery decides it at once.
        sent_at_ms: api::jobs::wall_clock_ms() - 60_000,
    };
    app.services.ledger.record_loss(&view).await.unwrap();
    assert_eq!(
        lost_answers.load(Ordering::SeqCst),
        1,
        "the first answer was lost"
    );
    assert_eq!(puts.load(Ordering::SeqCst), 2, "the SDK sent the put again");
    let held = app.services.ledger.undecided(view.day).await.unwrap();
    assert_eq!(held, vec![view], "one item for the view");

    let recovered = app.recover_view_losses(at).await;
    assert_eq!(recovered.views_recovered, 1, "{recovered:?}");
    assert_eq!(app.flushed_views(profile).await, 1);
    assert_eq!(app.recover_view_losses(at).await.views_recovered, 0);
}

/// Turns the answer to the first PutItem (already applied by DynamoDB) into a retryable
/// 500, as a connection lost after the write would. (This client's calls are sequential,
/// so the request seen last is the one answered.)
#[derive(Debug)]
struct LoseFirstPutAnswer {
    lost: Arc<AtomicUsize>,
    puts: Arc<AtomicUsize>,
    sending_put: Arc<AtomicBool>,
}

impl Intercept for LoseFirstPutAnswer {
    fn name(&self) -> &'static str {
        "LoseFirstPutAnswer"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let target = context.request().headers().get("x-amz-target");
        let is_put = target == Some("DynamoDB_20120810.PutItem");
        self.sending_put.store(is_put, Ordering::SeqCst);
        if is_put {
            self.puts.fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if !self.sending_put.swap(false, Ordering::SeqCst) || self.lost.load(Ordering::SeqCst) > 0 {
            return Ok(());
        }
        self.lost.fetch_add(1, Ordering::SeqCst);
        let response = context.response_mut();
        *response.status_mut() = 500u16.try_into().expect("a status");
        response.headers_mut().remove("x-amz-crc32");
        *response.body_mut() =
            r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"answer lost"}"#
                .into();
        Ok(())
    }
}
