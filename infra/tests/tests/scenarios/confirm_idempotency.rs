//! The API `Idempotency-Key` on confirm: concurrent use, what is stored (final answers)
//! and what is not (202), takeover of a dead holder's key, and keys per member.

use app::ports::IdempotencyStore;
use chrono::{Duration, Utc};
use integration_tests::{Order, TestApp};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

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
    let mut hasher = Sha256::new();
    hasher.update(format!("POST {CONFIRM_PATH}\n"));
    hasher.update(body.as_bytes());
    let fingerprint = hex::encode(hasher.finalize());
    let scope = format!("confirm#{}", order.member);
    let now = Utc::now();
    // The dead holder's claim: its lease ended a second ago.
    let store: &dyn IdempotencyStore = &app.services.idempotency;
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
