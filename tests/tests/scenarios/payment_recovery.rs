//! Recovery that cannot trip over itself: leases on the wall clock that fence `settle`,
//! overlapping runs, a payment recovery cannot read as new input would, and the order in
//! which a batch is served.

use app::ports::{Claim, MoveGuard, PaymentStore, Settlement};
use chrono::{Duration, Utc};
use domain::payment::{OrderId, PaymentStatus};
use integration_tests::{Order, TestApp};

const AMOUNT: u64 = 5_000;

/// An order authenticated at Toss and confirmed while Toss is slower than our timeout:
/// it ends `UNKNOWN` (202), for recovery to finish.
async fn unknown_order(app: &TestApp) -> (u64, String) {
    let order = app.authenticated_order(AMOUNT, "delay-1800").await;
    let (status, body) = app
        .confirm(order.member, &order.payment_key, &order.order_id, AMOUNT)
        .await;
    assert_eq!(status, 202, "{body}");
    (order.member, order.order_id)
}

/// A driver whose lease has passed cannot settle, and the new owner can: the lease end
/// of the claim is the fencing token, checked under the row lock.
#[tokio::test]
async fn settle_is_fenced_by_the_lease() {
    let app = TestApp::spawn().await;
    let (_, order_id) = unknown_order(&app).await;
    let order = OrderId::parse(&order_id).unwrap();
    let store = &*app.services.store;
    // First owner, with a lease that ends almost at once.
    let seen = store.find(&order).await.unwrap().unwrap();
    let first_lease = Utc::now() + Duration::milliseconds(300);
    let first = Claim::Recover {
        seen: PaymentStatus::Unknown,
        seen_next_attempt_at: seen.next_attempt_at,
        lease_until: first_lease,
    };
    let later = Utc::now() + Duration::hours(1);
    assert!(store.claim(&order, first, later).await.unwrap());
    let first_token = store
        .find(&order)
        .await
        .unwrap()
        .unwrap()
        .next_attempt_at
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;

    // The lease passed: the first owner is refused even though nobody took over yet.
    let failed = Settlement::Failed {
        code: "X".into(),
        message: "x".into(),
    };
    let stale = store
        .settle(
            &order,
            &[PaymentStatus::InProgress],
            &failed,
            MoveGuard::Lease(first_token),
            later,
        )
        .await
        .unwrap();
    assert!(!stale, "a driver past its lease settled");

    // A new owner takes the expired lease over and settles; the old token stays refused.
    let second = Claim::Recover {
        seen: PaymentStatus::InProgress,
        seen_next_attempt_at: Some(first_token),
        lease_until: Utc::now() + Duration::seconds(60),
    };
    assert!(store.claim(&order, second, later).await.unwrap());
    let second_token = store
        .find(&order)
        .await
        .unwrap()
        .unwrap()
        .next_attempt_at
        .unwrap();
    assert_ne!(first_token, second_token);
    assert!(
        !store
            .settle(
                &order,
                &[PaymentStatus::InProgress],
                &failed,
                MoveGuard::Lease(first_token),
                later
            )
            .await
            .unwrap()
    );
    let unknown = Settlement::Unknown {
        retry_at: later,
        note: "new owner".into(),
    };
    assert!(
        store
            .settle(
                &order,
                &[PaymentStatus::InProgress],
                &unknown,
                MoveGuard::Lease(second_token),
                later
            )
            .await
            .unwrap(),
        "the current owner settles"
    );
}

/// Two recovery runs at once over the same due payments: each payment is claimed by one
/// of them, charged once.
#[tokio::test]
async fn overlapping_recovery_runs_charge_each_payment_once() {
    let app = TestApp::spawn().await;
    let mut orders = Vec::new();
    for _ in 0..4 {
        orders.push(unknown_order(&app).await);
    }
    tokio::time::sleep(std::time::Duration::from_millis(2_000)).await; // Toss finishes
    let (a, b) = tokio::join!(app.recover_payments(5), app.recover_payments(5));
    assert_eq!(a.done + b.done, 4, "{a:?} {b:?}");
    for (member, order_id) in &orders {
        assert_eq!(app.payment_status(order_id).await, "DONE");
        assert_eq!(app.purchase_lots(order_id).await, 1);
        assert_eq!(app.points(*member).await, AMOUNT as i64);
    }
}

/// A stored payment that new input could not create (an amount above today's limit)
/// is still recovered, and it does not stop the run for the others.
#[tokio::test]
async fn a_payment_outside_todays_limits_does_not_stop_the_run() {
    let app = TestApp::spawn().await;
    let (_, odd) = unknown_order(&app).await;
    let (member, fine) = unknown_order(&app).await;
    sqlx::query("UPDATE payments SET amount = 5000000 WHERE order_id = ?")
        .bind(&odd)
        .execute(&app.db)
        .await
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(2_000)).await;
    let summary = app.recover_payments(5).await;
    assert_eq!(summary.examined, 2, "{summary:?}");
    assert_eq!(app.payment_status(&fine).await, "DONE");
    assert_eq!(app.points(member).await, AMOUNT as i64);
    // Toss approved 5,000 for an order we hold at 5,000,000: a person must look.
    assert_eq!(app.payment_status(&odd).await, "NEEDS_ATTENTION");
}

/// Toss slower than every timeout (a confirm that hangs): the confirm stops at its budget,
/// records `UNKNOWN` and answers 202 before the invocation would end, and recovery
/// charges the approval once.
#[tokio::test]
async fn a_confirm_answers_202_within_its_budget_whatever_toss_does() {
    let app = TestApp::spawn_tuned(|services| {
        // Below the test's Toss timeout (1.5 s), so only the budget can end the call.
        services.payment_timings.confirm_budget = std::time::Duration::from_millis(500);
    })
    .await;
    let Order {
        member,
        order_id,
        payment_key,
    } = app.authenticated_order(AMOUNT, "hang").await;
    let started = std::time::Instant::now();
    let (status, body) = app.confirm(member, &payment_key, &order_id, AMOUNT).await;
    let took = started.elapsed();
    assert_eq!(
        (status, body["code"].as_str()),
        (202, Some("PAYMENT_PENDING")),
        "{body}"
    );
    assert!(
        took < std::time::Duration::from_millis(1_400),
        "the confirm took {took:?}: its budget did not end it"
    );
    assert_eq!(app.payment_status(&order_id).await, "UNKNOWN");
    let summary = app.recover_payments(2).await;
    assert_eq!(summary.done, 1, "{summary:?}");
    assert_eq!(app.points(member).await, AMOUNT as i64);
}
