//! The API `Idempotency-Key` on confirm: concurrent use, what is stored (final answers)
//! and what is not (202), takeover of a dead holder's key, a key released between our
//! failed claim and our read, and keys per member.

use adapters::DynamoIdempotencyStore;
use app::ports::{IdempotencyBegin, IdempotencyStore};
use aws_sdk_dynamodb::config::interceptors::AfterDeserializationInterceptorContextRef;
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
use chrono::{Duration, Utc};
use integration_tests::{Order, TestApp};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};

const AMOUNT: u64 = 5_000;
const CONFIRM_PATH: &str = "/api/payments/toss/confirm";

fn confirm_body(order: &Order, amount: u64) -> String {
    json!({ "memberId": order.member, "paymentKey": order.payment_key, "orderId": order.order_id, "amount": amount })
        .to_string()
}

/// Sends a confirm as `caller` under `key`: (status, replayed?, body).
async fn confirm_with_key(
    app: &TestApp,
    caller: u64,
    key: &str,
    body: String,
) -> (u16, bool, Value) {
    let response = app
        .http
        .post(format!("{}{CONFIRM_PATH}", app.base))
        .header("content-type", "application/json")
        .bearer_auth(app.token(caller))
        .header("idempotency-key", key)
        .body(body)
        .send()
        .await
        .unwrap();
    let replayed = response.headers().contains_key("idempotent-replayed");
    let status = response.status().as_u16();
    (
        status,
        replayed,
        response.json().await.unwrap_or(Value::Null),
    )
}

/// The request fingerprint the API stores with a confirm's key.
fn confirm_fingerprint(body: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(format!("POST {CONFIRM_PATH}\n"));
    hasher.update(body.as_bytes());
    hex::encode(hasher.finalize())
}

#[tokio::test]
async fn the_same_key_twice_at_once_gets_409_for_the_second() {
    let app = TestApp::spawn().await;
    let order = app.authenticated_order(AMOUNT, "delay-1000").await;
    let body = confirm_body(&order, AMOUNT);
    let (a, b) = tokio::join!(
        confirm_with_key(&app, order.member, "k-1", body.clone()),
        async {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            confirm_with_key(&app, order.member, "k-1", body.clone()).await
        }
    );
    assert!(matches!(a.0, 200 | 202), "{a:?}");
    assert_eq!(
        (b.0, b.2["code"].as_str()),
        (409, Some("IDEMPOTENT_REQUEST_PROCESSING")),
        "{b:?}"
    );
}

/// A 202 (still being confirmed) is not kept: the same key later runs again and answers
/// from the payment as it is then; a 4xx is kept and replayed.
#[tokio::test]
async fn a_202_is_not_stored_and_a_4xx_is_replayed() {
    let app = TestApp::spawn().await;
    let order = app.authenticated_order(AMOUNT, "delay-2500").await;
    let (status, replayed, _) =
        confirm_with_key(&app, order.member, "k-202", confirm_body(&order, AMOUNT)).await;
    assert_eq!((status, replayed), (202, false));
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    app.run_job("recover-payments", Utc::now() + Duration::minutes(2))
        .await;
    let (status, replayed, body) =
        confirm_with_key(&app, order.member, "k-202", confirm_body(&order, AMOUNT)).await;
    assert_eq!((status, replayed), (200, false), "{body}");
    assert_eq!(body["result"]["status"], "DONE");

    let other = app.authenticated_order(AMOUNT, "").await;
    let wrong = confirm_body(&other, AMOUNT + 1);
    let first = confirm_with_key(&app, other.member, "k-400", wrong.clone()).await;
    assert_eq!((first.0, first.1), (400, false), "{first:?}");
    let again = confirm_with_key(&app, other.member, "k-400", wrong).await;
    assert_eq!((again.0, again.1, &again.2), (400, true, &first.2));
}

/// A holder that died leaves its key claimed until its lease ends; after that the next
/// request with the key takes it over and runs, instead of answering 409 forever.
#[tokio::test]
async fn a_key_whose_holder_died_is_taken_over_after_its_lease() {
    let app = TestApp::spawn().await;
    let order = app.authenticated_order(AMOUNT, "").await;
    let body = confirm_body(&order, AMOUNT);
    let fingerprint = confirm_fingerprint(&body);
    let scope = format!("confirm#{}", order.member);
    let now = Utc::now();
    // The dead holder's claim: its lease ended a second ago.
    let store: &dyn IdempotencyStore = &*app.services.idempotency;
    store
        .begin(
            &scope,
            "k-dead",
            &fingerprint,
            now - Duration::seconds(1),
            now - Duration::seconds(30),
        )
        .await
        .unwrap();
    let (status, replayed, reply) = confirm_with_key(&app, order.member, "k-dead", body).await;
    assert_eq!((status, replayed), (200, false), "{reply}");
    assert_eq!(reply["result"]["status"], "DONE");
}

/// Keys are per member: another member's request with the same key is their own.
#[tokio::test]
async fn another_members_key_is_not_theirs() {
    let app = TestApp::spawn().await;
    let mine = app.authenticated_order(AMOUNT, "").await;
    let theirs = app.authenticated_order(AMOUNT, "").await;
    let (status, _, _) =
        confirm_with_key(&app, mine.member, "shared-key", confirm_body(&mine, AMOUNT)).await;
    assert_eq!(status, 200);
    let (status, replayed, body) = confirm_with_key(
        &app,
        theirs.member,
        "shared-key",
        confirm_body(&theirs, AMOUNT),
    )
    .await;
    assert_eq!((status, replayed), (200, false), "{body}");
    assert_eq!(body["result"]["orderId"], theirs.order_id.as_str());
}

/// A claim that fails (a holder has the key) and then reads no record (the holder released
/// the key between our conditional put and our read: its request ended in a 202 or a 5xx,
/// which are not kept) claims the key again and runs the request: not 409 (nobody holds
/// the key any more) and not 422 (nothing says the key was used for another request).
///
/// The race is made to happen, not hoped for: an interceptor on the DynamoDB client of
/// the app's idempotency store has the holder release its claim right after our first
/// PutItem fails its condition, before our GetItem is sent.
#[tokio::test]
async fn a_key_released_between_our_failed_claim_and_our_read_is_claimed_again() {
    // The environment the harness's clients are built from (stack.env).
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let race = Arc::new(Race::default());
    let app = TestApp::spawn_tuned_with_settings(|settings, services| {
        *race.table.lock().unwrap() = settings.table_name.clone();
        let sdk = aws_sdk_dynamodb::config::Builder::from(&aws)
            .interceptor(ReleaseAfterFailedClaim(race.clone()))
            .build();
        services.idempotency = api::services::Built::with(
            "the idempotency store (DynamoDB)",
            DynamoIdempotencyStore::new(
                aws_sdk_dynamodb::Client::from_conf(sdk),
                settings.table_name.clone(),
            ),
        );
    })
    .await;
    let order = app.authenticated_order(AMOUNT, "").await;
    let body = confirm_body(&order, AMOUNT);
    let scope = format!("confirm#{}", order.member);
    let now = Utc::now();
    // The holder: the same request under the same key, claimed a moment ago, its lease
    // still running (on a client without the interceptor).
    let holder = DynamoIdempotencyStore::new(
        aws_sdk_dynamodb::Client::new(&aws),
        race.table.lock().unwrap().clone(),
    );
    let claimed = holder
        .begin(
            &scope,
            "k-race",
            &confirm_fingerprint(&body),
            now + Duration::seconds(60),
            now,
        )
        .await
        .unwrap();
    assert_eq!(claimed, IdempotencyBegin::Proceed);
    *race.holder.lock().unwrap() = Some((scope, "k-race".to_owned()));

    let (status, replayed, reply) =
        confirm_with_key(&app, order.member, "k-race", body.clone()).await;
    let events = race.events.lock().unwrap().clone();
    assert_eq!(
        events.get(..3),
        Some(
            &[
                "PutItem: condition failed",
                "the holder released its claim",
                "GetItem: no record",
            ][..]
        ),
        "the race did not happen as staged: {events:?}"
    );
    assert_eq!(
        (status, replayed),
        (200, false),
        "the key was free again, the request should have run: {reply} ({events:?})"
    );
    assert_eq!(reply["result"]["status"], "DONE");
    assert_eq!(events[3..], ["PutItem: claimed"]);
    // Our claim was a real one: the answer was stored under the key and is replayed.
    let again = confirm_with_key(&app, order.member, "k-race", body).await;
    assert_eq!((again.0, again.1, &again.2), (200, true, &reply));
}

/// What the interceptor is to do and what it saw.
#[derive(Debug, Default)]
struct Race {
    table: Mutex<String>,
    /// The holder's (scope, key), released once, at our first failed claim.
    holder: Mutex<Option<(String, String)>>,
    events: Mutex<Vec<&'static str>>,
}

#[derive(Debug)]
struct ReleaseAfterFailedClaim(Arc<Race>);

impl Intercept for ReleaseAfterFailedClaim {
    fn name(&self) -> &'static str {
        "ReleaseAfterFailedClaim"
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let event = match context.output_or_error() {
            Ok(output) if output.downcast_ref::<PutItemOutput>().is_some() => "PutItem: claimed",
            Ok(output) => match output.downcast_ref::<GetItemOutput>() {
                Some(get) if get.item.is_some() => "GetItem: a record",
                Some(_) => "GetItem: no record",
                None => return Ok(()),
            },
            Err(error)
                if error
                    .as_operation_error()
                    .and_then(|e| e.downcast_ref::<PutItemError>())
                    .is_some_and(PutItemError::is_conditional_check_failed_exception) =>
            {
                "PutItem: condition failed"
            }
            Err(_) => return Ok(()),
        };
        self.0.events.lock().unwrap().push(event);
        if event == "PutItem: condition failed" {
            let holder = self.0.holder.lock().unwrap().take();
            if let Some((scope, key)) = holder {
                let table = self.0.table.lock().unwrap().clone();
                release_now(&table, &scope, &key);
                self.0
                    .events
                    .lock()
                    .unwrap()
                    .push("the holder released its claim");
            }
        }
        Ok(())
    }
}

/// The holder's release (`IdempotencyStore::release`, as the API calls it after a 202),
/// done before this returns. An interceptor's hooks are synchronous, so it runs on a
/// thread with a runtime and a client of its own (a connection belongs to the runtime
/// that opened it), while the request it interrupts waits.
fn release_now(table: &str, scope: &str, key: &str) {
    std::thread::scope(|threads| {
        threads
            .spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("a runtime for the holder");
                runtime.block_on(async {
                    let aws =
                        aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                    DynamoIdempotencyStore::new(aws_sdk_dynamodb::Client::new(&aws), table)
                        .release(scope, key)
                        .await
                })
            })
            .join()
            .expect("the holder's thread")
    })
    .expect("the holder's release");
}
