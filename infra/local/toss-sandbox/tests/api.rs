//! Black-box tests: each starts its own sandbox on 127.0.0.1:0 and talks plain HTTP to it.

use chrono::{DateTime, FixedOffset};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use toss_sandbox::{DOCS_TEST_CLIENT_KEYS, DOCS_TEST_SECRET_KEYS, Sandbox, serve};

/// The API-individual secret key: payments authenticated without a clientKey belong to it.
const KEY: &str = DOCS_TEST_SECRET_KEYS[1];
const WIDGET_KEY: &str = DOCS_TEST_SECRET_KEYS[0];
const WIDGET_CLIENT_KEY: &str = DOCS_TEST_CLIENT_KEYS[0];
const API_CLIENT_KEY: &str = DOCS_TEST_CLIENT_KEYS[1];
const AMOUNT: i64 = 15_000;

/// The Payment fields docs/toss.md §2.2 documents as nullable (`receipt.url`/`checkout.url`
/// as their objects; `easyPayAmount`/`easyPayDiscountAmount` are `easyPay`'s fields).
const NULLABLE: &[&str] = &[
    "method",
    "approvedAt",
    "lastTransactionKey",
    "cancels",
    "card",
    "virtualAccount",
    "mobilePhone",
    "giftCertificate",
    "transfer",
    "easyPay",
    "cashReceipt",
    "cashReceipts",
    "discount",
    "secret",
    "metadata",
    "receipt",
    "failure",
];

fn without<'a>(all: &[&'a str], applying: &[&str]) -> Vec<&'a str> {
    all.iter()
        .copied()
        .filter(|f| !applying.contains(f))
        .collect()
}

/// Each field is in the Payment, as `null`: absent and null are not the same to a client.
fn assert_nulls(payment: &Value, fields: &[&str]) {
    for field in fields {
        let value = payment.get(field);
        assert!(value.is_some_and(Value::is_null), "{field}: {value:?}");
    }
}

struct Toss {
    base: String,
    client: Client,
}

async fn start() -> Toss {
    start_with(&DOCS_TEST_SECRET_KEYS).await
}

async fn start_with(secret_keys: &[&str]) -> Toss {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let keys = secret_keys.iter().map(|k| k.to_string()).collect();
    tokio::spawn(serve(listener, Sandbox::new(keys)));
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Toss { base, client }
}

async fn answer(request: RequestBuilder) -> (StatusCode, Value) {
    let response = request.send().await.expect("an HTTP response");
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn order_id() -> String {
    format!("order-{}", uuid::Uuid::new_v4().simple())
}

impl Toss {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn authed(&self, request: RequestBuilder) -> RequestBuilder {
        request.basic_auth(KEY, None::<&str>)
    }

    /// Authenticates a checkout the way the widget would and returns the paymentKey.
    async fn checkout(&self, order_id: &str, amount: i64, faults: &str) -> String {
        self.checkout_with(order_id, amount, json!({ "faults": faults }))
            .await
    }

    /// The same with more `/sandbox/authenticate` fields (`clientKey`, `method`, …).
    async fn checkout_with(&self, order_id: &str, amount: i64, extra: Value) -> String {
        let (status, body) = self.authenticate(order_id, amount, extra).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["paymentKey"].as_str().unwrap().to_owned()
    }

    async fn authenticate(&self, order_id: &str, amount: i64, extra: Value) -> (StatusCode, Value) {
        let mut fields = json!({ "orderId": order_id, "amount": amount, "orderName": "티셔츠 외 1건",
                                 "successUrl": "http://shop.test/success" });
        fields
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        answer(
            self.client
                .post(self.url("/sandbox/authenticate"))
                .header("accept", "application/json")
                .json(&fields),
        )
        .await
    }

    /// A confirm sent with the given secret key.
    async fn confirm_as(&self, secret: &str, key: &str, order_id: &str) -> (StatusCode, Value) {
        let request = self
            .client
            .post(self.url("/v1/payments/confirm"))
            .basic_auth(secret, None::<&str>)
            .json(&json!({ "paymentKey": key, "orderId": order_id, "amount": AMOUNT }));
        answer(request).await
    }

    fn confirm_request(&self, key: &str, order_id: &str, amount: i64) -> RequestBuilder {
        self.authed(self.client.post(self.url("/v1/payments/confirm")))
            .json(&json!({ "paymentKey": key, "orderId": order_id, "amount": amount }))
    }

    async fn confirm(
        &self,
        key: &str,
        order_id: &str,
        amount: i64,
        idem: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = self.confirm_request(key, order_id, amount);
        if let Some(idem) = idem {
            request = request.header("Idempotency-Key", idem);
        }
        answer(request).await
    }

    async fn cancel(&self, key: &str, body: Value, idem: Option<&str>) -> (StatusCode, Value) {
        let mut request = self
            .authed(
                self.client
                    .post(self.url(&format!("/v1/payments/{key}/cancel"))),
            )
            .json(&body);
        if let Some(idem) = idem {
            request = request.header("Idempotency-Key", idem);
        }
        answer(request).await
    }

    async fn payment(&self, key: &str) -> (StatusCode, Value) {
        answer(self.authed(self.client.get(self.url(&format!("/v1/payments/{key}"))))).await
    }

    async fn status_of(&self, key: &str) -> String {
        let (status, body) = self.payment(key).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["status"].as_str().unwrap().to_owned()
    }

    async fn stats(&self, key: &str) -> Value {
        answer(
            self.client
                .get(self.url(&format!("/sandbox/payments/{key}/stats"))),
        )
        .await
        .1
    }

    async fn payment_by_order(&self, order_id: &str) -> (StatusCode, Value) {
        let url = self.url(&format!("/v1/payments/orders/{order_id}"));
        answer(self.authed(self.client.get(url))).await
    }

    async fn clock(&self) -> DateTime<FixedOffset> {
        let now = answer(self.client.get(self.url("/sandbox/clock"))).await.1;
        DateTime::parse_from_rfc3339(now["now"].as_str().unwrap()).unwrap()
    }

    /// Sends a confirm that must end without any response byte (`drop`, `late-`).
    async fn confirm_unanswered(&self, key: &str, order_id: &str, idem: &str) {
        let sent = self
            .confirm_request(key, order_id, AMOUNT)
            .header("Idempotency-Key", idem)
            .send()
            .await;
        let error = sent.expect_err("the connection must close without a response");
        assert!(
            error.is_request() && !error.is_timeout() && error.status().is_none(),
            "{error:?}"
        );
    }

    async fn advance_clock(&self, seconds: i64) {
        let (status, _) = answer(
            self.client
                .post(self.url("/sandbox/clock"))
                .json(&json!({ "advanceSeconds": seconds })),
        )
        .await;
        assert_eq!(status, StatusCode::OK);
    }
}

fn assert_error(answer: &(StatusCode, Value), status: StatusCode, code: &str) {
    assert_eq!(answer.0, status, "{}", answer.1);
    assert_eq!(answer.1["code"], code, "{}", answer.1);
    assert!(answer.1["message"].is_string(), "{}", answer.1);
}

#[tokio::test]
async fn malformed_basic_auth_is_403_and_an_unknown_key_401() {
    let toss = start().await;
    let url = toss.url("/v1/payments/tsbx_nothing");
    let with = |value: String| toss.client.get(&url).header("authorization", value);
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);

    let forbidden = StatusCode::FORBIDDEN;
    assert_error(
        &answer(toss.client.get(&url)).await,
        forbidden,
        "INCORRECT_BASIC_AUTH_FORMAT",
    );
    assert_error(
        &answer(with(format!("Bearer {KEY}"))).await,
        forbidden,
        "INCORRECT_BASIC_AUTH_FORMAT",
    );
    assert_error(
        &answer(with(format!("Basic {}", b64(KEY)))).await,
        forbidden,
        "INCORRECT_BASIC_AUTH_FORMAT",
    );
    assert_error(
        &answer(with("Basic %%%".into())).await,
        forbidden,
        "INCORRECT_BASIC_AUTH_FORMAT",
    );
    let unknown = with(format!("Basic {}", b64("test_sk_someone_else:")));
    assert_error(
        &answer(unknown).await,
        StatusCode::UNAUTHORIZED,
        "UNAUTHORIZED_KEY",
    );
    // POST routes are guarded the same way, before the body is even looked at.
    let confirm = toss
        .client
        .post(toss.url("/v1/payments/confirm"))
        .json(&json!({}));
    assert_error(
        &answer(confirm).await,
        forbidden,
        "INCORRECT_BASIC_AUTH_FORMAT",
    );
    // Both docs keys work; the widget key too.
    let widget = toss
        .client
        .get(&url)
        .basic_auth(DOCS_TEST_SECRET_KEYS[0], None::<&str>);
    assert_error(
        &answer(widget).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND_PAYMENT",
    );
}

#[tokio::test]
async fn authenticate_redirects_like_the_widget_and_is_idempotent_per_order() {
    let toss = start().await;
    let order = order_id();
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("orderId", &order)
        .append_pair("amount", "15000")
        .append_pair("orderName", "티셔츠")
        .append_pair("successUrl", "http://shop.test/pay/success?step=2")
        .append_pair("failUrl", "http://shop.test/pay/fail")
        .finish();
    let url = toss.url(&format!("/sandbox/authenticate?{query}"));
    let response = toss.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    let prefix = format!(
        "http://shop.test/pay/success?step=2&paymentType=NORMAL&orderId={order}&paymentKey="
    );
    assert!(location.starts_with(&prefix), "{location}");
    assert!(location.ends_with("&amount=15000"), "{location}");
    let key = &location[prefix.len()..location.len() - "&amount=15000".len()];
    assert!(key.starts_with("tsbx_") && key.len() == 37, "{key}");
    assert_eq!(toss.status_of(key).await, "IN_PROGRESS");

    // The same checkout again answers the same key.
    assert_eq!(toss.checkout(&order, AMOUNT, "").await, key);
    // Faults are appended to the key.
    let faulty = toss
        .checkout(&order_id(), AMOUNT, "delay-10,fail-PROVIDER_ERROR-1")
        .await;
    assert!(
        faulty.ends_with(".delay-10.fail-PROVIDER_ERROR-1"),
        "{faulty}"
    );

    // A browser-style request without successUrl has nowhere to go and creates nothing.
    let lost = order_id();
    let url = toss.url(&format!("/sandbox/authenticate?orderId={lost}&amount=100"));
    assert_error(
        &answer(toss.client.get(url)).await,
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
    );
    let by_order = toss.authed(
        toss.client
            .get(toss.url(&format!("/v1/payments/orders/{lost}"))),
    );
    assert_error(
        &answer(by_order).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND_PAYMENT",
    );

    for bad in [
        json!({ "orderId": "short", "amount": 100 }),
        json!({ "orderId": "order/with/slash", "amount": 100 }),
        json!({ "orderId": order_id(), "amount": 0 }),
        json!({ "orderId": order_id(), "amount": "12.5" }),
        json!({ "orderId": order_id(), "amount": 100, "faults": "explode" }),
    ] {
        let request = toss
            .client
            .post(toss.url("/sandbox/authenticate"))
            .header("accept", "application/json")
            .json(&bad);
        assert_error(
            &answer(request).await,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
        );
    }
}

#[tokio::test]
async fn confirm_approves_with_the_real_payment_fields() {
    let toss = start().await;
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "").await;
    let (status, p) = toss.confirm(&key, &order, AMOUNT, Some("confirm-1")).await;
    assert_eq!(status, StatusCode::OK, "{p}");
    assert_eq!(p["version"], "2022-11-16");
    assert_eq!(p["paymentKey"], key.as_str());
    assert_eq!(p["orderId"], order.as_str());
    assert_eq!(p["orderName"], "티셔츠 외 1건");
    assert_eq!(p["type"], "NORMAL");
    assert_eq!(p["mId"], "tosspayments");
    assert_eq!(p["currency"], "KRW");
    assert_eq!(p["method"], "카드");
    assert_eq!(p["status"], "DONE");
    assert_eq!(p["totalAmount"], AMOUNT);
    assert_eq!(p["balanceAmount"], AMOUNT);
    assert_eq!(p["vat"], 1364);
    assert_eq!(p["suppliedAmount"], AMOUNT - 1364);
    assert_eq!(p["taxFreeAmount"], 0);
    assert_eq!(p["isPartialCancelable"], true);
    assert_eq!(p["useEscrow"], false);
    assert_eq!(p["country"], "KR");
    assert!(p["approvedAt"].as_str().unwrap().ends_with("+09:00"));
    assert!(p["requestedAt"].as_str().unwrap().ends_with("+09:00"));
    assert!(p["lastTransactionKey"].is_string());
    assert!(p["receipt"]["url"].is_string());
    assert!(p["checkout"]["url"].is_string());
    assert_eq!(p["card"]["amount"], AMOUNT);
    assert_eq!(p["card"]["cardType"], "신용");
    assert_eq!(p["card"]["acquireStatus"], "READY");
    assert_eq!(p["card"]["approveNo"].as_str().unwrap().len(), 8);
    assert_nulls(
        &p,
        &without(
            NULLABLE,
            &[
                "method",
                "approvedAt",
                "lastTransactionKey",
                "card",
                "receipt",
            ],
        ),
    );
    // The lookup shows the same payment.
    assert_eq!(toss.payment(&key).await, (StatusCode::OK, p));
    let stats = toss.stats(&key).await;
    assert_eq!(
        stats,
        json!({ "confirmRequests": 1, "approvals": 1, "cancels": 0 })
    );
}

#[tokio::test]
async fn confirm_rejects_mismatches_and_repeats() {
    let toss = start().await;
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "").await;

    let wrong_amount = toss.confirm(&key, &order, AMOUNT - 1, None).await;
    assert_error(&wrong_amount, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
    assert!(
        wrong_amount.1["message"]
            .as_str()
            .unwrap()
            .contains("다릅니다"),
        "{}",
        wrong_amount.1
    );
    let wrong_order = toss.confirm(&key, &order_id(), AMOUNT, None).await;
    assert_error(
        &wrong_order,
        StatusCode::NOT_FOUND,
        "NOT_FOUND_PAYMENT_SESSION",
    );
    let unknown = toss
        .confirm(
            "tsbx_00000000000000000000000000000000",
            &order,
            AMOUNT,
            None,
        )
        .await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "NOT_FOUND_PAYMENT");
    let ill_typed = toss
        .authed(toss.client.post(toss.url("/v1/payments/confirm")))
        .json(&json!({ "paymentKey": key, "orderId": order, "amount": "15000" }));
    assert_error(
        &answer(ill_typed).await,
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
    );
    let not_json = toss
        .authed(toss.client.post(toss.url("/v1/payments/confirm")))
        .body("paymentKey=x");
    assert_error(
        &answer(not_json).await,
        StatusCode::BAD_REQUEST,
        "INVALID_REQUEST",
    );
    assert_eq!(toss.status_of(&key).await, "IN_PROGRESS");

    assert_eq!(
        toss.confirm(&key, &order, AMOUNT, None).await.0,
        StatusCode::OK
    );
    let again = toss.confirm(&key, &order, AMOUNT, None).await;
    assert_error(&again, StatusCode::BAD_REQUEST, "ALREADY_PROCESSED_PAYMENT");
    assert_eq!(toss.stats(&key).await["approvals"], 1);
}

#[tokio::test]
async fn same_idempotency_key_replays_the_first_response_errors_included() {
    let toss = start().await;
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "").await;

    // An error is replayed even when the resend would now succeed.
    let first_error = toss.confirm(&key, &order, 1, Some("k-error")).await;
    assert_error(&first_error, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
    assert_eq!(
        toss.confirm(&key, &order, AMOUNT, Some("k-error")).await,
        first_error
    );
    assert_eq!(toss.status_of(&key).await, "IN_PROGRESS");

    let approved = toss.confirm(&key, &order, AMOUNT, Some("k-ok")).await;
    assert_eq!(approved.0, StatusCode::OK);
    // The payment changes afterwards, yet the replay is byte-for-byte the first answer.
    assert_eq!(
        toss.cancel(&key, json!({ "cancelReason": "고객 변심" }), None)
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        toss.confirm(&key, &order, AMOUNT, Some("k-ok")).await,
        approved
    );
    // The body is not part of the match.
    assert_eq!(
        toss.confirm("tsbx_other", "other-order", 1, Some("k-ok"))
            .await,
        approved
    );
    // Without the header the request runs again.
    assert_error(
        &toss.confirm(&key, &order, AMOUNT, None).await,
        StatusCode::BAD_REQUEST,
        "ALREADY_PROCESSED_PAYMENT",
    );
    assert_eq!(
        toss.stats(&key).await,
        json!({ "confirmRequests": 5, "approvals": 1, "cancels": 1 })
    );

    // The same key on another route is a different request.
    let cancel = toss
        .cancel(&key, json!({ "cancelReason": "x" }), Some("k-ok"))
        .await;
    assert_error(&cancel, StatusCode::BAD_REQUEST, "ALREADY_CANCELED_PAYMENT");

    // Keys are remembered for 15 days only; after that the request runs again.
    toss.advance_clock(15 * 24 * 3600 - 60).await;
    assert_eq!(
        toss.confirm(&key, &order, AMOUNT, Some("k-ok")).await,
        approved
    );
    toss.advance_clock(120).await;
    let expired = toss.confirm(&key, &order, AMOUNT, Some("k-ok")).await;
    assert_error(
        &expired,
        StatusCode::BAD_REQUEST,
        "ALREADY_PROCESSED_PAYMENT",
    );
}

#[tokio::test]
async fn idempotency_key_longer_than_300_is_rejected() {
    let toss = start().await;
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "").await;
    let long = "k".repeat(301);
    let rejected = toss.confirm(&key, &order, AMOUNT, Some(&long)).await;
    assert_error(
        &rejected,
        StatusCode::BAD_REQUEST,
        "INVALID_IDEMPOTENCY_KEY",
    );
    assert_eq!(toss.status_of(&key).await, "IN_PROGRESS");
    let just_fits = "k".repeat(300);
    assert_eq!(
        toss.confirm(&key, &order, AMOUNT, Some(&just_fits)).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn concurrent_same_key_gets_409_while_the_first_runs() {
    let toss = start().await;
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "delay-2000").await;
    let first = tokio::spawn(answer(
        toss.confirm_request(&key, &order, AMOUNT)
            .header("Idempotency-Key", "same"),
    ));
    // Wait until the first request has reached the sandbox (it is counted just before its
    // key is marked in flight), rather than guessing with a fixed sleep on a busy machine.
    while toss.stats(&key).await["confirmRequests"] == 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let second = toss.confirm(&key, &order, AMOUNT, Some("same")).await;
    assert_error(
        &second,
        StatusCode::CONFLICT,
        "IDEMPOTENT_REQUEST_PROCESSING",
    );
    let first = first.await.unwrap();
    assert_eq!(first.0, StatusCode::OK);
    assert_eq!(
        toss.confirm(&key, &order, AMOUNT, Some("same")).await,
        first
    );
    assert_eq!(
        toss.stats(&key).await,
        json!({ "confirmRequests": 3, "approvals": 1, "cancels": 0 })
    );
}

#[tokio::test]
async fn test_code_header_forces_the_error_and_leaves_the_payment() {
    let toss = start().await;
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "").await;
    for (code, status) in [
        ("REJECT_CARD_COMPANY", StatusCode::FORBIDDEN),
        ("PROVIDER_ERROR", StatusCode::BAD_REQUEST),
        (
            "FAILED_INTERNAL_SYSTEM_PROCESSING",
            StatusCode::INTERNAL_SERVER_ERROR,
        ),
    ] {
        let forced = answer(
            toss.confirm_request(&key, &order, AMOUNT)
                .header("TossPayments-Test-Code", code),
        )
        .await;
        assert_error(&forced, status, code);
    }
    assert_eq!(toss.status_of(&key).await, "IN_PROGRESS");
    assert_eq!(toss.stats(&key).await["approvals"], 0);
    assert_eq!(
        toss.confirm(&key, &order, AMOUNT, None).await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn delay_fault_delays_then_approves() {
    let toss = start().await;
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "delay-400").await;
    let started = Instant::now();
    let (status, body) = toss.confirm(&key, &order, AMOUNT, None).await;
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "DONE");
}

#[tokio::test]
async fn drop_fault_closes_the_connection_and_the_same_key_returns_the_approval() {
    let toss = start().await;
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "drop").await;
    let sent = toss
        .confirm_request(&key, &order, AMOUNT)
        .header("Idempotency-Key", "drop-1")
        .send()
        .await;
    let error = sent.expect_err("the connection must close without a response");
    // hyper reports IncompleteMessage: the socket closed before any response byte.
    assert!(
        error.is_request() && !error.is_timeout() && error.status().is_none(),
        "{error:?}"
    );
    assert_eq!(toss.status_of(&key).await, "DONE");

    let (status, body) = toss.confirm(&key, &order, AMOUNT, Some("drop-1")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "DONE");
    assert_eq!(body["paymentKey"], key.as_str());
    assert_eq!(
        toss.stats(&key).await,
        json!({ "confirmRequests": 2, "approvals": 1, "cancels": 0 })
    );
    // The server is still healthy afterwards.
    assert_eq!(toss.payment(&key).await.0, StatusCode::OK);
}

#[tokio::test]
async fn fail_fault_fails_the_first_n_confirms_then_approves() {
    let toss = start().await;
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "fail-PROVIDER_ERROR-2").await;
    for _ in 0..2 {
        let failed = toss.confirm(&key, &order, AMOUNT, None).await;
        assert_error(&failed, StatusCode::BAD_REQUEST, "PROVIDER_ERROR");
        assert_eq!(toss.status_of(&key).await, "IN_PROGRESS");
    }
    let (status, body) = toss.confirm(&key, &order, AMOUNT, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "DONE");

    let order = order_id();
    let key = toss
        .checkout(
            &order,
            AMOUNT,
            "fail-FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING-1",
        )
        .await;
    let failed = toss.confirm(&key, &order, AMOUNT, None).await;
    assert_error(
        &failed,
        StatusCode::INTERNAL_SERVER_ERROR,
        "FAILED_PAYMENT_INTERNAL_SYSTEM_PROCESSING",
    );
}

#[tokio::test]
async fn amount_fault_approves_a_different_amount() {
    let toss = start().await;
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "amount-9900").await;
    let (status, body) = toss.confirm(&key, &order, AMOUNT, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "DONE");
    assert_eq!(body["totalAmount"], 9900);
    assert_eq!(body["balanceAmount"], 9900);
}

#[tokio::test]
async fn abort_fault_fails_definitively() {
    let toss = start().await;
    let order = order_id();
    let key = toss
        .checkout(&order, AMOUNT, "abort-REJECT_CARD_COMPANY")
        .await;
    let aborted = toss.confirm(&key, &order, AMOUNT, None).await;
    assert_error(&aborted, StatusCode::FORBIDDEN, "REJECT_CARD_COMPANY");
    let (_, payment) = toss.payment(&key).await;
    assert_eq!(payment["status"], "ABORTED");
    assert_eq!(payment["failure"]["code"], "REJECT_CARD_COMPANY");
    assert!(payment["failure"]["message"].is_string());
    assert!(payment["approvedAt"].is_null() && payment["method"].is_null());
    let again = toss.confirm(&key, &order, AMOUNT, None).await;
    assert_error(&again, StatusCode::NOT_FOUND, "NOT_FOUND_PAYMENT_SESSION");
    // A new checkout under the same orderId gets a new key.
    assert_ne!(toss.checkout(&order, AMOUNT, "").await, key);
}

#[tokio::test]
async fn hang_fault_approves_but_does_not_answer() {
    let toss = start().await;
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "hang").await;
    let sent = toss
        .confirm_request(&key, &order, AMOUNT)
        .header("Idempotency-Key", "hang-1")
        .timeout(Duration::from_millis(1500))
        .send()
        .await;
    assert!(sent.expect_err("must time out").is_timeout());
    assert_eq!(toss.status_of(&key).await, "DONE");
    // The first request is still "running" on the Toss side.
    let resend = toss.confirm(&key, &order, AMOUNT, Some("hang-1")).await;
    assert_error(
        &resend,
        StatusCode::CONFLICT,
        "IDEMPOTENT_REQUEST_PROCESSING",
    );
}

#[tokio::test]
async fn unconfirmed_payments_expire_on_the_sandbox_clock() {
    let toss = start().await;
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "").await;
    let before = answer(toss.client.get(toss.url("/sandbox/clock"))).await.1;
    toss.advance_clock(11 * 60).await;
    let after = answer(toss.client.get(toss.url("/sandbox/clock"))).await.1;
    assert_ne!(before, after);
    assert_eq!(toss.status_of(&key).await, "EXPIRED");
    let late = toss.confirm(&key, &order, AMOUNT, None).await;
    assert_error(&late, StatusCode::NOT_FOUND, "NOT_FOUND_PAYMENT_SESSION");

    // A window opened but never authenticated (READY) lives 30 minutes.
    let order = order_id();
    let ready = answer(
        toss.client
            .post(toss.url("/sandbox/authenticate"))
            .header("accept", "application/json")
            .json(&json!({ "orderId": order, "amount": AMOUNT, "authenticated": false })),
    )
    .await
    .1;
    let key = ready["paymentKey"].as_str().unwrap();
    assert_eq!(toss.status_of(key).await, "READY");
    toss.advance_clock(29 * 60).await;
    assert_eq!(toss.status_of(key).await, "READY");
    toss.advance_clock(2 * 60).await;
    assert_eq!(toss.status_of(key).await, "EXPIRED");

    // Setting an absolute time works too.
    let set = answer(
        toss.client
            .post(toss.url("/sandbox/clock"))
            .json(&json!({ "now": "2030-01-01T00:00:00Z" })),
    )
    .await;
    assert_eq!(set.0, StatusCode::OK);
    assert!(
        set.1["now"]
            .as_str()
            .unwrap()
            .starts_with("2030-01-01T09:00:0"),
        "{}",
        set.1
    );
}

#[tokio::test]
async fn cancel_partially_then_fully() {
    let toss = start().await;
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "").await;
    let early = toss
        .cancel(&key, json!({ "cancelReason": "변심" }), None)
        .await;
    assert_error(&early, StatusCode::FORBIDDEN, "NOT_CANCELABLE_PAYMENT");
    assert_eq!(
        toss.confirm(&key, &order, AMOUNT, None).await.0,
        StatusCode::OK
    );

    let no_reason = toss
        .cancel(&key, json!({ "cancelAmount": 1000 }), None)
        .await;
    assert_error(&no_reason, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
    let too_much = toss
        .cancel(
            &key,
            json!({ "cancelReason": "변심", "cancelAmount": AMOUNT + 1 }),
            None,
        )
        .await;
    assert_error(&too_much, StatusCode::FORBIDDEN, "NOT_CANCELABLE_AMOUNT");

    let partial = toss
        .cancel(
            &key,
            json!({ "cancelReason": "부분 환불", "cancelAmount": 5000 }),
            Some("c-1"),
        )
        .await;
    assert_eq!(partial.0, StatusCode::OK, "{}", partial.1);
    let p = &partial.1;
    assert_eq!(p["status"], "PARTIAL_CANCELED");
    assert_eq!(p["totalAmount"], AMOUNT);
    assert_eq!(p["balanceAmount"], AMOUNT - 5000);
    assert_eq!(p["cancels"][0]["cancelAmount"], 5000);
    assert_eq!(p["cancels"][0]["cancelReason"], "부분 환불");
    assert_eq!(p["cancels"][0]["refundableAmount"], AMOUNT - 5000);
    assert_eq!(p["cancels"][0]["cancelStatus"], "DONE");
    assert_eq!(p["lastTransactionKey"], p["cancels"][0]["transactionKey"]);
    // A resend with the same key does not cancel twice.
    let resend = toss
        .cancel(
            &key,
            json!({ "cancelReason": "부분 환불", "cancelAmount": 5000 }),
            Some("c-1"),
        )
        .await;
    assert_eq!(resend, partial);

    let full = toss
        .cancel(&key, json!({ "cancelReason": "전액 환불" }), None)
        .await;
    assert_eq!(full.0, StatusCode::OK);
    assert_eq!(full.1["status"], "CANCELED");
    assert_eq!(full.1["balanceAmount"], 0);
    assert_eq!(full.1["cancels"][1]["cancelAmount"], AMOUNT - 5000);
    assert_eq!(full.1["cancels"].as_array().unwrap().len(), 2);
    let after = toss
        .cancel(&key, json!({ "cancelReason": "또" }), None)
        .await;
    assert_error(&after, StatusCode::BAD_REQUEST, "ALREADY_CANCELED_PAYMENT");
    assert_eq!(toss.stats(&key).await["cancels"], 2);
    let unknown = toss
        .cancel("tsbx_nope", json!({ "cancelReason": "x" }), None)
        .await;
    assert_error(&unknown, StatusCode::NOT_FOUND, "NOT_FOUND_PAYMENT");
}

#[tokio::test]
async fn lookups_by_payment_key_and_order_id() {
    let toss = start().await;
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "").await;
    assert_eq!(
        toss.confirm(&key, &order, AMOUNT, None).await.0,
        StatusCode::OK
    );
    let by_key = toss.payment(&key).await;
    let by_order = answer(
        toss.authed(
            toss.client
                .get(toss.url(&format!("/v1/payments/orders/{order}"))),
        ),
    )
    .await;
    assert_eq!(by_key.0, StatusCode::OK);
    assert_eq!(by_key, by_order);

    let missing_key = toss.payment("tsbx_missing").await;
    assert_error(&missing_key, StatusCode::NOT_FOUND, "NOT_FOUND_PAYMENT");
    let missing_order = answer(
        toss.authed(
            toss.client
                .get(toss.url("/v1/payments/orders/no-such-order")),
        ),
    )
    .await;
    assert_error(&missing_order, StatusCode::NOT_FOUND, "NOT_FOUND_PAYMENT");
}

#[tokio::test]
async fn authenticate_rejects_faults_that_contradict_each_other() {
    let toss = start().await;
    for faults in [
        "late-100,drop",
        "late-100,hang",
        "late-100,partial-PROVIDER_ERROR",
        "partial-PROVIDER_ERROR,fail-PROVIDER_ERROR-1",
        "partial-PROVIDER_ERROR,abort-REJECT_CARD_COMPANY",
        "late-1.5",
        "partial-provider_error",
        "lookup-404,lookup-404",
    ] {
        let request = toss
            .client
            .post(toss.url("/sandbox/authenticate"))
            .header("accept", "application/json")
            .header("accept-language", "en-US")
            .json(&json!({ "orderId": order_id(), "amount": AMOUNT, "faults": faults }));
        let rejected = answer(request).await;
        assert_error(&rejected, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
        let message = rejected.1["message"].as_str().unwrap();
        assert!(
            ["combined", "expected", "twice"]
                .iter()
                .any(|word| message.contains(word)),
            "{faults}: {message}"
        );
    }
}

#[tokio::test]
async fn lookup_404_fault_hides_the_payment_until_it_is_approved() {
    let toss = start().await;
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "lookup-404").await;
    assert!(key.ends_with(".lookup-404"), "{key}");
    let hidden = toss.payment(&key).await;
    assert_error(&hidden, StatusCode::NOT_FOUND, "NOT_FOUND_PAYMENT");
    assert_eq!(toss.payment_by_order(&order).await, hidden);

    let (status, approved) = toss.confirm(&key, &order, AMOUNT, None).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(toss.payment(&key).await, (StatusCode::OK, approved.clone()));
    assert_eq!(
        toss.payment_by_order(&order).await,
        (StatusCode::OK, approved)
    );
    // Approved once is enough: a cancelled payment stays visible.
    let cancel = toss
        .cancel(&key, json!({ "cancelReason": "변심" }), None)
        .await;
    assert_eq!(cancel.0, StatusCode::OK);
    assert_eq!(toss.payment(&key).await, cancel);

    // A payment that is never approved is never found.
    let order = order_id();
    let key = toss
        .checkout(&order, AMOUNT, "lookup-404,abort-REJECT_CARD_COMPANY")
        .await;
    let aborted = toss.confirm(&key, &order, AMOUNT, None).await;
    assert_error(&aborted, StatusCode::FORBIDDEN, "REJECT_CARD_COMPANY");
    let hidden = toss.payment_by_order(&order).await;
    assert_error(&hidden, StatusCode::NOT_FOUND, "NOT_FOUND_PAYMENT");
}

#[tokio::test]
async fn late_fault_drops_the_answer_and_approves_later() {
    let toss = start().await;
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "late-30000").await;
    assert!(key.ends_with(".late-30000"), "{key}");
    let sent_at = toss.clock().await;
    toss.confirm_unanswered(&key, &order, "late-1").await;

    // Still running at "Toss": 30 s of sandbox time, far more than this part takes.
    let (_, pending) = toss.payment(&key).await;
    assert_eq!(pending["status"], "IN_PROGRESS");
    assert!(pending["approvedAt"].is_null());
    let resend = toss.confirm(&key, &order, AMOUNT, Some("late-1")).await;
    assert_error(
        &resend,
        StatusCode::CONFLICT,
        "IDEMPOTENT_REQUEST_PROCESSING",
    );
    let rotated = toss.confirm(&key, &order, AMOUNT, Some("late-2")).await;
    let internal = StatusCode::INTERNAL_SERVER_ERROR;
    assert_error(&rotated, internal, "FAILED_INTERNAL_SYSTEM_PROCESSING");
    let keyless = toss.confirm(&key, &order, AMOUNT, None).await;
    assert_error(&keyless, internal, "FAILED_INTERNAL_SYSTEM_PROCESSING");
    assert_eq!(
        toss.stats(&key).await,
        json!({ "confirmRequests": 4, "approvals": 0, "cancels": 0 })
    );

    toss.advance_clock(31).await;
    // The inspection endpoint is the first to read the payment, and sees the landing.
    assert_eq!(
        toss.stats(&key).await,
        json!({ "confirmRequests": 4, "approvals": 1, "cancels": 0 })
    );
    let (status, replay) = toss.confirm(&key, &order, AMOUNT, Some("late-1")).await;
    assert_eq!(status, StatusCode::OK, "{replay}");
    assert_eq!(replay["status"], "DONE");
    assert_eq!(toss.payment(&key).await, (StatusCode::OK, replay.clone()));
    // approvedAt is the landing instant: 30 s after the request, not the time of the read.
    let approved_at = DateTime::parse_from_rfc3339(replay["approvedAt"].as_str().unwrap());
    let after = (approved_at.unwrap() - sent_at).num_seconds();
    assert!(
        (30..=33).contains(&after),
        "approved {after} s after sending"
    );

    let again = toss.confirm(&key, &order, AMOUNT, Some("late-3")).await;
    assert_error(&again, StatusCode::BAD_REQUEST, "ALREADY_PROCESSED_PAYMENT");
    let again = toss.confirm(&key, &order, AMOUNT, None).await;
    assert_error(&again, StatusCode::BAD_REQUEST, "ALREADY_PROCESSED_PAYMENT");
    assert_eq!(toss.stats(&key).await["approvals"], 1);
}

#[tokio::test]
async fn late_fault_lands_on_its_own_and_combines_with_lookup_404() {
    let toss = start().await;
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "late-30000,lookup-404").await;
    toss.confirm_unanswered(&key, &order, "late-1").await;
    let hidden = toss.payment(&key).await;
    assert_error(&hidden, StatusCode::NOT_FOUND, "NOT_FOUND_PAYMENT");
    assert_eq!(toss.payment_by_order(&order).await, hidden);
    toss.advance_clock(31).await;
    let (status, found) = toss.payment_by_order(&order).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["status"], "DONE");

    // In real time too, with nobody calling in between.
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "late-200").await;
    toss.confirm_unanswered(&key, &order, "late-rt").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let replay = toss.confirm(&key, &order, AMOUNT, Some("late-rt")).await;
    assert_eq!(replay.0, StatusCode::OK, "{}", replay.1);
    assert_eq!(replay.1["status"], "DONE");
    assert_eq!(toss.payment(&key).await, replay);
}

#[tokio::test]
async fn partial_fault_answers_an_error_yet_the_approval_lands() {
    let toss = start().await;
    let order = order_id();
    let key = toss
        .checkout(&order, AMOUNT, "partial-FAILED_INTERNAL_SYSTEM_PROCESSING")
        .await;
    let internal = StatusCode::INTERNAL_SERVER_ERROR;
    let first = toss.confirm(&key, &order, AMOUNT, Some("p-1")).await;
    assert_error(&first, internal, "FAILED_INTERNAL_SYSTEM_PROCESSING");
    // Turn the sandbox clock back so the 300 ms landing cannot happen mid-test on a slow box.
    toss.advance_clock(-60).await;
    assert_eq!(toss.status_of(&key).await, "IN_PROGRESS");
    // The same key replays the error; a new key (or none) finds no session left.
    assert_eq!(toss.confirm(&key, &order, AMOUNT, Some("p-1")).await, first);
    let rotated = toss.confirm(&key, &order, AMOUNT, Some("p-2")).await;
    assert_error(&rotated, StatusCode::NOT_FOUND, "NOT_FOUND_PAYMENT_SESSION");
    let keyless = toss.confirm(&key, &order, AMOUNT, None).await;
    assert_error(&keyless, StatusCode::NOT_FOUND, "NOT_FOUND_PAYMENT_SESSION");
    assert_eq!(toss.stats(&key).await["approvals"], 0);

    toss.advance_clock(61).await;
    let (status, done) = toss.payment(&key).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(done["status"], "DONE");
    assert_eq!(done["totalAmount"], AMOUNT);
    assert!(done["approvedAt"].is_string());
    assert_eq!(toss.confirm(&key, &order, AMOUNT, Some("p-1")).await, first);
    let rotated = toss.confirm(&key, &order, AMOUNT, Some("p-3")).await;
    assert_error(&rotated, StatusCode::NOT_FOUND, "NOT_FOUND_PAYMENT_SESSION");
    assert_eq!(
        toss.stats(&key).await,
        json!({ "confirmRequests": 6, "approvals": 1, "cancels": 0 })
    );

    // The code's own status from Toss's table, and the landing in real time.
    let order = order_id();
    let key = toss
        .checkout(&order, AMOUNT, "partial-PROVIDER_ERROR,amount-9900")
        .await;
    let first = toss.confirm(&key, &order, AMOUNT, None).await;
    assert_error(&first, StatusCode::BAD_REQUEST, "PROVIDER_ERROR");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let (_, done) = toss.payment_by_order(&order).await;
    assert_eq!(done["status"], "DONE");
    assert_eq!(done["totalAmount"], 9900);
}

#[tokio::test]
async fn partial_fault_combines_with_lookup_404() {
    let toss = start().await;
    let order = order_id();
    let faults = "partial-FAILED_INTERNAL_SYSTEM_PROCESSING,lookup-404";
    let key = toss.checkout(&order, AMOUNT, faults).await;
    let first = toss.confirm(&key, &order, AMOUNT, Some("p-1")).await;
    let internal = StatusCode::INTERNAL_SERVER_ERROR;
    assert_error(&first, internal, "FAILED_INTERNAL_SYSTEM_PROCESSING");
    toss.advance_clock(-60).await;
    let hidden = toss.payment(&key).await;
    assert_error(&hidden, StatusCode::NOT_FOUND, "NOT_FOUND_PAYMENT");
    assert_eq!(toss.payment_by_order(&order).await, hidden);
    toss.advance_clock(61).await;
    let (status, found) = toss.payment_by_order(&order).await;
    assert_eq!(status, StatusCode::OK, "{found}");
    assert_eq!(found["status"], "DONE");
    assert_eq!(toss.payment(&key).await, (StatusCode::OK, found));
}

#[tokio::test]
async fn a_payment_is_confirmed_with_the_secret_key_of_its_client_key_family() {
    let toss = start().await;
    let widget = json!({ "clientKey": WIDGET_CLIENT_KEY });
    let (widget_order, api_order, default_order) = (order_id(), order_id(), order_id());
    let widget_key = toss.checkout_with(&widget_order, AMOUNT, widget).await;
    let api = json!({ "clientKey": API_CLIENT_KEY });
    let api_key = toss.checkout_with(&api_order, AMOUNT, api).await;
    let default_key = toss.checkout(&default_order, AMOUNT, "").await;

    // The other family's secret key: the sandbox's choice, INVALID_API_KEY; nothing changes.
    let mixed = toss.confirm_as(KEY, &widget_key, &widget_order).await;
    assert_error(&mixed, StatusCode::BAD_REQUEST, "INVALID_API_KEY");
    let mixed = toss.confirm_as(WIDGET_KEY, &api_key, &api_order).await;
    assert_error(&mixed, StatusCode::BAD_REQUEST, "INVALID_API_KEY");
    // Without a clientKey the payment is an API-window one, as before.
    let mixed = toss
        .confirm_as(WIDGET_KEY, &default_key, &default_order)
        .await;
    assert_error(&mixed, StatusCode::BAD_REQUEST, "INVALID_API_KEY");
    for key in [&widget_key, &api_key, &default_key] {
        assert_eq!(toss.status_of(key).await, "IN_PROGRESS");
        assert_eq!(toss.stats(key).await["approvals"], 0);
    }

    let (status, body) = toss
        .confirm_as(WIDGET_KEY, &widget_key, &widget_order)
        .await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::OK, &json!("DONE")),
        "{body}"
    );
    let (status, body) = toss.confirm_as(KEY, &api_key, &api_order).await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::OK, &json!("DONE")),
        "{body}"
    );
    // Lookups are not tied to a family (docs/toss.md is silent): both keys find the payment.
    let by_widget_key = toss
        .client
        .get(toss.url(&format!("/v1/payments/{api_key}")))
        .basic_auth(WIDGET_KEY, None::<&str>);
    assert_eq!(answer(by_widget_key).await.0, StatusCode::OK);
}

#[tokio::test]
async fn the_mixed_key_answer_is_selectable_and_live_keys_pair_the_same_way() {
    let toss = start().await;
    for (code, status) in [
        ("UNAUTHORIZED_KEY", StatusCode::UNAUTHORIZED),
        ("FORBIDDEN_REQUEST", StatusCode::FORBIDDEN),
    ] {
        let order = order_id();
        let faults = format!("mixed-key-{code}");
        let extra = json!({ "clientKey": WIDGET_CLIENT_KEY, "faults": faults });
        let key = toss.checkout_with(&order, AMOUNT, extra).await;
        assert!(key.ends_with(&format!(".{faults}")), "{key}");
        assert_error(&toss.confirm_as(KEY, &key, &order).await, status, code);
        assert_eq!(
            toss.confirm_as(WIDGET_KEY, &key, &order).await.0,
            StatusCode::OK
        );
    }

    let live = start_with(&["live_gsk_shop", "live_sk_shop"]).await;
    let order = order_id();
    let extra = json!({ "clientKey": "live_gck_shop" });
    let key = live.checkout_with(&order, AMOUNT, extra).await;
    let mixed = live.confirm_as("live_sk_shop", &key, &order).await;
    assert_error(&mixed, StatusCode::BAD_REQUEST, "INVALID_API_KEY");
    assert_eq!(
        live.confirm_as("live_gsk_shop", &key, &order).await.0,
        StatusCode::OK
    );

    // A sandbox set up with the API key only (as the product's tests are) knows no widget key.
    let api_only = start_with(&[KEY]).await;
    let order = order_id();
    let extra = json!({ "clientKey": WIDGET_CLIENT_KEY });
    let key = api_only.checkout_with(&order, AMOUNT, extra).await;
    let unknown = api_only.confirm_as(WIDGET_KEY, &key, &order).await;
    assert_error(&unknown, StatusCode::UNAUTHORIZED, "UNAUTHORIZED_KEY");
    let mixed = api_only.confirm_as(KEY, &key, &order).await;
    assert_error(&mixed, StatusCode::BAD_REQUEST, "INVALID_API_KEY");
}

#[tokio::test]
async fn authenticate_rejects_what_is_no_client_key_and_a_changed_checkout() {
    let toss = start().await;
    // A secret key passed as the client key, a typo, a bare prefix.
    for bad in [KEY, "test_cx_abc", "test_ck_", "ck_abc"] {
        let order = order_id();
        let rejected = toss
            .authenticate(&order, AMOUNT, json!({ "clientKey": bad }))
            .await;
        assert_error(&rejected, StatusCode::BAD_REQUEST, "INVALID_CLIENT_KEY");
        assert_error(
            &toss.payment_by_order(&order).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND_PAYMENT",
        );
    }
    // The same orderId again under another key family or method is another checkout.
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "").await;
    for changed in [
        json!({ "clientKey": WIDGET_CLIENT_KEY }),
        json!({ "method": "간편결제" }),
    ] {
        let again = toss.authenticate(&order, AMOUNT, changed).await;
        assert_error(&again, StatusCode::BAD_REQUEST, "DUPLICATED_ORDER_ID");
    }
    // Naming the defaults explicitly is the same checkout.
    let same = json!({ "clientKey": API_CLIENT_KEY, "method": "카드" });
    assert_eq!(toss.checkout_with(&order, AMOUNT, same).await, key);
}

#[tokio::test]
async fn an_unknown_test_code_answers_invalid_test_code_on_every_route() {
    let toss = start().await;
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "").await;
    let routes = [
        toss.confirm_request(&key, &order, AMOUNT),
        toss.authed(toss.client.get(toss.url(&format!("/v1/payments/{key}")))),
        toss.authed(
            toss.client
                .get(toss.url(&format!("/v1/payments/orders/{order}"))),
        ),
        toss.authed(
            toss.client
                .post(toss.url(&format!("/v1/payments/{key}/cancel"))),
        )
        .json(&json!({ "cancelReason": "x" })),
    ];
    for request in routes {
        // Codes are upper case at Toss; a lower-case one is unknown too.
        for unknown in ["NO_SUCH_CODE", "reject_card_company"] {
            let request = request.try_clone().unwrap();
            let rejected = answer(request.header("TossPayments-Test-Code", unknown)).await;
            assert_error(&rejected, StatusCode::BAD_REQUEST, "INVALID_TEST_CODE");
            assert!(rejected.1["message"].as_str().unwrap().contains(unknown));
        }
    }
    assert_eq!(toss.status_of(&key).await, "IN_PROGRESS");
    assert_eq!(toss.stats(&key).await["approvals"], 0);

    // Live keys ignore the header altogether, an unknown code as well.
    let live = start_with(&["live_sk_shop"]).await;
    let order = order_id();
    let key = live
        .checkout_with(&order, AMOUNT, json!({ "clientKey": "live_ck_shop" }))
        .await;
    let confirm = live
        .client
        .post(live.url("/v1/payments/confirm"))
        .basic_auth("live_sk_shop", None::<&str>)
        .header("TossPayments-Test-Code", "NO_SUCH_CODE")
        .json(&json!({ "paymentKey": key, "orderId": order, "amount": AMOUNT }));
    let (status, body) = answer(confirm).await;
    assert_eq!(
        (status, &body["status"]),
        (StatusCode::OK, &json!("DONE")),
        "{body}"
    );
}

#[tokio::test]
async fn every_known_code_is_answered_with_its_status_in_korean_or_english() {
    let toss = start().await;
    let hangul = |text: &str| text.chars().any(|c| ('가'..='힣').contains(&c));
    for code in toss_sandbox::known_codes() {
        let url = toss.url("/v1/payments/tsbx_any");
        let forced = |lang: Option<&str>| {
            let request = toss
                .authed(toss.client.get(&url))
                .header("TossPayments-Test-Code", code);
            match lang {
                Some(lang) => request.header("Accept-Language", lang),
                None => request,
            }
        };
        let korean = answer(forced(None)).await;
        assert_error(&korean, toss_sandbox::http_status(code), code);
        assert!(
            hangul(korean.1["message"].as_str().unwrap()),
            "{code}: {}",
            korean.1
        );
        let english = answer(forced(Some("en-US"))).await;
        assert_error(&english, toss_sandbox::http_status(code), code);
        let message = english.1["message"].as_str().unwrap();
        assert!(
            !message.is_empty() && message.is_ascii(),
            "{code}: {message}"
        );
    }
}

#[tokio::test]
async fn messages_are_korean_by_default_and_english_with_accept_language() {
    let toss = start().await;
    let english = |request: RequestBuilder| request.header("Accept-Language", "en-US");
    let lookup = toss.authed(toss.client.get(toss.url("/v1/payments/tsbx_missing")));
    let found = answer(lookup.try_clone().unwrap()).await;
    assert_eq!(found.1["message"], "존재하지 않는 결제입니다.");
    assert_eq!(
        answer(english(lookup)).await.1["message"],
        "The payment does not exist."
    );
    // The auth check answers in the asked language too.
    let anonymous = toss.client.get(toss.url("/v1/payments/tsbx_missing"));
    let (_, ko) = answer(anonymous.try_clone().unwrap()).await;
    let (_, en) = answer(english(anonymous)).await;
    assert_eq!(
        (&ko["code"], &en["code"]),
        (&json!("INCORRECT_BASIC_AUTH_FORMAT"), &ko["code"])
    );
    assert!(
        ko["message"].as_str().unwrap().contains("인증 형식"),
        "{ko}"
    );
    assert!(
        en["message"]
            .as_str()
            .unwrap()
            .starts_with("Incorrect Basic auth"),
        "{en}"
    );

    // Sandbox-specific messages come in both languages as well.
    let order = order_id();
    let key = toss
        .checkout(&order, AMOUNT, "abort-REJECT_CARD_COMPANY")
        .await;
    let wrong = english(toss.confirm_request(&key, &order, 1));
    let (_, body) = answer(wrong).await;
    assert!(
        body["message"].as_str().unwrap().contains("differs"),
        "{body}"
    );

    // The stored failure follows the language of the lookup.
    let aborted = toss.confirm(&key, &order, AMOUNT, None).await;
    assert_eq!(aborted.1["message"], "카드사에서 결제 승인을 거절했습니다.");
    let (_, ko) = toss.payment(&key).await;
    assert_eq!(ko["failure"]["message"], aborted.1["message"]);
    let lookup = toss.authed(toss.client.get(toss.url(&format!("/v1/payments/{key}"))));
    let (_, en) = answer(english(lookup)).await;
    assert_eq!(
        en["failure"]["message"],
        "The card company refused the approval."
    );
    assert_eq!(en["failure"]["code"], "REJECT_CARD_COMPANY");
}

#[tokio::test]
async fn a_same_key_replay_keeps_the_language_of_the_first_answer() {
    let toss = start().await;
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "").await;
    let first = toss.confirm(&key, &order, 1, Some("lang-1")).await;
    assert_error(&first, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
    let resend = toss
        .confirm_request(&key, &order, 1)
        .header("Idempotency-Key", "lang-1")
        .header("Accept-Language", "en-US");
    // Toss returns the first response as it was (docs/toss.md §4), its Korean included.
    assert_eq!(answer(resend).await, first);
}

#[tokio::test]
async fn an_easy_pay_payment_fills_easy_pay_and_leaves_card_null() {
    let toss = start().await;
    for method in ["간편결제", "EASY_PAY"] {
        let order = order_id();
        let key = toss
            .checkout_with(&order, AMOUNT, json!({ "method": method }))
            .await;
        let (status, p) = toss.confirm(&key, &order, AMOUNT, None).await;
        assert_eq!(status, StatusCode::OK, "{p}");
        assert_eq!(p["method"], "간편결제");
        assert_eq!(
            p["easyPay"],
            json!({ "provider": "토스페이", "amount": AMOUNT, "discountAmount": 0 })
        );
        assert_nulls(
            &p,
            &without(
                NULLABLE,
                &[
                    "method",
                    "approvedAt",
                    "lastTransactionKey",
                    "easyPay",
                    "receipt",
                ],
            ),
        );
        assert_eq!(toss.payment(&key).await, (StatusCode::OK, p));
        let canceled = toss
            .cancel(&key, json!({ "cancelReason": "변심" }), None)
            .await;
        assert_eq!(canceled.1["status"], "CANCELED");
        assert!(canceled.1["card"].is_null() && canceled.1["easyPay"].is_object());
    }
    // `카드` (the default) the other way round.
    let order = order_id();
    let key = toss
        .checkout_with(&order, AMOUNT, json!({ "method": "카드" }))
        .await;
    let (_, p) = toss.confirm(&key, &order, AMOUNT, None).await;
    assert_eq!(p["method"], "카드");
    assert!(p["card"].is_object() && p["easyPay"].is_null(), "{p}");

    // A method the sandbox cannot approve.
    for unsupported in ["휴대폰", "MOBILE_PHONE", "bitcoin"] {
        let rejected = toss
            .authenticate(&order_id(), AMOUNT, json!({ "method": unsupported }))
            .await;
        assert_error(&rejected, StatusCode::BAD_REQUEST, "NOT_SUPPORTED_METHOD");
    }
}

#[tokio::test]
async fn nullable_fields_are_present_as_null_until_they_apply() {
    let toss = start().await;
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "").await;
    let (_, waiting) = toss.payment(&key).await;
    assert_eq!(waiting["status"], "IN_PROGRESS");
    assert_nulls(&waiting, NULLABLE);
    assert!(waiting["checkout"]["url"].is_string(), "{waiting}");

    // Approved: the approval's fields fill, the rest stays null.
    let (_, done) = toss.confirm(&key, &order, AMOUNT, None).await;
    assert_nulls(
        &done,
        &without(
            NULLABLE,
            &[
                "method",
                "approvedAt",
                "lastTransactionKey",
                "card",
                "receipt",
            ],
        ),
    );
    // Cancelled: cancels fills too.
    let (_, canceled) = toss
        .cancel(
            &key,
            json!({ "cancelReason": "변심", "cancelAmount": 1000 }),
            None,
        )
        .await;
    let applying = [
        "method",
        "approvedAt",
        "lastTransactionKey",
        "card",
        "receipt",
        "cancels",
    ];
    assert_nulls(&canceled, &without(NULLABLE, &applying));

    // Aborted: only failure.
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "abort-PROVIDER_ERROR").await;
    toss.confirm(&key, &order, AMOUNT, None).await;
    let (_, aborted) = toss.payment(&key).await;
    assert_eq!(aborted["status"], "ABORTED");
    assert_nulls(&aborted, &without(NULLABLE, &["failure"]));

    // `with-secret`: the reading in which every payment carries a secret.
    let order = order_id();
    let key = toss.checkout(&order, AMOUNT, "with-secret").await;
    let (_, waiting) = toss.payment(&key).await;
    let secret = waiting["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("ps_") && secret.len() <= 50, "{secret}");
    let (_, done) = toss.confirm(&key, &order, AMOUNT, None).await;
    assert_eq!(done["secret"], secret.as_str());
}

/// A merchant's webhook endpoint: records every request and answers the scripted statuses
/// in turn (200 once the script is used up), each after `delay`.
#[derive(Clone, Default)]
struct Receiver {
    seen: std::sync::Arc<std::sync::Mutex<Vec<(axum::http::HeaderMap, Value)>>>,
    script: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<u16>>>,
}

impl Receiver {
    async fn start(script: &[u16], delay: Duration) -> (Self, String) {
        let receiver = Receiver::default();
        receiver.script.lock().unwrap().extend(script);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/webhook", listener.local_addr().unwrap());
        let state = receiver.clone();
        let app = axum::Router::new().route(
            "/webhook",
            axum::routing::post(
                move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                    let state = state.clone();
                    async move {
                        let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                        state.seen.lock().unwrap().push((headers, value));
                        let status = state.script.lock().unwrap().pop_front().unwrap_or(200);
                        tokio::time::sleep(delay).await;
                        axum::http::StatusCode::from_u16(status).unwrap()
                    }
                },
            ),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        (receiver, url)
    }

    /// How many requests arrived after one more second: for asserting that none comes
    /// (short, so the real clock does not carry the sandbox clock to the next retry).
    async fn quiet_for_a_second(&self) -> usize {
        tokio::time::sleep(Duration::from_secs(1)).await;
        self.count()
    }

    fn count(&self) -> usize {
        self.seen.lock().unwrap().len()
    }

    fn seen(&self) -> Vec<(axum::http::HeaderMap, Value)> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits (up to 5 s) until `n` requests arrived, then a little more for any extra one.
    async fn wait_for(&self, n: usize) -> Vec<(axum::http::HeaderMap, Value)> {
        let started = Instant::now();
        while self.count() < n && started.elapsed() < Duration::from_secs(5) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.seen()
    }
}

fn header<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

impl Toss {
    async fn register_webhook(&self, url: &str) {
        let request = self.client.post(self.url("/sandbox/webhooks"));
        let (status, body) = answer(request.json(&json!({ "url": url }))).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }

    async fn deliveries(&self, key: &str) -> Vec<Value> {
        let url = self.url(&format!("/sandbox/webhooks?paymentKey={key}"));
        let (_, body) = answer(self.client.get(url)).await;
        body["deliveries"].as_array().unwrap().clone()
    }

    /// A checkout confirmed to `DONE`.
    async fn approved(&self, faults: &str) -> (String, String) {
        let order = order_id();
        let key = self.checkout(&order, AMOUNT, faults).await;
        assert_eq!(
            self.confirm(&key, &order, AMOUNT, None).await.0,
            StatusCode::OK
        );
        (order, key)
    }
}

/// `yyyy-MM-dd'T'HH:mm:ss.SSSSSS`, no offset (docs/toss.md §7).
fn is_local_micros(text: &str) -> bool {
    chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.6f").is_ok() && text.len() == 26
}

#[tokio::test]
async fn a_webhook_has_tosss_body_and_headers_and_is_retried_on_tosss_schedule() {
    let toss = start().await;
    let (receiver, url) = Receiver::start(&[500, 503], Duration::ZERO).await;
    toss.register_webhook(&url).await;
    let (order, key) = toss.approved("").await;
    let seen = receiver.wait_for(1).await;
    assert_eq!(seen.len(), 1, "IN_PROGRESS sends nothing, DONE once");
    let (headers, body) = &seen[0];
    let id = header(headers, "tosspayments-webhook-transmission-id").to_owned();
    assert!(id.starts_with("wh_"), "{id}");
    assert_eq!(
        header(headers, "tosspayments-webhook-transmission-retried-count"),
        "0"
    );
    assert!(is_local_micros(header(
        headers,
        "tosspayments-webhook-transmission-time"
    )));
    assert_eq!(header(headers, "content-type"), "application/json");
    assert_eq!(body["eventType"], "PAYMENT_STATUS_CHANGED");
    assert!(
        is_local_micros(body["createdAt"].as_str().unwrap()),
        "{body}"
    );
    assert_eq!(body["data"], toss.payment_by_order(&order).await.1);

    // The first retry comes 1 minute after the failure, on the sandbox clock.
    toss.advance_clock(50).await;
    assert_eq!(
        receiver.quiet_for_a_second().await,
        1,
        "not before the minute"
    );
    toss.advance_clock(6).await;
    let seen = receiver.wait_for(2).await;
    assert_eq!(seen.len(), 2);
    assert_eq!(
        header(&seen[1].0, "tosspayments-webhook-transmission-id"),
        id
    );
    assert_eq!(
        header(
            &seen[1].0,
            "tosspayments-webhook-transmission-retried-count"
        ),
        "1"
    );
    // Then 4 minutes after the second failure; that attempt is answered 200.
    toss.advance_clock(3 * 60).await;
    assert_eq!(
        receiver.quiet_for_a_second().await,
        2,
        "not before 4 minutes"
    );
    toss.advance_clock(61).await;
    assert_eq!(receiver.wait_for(3).await.len(), 3);
    let deliveries = toss.deliveries(&key).await;
    assert_eq!(deliveries.len(), 1);
    assert_eq!(deliveries[0]["state"], "DELIVERED", "{}", deliveries[0]);
    let statuses: Vec<&Value> = deliveries[0]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| &a["status"])
        .collect();
    assert_eq!(statuses, [&json!(500), &json!(503), &json!(200)]);
    toss.advance_clock(7 * 24 * 3600).await;
    assert_eq!(
        receiver.wait_for(4).await.len(),
        3,
        "a delivered webhook is not sent again"
    );
}

#[tokio::test]
async fn seven_failed_retries_end_a_delivery_and_the_console_can_send_it_again() {
    let toss = start().await;
    let (receiver, url) = Receiver::start(&[500; 9], Duration::ZERO).await;
    toss.register_webhook(&url).await;
    let (_, key) = toss.approved("").await;
    receiver.wait_for(1).await;
    for (retry, minutes) in [1, 4, 16, 64, 256, 1024, 4096].into_iter().enumerate() {
        toss.advance_clock(minutes * 60 + 1).await;
        let seen = receiver.wait_for(retry + 2).await;
        assert_eq!(seen.len(), retry + 2, "retry {}", retry + 1);
        let count = header(
            &seen[retry + 1].0,
            "tosspayments-webhook-transmission-retried-count",
        );
        assert_eq!(count, (retry + 1).to_string());
    }
    let delivery = toss.deliveries(&key).await.remove(0);
    assert_eq!(delivery["state"], "FAILED");
    assert_eq!(delivery["attempts"].as_array().unwrap().len(), 8);
    toss.advance_clock(30 * 24 * 3600).await;
    assert_eq!(
        receiver.wait_for(9).await.len(),
        8,
        "nothing after the 7th retry"
    );
    // "다시 시도" in the console: one fresh attempt.
    let id = delivery["transmissionId"].as_str().unwrap();
    let resend = toss
        .client
        .post(toss.url(&format!("/sandbox/webhooks/{id}/resend")));
    assert_eq!(answer(resend).await.0, StatusCode::OK);
    assert_eq!(receiver.wait_for(9).await.len(), 9);
}

#[tokio::test]
async fn an_answer_after_ten_seconds_counts_as_a_failure() {
    let toss = start().await;
    let (receiver, url) = Receiver::start(&[], Duration::from_millis(10_500)).await;
    toss.register_webhook(&url).await;
    let (_, key) = toss.approved("").await;
    receiver.wait_for(1).await;
    tokio::time::sleep(Duration::from_secs(11)).await;
    let delivery = toss.deliveries(&key).await.remove(0);
    assert_eq!(delivery["state"], "PENDING", "{delivery}");
    assert_eq!(delivery["retriedCount"], 1);
    let error = delivery["attempts"][0]["error"].as_str().unwrap();
    assert!(error.contains("10 s"), "{error}");
}

#[tokio::test]
async fn cancels_aborts_and_expiries_are_announced_and_nothing_without_a_url() {
    let toss = start().await;
    let (unregistered_order, _) = toss.approved("").await;
    let (receiver, url) = Receiver::start(&[], Duration::ZERO).await;
    toss.register_webhook(&url).await;
    let (_, key) = toss.approved("").await;
    let partial = json!({ "cancelReason": "고객 요청", "cancelAmount": 1000 });
    assert_eq!(toss.cancel(&key, partial, None).await.0, StatusCode::OK);
    assert_eq!(
        toss.cancel(&key, json!({ "cancelReason": "r" }), None)
            .await
            .0,
        StatusCode::OK
    );
    let aborted = order_id();
    let aborted_key = toss
        .checkout(&aborted, AMOUNT, "abort-REJECT_CARD_COMPANY")
        .await;
    toss.confirm(&aborted_key, &aborted, AMOUNT, None).await;
    toss.checkout(&order_id(), AMOUNT, "").await;
    // The unconfirmed checkout expires after 10 minutes; the sender notices on its own.
    toss.advance_clock(11 * 60).await;
    let seen = receiver.wait_for(5).await;
    let statuses: Vec<&str> = seen
        .iter()
        .map(|(_, body)| body["data"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["DONE", "PARTIAL_CANCELED", "CANCELED", "ABORTED", "EXPIRED"]
    );
    assert!(
        seen.iter()
            .all(|(_, b)| b["data"]["orderId"] != unregistered_order.as_str()),
        "a change before the URL was registered is never sent"
    );
}

#[tokio::test]
async fn webhook_faults_repeat_reorder_and_lie() {
    let toss = start().await;
    let (receiver, url) = Receiver::start(&[], Duration::ZERO).await;
    toss.register_webhook(&url).await;
    let (_, duplicated) = toss.approved("webhook-duplicate").await;
    let seen = receiver.wait_for(2).await;
    assert_eq!(seen.len(), 2);
    let id = |i: usize| header(&seen[i].0, "tosspayments-webhook-transmission-id").to_owned();
    assert_eq!(id(0), id(1), "the same transmission twice");
    assert_eq!(seen[0].1["data"]["paymentKey"], duplicated.as_str());

    let (order, reordered) = toss.approved("webhook-reorder").await;
    assert_eq!(
        toss.cancel(&reordered, json!({ "cancelReason": "r" }), None)
            .await
            .0,
        StatusCode::OK
    );
    let seen = receiver.wait_for(4).await;
    let statuses: Vec<&str> = seen[2..]
        .iter()
        .map(|(_, body)| body["data"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses,
        ["CANCELED", "DONE"],
        "the later change arrives first"
    );
    assert_eq!(seen[3].1["data"]["orderId"], order.as_str());

    let (order, _) = toss.approved("webhook-lie").await;
    let seen = receiver.wait_for(5).await;
    assert_eq!(seen[4].1["data"]["status"], "CANCELED", "the body lies");
    assert_eq!(seen[4].1["data"]["balanceAmount"], 0);
    assert_eq!(
        toss.payment_by_order(&order).await.1["status"],
        "DONE",
        "the lookup does not"
    );
}

#[tokio::test]
async fn a_virtual_account_waits_for_its_deposit_and_tells_by_deposit_callback() {
    let toss = start().await;
    let (receiver, url) = Receiver::start(&[], Duration::ZERO).await;
    toss.register_webhook(&url).await;
    let order = order_id();
    let key = toss
        .checkout_with(&order, AMOUNT, json!({ "method": "VIRTUAL_ACCOUNT" }))
        .await;
    let (status, issued) = toss.confirm(&key, &order, AMOUNT, None).await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    assert_eq!(issued["status"], "WAITING_FOR_DEPOSIT", "a 200 is not paid");
    assert_eq!(issued["method"], "가상계좌");
    assert!(issued["approvedAt"].is_null());
    let secret = issued["secret"].as_str().unwrap().to_owned();
    let account = &issued["virtualAccount"];
    assert_eq!(account["accountNumber"].as_str().unwrap().len(), 14);
    assert_eq!(account["expired"], false);
    let partial = json!({ "cancelReason": "r", "cancelAmount": 1000 });
    let refused = toss.cancel(&key, partial, None).await;
    assert_error(
        &refused,
        StatusCode::FORBIDDEN,
        "NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT",
    );
    assert_eq!(
        receiver.quiet_for_a_second().await,
        0,
        "WAITING_FOR_DEPOSIT is not announced"
    );

    let deposit = |path: &'static str| {
        let url = toss.url(&format!("/sandbox/payments/{key}/{path}"));
        answer(toss.client.post(url))
    };
    assert_eq!(deposit("deposit").await.1["status"], "DONE");
    let seen = receiver.wait_for(2).await;
    assert_eq!(seen[0].1["data"]["status"], "DONE");
    let callback = &seen[1].1;
    assert_eq!(callback["status"], "DONE");
    assert_eq!(callback["secret"], secret.as_str());
    assert_eq!(callback["orderId"], order.as_str());
    assert!(
        callback.get("eventType").is_none()
            && is_local_micros(callback["createdAt"].as_str().unwrap())
    );

    assert_eq!(
        deposit("deposit-error").await.1["status"],
        "WAITING_FOR_DEPOSIT"
    );
    let seen = receiver.wait_for(3).await;
    assert_eq!(seen.len(), 3, "only the callback tells of a deposit error");
    assert_eq!(seen[2].1["status"], "WAITING_FOR_DEPOSIT");
    assert_eq!(deposit("deposit").await.0, StatusCode::OK, "paid again");

    // A refund of deposited money needs the account to pay it to.
    let whole = json!({ "cancelReason": "r" });
    assert_error(
        &toss.cancel(&key, whole, None).await,
        StatusCode::BAD_REQUEST,
        "INVALID_REFUND_ACCOUNT_INFO",
    );
    let to = json!({ "bank": "88", "accountNumber": "110123456789", "holderName": "김토스" });
    let (status, refunded) = toss
        .cancel(
            &key,
            json!({ "cancelReason": "r", "refundReceiveAccount": to }),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{refunded}");
    assert_eq!(refunded["status"], "CANCELED");
    assert_eq!(refunded["virtualAccount"]["refundReceiveAccount"], to);
}

#[tokio::test]
async fn a_virtual_account_past_its_due_date_stays_waiting_and_takes_no_deposit() {
    let toss = start().await;
    let order = order_id();
    let key = toss
        .checkout_with(&order, AMOUNT, json!({ "method": "가상계좌" }))
        .await;
    assert_eq!(
        toss.confirm(&key, &order, AMOUNT, None).await.0,
        StatusCode::OK
    );
    toss.advance_clock(7 * 24 * 3600 + 60).await;
    let (_, payment) = toss.payment(&key).await;
    assert_eq!(
        payment["status"], "WAITING_FOR_DEPOSIT",
        "Toss sends nothing and keeps the status"
    );
    assert_eq!(payment["virtualAccount"]["expired"], true);
    let url = toss.url(&format!("/sandbox/payments/{key}/deposit"));
    assert_eq!(
        answer(toss.client.post(url)).await.0,
        StatusCode::BAD_REQUEST
    );
    // Cancelled whole before any deposit: no refund account needed.
    let (status, cancelled) = toss
        .cancel(&key, json!({ "cancelReason": "만료" }), None)
        .await;
    assert_eq!(
        (status, &cancelled["status"]),
        (StatusCode::OK, &json!("CANCELED"))
    );
}
