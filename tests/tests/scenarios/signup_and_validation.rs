use integration_tests::{Table, TestApp};
use serde_json::{Value, json};

async fn nothing_written(app: &TestApp) {
    assert_eq!(app.rows(Table::Members).await, 0, "no member written");
    assert_eq!(app.rows(Table::Profiles).await, 0, "no profile written");
    // Only the attempt counters of the rate limiter (`…rl:…`) may exist.
    let keys: Vec<String> = app
        .redis_keys()
        .await
        .into_iter()
        .filter(|k| !k.contains(":rl:"))
        .collect();
    assert!(keys.is_empty(), "no view counter written: {keys:?}");
}

fn assert_envelope(status: u16, body: &Value, expected_status: u16, code: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_eq!(body["status"], expected_status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(body["result"].is_null(), "{body}");
}

fn valid() -> Value {
    json!({
        "name": "박서준", "email": "seojun@example.com", "headline": "데이터 엔지니어",
        "category": "DEVELOPMENT", "careerYears": 5, "region": "SEOUL", "introduction": "안녕하세요",
        "password": "correct horse battery"
    })
}

fn with(field: &str, value: Value) -> String {
    let mut body = valid();
    body[field] = value;
    body.to_string()
}

fn without(field: &str) -> String {
    let mut body = valid();
    body.as_object_mut().unwrap().remove(field);
    body.to_string()
}

#[tokio::test]
async fn bad_signups_get_a_4xx_envelope_and_write_nothing() {
    let app = TestApp::spawn().await;
    let huge = "x".repeat(20_000);
    let cases: Vec<(String, u16, &str)> = vec![
        ("{not json".into(), 400, "INVALID_JSON"),
        ("".into(), 400, "INVALID_JSON"),
        ("[1,2]".into(), 400, "INVALID_JSON"),
        ("null".into(), 400, "INVALID_JSON"),
        (without("name"), 400, "MISSING_FIELD"),
        (without("email"), 400, "MISSING_FIELD"),
        (without("careerYears"), 400, "MISSING_FIELD"),
        (without("password"), 400, "MISSING_FIELD"),
        (with("password", json!("short")), 400, "INVALID_FIELD"),
        (with("name", json!("가".repeat(51))), 400, "INVALID_FIELD"),
        (with("name", json!("   ")), 400, "INVALID_FIELD"),
        (
            with("headline", json!("h".repeat(101))),
            400,
            "INVALID_FIELD",
        ),
        (
            with("introduction", json!("i".repeat(2001))),
            400,
            "INVALID_FIELD",
        ),
        (with("email", json!("not-an-email")), 400, "INVALID_EMAIL"),
        (with("email", json!("a@b")), 400, "INVALID_EMAIL"),
        (with("careerYears", json!("ten")), 400, "INVALID_FIELD"),
        (with("careerYears", json!(-1)), 400, "INVALID_FIELD"),
        (with("careerYears", json!(1e20)), 400, "INVALID_FIELD"),
        (with("category", json!("ASTROLOGY")), 400, "INVALID_FIELD"),
        (with("region", json!(7)), 400, "INVALID_FIELD"),
        (with("name", json!(huge)), 413, "PAYLOAD_TOO_LARGE"),
    ];
    for (body, status, code) in cases {
        let (got_status, reply) = app.post_json("/api/members/signup", &body).await;
        assert_envelope(got_status, &reply, status, code);
    }
    let response = app
        .http
        .post(format!("{}/api/members/signup", app.base))
        .header("content-type", "text/plain")
        .body(valid().to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    nothing_written(&app).await;
}

#[tokio::test]
async fn duplicate_email_is_409_whatever_its_case() {
    let app = TestApp::spawn().await;
    let (status, first) = app
        .post_json("/api/members/signup", &valid().to_string())
        .await;
    assert_eq!(status, 201, "{first}");
    assert!(
        first["result"]["memberId"].as_u64().is_some()
            && first["result"]["profileId"].as_u64().is_some()
    );
    let (status, reply) = app
        .post_json(
            "/api/members/signup",
            &with("email", json!("SeoJun@Example.com")),
        )
        .await;
    assert_envelope(status, &reply, 409, "DUPLICATE_EMAIL");
    assert_eq!(app.rows(Table::Members).await, 1);
    assert_eq!(app.rows(Table::Profiles).await, 1);
}

#[tokio::test]
async fn bad_profile_requests_get_a_4xx_envelope_and_count_nothing() {
    let app = TestApp::spawn().await;
    let cases: Vec<(&str, u16, &str)> = vec![
        ("/api/profiles/abc", 400, "INVALID_PROFILE_ID"),
        ("/api/profiles/0", 400, "INVALID_PROFILE_ID"),
        ("/api/profiles/-5", 400, "INVALID_PROFILE_ID"),
        (
            "/api/profiles/99999999999999999999999",
            400,
            "INVALID_PROFILE_ID",
        ),
        ("/api/profiles/12345", 404, "PROFILE_NOT_FOUND"),
        ("/api/profiles/1", 404, "PROFILE_NOT_FOUND"),
        ("/api/profiles?cursor=garbage", 400, "INVALID_CURSOR"),
        ("/api/profiles?cursor=cDE6YWJj", 400, "INVALID_CURSOR"),
        ("/api/profiles?size=0", 400, "INVALID_PAGE_SIZE"),
        ("/api/profiles?size=101", 400, "INVALID_PAGE_SIZE"),
        ("/api/profiles?size=abc", 400, "INVALID_PAGE_SIZE"),
        ("/api/profiles?category=NOPE", 400, "INVALID_FIELD"),
        ("/api/profiles?minCareerYears=-1", 400, "INVALID_FIELD"),
        ("/api/profiles?sort=RANDOM", 400, "INVALID_FIELD"),
        ("/api/nowhere", 404, "ROUTE_NOT_FOUND"),
    ];
    for (path, status, code) in cases {
        let (got_status, reply) = app.get(path, None).await;
        assert_envelope(got_status, &reply, status, code);
    }
    nothing_written(&app).await;
}

#[tokio::test]
async fn whole_numbers_written_as_floats_are_integers() {
    let app = TestApp::spawn().await;
    let (status, reply) = app
        .post_json("/api/members/signup", &with("careerYears", json!(10.0)))
        .await;
    assert_eq!(status, 201, "{reply}");
    let (status, reply) = app
        .post_json(
            "/api/members/signup",
            &with("careerYears", json!(10.5)).replace("seojun@", "other@"),
        )
        .await;
    assert_envelope(status, &reply, 400, "INVALID_FIELD");
}
