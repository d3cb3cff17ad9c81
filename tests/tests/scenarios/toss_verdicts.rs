//! Toss answers that are not verdicts (toss-api.md §5.3, the README's payment section): a
//! lookup 404 while a confirm of ours may still run, a final-looking code after an
//! attempt whose outcome was open, an "unknown" code that used up its key. Each of these
//! once ended `FAILED` (or stuck) while Toss approved: money taken, no points.

use integration_tests::{Order, TestApp};

const AMOUNT: u64 = 5_000;

/// Ours and Toss's status, points, ledger rows and Toss's approvals.
async fn settled(app: &TestApp, order: &Order) -> (String, String, i64, i64, u64) {
    (
        app.payment_status(&order.order_id).await,
        app.toss_view(&order.order_id).await.status,
        app.points(order.member).await,
        app.purchase_lots(&order.order_id).await,
        app.toss_stats(&order.payment_key).await.approvals,
    )
}

fn charged_once() -> (String, String, i64, i64, u64) {
    ("DONE".into(), "DONE".into(), AMOUNT as i64, 1, 1)
}

/// The confirm gets no answer and its approval lands 2.5 s later; meanwhile Toss's lookup
/// answers 404 (it finds approved payments only). The 404 is not a failure: the payment
/// stays open and recovery charges it once the approval is there.
#[tokio::test]
async fn a_lookup_404_after_an_unanswered_confirm_keeps_the_payment_open() {
    let app = TestApp::spawn().await;
    let order = app
        .authenticated_order(AMOUNT, "late-2500,lookup-404")
        .await;
    let (status, body) = app.confirm_order(&order, AMOUNT).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (202, Some("PAYMENT_PENDING")),
        "{body}"
    );
    assert_eq!(app.payment_status(&order.order_id).await, "UNKNOWN");
    assert_eq!(app.points(order.member).await, 0);

    tokio::time::sleep(std::time::Duration::from_millis(2_600)).await;
    let summary = app.recover_payments(2).await;
    assert_eq!(summary.done, 1, "{summary:?}");
    assert_eq!(settled(&app, &order).await, charged_once());
}

/// The same, seen only by recovery: until the confirm window and its slack have passed,
/// a 404 keeps the payment unknown; after that, with nothing approved, it fails.
#[tokio::test]
async fn a_lookup_404_fails_the_payment_only_after_the_confirm_window() {
    let app = TestApp::spawn().await;
    // The approval lands far past the window: for Toss nothing is approved in time.
    let order = app
        .authenticated_order(AMOUNT, "late-3600000,lookup-404")
        .await;
    let (status, _) = app.confirm_order(&order, AMOUNT).await;
    assert_eq!(status, 202);
    let early = app.recover_payments(5).await;
    assert_eq!(early.still_unknown, 1, "inside the window: {early:?}");
    assert_eq!(app.payment_status(&order.order_id).await, "UNKNOWN");
    let late = app.recover_payments(16).await;
    assert_eq!(late.failed, 1, "after window + slack: {late:?}");
    assert_eq!(app.points(order.member).await, 0);
}

/// Toss answers a "may be partial" 500 while the approval still completes; the next
/// confirm (with a new key, as the error used up the first) gets a final-looking 404
/// NOT_FOUND_PAYMENT_SESSION. That code follows an open outcome, so it is checked
/// against the payment itself: approved, so charged once.
#[tokio::test]
async fn a_final_code_after_a_partial_failure_is_checked_against_the_payment() {
    let app = TestApp::spawn().await;
    let order = app
        .authenticated_order(AMOUNT, "partial-FAILED_INTERNAL_SYSTEM_PROCESSING")
        .await;
    let (status, body) = app.confirm_order(&order, AMOUNT).await;
    assert!(matches!(status, 200 | 202), "{status} {body}");
    assert_ne!(app.payment_status(&order.order_id).await, "FAILED");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    app.recover_payments(2).await;
    assert_eq!(settled(&app, &order).await, charged_once());
}

/// An "unknown"-class code that comes with a definitive body is replayed for the same
/// key, so resending that key can never succeed: the next confirm uses a new key.
#[tokio::test]
async fn an_unknown_code_with_a_body_rotates_the_key_instead_of_replaying_it() {
    let app = TestApp::spawn().await;
    let order = app
        .authenticated_order(AMOUNT, "fail-UNKNOWN_PAYMENT_ERROR-1")
        .await;
    let (status, body) = app.confirm_order(&order, AMOUNT).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(settled(&app, &order).await, charged_once());
}
