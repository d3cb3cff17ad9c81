//! Virtual accounts (가상계좌, docs/toss.md §2.3, §7, §7b) through the real stack and the
//! sandbox: confirm issues an account (202, nothing charged), the points come only when
//! Toss shows the deposit (its webhooks or recovery's look), a deposit error takes them
//! back, an unpaid account expires after its due date, and a refund after the deposit goes
//! to the account the member names.

use integration_tests::{Order, TestApp};
use serde_json::{Value, json};

async fn balance(app: &TestApp, member: u64) -> u64 {
    let (_, me) = app.get_as(member, "/api/members/me").await;
    me["result"]["points"].as_u64().unwrap()
}

/// The kinds in the member's point history, oldest first.
async fn history(app: &TestApp, member: u64) -> Vec<String> {
    let (_, page) = app.get_as(member, "/api/members/me/points?size=50").await;
    let mut kinds: Vec<String> = page["result"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_owned())
        .collect();
    kinds.reverse();
    kinds
}

async fn sandbox(app: &TestApp, order: &Order, action: &str) -> (u16, Value) {
    let url = format!(
        "{}/sandbox/payments/{}/{action}",
        app.toss, order.payment_key
    );
    let response = app.http.post(url).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A virtual-account order issued and paid in, its two webhooks delivered (webhooks
/// registered).
async fn deposited(app: &TestApp) -> Order {
    let order = app.virtual_account_order(5_000, "").await;
    issue(app, &order).await;
    sandbox(app, &order, "deposit").await;
    app.wait_for_webhooks(&order.payment_key, 2, 1).await;
    order
}

/// Confirms a virtual-account order: 202 with the account to pay into.
async fn issue(app: &TestApp, order: &Order) -> Value {
    let (status, body) = app.confirm_order(order, 5_000).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (202, Some("PAYMENT_AWAITING_DEPOSIT")),
        "{body}"
    );
    assert_eq!(body["result"]["status"], "WAITING_FOR_DEPOSIT");
    assert_eq!(body["result"]["pointsCharged"], 0);
    body["result"]["virtualAccount"].clone()
}

#[tokio::test]
async fn a_virtual_account_is_charged_only_when_the_deposit_comes() {
    let app = TestApp::spawn().await;
    app.register_webhooks().await;
    let order = app.virtual_account_order(5_000, "webhook-duplicate").await;
    let account = issue(&app, &order).await;
    assert_eq!(
        account["accountNumber"].as_str().unwrap().len(),
        14,
        "{account}"
    );
    assert!(account["dueDate"].as_str().unwrap().ends_with("+09:00"));
    let (_, polled) = app
        .get_as(
            order.member,
            &format!("/api/payments/toss/{}", order.order_id),
        )
        .await;
    assert_eq!(
        polled["result"]["virtualAccount"], account,
        "the status shows where to pay"
    );
    assert_eq!(balance(&app, order.member).await, 0, "issued is not paid");
    // The confirm again answers the same: still nothing paid.
    assert_eq!(app.confirm_order(&order, 5_000).await.0, 202);

    assert_eq!(sandbox(&app, &order, "deposit").await.0, 200);
    let deliveries = app.wait_for_webhooks(&order.payment_key, 2, 2).await;
    let kinds: Vec<&Value> = deliveries.iter().map(|d| &d["eventType"]).collect();
    assert_eq!(
        kinds,
        [&json!("PAYMENT_STATUS_CHANGED"), &json!("DEPOSIT_CALLBACK")]
    );
    assert!(
        deliveries.iter().all(|d| d["state"] == "DELIVERED"),
        "{deliveries:?}"
    );
    assert_eq!(app.payment_status(&order.order_id).await, "DONE");
    assert_eq!(balance(&app, order.member).await, 5_000);
    assert_eq!(
        app.purchase_lots(&order.order_id).await,
        1,
        "charged once for four deliveries"
    );
    assert_eq!(history(&app, order.member).await, ["PURCHASE"]);
}

#[tokio::test]
async fn a_forged_deposit_callback_changes_nothing_and_recovery_finds_the_real_deposit() {
    let app = TestApp::spawn().await;
    let order = app.virtual_account_order(5_000, "").await;
    issue(&app, &order).await;
    let forged = json!({
        "createdAt": "2026-12-02T21:00:00.000000", "secret": "ps_guessed",
        "status": "DONE", "transactionKey": "tx", "orderId": order.order_id,
    });
    let response = app
        .http
        .post(format!("{}/api/payments/toss/webhook", app.base))
        .header("content-type", "application/json")
        .header("tosspayments-webhook-transmission-id", "wh_forged")
        .body(forged.to_string())
        .send()
        .await
        .unwrap();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer["result"]["outcome"],
        "ignored: deposit callback secret does not match"
    );
    assert_eq!(
        app.payment_status(&order.order_id).await,
        "WAITING_FOR_DEPOSIT"
    );

    // Paid, but no webhook reaches us (none registered): recovery's hourly look finds it.
    assert_eq!(sandbox(&app, &order, "deposit").await.0, 200);
    assert_eq!(
        app.recover_payments(0).await.examined,
        0,
        "not looked at before the hour"
    );
    let summary = app.recover_payments(61).await;
    assert_eq!((summary.examined, summary.done), (1, 1), "{summary:?}");
    assert_eq!(balance(&app, order.member).await, 5_000);
}

#[tokio::test]
async fn an_unpaid_virtual_account_expires_after_its_due_date() {
    let app = TestApp::spawn().await;
    let order = app.virtual_account_order(5_000, "").await;
    issue(&app, &order).await;
    let summary = app.recover_payments(61).await;
    assert_eq!(summary.awaiting_deposit, 1, "still waiting: {summary:?}");
    // Toss sends nothing when the due date passes and keeps WAITING_FOR_DEPOSIT (§2.3).
    let week = 7 * 24 * 60;
    app.advance_toss_clock((week + 30) * 60).await;
    let summary = app.recover_payments(week + 30).await;
    assert_eq!(
        summary.awaiting_deposit, 1,
        "within the grace hour: {summary:?}"
    );
    app.advance_toss_clock(60 * 60).await;
    let summary = app.recover_payments(week + 90).await;
    assert_eq!(summary.expired, 1, "{summary:?}");
    assert_eq!(app.payment_status(&order.order_id).await, "EXPIRED");
    assert_eq!(
        sandbox(&app, &order, "deposit").await.0,
        400,
        "Toss takes no deposit either"
    );
    assert_eq!(balance(&app, order.member).await, 0);
}

#[tokio::test]
async fn a_deposit_error_takes_the_points_back_until_the_money_comes_again() {
    let app = TestApp::spawn().await;
    app.register_webhooks().await;
    let order = deposited(&app).await;
    assert_eq!(balance(&app, order.member).await, 5_000);

    assert_eq!(sandbox(&app, &order, "deposit-error").await.0, 200);
    let deliveries = app.wait_for_webhooks(&order.payment_key, 3, 1).await;
    assert_eq!(deliveries[2]["body"]["status"], "WAITING_FOR_DEPOSIT");
    assert_eq!(
        app.payment_status(&order.order_id).await,
        "WAITING_FOR_DEPOSIT"
    );
    assert_eq!(balance(&app, order.member).await, 0);

    sandbox(&app, &order, "deposit").await;
    app.wait_for_webhooks(&order.payment_key, 5, 1).await;
    assert_eq!(app.payment_status(&order.order_id).await, "DONE");
    assert_eq!(balance(&app, order.member).await, 5_000);
    assert_eq!(
        history(&app, order.member).await,
        ["PURCHASE", "DEPOSIT_REVERSED", "PURCHASE"]
    );
    assert_eq!(app.members_whose_points_disagree().await, Vec::<u64>::new());
}

#[tokio::test]
async fn lying_webhooks_about_a_virtual_account_change_nothing_wrongly() {
    let app = TestApp::spawn().await;
    app.register_webhooks().await;
    // Every body lies: the deposit callback says "still waiting", the status change says
    // "cancelled". The lookups say DONE.
    let order = app.virtual_account_order(5_000, "webhook-lie").await;
    let account = issue(&app, &order).await;
    assert!(account.is_object());
    sandbox(&app, &order, "deposit").await;
    let deliveries = app.wait_for_webhooks(&order.payment_key, 2, 1).await;
    assert_eq!(
        deliveries[1]["body"]["status"], "WAITING_FOR_DEPOSIT",
        "the lie"
    );
    assert_eq!(app.payment_status(&order.order_id).await, "DONE");
    assert_eq!(balance(&app, order.member).await, 5_000);
}

#[tokio::test]
async fn a_deposited_virtual_account_is_refunded_to_the_account_the_member_names() {
    let app = TestApp::spawn().await;
    app.register_webhooks().await;
    let order = deposited(&app).await;
    let path = format!("/api/payments/toss/{}/refund", order.order_id);
    let (status, body) = app
        .post_json_as(
            order.member,
            &path,
            &json!({ "reason": "단순 변심" }).to_string(),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("REFUND_ACCOUNT_REQUIRED")),
        "{body}"
    );
    assert_eq!(balance(&app, order.member).await, 5_000, "nothing taken");

    let to = json!({ "bank": "88", "accountNumber": "110-123-456789", "holderName": "김토스" });
    let (status, body) = app
        .post_json_as(
            order.member,
            &path,
            &json!({ "reason": "단순 변심", "refundAccount": to }).to_string(),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(balance(&app, order.member).await, 0);
    let toss = app.toss_payment(&order.order_id).await;
    assert_eq!(toss["status"], "CANCELED");
    let paid_to = &toss["virtualAccount"]["refundReceiveAccount"];
    assert_eq!(
        paid_to,
        &json!({ "bank": "88", "accountNumber": "110123456789", "holderName": "김토스" })
    );
    // The cancel's webhook finds every cancel accounted for: nothing clawed back.
    app.wait_for_webhooks(&order.payment_key, 3, 1).await;
    assert_eq!(history(&app, order.member).await, ["PURCHASE", "REFUND"]);
}

/// Against MariaDB: a deposit look settles only at the version it read. A look that
/// changed nothing (`note_look`) and every settlement bump it, so a move decided on an
/// older look is refused.
#[tokio::test]
async fn a_deposit_look_moves_the_payment_only_at_the_version_it_read() {
    use app::ports::{MoveGuard, PaymentStore, Settlement};
    use domain::payment::{OrderId, PaymentStatus};
    let app = TestApp::spawn().await;
    let order = app.virtual_account_order(5_000, "").await;
    issue(&app, &order).await;
    let id = OrderId::parse(&order.order_id).unwrap();
    let store = &*app.services.store;
    let read = store.find(&id).await.unwrap().unwrap().version;
    assert!(
        store.note_look(&id, read).await.unwrap(),
        "a look at the current version"
    );
    assert!(
        !store.note_look(&id, read).await.unwrap(),
        "a second look at the old one"
    );
    let now = chrono::Utc::now();
    let deposit = Settlement::Done {
        approved_amount: 5_000,
        approved_at: None,
        method: Some("가상계좌".into()),
        issued: None,
    };
    let waiting = [PaymentStatus::WaitingForDeposit];
    let stale = MoveGuard::Version(read);
    assert!(
        !store
            .settle(&id, &waiting, &deposit, stale, now)
            .await
            .unwrap()
    );
    assert_eq!(
        balance(&app, order.member).await,
        0,
        "the overtaken look charged"
    );
    let current = MoveGuard::Version(read + 1);
    assert!(
        store
            .settle(&id, &waiting, &deposit, current, now)
            .await
            .unwrap()
    );
    let after = store.find(&id).await.unwrap().unwrap();
    assert_eq!(
        (after.status, after.version),
        (PaymentStatus::Done, read + 2)
    );
    assert_eq!(balance(&app, order.member).await, 5_000);
}

/// Our confirm timing out and the lookup hiding the waiting account (`delay-1800`,
/// `lookup-404`): the deposit is the first we see of the account (its webhook settles the
/// open payment), and its later deposit error must still be recognised by the secret
/// Toss's payment carried, and take the points back.
#[tokio::test]
async fn a_deposit_seen_before_the_account_is_reversed_by_its_deposit_error() {
    let app = TestApp::spawn().await;
    app.register_webhooks().await;
    let order = app
        .virtual_account_order(5_000, "delay-1800,lookup-404")
        .await;
    let (status, body) = app.confirm_order(&order, 5_000).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (202, Some("PAYMENT_PENDING")),
        "{body}"
    );
    // The confirm lands at Toss after its delay: the account is issued, then paid in.
    for _ in 0..50 {
        let toss = app.sandbox_payment(&order.payment_key).await;
        if toss["status"] == "WAITING_FOR_DEPOSIT" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(sandbox(&app, &order, "deposit").await.0, 200);
    app.wait_for_webhooks(&order.payment_key, 2, 1).await;
    assert_eq!(app.payment_status(&order.order_id).await, "DONE");
    assert_eq!(balance(&app, order.member).await, 5_000);

    assert_eq!(sandbox(&app, &order, "deposit-error").await.0, 200);
    let deliveries = app.wait_for_webhooks(&order.payment_key, 3, 1).await;
    assert_eq!(deliveries[2]["state"], "DELIVERED", "{deliveries:?}");
    assert_eq!(
        app.payment_status(&order.order_id).await,
        "WAITING_FOR_DEPOSIT"
    );
    assert_eq!(balance(&app, order.member).await, 0);
    assert_eq!(app.members_whose_points_disagree().await, Vec::<u64>::new());
}
