//! Refunds through Toss's cancel API, exactly once under retries, lost answers,
//! refusals and concurrent requests; the points move with them.

use futures::future::join_all;
use integration_tests::TestApp;
use serde_json::{Value, json};

struct Bought {
    member: u64,
    order_id: String,
    payment_key: String,
}

/// A member's confirmed purchase of `amount`, paid with the sandbox `faults`.
async fn bought(app: &TestApp, amount: u64, faults: &str) -> Bought {
    let order = app.authenticated_order(amount, faults).await;
    let (status, body) = app.confirm_order(&order, amount).await;
    assert_eq!(status, 200, "{body}");
    Bought {
        member: order.member,
        order_id: order.order_id,
        payment_key: order.payment_key,
    }
}

async fn ask_refund(app: &TestApp, purchase: &Bought, body: Value) -> (u16, Value) {
    let path = format!("/api/payments/toss/{}/refund", purchase.order_id);
    app.post_json_as(purchase.member, &path, &body.to_string())
        .await
}

async fn balance(app: &TestApp, member: u64) -> u64 {
    let (_, me) = app.get_as(member, "/api/members/me").await;
    me["result"]["points"].as_u64().expect("points")
}

/// The kinds and amounts of the member's history, newest first.
async fn history(app: &TestApp, member: u64) -> Vec<(String, i64)> {
    let (_, page) = app.get_as(member, "/api/members/me/points?size=100").await;
    page["result"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_owned(),
                e["amount"].as_i64().unwrap(),
            )
        })
        .collect()
}

async fn assert_points_agree(app: &TestApp) {
    assert!(
        app.members_whose_points_disagree().await.is_empty(),
        "balances, lots and history agree"
    );
}

#[tokio::test]
async fn a_whole_refund_goes_through_toss_once_and_takes_the_points() {
    let app = TestApp::spawn().await;
    let purchase = bought(&app, 5_000, "").await;
    let (status, body) = ask_refund(&app, &purchase, json!({ "reason": "단순 변심" })).await;
    assert_eq!(status, 200, "{body}");
    let refund = &body["result"];
    assert_eq!(
        (refund["status"].as_str(), refund["points"].as_u64()),
        (Some("DONE"), Some(5_000))
    );
    // Unused and within 7 days: everything back, no fee.
    assert_eq!(
        (refund["fee"].as_u64(), refund["refundWon"].as_u64()),
        (Some(0), Some(5_000))
    );
    assert_eq!(balance(&app, purchase.member).await, 0);
    assert_eq!(
        history(&app, purchase.member).await[0],
        ("REFUND".into(), -5_000)
    );
    let toss = app.toss_view(&purchase.order_id).await;
    assert_eq!((toss.status.as_str(), toss.balance_amount), ("CANCELED", 0));
    assert_eq!(app.toss_stats(&purchase.payment_key).await.cancels, 1);
    // Nothing is left: a second ask changes nothing.
    let (status, body) = ask_refund(&app, &purchase, json!({ "reason": "다시" })).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("NOTHING_TO_REFUND")),
        "{body}"
    );
    assert_eq!(app.toss_stats(&purchase.payment_key).await.cancels, 1);
    assert_points_agree(&app).await;
}

#[tokio::test]
async fn a_partial_refund_cancels_its_amount_and_the_rest_stays_refundable() {
    let app = TestApp::spawn().await;
    let purchase = bought(&app, 10_000, "").await;
    let (status, body) = ask_refund(
        &app,
        &purchase,
        json!({ "reason": "일부", "amount": 3_000 }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.toss_view(&purchase.order_id).await.balance_amount,
        7_000
    );
    assert_eq!(balance(&app, purchase.member).await, 7_000);
    // More than what remains unused: refused before Toss, nothing moves.
    let (status, body) = ask_refund(
        &app,
        &purchase,
        json!({ "reason": "초과", "amount": 7_001 }),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("REFUND_EXCEEDS_UNUSED")),
        "{body}"
    );
    assert_eq!(balance(&app, purchase.member).await, 7_000);
    // The rest, still without a fee: refunded points are not used ones.
    let (status, body) = ask_refund(&app, &purchase, json!({ "reason": "나머지" })).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["result"]["points"].as_u64(),
            body["result"]["fee"].as_u64()
        ),
        (Some(7_000), Some(0))
    );
    let toss = app.toss_view(&purchase.order_id).await;
    assert_eq!((toss.status.as_str(), toss.balance_amount), ("CANCELED", 0));
    assert_eq!(app.toss_stats(&purchase.payment_key).await.cancels, 2);
    assert_points_agree(&app).await;
}

#[tokio::test]
async fn two_concurrent_refunds_of_one_purchase_refund_it_once() {
    let app = TestApp::spawn().await;
    let purchase = bought(&app, 8_000, "").await;
    let answers = join_all(
        (0..6).map(|i| ask_refund(&app, &purchase, json!({ "reason": format!("동시 {i}") }))),
    )
    .await;
    let done = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(done, 1, "{answers:?}");
    for (status, body) in &answers {
        assert!(
            *status == 200
                || matches!(
                    body["code"].as_str(),
                    Some("REFUND_IN_PROGRESS" | "NOTHING_TO_REFUND")
                ),
            "{status} {body}"
        );
    }
    assert_eq!(app.toss_stats(&purchase.payment_key).await.cancels, 1);
    assert_eq!(balance(&app, purchase.member).await, 0);
    assert_points_agree(&app).await;
}

/// The refunds the payment's status answer lists: (refundId, status), newest first.
async fn shown_refunds(app: &TestApp, purchase: &Bought) -> Vec<(String, String)> {
    let path = format!("/api/payments/toss/{}", purchase.order_id);
    let (status, body) = app.get_as(purchase.member, &path).await;
    assert_eq!(status, 200, "{body}");
    body["result"]["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let text = |f: &str| r[f].as_str().unwrap().to_owned();
            (text("refundId"), text("status"))
        })
        .collect()
}

#[tokio::test]
async fn a_refund_whose_toss_answer_is_lost_is_settled_by_recovery_once() {
    let app = TestApp::spawn().await;
    let purchase = bought(&app, 4_000, "cancel-drop").await;
    let (status, body) = ask_refund(&app, &purchase, json!({ "reason": "응답 유실" })).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (202, Some("REFUND_PENDING")),
        "{body}"
    );
    // The points are held by the refund while its outcome is unknown.
    assert_eq!(balance(&app, purchase.member).await, 0);
    let refund_id = body["result"]["refundId"].as_str().unwrap();
    // The member follows it on the payment's status.
    let shown = shown_refunds(&app, &purchase).await;
    assert_eq!(shown, [(refund_id.to_owned(), "UNKNOWN".to_owned())]);
    let summary = recover_later(&app).await;
    assert_eq!(summary["refundRecovery"]["done"], 1, "{summary}");
    assert_eq!(refund_status(&app, refund_id).await, "DONE");
    let shown = shown_refunds(&app, &purchase).await;
    assert_eq!(shown, [(refund_id.to_owned(), "DONE".to_owned())]);
    // Toss cancelled once; the lost answer was not a second cancel.
    assert_eq!(app.toss_stats(&purchase.payment_key).await.cancels, 1);
    assert_eq!(balance(&app, purchase.member).await, 0);
    assert_points_agree(&app).await;
}

#[tokio::test]
async fn a_refused_cancel_gives_the_points_back() {
    let app = TestApp::spawn().await;
    let purchase = bought(&app, 3_000, "cancel-fail-NOT_CANCELABLE_PAYMENT-1").await;
    let (status, body) = ask_refund(&app, &purchase, json!({ "reason": "거절" })).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("REFUND_REFUSED")),
        "{body}"
    );
    assert_eq!(body["result"]["failureCode"], "NOT_CANCELABLE_PAYMENT");
    assert_eq!(balance(&app, purchase.member).await, 3_000);
    assert_eq!(
        history(&app, purchase.member).await,
        [
            ("REFUND_REVERSED".to_owned(), 3_000),
            ("REFUND".into(), -3_000),
            ("PURCHASE".into(), 3_000)
        ]
    );
    assert_eq!(
        app.toss_view(&purchase.order_id).await.balance_amount,
        3_000
    );
    assert_points_agree(&app).await;
}

#[tokio::test]
async fn a_failed_cancel_is_asked_again_with_a_new_key_after_a_lookup() {
    let app = TestApp::spawn().await;
    let purchase = bought(&app, 6_000, "cancel-fail-FAILED_REFUND_PROCESS-1").await;
    let (status, body) = ask_refund(&app, &purchase, json!({ "reason": "일시 오류" })).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (202, Some("REFUND_PENDING")),
        "{body}"
    );
    let summary = recover_later(&app).await;
    assert_eq!(summary["refundRecovery"]["done"], 1, "{summary}");
    // A same-key resend would have replayed the 500; the new key got the cancel through.
    assert_eq!(app.toss_stats(&purchase.payment_key).await.cancels, 1);
    assert_eq!(app.toss_view(&purchase.order_id).await.balance_amount, 0);
    assert_points_agree(&app).await;
}

#[tokio::test]
async fn refunds_are_refused_with_their_code_and_change_nothing() {
    let app = TestApp::spawn().await;
    let purchase = bought(&app, 2_000, "").await;
    let other = app.member().await;
    let path = format!("/api/payments/toss/{}/refund", purchase.order_id);
    let (status, body) = app
        .post_json_as(other, &path, r#"{"reason":"남의 것"}"#)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("FORBIDDEN_ORDER")),
        "{body}"
    );
    for (body, status, code) in [
        (json!({}), 400, "MISSING_FIELD"),
        (json!({ "reason": " " }), 400, "INVALID_FIELD"),
        (json!({ "reason": "x".repeat(201) }), 400, "INVALID_FIELD"),
        (
            json!({ "reason": "음수", "amount": -5 }),
            400,
            "INVALID_FIELD",
        ),
        (json!({ "reason": "영", "amount": 0 }), 400, "INVALID_FIELD"),
        (
            json!({ "reason": "소수", "amount": 1.5 }),
            400,
            "INVALID_FIELD",
        ),
    ] {
        let (got, answer) = ask_refund(&app, &purchase, body.clone()).await;
        assert_eq!(
            (got, answer["code"].as_str()),
            (status, Some(code)),
            "{body}: {answer}"
        );
    }
    let (status, body) = app
        .post_json_as(
            purchase.member,
            "/api/payments/toss/ord_unknown_1/refund",
            r#"{"reason":"없음"}"#,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("PAYMENT_NOT_FOUND")),
        "{body}"
    );
    // A checkout never paid is no purchase to refund.
    let unpaid = app.checkout(purchase.member, 1_000).await;
    let (status, body) = app
        .post_json_as(
            purchase.member,
            &format!("/api/payments/toss/{unpaid}/refund"),
            r#"{"reason":"미결제"}"#,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("PAYMENT_NOT_REFUNDABLE")),
        "{body}"
    );
    assert_eq!(balance(&app, purchase.member).await, 2_000);
    assert_eq!(app.toss_stats(&purchase.payment_key).await.cancels, 0);
}

#[tokio::test]
async fn an_idempotency_key_replays_the_refund_answer() {
    let app = TestApp::spawn().await;
    let purchase = bought(&app, 2_500, "").await;
    let path = format!("/api/payments/toss/{}/refund", purchase.order_id);
    let send = || async {
        app.http
            .post(format!("{}{path}", app.base))
            .bearer_auth(app.token(purchase.member))
            .header("content-type", "application/json")
            .header("idempotency-key", "refund-once-1")
            .body(r#"{"reason":"중복 요청"}"#)
            .send()
            .await
            .unwrap()
    };
    let first = send().await;
    assert_eq!(first.status(), 200);
    let first: Value = first.json().await.unwrap();
    let again = send().await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(first, again);
    assert_eq!(app.toss_stats(&purchase.payment_key).await.cancels, 1);
}

/// One recovery run five minutes on (past every refund's lease and first wait).
async fn recover_later(app: &TestApp) -> Value {
    let later = chrono::Utc::now() + chrono::Duration::minutes(5);
    app.run_job("recover-payments", later).await
}

async fn refund_status(app: &TestApp, refund_id: &str) -> String {
    sqlx::query_scalar("SELECT status FROM refunds WHERE refund_id = ?")
        .bind(refund_id)
        .fetch_one(&app.db)
        .await
        .unwrap()
}
