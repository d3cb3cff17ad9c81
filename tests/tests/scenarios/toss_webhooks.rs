//! Toss's webhook deliveries (docs/toss.md §7): recorded once per transmission id, never
//! trusted (the payment is fetched again from Toss), a settlement path for open payments
//! and the way a cancel made in Toss's merchant console reaches us (points clawed back).

use integration_tests::TestApp;
use serde_json::{Value, json};

/// A `PAYMENT_STATUS_CHANGED` delivery with Toss's headers and body (§7).
async fn deliver(app: &TestApp, transmission_id: &str, data: Value) -> (u16, Value) {
    let body = json!({
        "eventType": "PAYMENT_STATUS_CHANGED",
        "createdAt": "2026-12-02T21:00:00.000000",
        "data": data,
    });
    let response = app
        .http
        .post(format!("{}/api/payments/toss/webhook", app.base))
        .header("content-type", "application/json")
        .header("tosspayments-webhook-transmission-id", transmission_id)
        .header(
            "tosspayments-webhook-transmission-time",
            "2026-12-02T21:00:00.000000",
        )
        .header("tosspayments-webhook-transmission-retried-count", "0")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn console_cancel(app: &TestApp, payment_key: &str, amount: u64) {
    let response = app
        .http
        .post(format!(
            "{}/sandbox/payments/{payment_key}/console-cancel",
            app.toss
        ))
        .json(&json!({ "cancelAmount": amount }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

async fn balance(app: &TestApp, member: u64) -> u64 {
    let (_, me) = app.get_as(member, "/api/members/me").await;
    me["result"]["points"].as_u64().unwrap()
}

fn outcome(answer: &(u16, Value)) -> (u16, &str) {
    (
        answer.0,
        answer.1["result"]["outcome"].as_str().unwrap_or("-"),
    )
}

#[tokio::test]
async fn a_console_cancel_claws_the_points_back_once() {
    let app = TestApp::spawn().await;
    let order = app.authenticated_order(5_000, "").await;
    assert_eq!(app.confirm_order(&order, 5_000).await.0, 200);
    console_cancel(&app, &order.payment_key, 2_000).await;
    let data = app.toss_payment(&order.order_id).await;
    let first = deliver(&app, "tx-console-1", data.clone()).await;
    assert_eq!(
        outcome(&first),
        (200, "clawed back 2000/0"),
        "{:?}",
        first.1
    );
    assert_eq!(balance(&app, order.member).await, 3_000);
    // The same transmission again, and another delivery of the same change: nothing more.
    assert_eq!(
        outcome(&deliver(&app, "tx-console-1", data.clone()).await),
        (200, "duplicate")
    );
    let again = deliver(&app, "tx-console-2", data).await;
    assert_eq!(
        outcome(&again),
        (200, "ignored: every cancel is accounted for")
    );
    assert_eq!(balance(&app, order.member).await, 3_000);
    let (_, page) = app.get_as(order.member, "/api/members/me/points").await;
    assert_eq!(page["result"]["items"][0]["kind"], "CLAWBACK");
    assert_eq!(page["result"]["items"][0]["amount"], -2_000);
    assert!(app.members_whose_points_disagree().await.is_empty());

    // A refund afterwards refunds what is left, against Toss's balance after the cancel.
    let path = format!("/api/payments/toss/{}/refund", order.order_id);
    let (status, body) = app
        .post_json_as(order.member, &path, r#"{"reason":"나머지"}"#)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["points"], 3_000);
    assert_eq!(app.toss_view(&order.order_id).await.balance_amount, 0);
    assert_eq!(balance(&app, order.member).await, 0);
}

#[tokio::test]
async fn a_lying_or_foreign_delivery_changes_nothing() {
    let app = TestApp::spawn().await;
    let order = app.authenticated_order(4_000, "").await;
    assert_eq!(app.confirm_order(&order, 4_000).await.0, 200);
    // The body says CANCELED; Toss's own lookup says DONE.
    let mut lie = app.toss_payment(&order.order_id).await;
    lie["status"] = json!("CANCELED");
    lie["balanceAmount"] = json!(0);
    let answer = deliver(&app, "tx-lie", lie).await;
    assert_eq!(outcome(&answer), (200, "ignored: Toss shows no cancel"));
    assert_eq!(balance(&app, order.member).await, 4_000);
    let foreign = deliver(
        &app,
        "tx-foreign",
        json!({ "orderId": "ord_someone_else_1" }),
    )
    .await;
    assert_eq!(outcome(&foreign), (200, "ignored: not our order"));
    let nameless = deliver(
        &app,
        "tx-nameless",
        json!({ "orderId": "not an order id!" }),
    )
    .await;
    assert_eq!(outcome(&nameless), (200, "ignored: names no order of ours"));
    // What is no Toss delivery at all is refused.
    let response = app
        .http
        .post(format!("{}/api/payments/toss/webhook", app.base))
        .header("content-type", "application/json")
        .body(r#"{"eventType":"PAYMENT_STATUS_CHANGED","data":{}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(balance(&app, order.member).await, 4_000);
}

#[tokio::test]
async fn a_webhook_before_the_confirm_answer_settles_the_payment_once() {
    let app = TestApp::spawn().await;
    // The confirm gets no answer and Toss's lookups know nothing until the approval lands.
    let order = app.authenticated_order(3_000, "late-1500,lookup-404").await;
    let (status, body) = app.confirm_order(&order, 3_000).await;
    assert_eq!(status, 202, "{body}");
    tokio::time::sleep(std::time::Duration::from_millis(1_800)).await;
    let data = app.toss_payment(&order.order_id).await;
    assert_eq!(data["status"], "DONE");
    let answer = deliver(&app, "tx-done", data).await;
    assert_eq!(outcome(&answer), (200, "settled DONE"), "{:?}", answer.1);
    assert_eq!(app.payment_status(&order.order_id).await, "DONE");
    assert_eq!(balance(&app, order.member).await, 3_000);
    // The confirm sent again gets the settled answer; the points stay charged once.
    assert_eq!(app.confirm_order(&order, 3_000).await.0, 200);
    assert_eq!(app.purchase_lots(&order.order_id).await, 1);
    assert_eq!(balance(&app, order.member).await, 3_000);
}

/// The states of the sandbox's deliveries and the status of each delivery's last attempt.
fn delivered(deliveries: &[Value]) -> Vec<(String, Value)> {
    deliveries
        .iter()
        .map(|d| {
            let last = d["attempts"].as_array().and_then(|a| a.last()).cloned();
            (
                d["state"].as_str().unwrap_or("-").to_owned(),
                last.map_or(Value::Null, |a| a["status"].clone()),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_sandboxs_own_webhook_settles_an_unanswered_confirm_before_any_recovery_run() {
    let app = TestApp::spawn().await;
    app.register_webhooks().await;
    let order = app.authenticated_order(3_000, "late-1000,lookup-404").await;
    let (status, body) = app.confirm_order(&order, 3_000).await;
    assert_eq!(status, 202, "{body}");
    // Toss announces the approval when it lands; our webhook route settles the payment.
    let deliveries = app.wait_for_webhooks(&order.payment_key, 1, 1).await;
    assert_eq!(delivered(&deliveries), [("DELIVERED".into(), json!(200))]);
    assert_eq!(app.payment_status(&order.order_id).await, "DONE");
    assert_eq!(balance(&app, order.member).await, 3_000);
    assert_eq!(app.purchase_lots(&order.order_id).await, 1);
}

#[tokio::test]
async fn a_console_cancel_reaches_us_through_the_sandboxs_webhook() {
    let app = TestApp::spawn().await;
    app.register_webhooks().await;
    let order = app.authenticated_order(5_000, "").await;
    assert_eq!(app.confirm_order(&order, 5_000).await.0, 200);
    console_cancel(&app, &order.payment_key, 2_000).await;
    let deliveries = app.wait_for_webhooks(&order.payment_key, 2, 1).await;
    let statuses: Vec<&Value> = deliveries
        .iter()
        .map(|d| &d["body"]["data"]["status"])
        .collect();
    assert_eq!(statuses, [&json!("DONE"), &json!("PARTIAL_CANCELED")]);
    assert_eq!(delivered(&deliveries).len(), 2);
    assert!(
        delivered(&deliveries)
            .iter()
            .all(|d| d == &("DELIVERED".into(), json!(200)))
    );
    assert_eq!(balance(&app, order.member).await, 3_000);
}

#[tokio::test]
async fn a_delivery_our_route_could_not_take_is_retried_on_tosss_schedule() {
    let app = TestApp::spawn().await;
    app.register_webhooks().await;
    let order = app.authenticated_order(4_000, "late-1200,lookup-404").await;
    assert_eq!(app.confirm_order(&order, 4_000).await.0, 202);
    // MariaDB is gone for this app when Toss announces the approval: our route answers
    // 5xx, which Toss counts as a failure.
    app.database_available(false).await;
    let deliveries = app.wait_for_webhooks(&order.payment_key, 1, 1).await;
    let (state, answer) = delivered(&deliveries).remove(0);
    assert_eq!(state, "PENDING", "{deliveries:?}");
    assert!(answer.as_u64().is_some_and(|s| s >= 500), "{answer}");
    app.database_available(true).await;
    // The first retry is due one minute after the failure, on Toss's clock.
    app.advance_toss_clock(61).await;
    let deliveries = app.wait_for_webhooks(&order.payment_key, 1, 3).await;
    assert_eq!(delivered(&deliveries), [("DELIVERED".into(), json!(200))]);
    assert_eq!(deliveries[0]["retriedCount"], 1);
    assert_eq!(app.payment_status(&order.order_id).await, "DONE");
    assert_eq!(balance(&app, order.member).await, 4_000);
}

#[tokio::test]
async fn duplicated_reordered_and_lying_sandbox_webhooks_change_nothing_wrongly() {
    let app = TestApp::spawn().await;
    app.register_webhooks().await;
    // Approved; the body (twice) says cancelled, Toss's lookup says DONE.
    let lied = app
        .authenticated_order(5_000, "webhook-duplicate,webhook-lie")
        .await;
    assert_eq!(app.confirm_order(&lied, 5_000).await.0, 200);
    // Approved and partly cancelled in the console at once; the cancel arrives first.
    let reordered = app.authenticated_order(5_000, "webhook-reorder").await;
    assert_eq!(app.confirm_order(&reordered, 5_000).await.0, 200);
    console_cancel(&app, &reordered.payment_key, 1_000).await;
    let lies = app.wait_for_webhooks(&lied.payment_key, 1, 2).await;
    assert_eq!(lies[0]["body"]["data"]["status"], "CANCELED");
    assert_eq!(
        lies[0]["attempts"].as_array().unwrap().len(),
        2,
        "sent twice"
    );
    let late = app.wait_for_webhooks(&reordered.payment_key, 2, 1).await;
    assert!(
        delivered(&late).iter().all(|d| d.0 == "DELIVERED"),
        "{late:?}"
    );
    let arrival: Vec<(&Value, &Value)> = late
        .iter()
        .map(|d| (&d["body"]["data"]["status"], &d["attempts"][0]["at"]))
        .collect();
    assert!(arrival[1].1.as_str() < arrival[0].1.as_str(), "{arrival:?}");
    assert_eq!(balance(&app, lied.member).await, 5_000);
    assert_eq!(balance(&app, reordered.member).await, 4_000);
    assert_eq!(app.members_whose_points_disagree().await, Vec::<u64>::new());
}
