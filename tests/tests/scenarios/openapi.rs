//! `shared/api/openapi.yaml` describes the API the code serves: exactly the routes of
//! `HttpFunction`, bearer security exactly where the authorizer sits, every error code a
//! handler can produce, and real answers that fit the documented response schemas.

use api::routes::HttpFunction;
use integration_tests::TestApp;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

struct Document {
    root: Yaml,
}

/// One documented operation.
struct Operation<'a> {
    method: String,
    path: String,
    spec: &'a Yaml,
}

impl Document {
    fn load() -> Self {
        let path = repo_root().join("shared/api/openapi.yaml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let root = YamlLoader::load_from_str(&text)
            .expect("openapi.yaml is YAML")
            .remove(0);
        assert_eq!(root["openapi"].as_str(), Some("3.1.0"));
        Self { root }
    }

    fn operations(&self) -> Vec<Operation<'_>> {
        let mut operations = Vec::new();
        for (path, item) in self.root["paths"].as_hash().expect("paths") {
            let path = path.as_str().expect("path keys are strings");
            for (method, spec) in item.as_hash().expect("path item") {
                let method = method.as_str().expect("method keys are strings");
                if HTTP_METHODS.contains(&method) {
                    operations.push(Operation {
                        method: method.to_uppercase(),
                        path: path.to_owned(),
                        spec,
                    });
                }
            }
        }
        operations
    }

    fn operation(&self, function: HttpFunction) -> &Yaml {
        let op = &self.root["paths"][function.path()][function.method().to_lowercase().as_str()];
        assert!(
            !op.is_badvalue(),
            "{} {} is documented",
            function.method(),
            function.path()
        );
        op
    }

    /// Follows `$ref`s (local ones only) until a value that is not one.
    fn resolve<'a>(&'a self, mut node: &'a Yaml) -> &'a Yaml {
        for _ in 0..32 {
            let Some(reference) = node["$ref"].as_str() else {
                return node;
            };
            let pointer = reference
                .strip_prefix("#/")
                .unwrap_or_else(|| panic!("only local references: {reference}"));
            node = pointer.split('/').fold(&self.root, |n, key| &n[key]);
            assert!(!node.is_badvalue(), "dangling reference {reference}");
        }
        panic!("reference cycle");
    }

    /// The documented response of `function` for `status`.
    fn response(&self, function: HttpFunction, status: u16) -> &Yaml {
        let response = &self.operation(function)["responses"][status.to_string().as_str()];
        assert!(
            !response.is_badvalue(),
            "{} {} documents status {status}",
            function.method(),
            function.path()
        );
        self.resolve(response)
    }

    /// Codes narrowed for one response: those of its own branches, without the blanket
    /// `ErrorCode` list that the envelope base admits.
    fn response_codes(&self, function: HttpFunction, status: u16) -> BTreeSet<String> {
        let schema = &self.response(function, status)["content"]["application/json"]["schema"];
        let mut all = BTreeSet::new();
        self.narrowed_codes(schema, &mut all);
        all
    }

    fn narrowed_codes(&self, schema: &Yaml, into: &mut BTreeSet<String>) {
        // `code` properties that are not a bare reference to the blanket list.
        let schema = self.resolve(schema);
        let code = &schema["properties"]["code"];
        if code["$ref"].is_badvalue() {
            if let Some(c) = code["const"].as_str() {
                into.insert(c.to_owned());
            }
            for c in code["enum"].as_vec().into_iter().flatten() {
                into.insert(c.as_str().unwrap().to_owned());
            }
        }
        for combinator in ["allOf", "anyOf", "oneOf"] {
            for branch in schema[combinator].as_vec().into_iter().flatten() {
                self.narrowed_codes(branch, into);
            }
        }
    }

    /// Checks `value` against `schema` with a JSON Schema 2020-12 validator (OpenAPI 3.1
    /// schemas are JSON Schema 2020-12). The document's components travel with the
    /// schema, so its `#/components/...` references resolve. Returns what does not fit.
    fn validate(&self, schema: &Yaml, value: &Value, at: &str) -> Vec<String> {
        let mut schema = yaml_to_json(schema);
        if let Value::Object(map) = &mut schema {
            map.insert("components".into(), yaml_to_json(&self.root["components"]));
        }
        let validator = jsonschema::draft202012::new(&schema)
            .unwrap_or_else(|e| panic!("{at}: the documented schema does not compile: {e}"));
        validator
            .iter_errors(value)
            .map(|e| format!("{at}{}: {e}", e.instance_path()))
            .collect()
    }
}

/// The JSON form of a YAML node (the document uses only JSON-compatible YAML).
fn yaml_to_json(yaml: &Yaml) -> Value {
    match yaml {
        Yaml::Real(r) => r.parse::<f64>().map_or(Value::Null, |f| json!(f)),
        Yaml::Integer(i) => json!(i),
        Yaml::String(s) => json!(s),
        Yaml::Boolean(b) => json!(b),
        Yaml::Array(items) => Value::Array(items.iter().map(yaml_to_json).collect()),
        Yaml::Hash(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        other => panic!("a non-string key in openapi.yaml: {other:?}"),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Yaml::Null => Value::Null,
        other => panic!("YAML without a JSON form in openapi.yaml: {other:?}"),
    }
}

fn has_bearer_security(doc: &Document, op: &Yaml) -> bool {
    let security = if op["security"].is_badvalue() {
        &doc.root["security"]
    } else {
        &op["security"]
    };
    security
        .as_vec()
        .into_iter()
        .flatten()
        .filter_map(Yaml::as_hash)
        .flat_map(|requirement| requirement.keys())
        .filter_map(Yaml::as_str)
        .any(|scheme| {
            let scheme = &doc.root["components"]["securitySchemes"][scheme];
            scheme["type"].as_str() == Some("http")
                && scheme["scheme"].as_str() == Some("bearer")
                && scheme["bearerFormat"].as_str() == Some("JWT")
        })
}

#[test]
fn the_document_has_exactly_the_routes_the_code_serves() {
    let doc = Document::load();
    let documented: BTreeSet<(String, String)> = doc
        .operations()
        .iter()
        .map(|op| (op.method.clone(), op.path.clone()))
        .collect();
    let served: BTreeSet<(String, String)> = HttpFunction::ALL
        .iter()
        .map(|f| (f.method().to_owned(), f.path().to_owned()))
        .collect();
    assert_eq!(documented, served);
    for function in HttpFunction::ALL {
        let op = doc.operation(function);
        assert_eq!(
            op["operationId"].as_str(),
            Some(function.name()),
            "operationId = the function's name"
        );
        // Path parameters are documented as such, and only those of the path.
        let in_path: BTreeSet<String> = function
            .path()
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(str::to_owned)
            .collect();
        let documented: BTreeSet<String> = op["parameters"]
            .as_vec()
            .into_iter()
            .flatten()
            .map(|p| doc.resolve(p))
            .filter(|p| p["in"].as_str() == Some("path"))
            .map(|p| {
                assert_eq!(p["required"].as_bool(), Some(true));
                p["name"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(documented, in_path, "{}", function.name());
    }
}

#[test]
fn bearer_security_is_documented_exactly_on_the_routes_behind_the_authorizer() {
    let doc = Document::load();
    for function in HttpFunction::ALL {
        let op = doc.operation(function);
        assert_eq!(
            has_bearer_security(&doc, op),
            function.requires_token(),
            "{} {}",
            function.method(),
            function.path()
        );
        if function.requires_token() {
            // API Gateway's own answers for a missing and a refused token.
            let unauthorized = doc.response(function, 401);
            let forbidden = doc.response(function, 403);
            let schema = |r: &Yaml| r["content"]["application/json"]["schema"].clone();
            for (response, body) in [
                (unauthorized, json!({"message": "Unauthorized"})),
                (forbidden, json!({"message": "Forbidden"})),
            ] {
                let errors = doc.validate(&schema(response), &body, "body");
                assert!(errors.is_empty(), "{}: {errors:?}", function.name());
            }
        }
    }
}

/// `ErrorCode` variant → its string, from the enum itself.
fn error_code_strings() -> Vec<(String, String)> {
    domain::ErrorCode::all()
        .map(|code| (format!("{code:?}"), code.as_str().to_owned()))
        .collect()
}

/// Rust sources of the deployed functions and the local gateway, test modules left out.
fn production_sources(dir: &Path, into: &mut Vec<(PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if path
                .file_name()
                .is_some_and(|n| n != "target" && n != "tests")
            {
                production_sources(&path, into);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            let text = match text.find("#[cfg(test)]\nmod ") {
                Some(i) => text[..i].to_owned(),
                None => text,
            };
            into.push((path, text));
        }
    }
}

#[test]
fn every_error_code_a_handler_can_produce_is_documented_and_no_other() {
    let doc = Document::load();
    let arms = error_code_strings();
    let mut sources = Vec::new();
    production_sources(&repo_root().join("shared"), &mut sources);
    production_sources(&repo_root().join("infra/local/gateway/src"), &mut sources);
    // error.rs itself: only what follows the enum and `as_str` (the `missing`/`invalid`
    // helpers) produces codes.
    for (path, text) in &mut sources {
        if path.ends_with("shared/domain/src/error.rs") {
            let start = text.find("pub enum ErrorCode").expect("the enum");
            let end = text
                .find("impl fmt::Display for ErrorCode")
                .expect("Display after as_str");
            text.replace_range(start..end, "");
        }
    }
    let produced: BTreeSet<String> = arms
        .iter()
        .filter(|(variant, _)| {
            let needle = format!("ErrorCode::{variant}");
            sources.iter().any(|(_, text)| {
                text.match_indices(&needle).any(|(i, _)| {
                    // `ErrorCode::Invalid` must not count as a use of `ErrorCode::InvalidJson`.
                    !text[i + needle.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
                })
            })
        })
        .map(|(_, code)| code.clone())
        .collect();
    let known: BTreeSet<String> = arms.iter().map(|(_, code)| code.clone()).collect();
    assert!(produced.contains("INVALID_JSON") && produced.contains("PAYMENT_PENDING"));

    // The blanket list of every code.
    let listed: BTreeSet<String> = doc.root["components"]["schemas"]["ErrorCode"]["enum"]
        .as_vec()
        .expect("components.schemas.ErrorCode.enum")
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        listed,
        produced,
        "ErrorCode lists exactly the codes handlers produce (never produced: {:?})",
        known.difference(&produced).collect::<Vec<_>>()
    );

    // And each code is narrowed into at least one concrete response: of an operation, or
    // one of the gateway's own in components.responses.
    let mut narrowed = BTreeSet::new();
    for op in doc.operations() {
        for (_, response) in op.spec["responses"].as_hash().expect("responses") {
            let response = doc.resolve(response);
            doc.narrowed_codes(
                &response["content"]["application/json"]["schema"],
                &mut narrowed,
            );
        }
    }
    for (_, response) in doc.root["components"]["responses"].as_hash().unwrap() {
        doc.narrowed_codes(
            &response["content"]["application/json"]["schema"],
            &mut narrowed,
        );
    }
    narrowed.remove("SUCCESS");
    let missing: Vec<_> = produced.difference(&narrowed).collect();
    assert!(
        missing.is_empty(),
        "codes no response documents: {missing:?}"
    );
    let unknown: Vec<_> = narrowed.difference(&known).collect();
    assert!(
        unknown.is_empty(),
        "documented codes ErrorCode lacks: {unknown:?}"
    );
    let never: Vec<_> = narrowed.difference(&produced).collect();
    assert!(
        never.is_empty(),
        "documented codes nothing produces: {never:?}"
    );
}

/// One real answer.
struct Answer {
    status: u16,
    content_type: String,
    replayed: bool,
    body: Value,
}

async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<String>,
) -> Answer {
    let mut request = app.http.request(
        method.parse().expect("method"),
        format!("{}{path}", app.base),
    );
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if let Some(body) = body {
        request = request.body(body);
    }
    let response = request.send().await.expect("request sent");
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    let content_type = header("content-type");
    let replayed = header("idempotent-replayed") == "true";
    let text = response.text().await.unwrap();
    let body =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {path}: not JSON: {text}"));
    Answer {
        status,
        content_type,
        replayed,
        body,
    }
}

const JSON: (&str, &str) = ("content-type", "application/json");

/// Asserts that the answer is one `function` documents: status, media type, headers,
/// envelope (`status` = HTTP status, `code` among the codes of that status) and schema.
fn conforms(doc: &Document, function: HttpFunction, answer: &Answer) {
    let what = format!(
        "{} {} -> {} {}",
        function.method(),
        function.path(),
        answer.status,
        answer.body
    );
    let response = doc.response(function, answer.status);
    let media = answer
        .content_type
        .split(';')
        .next()
        .unwrap()
        .trim()
        .to_owned();
    let schema = &response["content"][media.as_str()]["schema"];
    assert!(
        !schema.is_badvalue(),
        "{what}: media type {media} documented"
    );
    if answer.replayed {
        assert!(
            !response["headers"]["idempotent-replayed"].is_badvalue(),
            "{what}: idempotent-replayed documented"
        );
    }
    if answer.body.get("code").is_some() {
        assert_eq!(
            answer.body["status"], answer.status,
            "{what}: envelope status"
        );
        let keys: BTreeSet<&str> = answer
            .body
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            BTreeSet::from(["status", "message", "code", "result"]),
            "{what}"
        );
        let codes = doc.response_codes(function, answer.status);
        let code = answer.body["code"].as_str().unwrap();
        assert!(codes.contains(code), "{what}: code {code} not in {codes:?}");
    }
    let errors = doc.validate(schema, &answer.body, "body");
    assert!(errors.is_empty(), "{what}: {errors:#?}");
}

fn signup_body() -> Value {
    json!({
        "name": " 김민수 ", "email": "Minsu@Example.com", "headline": "백엔드 멘토",
        "category": "DEVELOPMENT", "careerYears": 7, "region": "SEOUL",
        "introduction": "Rust와 AWS를 가르칩니다", "password": "correct horse battery",
    })
}

/// Real answers of signup and login (created, refused, throttled) fit the document.
#[tokio::test]
async fn member_answers_fit_the_documented_responses() {
    let doc = Document::load();
    let app = TestApp::spawn().await;
    let check = |function, answer: &Answer| conforms(&doc, function, answer);
    use HttpFunction::*;

    let signup_body = signup_body();
    let signed_up = send(
        &app,
        "POST",
        Signup.path(),
        None,
        &[JSON],
        Some(signup_body.to_string()),
    )
    .await;
    assert_eq!(signed_up.status, 201);
    check(Signup, &signed_up);
    let duplicate = send(
        &app,
        "POST",
        Signup.path(),
        None,
        &[JSON],
        Some(signup_body.to_string()),
    )
    .await;
    assert_eq!(duplicate.status, 409);
    check(Signup, &duplicate);
    for (body, status) in [
        (json!({"name": "x"}).to_string(), 400),
        (json!({"email": "not-an-email"}).to_string(), 400),
        ("[1, 2]".to_owned(), 400),
        ("{".to_owned(), 400),
    ] {
        let answer = send(&app, "POST", Signup.path(), None, &[JSON], Some(body)).await;
        assert_eq!(answer.status, status, "{}", answer.body);
        check(Signup, &answer);
    }
    let wrong_type = send(
        &app,
        "POST",
        Signup.path(),
        None,
        &[("content-type", "text/plain")],
        Some(signup_body.to_string()),
    )
    .await;
    assert_eq!(wrong_type.status, 415);
    check(Signup, &wrong_type);
    let too_large = send(
        &app,
        "POST",
        Signup.path(),
        None,
        &[JSON],
        Some(json!({ "name": "x".repeat(20_000) }).to_string()),
    )
    .await;
    assert_eq!(too_large.status, 413);
    check(Signup, &too_large);

    let login =
        |password: &str| json!({ "email": "minsu@example.com", "password": password }).to_string();
    let logged_in = send(
        &app,
        "POST",
        Login.path(),
        None,
        &[JSON],
        Some(login("correct horse battery")),
    )
    .await;
    assert_eq!(logged_in.status, 200);
    check(Login, &logged_in);
    let refused = send(
        &app,
        "POST",
        Login.path(),
        None,
        &[JSON],
        Some(login("wrong horse battery")),
    )
    .await;
    assert_eq!(refused.status, 401);
    check(Login, &refused);
    // 5 logins per e-mail in a minute window: 12 attempts meet the limit even if they
    // straddle a window boundary.
    let mut throttled = false;
    for _ in 0..12 {
        let answer = send(
            &app,
            "POST",
            Login.path(),
            None,
            &[JSON],
            Some(login("guess guess")),
        )
        .await;
        check(Login, &answer);
        throttled = answer.status == 429;
        if throttled {
            break;
        }
    }
    assert!(throttled, "login attempts are limited per e-mail");
}

/// Real answers of the profile routes (found, missing, malformed, listed) fit the document.
#[tokio::test]
async fn profile_answers_fit_the_documented_responses() {
    let doc = Document::load();
    let app = TestApp::spawn().await;
    let check = |function, answer: &Answer| conforms(&doc, function, answer);
    use HttpFunction::*;

    let signed_up = send(
        &app,
        "POST",
        Signup.path(),
        None,
        &[JSON],
        Some(signup_body().to_string()),
    )
    .await;
    assert_eq!(signed_up.status, 201, "{}", signed_up.body);

    let profile = signed_up.body["result"]["profileId"].as_u64().unwrap();
    for (path, status) in [
        (format!("/api/profiles/{profile}"), 200),
        ("/api/profiles/999999".to_owned(), 404),
        ("/api/profiles/abc".to_owned(), 400),
    ] {
        let answer = send(&app, "GET", &path, None, &[], None).await;
        assert_eq!(answer.status, status, "{path}");
        check(GetProfile, &answer);
    }
    app.signup(json!({ "name": "가나다" })).await;
    let first_page = send(
        &app,
        "GET",
        "/api/profiles?size=1&sort=NAME",
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(first_page.status, 200);
    check(ListProfiles, &first_page);
    let cursor = first_page.body["result"]["nextCursor"]
        .as_str()
        .expect("a second page")
        .to_owned();
    for (query, status) in [
        (
            format!(
                "?cursor={cursor}&category=DEVELOPMENT&region=SEOUL&minCareerYears=5&keyword=%EA%B9%80"
            ),
            200,
        ),
        ("?cursor=bm9wZQ".to_owned(), 400),
        ("?size=0".to_owned(), 400),
        ("?category=ASTROLOGY".to_owned(), 400),
    ] {
        let answer = send(
            &app,
            "GET",
            &format!("/api/profiles{query}"),
            None,
            &[],
            None,
        )
        .await;
        assert_eq!(answer.status, status, "{query}: {}", answer.body);
        check(ListProfiles, &answer);
    }

    let token = signed_up.body["result"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    for (body, token, status) in [
        (
            r#"{"headline": "데이터 엔지니어", "careerYears": 12}"#,
            Some(&token),
            200,
        ),
        (r#"{}"#, Some(&token), 400),
        (r#"{"careerYears": 71}"#, Some(&token), 400),
        (r#"{"name": "새 이름"}"#, Some(&token), 400),
        (r#"not json"#, Some(&token), 400),
        (r#"{"headline": "x"}"#, None, 401),
    ] {
        let token = token.map(String::as_str);
        let answer = send(
            &app,
            "PATCH",
            EditProfile.path(),
            token,
            &[JSON],
            Some(body.into()),
        )
        .await;
        assert_eq!(answer.status, status, "{body}: {}", answer.body);
        check(EditProfile, &answer);
    }
}

/// Real answers of checkout, confirm and status fit the document.
#[tokio::test]
async fn payment_answers_fit_the_documented_responses() {
    let doc = Document::load();
    let app = TestApp::spawn().await;
    let check = |function, answer: &Answer| conforms(&doc, function, answer);
    use HttpFunction::*;

    // As the member `app.member()` signs up.
    let member = app.member().await;
    let token = app.token(member);
    let token = Some(token.as_str());
    let checkout =
        |amount: u64| json!({ "amount": amount, "orderName": "포인트 충전" }).to_string();
    let created = send(
        &app,
        "POST",
        Checkout.path(),
        token,
        &[JSON, ("idempotency-key", "openapi-1")],
        Some(checkout(5_000)),
    )
    .await;
    assert_eq!(created.status, 200);
    check(Checkout, &created);
    let replayed = send(
        &app,
        "POST",
        Checkout.path(),
        token,
        &[JSON, ("idempotency-key", "openapi-1")],
        Some(checkout(5_000)),
    )
    .await;
    assert!(replayed.replayed && replayed.status == 200);
    check(Checkout, &replayed);
    let reused = send(
        &app,
        "POST",
        Checkout.path(),
        token,
        &[JSON, ("idempotency-key", "openapi-1")],
        Some(checkout(6_000)),
    )
    .await;
    assert_eq!(reused.status, 422);
    check(Checkout, &reused);
    for (token, headers, body, status) in [
        (None, vec![JSON], checkout(5_000), 401),
        (Some("not-a-token"), vec![JSON], checkout(5_000), 403),
        (
            token,
            vec![JSON],
            json!({ "amount": 100, "orderName": "x", "memberId": member + 1000 }).to_string(),
            403,
        ),
        (token, vec![JSON], checkout(99), 400),
        (
            token,
            vec![JSON, ("idempotency-key", "has space")],
            checkout(5_000),
            400,
        ),
        (
            token,
            vec![("content-type", "application/xml")],
            checkout(5_000),
            415,
        ),
    ] {
        let answer = send(&app, "POST", Checkout.path(), token, &headers, Some(body)).await;
        assert_eq!(answer.status, status, "{}", answer.body);
        check(Checkout, &answer);
    }

    let order_id = created.body["result"]["orderId"]
        .as_str()
        .unwrap()
        .to_owned();
    for (path, token, status) in [
        (format!("/api/payments/toss/{order_id}"), token, 200),
        ("/api/payments/toss/ord_unknown".to_owned(), token, 404),
        ("/api/payments/toss/x".to_owned(), token, 400),
        (format!("/api/payments/toss/{order_id}"), None, 401),
    ] {
        let answer = send(&app, "GET", &path, token, &[], None).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.body);
        check(PaymentStatus, &answer);
    }

    let confirm = |payment_key: &str, order_id: &str, amount: u64| {
        json!({ "paymentKey": payment_key, "orderId": order_id, "amount": amount, "memberId": member })
            .to_string()
    };
    let payment_key = app.authenticate(&order_id, 5_000, "").await;
    for (body, status) in [
        (confirm(&payment_key, &order_id, 4_000), 400),
        (confirm(&payment_key, "ord_unknown", 5_000), 404),
        (confirm(&payment_key, &order_id, 5_000), 200),
        (confirm("another-key", &order_id, 5_000), 409),
        (json!({ "orderId": order_id }).to_string(), 400),
    ] {
        let answer = send(&app, "POST", Confirm.path(), token, &[JSON], Some(body)).await;
        assert_eq!(answer.status, status, "{}", answer.body);
        check(Confirm, &answer);
    }
    // Toss does not know this paymentKey: the payment fails, and says so with its body.
    let failing = send(
        &app,
        "POST",
        Checkout.path(),
        token,
        &[JSON],
        Some(checkout(1_000)),
    )
    .await;
    let failing = failing.body["result"]["orderId"]
        .as_str()
        .unwrap()
        .to_owned();
    let failed = send(
        &app,
        "POST",
        Confirm.path(),
        token,
        &[JSON],
        Some(confirm("tsbx_unknown", &failing, 1_000)),
    )
    .await;
    assert_eq!(
        (failed.status, failed.body["code"].as_str()),
        (400, Some("PAYMENT_FAILED"))
    );
    check(Confirm, &failed);

    // Refunds of the confirmed purchase: refused by the policy, then done, then nothing left.
    let refund_path = format!("/api/payments/toss/{order_id}/refund");
    for (body, status) in [
        (json!({}).to_string(), 400),
        (
            json!({ "reason": "초과", "amount": 5_001 }).to_string(),
            422,
        ),
        (json!({ "reason": "단순 변심" }).to_string(), 200),
        (json!({ "reason": "다시" }).to_string(), 409),
    ] {
        let answer = send(&app, "POST", &refund_path, token, &[JSON], Some(body)).await;
        assert_eq!(answer.status, status, "{}", answer.body);
        check(Refund, &answer);
    }
    let answer = send(
        &app,
        "POST",
        "/api/payments/toss/ord_unknown/refund",
        token,
        &[JSON],
        Some(json!({ "reason": "x" }).to_string()),
    )
    .await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    check(Refund, &answer);

    // The account and the history after the confirmed purchase.
    let profile_cursor = domain::Cursor { before_id: 5 }.encode();
    for (function, path, token, status) in [
        (GetMe, "/api/members/me".to_owned(), token, 200),
        (GetMe, "/api/members/me".to_owned(), None, 401),
        (
            GetMe,
            "/api/members/me".to_owned(),
            Some("not-a-token"),
            403,
        ),
        (MyPoints, "/api/members/me/points".to_owned(), token, 200),
        (
            MyPoints,
            "/api/members/me/points?size=0".to_owned(),
            token,
            400,
        ),
        (
            MyPoints,
            format!("/api/members/me/points?cursor={profile_cursor}"),
            token,
            400,
        ),
        (MyPoints, "/api/members/me/points".to_owned(), None, 401),
    ] {
        let answer = send(&app, "GET", &path, token, &[], None).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.body);
        check(function, &answer);
    }
}

/// The local gateway's answers outside the routes fit the document's gateway responses.
#[tokio::test]
async fn gateway_answers_fit_the_documented_responses() {
    let doc = Document::load();
    let app = TestApp::spawn().await;
    for (method, path, name, status) in [
        ("GET", "/api/nothing-here", "RouteNotFound", 404),
        ("DELETE", "/api/profiles", "MethodNotAllowed", 405),
    ] {
        let answer = send(&app, method, path, None, &[], None).await;
        assert_eq!(answer.status, status);
        let schema =
            &doc.root["components"]["responses"][name]["content"]["application/json"]["schema"];
        let errors = doc.validate(schema, &answer.body, "body");
        assert!(errors.is_empty(), "{method} {path}: {errors:?}");
    }
}
