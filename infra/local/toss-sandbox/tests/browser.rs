//! The browser side, black-box: the SDK v2 stand-in script (`/v2/standard`) and the payment
//! window it opens (`/sandbox/pay`), whose form and cancel link are followed the way a
//! browser would. (The real browser test of the site drives both in Chromium.)

use reqwest::{Client, StatusCode, Url};
use serde_json::Value;
use std::collections::HashMap;
use toss_sandbox::{DOCS_TEST_CLIENT_KEYS, DOCS_TEST_SECRET_KEYS, PAYMENT_WINDOW_FAULTS, Sandbox};

const WIDGET_CLIENT_KEY: &str = DOCS_TEST_CLIENT_KEYS[0];
const SUCCESS_URL: &str = "http://127.0.0.1:3000/payments/success?step=2&from=toss";
const FAIL_URL: &str = "http://127.0.0.1:3000/payments/fail";

struct Sandboxed {
    base: String,
    client: Client,
}

async fn start() -> Sandboxed {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let keys = DOCS_TEST_SECRET_KEYS.map(String::from).to_vec();
    tokio::spawn(toss_sandbox::serve(listener, Sandbox::new(keys)));
    // Redirects are the subject of these tests: look at them instead of following them.
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    Sandboxed { base, client }
}

fn order_id() -> String {
    format!("order-{}", uuid::Uuid::new_v4().simple())
}

/// The query the SDK stand-in navigates to, as `requestPayment` builds it.
fn window_query(order_id: &str, overrides: &[(&str, &str)]) -> String {
    let mut fields: Vec<(&str, &str)> = vec![
        ("clientKey", WIDGET_CLIENT_KEY),
        ("customerKey", "@@ANONYMOUS"),
        ("orderId", order_id),
        ("orderName", "티셔츠 외 1건"),
        ("amount", "15000"),
        ("method", "CARD"),
        ("successUrl", SUCCESS_URL),
        ("failUrl", FAIL_URL),
    ];
    for (name, value) in overrides {
        fields.retain(|(field, _)| field != name);
        fields.push((name, value));
    }
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

impl Sandboxed {
    async fn get(&self, path: &str) -> reqwest::Response {
        let url = format!("{}{path}", self.base);
        self.client.get(url).send().await.unwrap()
    }

    /// The payment window's HTML, after checking it is served as such.
    async fn window(&self, query: &str) -> String {
        let response = self.get(&format!("/sandbox/pay?{query}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "text/html; charset=utf-8"
        );
        response.text().await.unwrap()
    }
}

/// The value of `attribute` in each tag of `html` that starts with `tag_start`, unescaped.
/// Enough for the sandbox's own markup (one tag a line, double-quoted attributes).
fn attribute_values(html: &str, tag_start: &str, attribute: &str) -> Vec<String> {
    let marker = format!(" {attribute}=\"");
    html.split(tag_start)
        .skip(1)
        .filter_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            let value = &tag[tag.find(&marker)? + marker.len()..];
            Some(unescape(&value[..value.find('"')?]))
        })
        .collect()
}

fn unescape(html: &str) -> String {
    html.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// The hidden fields of the window's form, by name.
fn hidden_fields(html: &str) -> HashMap<String, String> {
    let tags = r#"<input type="hidden""#;
    let names = attribute_values(html, tags, "name");
    let values = attribute_values(html, tags, "value");
    assert_eq!(names.len(), values.len());
    names.into_iter().zip(values).collect()
}

fn query_pairs(url: &Url) -> HashMap<String, String> {
    url.query_pairs().into_owned().collect()
}

#[tokio::test]
async fn the_sdk_script_is_javascript_with_the_documented_entry_points() {
    let sandbox = start().await;
    let response = sandbox.get("/v2/standard").await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(
        headers["content-type"],
        "application/javascript; charset=utf-8"
    );
    assert_eq!(headers["access-control-allow-origin"], "*");
    let script = response.text().await.unwrap();
    for entry in [
        "window.TossPayments = TossPayments",
        "TossPayments.ANONYMOUS = ANONYMOUS",
        "widgets: function",
        "setAmount: function",
        "renderPaymentMethods: function",
        "renderAgreement: function",
        "requestPayment: function",
        "document.currentScript",
        "\"/sandbox/pay?\"",
        "window.location.assign(",
        "\"toss-method\"",
        "\"toss-agreement\"",
    ] {
        assert!(script.contains(entry), "{entry} missing");
    }
    assert!(script.contains("docs/toss.md §8"));
}

#[tokio::test]
async fn the_window_shows_the_order_escaped_and_offers_every_method_and_listed_fault() {
    let sandbox = start().await;
    let order = order_id();
    let name = r#"<script>alert("x")</script> & 'more'"#;
    let query = window_query(&order, &[("orderName", name), ("method", "EASY_PAY")]);
    let html = sandbox.window(&query).await;

    assert!(html.starts_with("<!doctype html>\n<html lang=\"ko\">"));
    assert!(html.contains(r#"<meta charset="utf-8">"#));
    assert!(html.contains(r#"<link rel="icon" href="data:,">"#));
    assert!(!html.contains("<script"), "{html}");
    let shown = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;more&#39;";
    assert!(html.contains(&format!(r#"<dd id="order-name">{shown}</dd>"#)));
    assert!(html.contains(r#"<dd id="amount">15,000원</dd>"#));
    assert_eq!(hidden_fields(&html)["orderName"], name);

    let radios = r#"<input type="radio" name="method""#;
    assert_eq!(
        attribute_values(&html, radios, "id"),
        [
            "pay-method-CARD",
            "pay-method-EASY_PAY",
            "pay-method-VIRTUAL_ACCOUNT"
        ]
    );
    assert!(html.contains(r#"id="pay-method-EASY_PAY" value="EASY_PAY" checked>"#));
    assert_eq!(html.matches(" checked>").count(), 1);

    assert!(html.contains(r#"<select id="fault" name="faults">"#));
    let options = attribute_values(&html, "<option", "value");
    let listed: Vec<&str> = PAYMENT_WINDOW_FAULTS.iter().map(|(f, _)| *f).collect();
    assert_eq!(options[0], "");
    assert_eq!(options[1..], listed[..]);
    assert!(html.contains(r#"<option value="" selected>정상</option>"#));
    assert!(html.contains(r#"<button id="pay" type="submit">결제하기</button>"#));
}

#[tokio::test]
async fn the_window_refuses_bad_parameters_with_400_and_a_toss_style_code() {
    let sandbox = start().await;
    let order = order_id();
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("orderId", "")], "INVALID_REQUEST"),
        (&[("orderId", "short")], "INVALID_REQUEST"),
        (&[("orderId", "order/with/slash")], "INVALID_REQUEST"),
        (&[("amount", "")], "INVALID_REQUEST"),
        (&[("amount", "0")], "INVALID_REQUEST"),
        (&[("amount", "12.5")], "INVALID_REQUEST"),
        (&[("amount", "-100")], "INVALID_REQUEST"),
        (&[("orderName", &"가".repeat(101))], "INVALID_REQUEST"),
        (&[("successUrl", "")], "INVALID_REQUEST"),
        (&[("successUrl", "/payments/success")], "INVALID_REQUEST"),
        (&[("failUrl", "")], "INVALID_REQUEST"),
        (&[("failUrl", "payments/fail")], "INVALID_REQUEST"),
        (&[("method", "TRANSFER")], "NOT_SUPPORTED_METHOD"),
        (
            &[("clientKey", DOCS_TEST_SECRET_KEYS[0])],
            "INVALID_CLIENT_KEY",
        ),
    ];
    for (overrides, code) in cases {
        let query = window_query(&order, overrides);
        let response = sandbox.get(&format!("/sandbox/pay?{query}")).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{overrides:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], *code, "{overrides:?}: {body}");
        assert!(body["message"].is_string(), "{body}");
    }
    // No query at all is the same 400, not a panic.
    assert_eq!(
        sandbox.get("/sandbox/pay").await.status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn the_windows_form_authenticates_and_redirects_to_success_url() {
    let sandbox = start().await;
    let order = order_id();
    let html = sandbox.window(&window_query(&order, &[])).await;
    assert!(html.contains(r#"<form id="pay-form" method="post" action="authenticate">"#));
    let hidden = hidden_fields(&html);
    assert_eq!(hidden["successUrl"], SUCCESS_URL);
    assert_eq!(hidden["clientKey"], WIDGET_CLIENT_KEY);

    // What the browser posts: the hidden fields plus the shopper's method and fault.
    let form = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&hidden)
        .append_pair("method", "VIRTUAL_ACCOUNT")
        .append_pair("faults", "late-800")
        .finish();
    let response = sandbox
        .client
        .post(format!("{}/sandbox/authenticate", sandbox.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);

    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(&format!("{SUCCESS_URL}&paymentType=NORMAL&")));
    let success = Url::parse(location).unwrap();
    let query = query_pairs(&success);
    assert_eq!(query["step"], "2");
    assert_eq!(query["paymentType"], "NORMAL");
    assert_eq!(query["orderId"], order);
    assert_eq!(query["amount"], "15000");
    let payment_key = &query["paymentKey"];
    assert!(payment_key.ends_with(".late-800"), "{payment_key}");

    let payment: Value = sandbox
        .get(&format!("/sandbox/payments/{payment_key}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(payment["status"], "IN_PROGRESS", "{payment}");
    assert_eq!(payment["orderName"], "티셔츠 외 1건", "{payment}");
}

#[tokio::test]
async fn the_cancel_link_goes_to_fail_url_with_pay_process_canceled() {
    let sandbox = start().await;
    let order = order_id();
    for (fail_url, separator) in [(FAIL_URL, '?'), ("https://shop.test/fail?x=1", '&')] {
        let html = sandbox
            .window(&window_query(&order, &[("failUrl", fail_url)]))
            .await;
        let cancel = attribute_values(&html, r#"<a id="cancel""#, "href");
        assert_eq!(cancel.len(), 1, "{html}");
        assert!(
            cancel[0].starts_with(&format!("{fail_url}{separator}code=PAY_PROCESS_CANCELED&")),
            "{cancel:?}"
        );
        assert!(cancel[0].contains("&message=%EC%82%AC%EC%9A%A9%EC%9E%90%EA%B0%80%20"));
        let query = query_pairs(&Url::parse(&cancel[0]).unwrap());
        assert_eq!(query["code"], "PAY_PROCESS_CANCELED");
        assert_eq!(query["message"], "사용자가 결제를 취소했습니다");
        assert_eq!(query["orderId"], order);
    }
    // Cancelling issued nothing: the orderId has no payment.
    let lookup = sandbox
        .client
        .get(format!("{}/v1/payments/orders/{order}", sandbox.base))
        .basic_auth(DOCS_TEST_SECRET_KEYS[0], None::<&str>)
        .send()
        .await
        .unwrap();
    assert_eq!(lookup.status(), StatusCode::NOT_FOUND);
}

/// A payment the window's form cannot open (here a method Toss does not offer) sends the
/// shopper to failUrl with Toss's code and message, as Toss's window does, instead of
/// leaving them on an error body; an API-style caller still gets the JSON error.
#[tokio::test]
async fn a_refused_form_goes_to_fail_url_with_the_code() {
    let sandbox = start().await;
    let order = order_id();
    let html = sandbox.window(&window_query(&order, &[])).await;
    let hidden = hidden_fields(&html);
    assert_eq!(hidden["failUrl"], FAIL_URL);
    let form = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&hidden)
        .append_pair("method", "BITCOIN")
        .finish();
    let post = |accept: &'static str| {
        sandbox
            .client
            .post(format!("{}/sandbox/authenticate", sandbox.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", accept)
            .body(form.clone())
            .send()
    };
    let response = post("text/html").await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()["location"].to_str().unwrap();
    assert!(location.starts_with(&format!("{FAIL_URL}?code=NOT_SUPPORTED_METHOD&")));
    let query = query_pairs(&Url::parse(location).unwrap());
    assert_eq!(query["orderId"], order);
    assert!(!query["message"].is_empty());

    let api_style = post("application/json").await.unwrap();
    assert_eq!(api_style.status(), StatusCode::BAD_REQUEST);
    let body: Value = api_style.json().await.unwrap();
    assert_eq!(body["code"], "NOT_SUPPORTED_METHOD");
}
