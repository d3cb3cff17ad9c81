//! Caller identity: tokens from signup and login, the authorizer in front of the payment
//! routes, ownership, and login throttling.

use integration_tests::{Table, TestApp};
use serde_json::json;

#[tokio::test]
async fn signup_and_login_issue_tokens_that_open_the_protected_routes() {
    let app = TestApp::spawn().await;
    app.signup(json!({ "email": "owner@example.com", "password": "correct horse battery" }))
        .await;
    let (status, login) = app
        .post_json(
            "/api/members/login",
            r#"{"email":"Owner@Example.com","password":"correct horse battery"}"#,
        )
        .await;
    assert_eq!(status, 200, "{login}");
    assert_eq!(login["result"]["tokenType"], "Bearer");
    assert_eq!(login["result"]["expiresIn"], 900);
    let member = login["result"]["memberId"].as_u64().unwrap();
    let token = login["result"]["accessToken"].as_str().unwrap();
    let response = app
        .http
        .post(format!("{}/api/payments/toss/checkout", app.base))
        .header("content-type", "application/json")
        .bearer_auth(token)
        .body(json!({ "amount": 5000, "orderName": "포인트 충전" }).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        200,
        "the login token works; memberId may be left out"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["result"]["memberId"].as_u64(), Some(member));
}

#[tokio::test]
async fn wrong_passwords_and_unknown_members_get_the_same_401() {
    let app = TestApp::spawn().await;
    app.signup(json!({ "email": "owner@example.com", "password": "correct horse battery" }))
        .await;
    for body in [
        r#"{"email":"owner@example.com","password":"wrong horse battery"}"#,
        r#"{"email":"nobody@example.com","password":"correct horse battery"}"#,
    ] {
        let (status, reply) = app.post_json("/api/members/login", body).await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (401, Some("INVALID_CREDENTIALS")),
            "{reply}"
        );
    }
    let (status, reply) = app
        .post_json("/api/members/login", r#"{"email":"owner@example.com"}"#)
        .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (400, Some("MISSING_FIELD"))
    );
}

#[tokio::test]
async fn password_guessing_is_throttled_per_email() {
    let app = TestApp::spawn().await;
    app.signup(json!({ "email": "target@example.com", "password": "correct horse battery" }))
        .await;
    let mut statuses = Vec::new();
    for _ in 0..7 {
        let (status, _) = app
            .post_json(
                "/api/members/login",
                r#"{"email":"target@example.com","password":"guess guess"}"#,
            )
            .await;
        statuses.push(status);
    }
    assert_eq!(statuses[..5], [401; 5]);
    assert_eq!(statuses[5..], [429; 2], "{statuses:?}");
    let (status, reply) = app
        .post_json(
            "/api/members/login",
            r#"{"email":"target@example.com","password":"correct horse battery"}"#,
        )
        .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (429, Some("TOO_MANY_REQUESTS")),
        "even the right password waits"
    );
}

#[tokio::test]
async fn protected_routes_need_a_valid_token_and_the_callers_own_orders() {
    let app = TestApp::spawn().await;
    let owner = app.member().await;
    let other = app.member().await;
    let order = app.checkout(owner, 5_000).await;

    let no_token = app
        .http
        .get(format!("{}/api/payments/toss/{order}", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        no_token.status().as_u16(),
        401,
        "API Gateway refuses before any function runs"
    );
    let forged = app
        .http
        .get(format!("{}/api/payments/toss/{order}", app.base))
        .bearer_auth("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.forged")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status().as_u16(), 403);

    let (status, reply) = app
        .get_as(other, &format!("/api/payments/toss/{order}"))
        .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (403, Some("FORBIDDEN_ORDER"))
    );
    let (status, reply) = app
        .get_as(owner, &format!("/api/payments/toss/{order}"))
        .await;
    assert_eq!(
        (status, reply["result"]["status"].as_str()),
        (200, Some("READY"))
    );

    // A body memberId naming someone else is refused, for checkout and confirm alike.
    let (status, reply) = app
        .post_json_as(
            other,
            "/api/payments/toss/checkout",
            &json!({ "amount": 5000, "orderName": "x", "memberId": owner }).to_string(),
        )
        .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (403, Some("FORBIDDEN_MEMBER"))
    );
    let body =
        json!({ "memberId": owner, "paymentKey": "tsbx_x", "orderId": order, "amount": 5000 })
            .to_string();
    let (status, reply) = app
        .post_json_as(other, "/api/payments/toss/confirm", &body)
        .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (403, Some("FORBIDDEN_MEMBER"))
    );
    assert_eq!(app.rows(Table::Payments).await, 1);
}

#[tokio::test]
async fn mass_signups_from_one_client_are_throttled() {
    let limit = app::usecases::signup::AuthLimits::default().signups_per_client;
    let app = TestApp::spawn_with_signup_limit(limit).await;
    let mut refused = 0;
    for i in 0..(2 * limit + 1) {
        let body = json!({
            "name": "홍길동", "email": format!("m{i}@example.com"), "headline": "h", "category": "DEVELOPMENT",
            "careerYears": 1, "region": "SEOUL", "password": "correct horse battery"
        });
        let (status, reply) = app
            .post_json("/api/members/signup", &body.to_string())
            .await;
        match status {
            201 => {}
            429 => {
                assert_eq!(reply["code"], "TOO_MANY_REQUESTS");
                refused += 1;
            }
            other => panic!("{other}: {reply}"),
        }
    }
    // A sliding window: exactly `limit` got through.
    assert_eq!(refused, limit + 1);
    assert_eq!(app.rows(Table::Members).await, i64::from(limit));
}
