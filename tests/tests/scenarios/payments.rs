//! The payment scenarios: each asserts our final status, Toss' view of the
//! payment, the member's points and the point ledger.

use chrono::{Duration, Utc};
use domain::payment::{ConfirmErrorClass, PaymentStatus};
use futures::future::join_all;
use integration_tests::{Order, Table, TestApp};
use serde_json::Value;

const AMOUNT: u64 = 5_000;

/// Our status, Toss' status, points, ledger rows.
async fn outcome(app: &TestApp, order: &Order) -> (String, String, i64, i64) {
    let toss = app.toss_view(&order.order_id).await;
    (
        app.payment_status(&order.order_id).await,
        toss.status,
        app.points(order.member).await,
        app.purchase_lots(&order.order_id).await,
    )
}

#[tokio::test]
async fn happy_path_charges_points_once_and_publishes_the_event() {
    let app = TestApp::spawn().await;
    let order = app.authenticated_order(AMOUNT, "").await;
    let (status, body) = app.confirm_order(&order, AMOUNT).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["status"], "DONE");
    assert_eq!(body["result"]["pointsCharged"], AMOUNT);
    assert_eq!(
        outcome(&app, &order).await,
        ("DONE".into(), "DONE".into(), AMOUNT as i64, 1)
    );
    assert_eq!(app.toss_stats(&order.payment_key).await.approvals, 1);
    assert_eq!(
        app.outbox_event(&format!("PaymentConfirmed:{}", order.order_id))
            .await,
        Some(true),
        "the PaymentConfirmed event was published to EventBridge"
    );
    assert_eq!(
        app.payment_history(&order.order_id).await,
        [
            PaymentStatus::Ready,
            PaymentStatus::InProgress,
            PaymentStatus::Done
        ]
    );
    let (status, polled) = app
        .get_as(
            order.member,
            &format!("/api/payments/toss/{}", order.order_id),
        )
        .await;
    assert_eq!(
        (status, polled["result"]["status"].as_str()),
        (200, Some("DONE"))
    );
}

#[tokio::test]
async fn tampered_amount_is_refused_before_toss_is_called() {
    let app = TestApp::spawn().await;
    let order = app.authenticated_order(AMOUNT, "").await;
    let (status, body) = app
        .confirm(
            order.member,
            &order.payment_key,
            &order.order_id,
            AMOUNT - 1_000,
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("AMOUNT_MISMATCH")),
        "{body}"
    );
    assert_eq!(
        app.toss_stats(&order.payment_key).await.confirm_requests,
        0,
        "Toss never called"
    );
    assert_eq!(
        outcome(&app, &order).await,
        ("READY".into(), "IN_PROGRESS".into(), 0, 0)
    );
}

#[tokio::test]
async fn another_members_order_is_forbidden() {
    let app = TestApp::spawn().await;
    let order = app.authenticated_order(AMOUNT, "").await;
    let intruder = app.member().await;
    let (status, body) = app
        .confirm(intruder, &order.payment_key, &order.order_id, AMOUNT)
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("FORBIDDEN_ORDER")),
        "{body}"
    );
    assert_eq!(app.toss_stats(&order.payment_key).await.confirm_requests, 0);
    assert_eq!(
        outcome(&app, &order).await,
        ("READY".into(), "IN_PROGRESS".into(), 0, 0)
    );
    assert_eq!(app.points(intruder).await, 0);
}

/// Every code the classification calls final ends FAILED with that code and no points.
#[tokio::test]
async fn every_final_toss_code_fails_the_payment_without_points() {
    let app = TestApp::spawn().await;
    let member = app.member().await;
    let codes: Vec<&str> = toss_sandbox::known_codes()
        .filter(|code| ConfirmErrorClass::of(code).is_final())
        .collect();
    assert!(
        codes.len() > 40,
        "the sandbox knows the documented codes: {codes:?}"
    );
    for code in codes {
        let order_id = app.checkout(member, AMOUNT).await;
        let payment_key = app
            .authenticate(&order_id, AMOUNT, &format!("abort-{code}"))
            .await;
        let (status, body) = app.confirm(member, &payment_key, &order_id, AMOUNT).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some("PAYMENT_FAILED")),
            "{code}: {body}"
        );
        assert_eq!(body["result"]["failureCode"], code);
        assert_eq!(app.payment_status(&order_id).await, "FAILED", "{code}");
        assert_eq!(app.toss_view(&order_id).await.status, "ABORTED", "{code}");
        assert_eq!(app.purchase_lots(&order_id).await, 0);
    }
    assert_eq!(app.points(member).await, 0);
}

#[tokio::test]
async fn a_transient_toss_error_then_success_charges_once() {
    let app = TestApp::spawn().await;
    let order = app
        .authenticated_order(AMOUNT, "fail-PROVIDER_ERROR-1")
        .await;
    let (status, body) = app.confirm_order(&order, AMOUNT).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        outcome(&app, &order).await,
        ("DONE".into(), "DONE".into(), AMOUNT as i64, 1)
    );
    let stats = app.toss_stats(&order.payment_key).await;
    assert_eq!((stats.confirm_requests, stats.approvals), (2, 1));
    assert_eq!(
        app.payment(&order.order_id).await.confirm_attempts,
        2,
        "the second confirm used a new Idempotency-Key (the first would replay the error)"
    );
}

/// Toss answers only after our client gave up: the member gets 202, recovery finishes.
#[tokio::test]
async fn toss_slower_than_our_timeout_ends_unknown_then_recovery_charges_once() {
    let app = TestApp::spawn().await;
    let order = app.authenticated_order(AMOUNT, "delay-3000").await;
    let (status, body) = app.confirm_order(&order, AMOUNT).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (202, Some("PAYMENT_PENDING")),
        "{body}"
    );
    assert_eq!(app.payment_status(&order.order_id).await, "UNKNOWN");
    assert_eq!(app.points(order.member).await, 0);

    tokio::time::sleep(std::time::Duration::from_millis(2_000)).await; // Toss finishes
    let summary = app.recover_payments(5).await;
    assert_eq!(summary.done, 1, "{summary:?}");
    assert_eq!(
        outcome(&app, &order).await,
        ("DONE".into(), "DONE".into(), AMOUNT as i64, 1)
    );
    let again = app.recover_payments(10).await;
    assert_eq!(again.examined, 0, "{again:?}");
    assert_eq!(app.points(order.member).await, AMOUNT as i64);
    assert_eq!(app.toss_stats(&order.payment_key).await.approvals, 1);
}

/// Toss approves and never answers (hangs, or drops the connection): the lookup that
/// follows finds the approval, so the member is charged once, right away.
#[tokio::test]
async fn approved_but_unanswered_confirms_are_settled_from_the_lookup() {
    let app = TestApp::spawn().await;
    for fault in ["hang", "drop"] {
        let order = app.authenticated_order(AMOUNT, fault).await;
        let (status, body) = app.confirm_order(&order, AMOUNT).await;
        assert_eq!(status, 200, "{fault}: {body}");
        assert_eq!(
            outcome(&app, &order).await,
            ("DONE".into(), "DONE".into(), AMOUNT as i64, 1),
            "{fault}"
        );
        let summary = app.recover_payments(5).await;
        assert_eq!(summary.done, 0, "{fault}: nothing left for recovery");
        assert_eq!(app.points(order.member).await, AMOUNT as i64, "{fault}");
        assert_eq!(
            app.toss_stats(&order.payment_key).await.approvals,
            1,
            "{fault}"
        );
    }
}

/// The function dies after Toss approved and before it wrote anything back.
#[tokio::test]
async fn a_crash_between_toss_approval_and_the_final_transaction_is_recovered_once() {
    use app::ports::{Claim, PaymentGateway, PaymentStore};
    let app = TestApp::spawn().await;
    let order = app.authenticated_order(AMOUNT, "").await;
    let order_id = domain::payment::OrderId::parse(&order.order_id).unwrap();
    let now = Utc::now();
    // What confirm does up to the crash: claim, then Toss approves…
    assert!(
        app.services
            .store
            .claim(
                &order_id,
                Claim::Confirm {
                    payment_key: order.payment_key.clone(),
                    confirm_key: format!("confirm-{order_id}-1"),
                    lease_until: now + Duration::seconds(90),
                },
                now,
            )
            .await
            .unwrap()
    );
    let toss = app.services.toss.as_ref().unwrap();
    let approved = toss
        .confirm(
            &order.payment_key,
            &order_id,
            domain::payment::Amount::parse(AMOUNT as i64).unwrap(),
            &format!("confirm-{order_id}-1"),
        )
        .await
        .unwrap();
    assert_eq!(approved.status, "DONE");
    // …and nothing more. Within the lease, recovery leaves it alone.
    assert_eq!(app.recover_payments(0).await.examined, 0);
    assert_eq!(
        outcome(&app, &order).await,
        ("IN_PROGRESS".into(), "DONE".into(), 0, 0)
    );

    let summary = app.recover_payments(2).await;
    assert_eq!(summary.done, 1, "{summary:?}");
    app.recover_payments(3).await;
    assert_eq!(
        outcome(&app, &order).await,
        ("DONE".into(), "DONE".into(), AMOUNT as i64, 1)
    );
    assert_eq!(app.toss_stats(&order.payment_key).await.approvals, 1);
}

/// MariaDB goes away while Toss approves: the member gets 202, and once the database is
/// back, recovery charges exactly once.
#[tokio::test]
async fn mariadb_unavailable_at_the_final_transaction_is_recovered_once() {
    let app = TestApp::spawn().await;
    let order = app.authenticated_order(AMOUNT, "delay-800").await;
    let confirm = app.confirm(order.member, &order.payment_key, &order.order_id, AMOUNT);
    let outage = async {
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        app.database_available(false).await;
    };
    let ((status, body), ()) = futures::join!(confirm, outage);
    assert_eq!(
        (status, body["code"].as_str()),
        (202, Some("PAYMENT_PENDING")),
        "{body}"
    );
    assert_eq!(
        app.toss_view(&order.order_id).await.status,
        "DONE",
        "Toss approved meanwhile"
    );

    app.database_available(true).await;
    assert_eq!(
        outcome(&app, &order).await,
        ("IN_PROGRESS".into(), "DONE".into(), 0, 0)
    );
    let summary = app.recover_payments(2).await;
    assert_eq!(summary.done, 1, "{summary:?}");
    app.recover_payments(5).await;
    assert_eq!(
        outcome(&app, &order).await,
        ("DONE".into(), "DONE".into(), AMOUNT as i64, 1)
    );
}

#[tokio::test]
async fn fifty_concurrent_confirms_approve_once_and_charge_once() {
    let app = TestApp::spawn().await;
    let order = app.authenticated_order(AMOUNT, "delay-200").await;
    let answers = join_all(
        (0..50).map(|_| app.confirm(order.member, &order.payment_key, &order.order_id, AMOUNT)),
    )
    .await;
    for (status, body) in &answers {
        // 503 is the honest answer of a request that waited longer than the pool's
        // acquire timeout for one of its 10 connections (a loaded CI machine): nothing
        // decided, retry. What must never happen is a second approval or charge.
        assert!(
            (*status == 200 && body["result"]["status"] == "DONE")
                || (*status == 202 && body["code"] == "PAYMENT_PENDING")
                || (*status == 503 && body["code"] == "SERVICE_UNAVAILABLE"),
            "{status} {body}"
        );
    }
    assert!(answers.iter().any(|(status, _)| *status == 200));
    assert_eq!(
        outcome(&app, &order).await,
        ("DONE".into(), "DONE".into(), AMOUNT as i64, 1)
    );
    let stats = app.toss_stats(&order.payment_key).await;
    assert_eq!(
        (stats.confirm_requests, stats.approvals),
        (1, 1),
        "{stats:?}"
    );
}

#[tokio::test]
async fn a_confirm_replayed_a_day_later_gets_the_same_answer_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let order = app.authenticated_order(AMOUNT, "").await;
    let send = |at: chrono::DateTime<Utc>| {
        let request = app
            .http
            .post(format!("{}/api/payments/toss/confirm", app.base))
            .header("content-type", "application/json")
            .header("idempotency-key", "confirm-once")
            .header(local_gateway::LOCAL_TIME_HEADER, at.to_rfc3339())
            .bearer_auth(app.token(order.member))
            .body(serde_json::json!({ "memberId": order.member, "paymentKey": order.payment_key, "orderId": order.order_id, "amount": AMOUNT }).to_string());
        async move {
            let response = request.send().await.unwrap();
            let replayed = response.headers().contains_key("idempotent-replayed");
            (
                response.status().as_u16(),
                replayed,
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    let first = send(Utc::now()).await;
    let later = send(Utc::now() + Duration::days(1)).await;
    assert_eq!((first.0, first.1), (200, false), "{first:?}");
    assert_eq!(
        (later.0, later.1),
        (200, true),
        "the stored answer: {later:?}"
    );
    assert_eq!(first.2, later.2);
    assert_eq!(
        outcome(&app, &order).await,
        ("DONE".into(), "DONE".into(), AMOUNT as i64, 1)
    );
    assert_eq!(app.toss_stats(&order.payment_key).await.confirm_requests, 1);
}

#[tokio::test]
async fn toss_approving_another_amount_is_cancelled_and_flagged() {
    let app = TestApp::spawn().await;
    let order = app.authenticated_order(AMOUNT, "amount-4000").await;
    let (status, body) = app.confirm_order(&order, AMOUNT).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("PAYMENT_NEEDS_ATTENTION")),
        "{body}"
    );
    assert_eq!(
        outcome(&app, &order).await,
        ("NEEDS_ATTENTION".into(), "CANCELED".into(), 0, 0)
    );
    assert_eq!(app.toss_stats(&order.payment_key).await.cancels, 1);
    assert!(
        app.outbox_event(&format!("PaymentNeedsAttention:{}", order.order_id))
            .await
            .is_some(),
        "the PaymentNeedsAttention event was written"
    );
}

#[tokio::test]
async fn confirms_after_the_toss_window_fail_and_abandoned_checkouts_expire() {
    let app = TestApp::spawn().await;
    let order = app.authenticated_order(AMOUNT, "").await;
    app.advance_toss_clock(11 * 60).await;
    let (status, body) = app.confirm_order(&order, AMOUNT).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("PAYMENT_FAILED")),
        "{body}"
    );
    assert_eq!(
        outcome(&app, &order).await,
        ("FAILED".into(), "EXPIRED".into(), 0, 0)
    );

    let member = app.member().await;
    let abandoned = app.checkout(member, AMOUNT).await;
    // Authenticated at the payment window's last moment, it could still be confirmed for
    // 10 minutes: not abandoned at 36 minutes, only after 30 + 10 + slack.
    let early = app.recover_payments(36).await;
    assert_eq!(early.expired, 0, "{early:?}");
    assert_eq!(app.payment_status(&abandoned).await, "READY");
    let summary = app.recover_payments(46).await;
    assert_eq!(summary.expired, 1, "{summary:?}");
    assert_eq!(app.payment_status(&abandoned).await, "EXPIRED");
}

#[tokio::test]
async fn idempotency_keys_replay_refuse_reuse_and_validate() {
    let app = TestApp::spawn().await;
    let member = app.member().await;
    let send = |key: String, amount: u64| {
        let request = app
            .http
            .post(format!("{}/api/payments/toss/checkout", app.base))
            .header("content-type", "application/json")
            .bearer_auth(app.token(member))
            .header("idempotency-key", key)
            .body(serde_json::json!({ "amount": amount, "orderName": "포인트 충전", "memberId": member }).to_string());
        async move {
            let response = request.send().await.unwrap();
            let replayed = response.headers().contains_key("idempotent-replayed");
            (
                response.status().as_u16(),
                replayed,
                response.json::<Value>().await.unwrap(),
            )
        }
    };
    let (status, replayed, first) = send("checkout-1".into(), AMOUNT).await;
    assert_eq!((status, replayed), (200, false));
    let (status, replayed, second) = send("checkout-1".into(), AMOUNT).await;
    assert_eq!((status, replayed), (200, true));
    assert_eq!(first, second, "the stored answer, not a second order");
    assert_eq!(app.rows(Table::Payments).await, 1);
    let (status, _, body) = send("checkout-1".into(), AMOUNT + 1).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (422, Some("IDEMPOTENCY_KEY_REUSED"))
    );
    let (status, _, body) = send("k".repeat(256), AMOUNT).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("INVALID_IDEMPOTENCY_KEY"))
    );
    assert_eq!(app.rows(Table::Payments).await, 1);
}

#[tokio::test]
async fn bad_payment_requests_get_a_4xx_envelope_and_write_nothing() {
    let app = TestApp::spawn().await;
    let member = app.member().await;
    let cases = [
        (
            r#"{"amount": 99, "orderName": "x", "memberId": 1}"#,
            400,
            "INVALID_FIELD",
        ),
        (
            r#"{"amount": -5000, "orderName": "x", "memberId": 1}"#,
            400,
            "INVALID_FIELD",
        ),
        (
            r#"{"amount": 1e30, "orderName": "x", "memberId": 1}"#,
            400,
            "INVALID_FIELD",
        ),
        (
            r#"{"amount": 9223372036854775808, "orderName": "x", "memberId": 1}"#,
            400,
            "INVALID_FIELD",
        ),
        (r#"{"amount": 5000, "memberId": 1}"#, 400, "MISSING_FIELD"),
        (
            r#"{"amount": 5000, "orderName": "x", "memberId": 999999}"#,
            403,
            "FORBIDDEN_MEMBER",
        ),
        (
            r#"{"amount": 5000, "orderName": "", "memberId": 1}"#,
            400,
            "INVALID_FIELD",
        ),
        (r#"not json"#, 400, "INVALID_JSON"),
    ];
    for (body, status, code) in cases {
        let body = body.replace("\"memberId\": 1}", &format!("\"memberId\": {member}}}"));
        let (got, reply) = app
            .post_json_as(member, "/api/payments/toss/checkout", &body)
            .await;
        assert_eq!(
            (got, reply["code"].as_str()),
            (status, Some(code)),
            "{body}: {reply}"
        );
    }
    let (got, reply) = app
        .post_json_as(
            member,
            "/api/payments/toss/confirm",
            &format!(
                r#"{{"memberId": {member}, "paymentKey": "k", "orderId": "nope", "amount": 5000}}"#
            ),
        )
        .await;
    assert_eq!(
        (got, reply["code"].as_str()),
        (400, Some("INVALID_FIELD")),
        "{reply}"
    );
    let (got, reply) = app.post_json_as(member, "/api/payments/toss/confirm",
            &format!(r#"{{"memberId": {member}, "paymentKey": "k", "orderId": "ord_missing", "amount": 5000}}"#),
        )
        .await;
    assert_eq!(
        (got, reply["code"].as_str()),
        (404, Some("PAYMENT_NOT_FOUND")),
        "{reply}"
    );
    let (got, reply) = app.get_as(member, "/api/payments/toss/ord_missing").await;
    assert_eq!(
        (got, reply["code"].as_str()),
        (404, Some("PAYMENT_NOT_FOUND"))
    );
    assert_eq!(app.rows(Table::Payments).await, 0);
}
