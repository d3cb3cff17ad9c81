//! What is deployed and what is tested are the same thing: `template.yaml` declares exactly
//! the routes and schedules the code (and the local gateway) serves, one function per
//! crate under `functions/`, and every function has a sample event that its handler takes.

use api::jobs::ScheduledFunction;
use api::routes::HttpFunction;
use integration_tests::TestApp;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use yaml_rust2::{Yaml, YamlLoader};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn template() -> Yaml {
    let text = std::fs::read_to_string(repo_root().join("template.yaml")).expect("template.yaml");
    YamlLoader::load_from_str(&text)
        .expect("template.yaml is YAML")
        .remove(0)
}

fn text(yaml: &Yaml) -> String {
    match yaml {
        Yaml::String(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        other => panic!("expected a string, found {other:?}"),
    }
}

struct Declared {
    binaries: BTreeSet<String>,
    routes: BTreeSet<(String, String, String)>,
    schedules: BTreeSet<(String, String, String)>,
}

fn declared() -> Declared {
    let template = template();
    let mut declared = Declared {
        binaries: BTreeSet::new(),
        routes: BTreeSet::new(),
        schedules: BTreeSet::new(),
    };
    for (_, resource) in template["Resources"].as_hash().expect("Resources") {
        if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
            continue;
        }
        assert_eq!(
            resource["Metadata"]["BuildMethod"].as_str(),
            Some("rust-cargolambda")
        );
        let binary = text(&resource["Metadata"]["BuildProperties"]["Binary"]);
        declared.binaries.insert(binary.clone());
        let Some(events) = resource["Properties"]["Events"].as_hash() else {
            continue;
        };
        for (_, event) in events {
            let props = &event["Properties"];
            match event["Type"].as_str() {
                Some("HttpApi") => {
                    assert_eq!(
                        props["PayloadFormatVersion"].as_str(),
                        Some("2.0"),
                        "{binary}: payload v2"
                    );
                    declared.routes.insert((
                        text(&props["Method"]),
                        text(&props["Path"]),
                        binary.clone(),
                    ));
                }
                Some("ScheduleV2") => {
                    assert_eq!(
                        props["ScheduleExpressionTimezone"].as_str(),
                        Some("Asia/Seoul"),
                        "{binary}"
                    );
                    declared.schedules.insert((
                        text(&props["ScheduleExpression"]),
                        binary.clone(),
                        "Asia/Seoul".into(),
                    ));
                }
                other => panic!("{binary}: unexpected event type {other:?}"),
            }
        }
    }
    declared
}

#[test]
fn template_declares_exactly_the_functions_routes_and_schedules_the_code_serves() {
    let declared = declared();
    let served_routes: BTreeSet<_> = HttpFunction::ALL
        .iter()
        .map(|f| {
            (
                f.method().to_owned(),
                f.path().to_owned(),
                f.name().to_owned(),
            )
        })
        .collect();
    let served_schedules: BTreeSet<_> = ScheduledFunction::ALL
        .iter()
        .map(|f| {
            (
                f.schedule().to_owned(),
                f.name().to_owned(),
                "Asia/Seoul".to_owned(),
            )
        })
        .collect();
    assert_eq!(declared.routes, served_routes);
    assert_eq!(declared.schedules, served_schedules);

    let crates: BTreeSet<String> = std::fs::read_dir(repo_root().join("functions"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let code: BTreeSet<String> = HttpFunction::ALL
        .iter()
        .map(|f| f.name())
        .chain(ScheduledFunction::ALL.iter().map(|f| f.name()))
        .chain(["authorizer", "migrate"])
        .map(str::to_owned)
        .collect();
    assert_eq!(
        declared.binaries, crates,
        "template functions = crates under functions/"
    );
    assert_eq!(
        code, crates,
        "HttpFunction + ScheduledFunction = crates under functions/"
    );
}

#[tokio::test]
async fn every_sample_event_is_handled_by_its_function() {
    let app = TestApp::spawn().await;
    // The signup sample creates member and profile 1, which the later samples ask for, with
    // the credentials of the login sample.
    for function in HttpFunction::ALL {
        let path = repo_root()
            .join("events")
            .join(format!("{}.json", function.name()));
        let event = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{path:?}"));
        let request =
            lambda_http::request::from_str(&event).unwrap_or_else(|e| panic!("{path:?}: {e}"));
        let response = function.handle(&app.services, request).await;
        let status = response.status().as_u16();
        let body: serde_json::Value = match response.body() {
            lambda_http::Body::Text(text) => serde_json::from_str(text).unwrap(),
            other => panic!("{other:?}"),
        };
        // The payment samples name an order this fresh database does not have.
        let expected = match function {
            HttpFunction::Confirm | HttpFunction::PaymentStatus | HttpFunction::Refund => {
                "PAYMENT_NOT_FOUND"
            }
            _ => "SUCCESS",
        };
        assert_eq!(
            body["code"],
            expected,
            "{}: {status} {body}",
            function.name()
        );
        assert_eq!(body["status"], status, "{}", function.name());
    }
    for function in ScheduledFunction::ALL {
        let path = repo_root()
            .join("events")
            .join(format!("{}.json", function.name()));
        let event: aws_lambda_events::eventbridge::EventBridgeEvent =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap())
                .unwrap_or_else(|e| panic!("{path:?}: {e}"));
        assert!(event.time.is_some(), "{path:?} carries the scheduled time");
        let invocation =
            lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
        function
            .handle(&app.services, invocation)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", function.name()));
    }
}

/// Each function runs with only the clients its route or job declares (`needs`): a
/// handler that touched another would panic here, as it would in its deployed function.
#[tokio::test]
async fn every_function_runs_with_only_the_clients_it_declares() {
    let app = TestApp::spawn().await;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let own = |needs| {
        api::services::Services::for_needs(
            &app.settings,
            &aws,
            api::services::CallBudget::REQUEST,
            needs,
        )
        .expect("services")
    };
    for function in HttpFunction::ALL {
        let path = repo_root()
            .join("events")
            .join(format!("{}.json", function.name()));
        let event = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{path:?}"));
        let request = lambda_http::request::from_str(&event).unwrap();
        let services = own(function.route().needs);
        let response = function.handle(&services, request).await;
        assert!(
            response.status().as_u16() < 500,
            "{}: {}",
            function.name(),
            response.status()
        );
    }
    for function in ScheduledFunction::ALL {
        let path = repo_root()
            .join("events")
            .join(format!("{}.json", function.name()));
        let event: aws_lambda_events::eventbridge::EventBridgeEvent =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let invocation =
            lambda_runtime::LambdaEvent::new(event, lambda_runtime::Context::default());
        function
            .handle(&own(function.needs()), invocation)
            .await
            .unwrap_or_else(|e| panic!("{}: {e}", function.name()));
    }
}

/// An API Gateway event as SAM CLI's independent generator writes it (mTLS, cookies,
/// stray query parameters, base64 body and all), for our route.
fn generated_event(function: HttpFunction, path: &str, body: &str, member: Option<u64>) -> String {
    let sam = std::env::var("SAM_CLI").unwrap_or_else(|_| {
        repo_root()
            .join(".local/venv-sam/bin/sam")
            .to_string_lossy()
            .into_owned()
    });
    let output = std::process::Command::new(&sam)
        .args(["local", "generate-event", "apigateway", "http-api-proxy"])
        .args([
            "--method",
            function.method(),
            "--path",
            path.trim_start_matches('/'),
            "--body",
            body,
        ])
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap_or_else(|e| panic!("{sam}: {e} (make test installs SAM CLI into .local/venv-sam)"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut event: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("SAM's event is JSON");
    // What API Gateway adds for our route: its key, its path parameters, the JSON content
    // type the client sent, and the authorizer's verdict on protected routes.
    event["routeKey"] = serde_json::json!(format!("{} {}", function.method(), function.path()));
    let mut params = serde_json::Map::new();
    for (template, actual) in function.path().split('/').zip(path.split('/')) {
        if let Some(name) = template.strip_prefix('{').and_then(|t| t.strip_suffix('}')) {
            params.insert(name.to_owned(), serde_json::json!(actual));
        }
    }
    event["pathParameters"] = serde_json::Value::Object(params);
    event["headers"]["content-type"] = serde_json::json!("application/json");
    event["requestContext"]["authorizer"] = match member {
        Some(member) => serde_json::json!({ "lambda": { "memberId": member.to_string() } }),
        None => serde_json::json!(null),
    };
    event.to_string()
}

#[tokio::test]
async fn events_from_an_independent_generator_reach_every_http_handler() {
    let app = TestApp::spawn().await;
    let member = app.member().await;
    let order = app.checkout(member, 5_000).await;
    let signup = serde_json::json!({
        "name": "생성기", "email": "generated@example.com", "headline": "h", "category": "DESIGN",
        "careerYears": 3, "region": "BUSAN", "password": "correct horse battery"
    });
    let cases: Vec<(HttpFunction, String, String, Option<u64>, &str)> = vec![
        (
            HttpFunction::Signup,
            "/api/members/signup".into(),
            signup.to_string(),
            None,
            "SUCCESS",
        ),
        (
            HttpFunction::Login,
            "/api/members/login".into(),
            r#"{"email":"generated@example.com","password":"correct horse battery"}"#.into(),
            None,
            "SUCCESS",
        ),
        (
            HttpFunction::GetProfile,
            "/api/profiles/1".into(),
            String::new(),
            None,
            "SUCCESS",
        ),
        (
            HttpFunction::ListProfiles,
            "/api/profiles".into(),
            String::new(),
            None,
            "SUCCESS",
        ),
        (
            HttpFunction::EditProfile,
            "/api/profiles/me".into(),
            r#"{"headline":"생성된 이벤트로 고친 소개","careerYears":4}"#.into(),
            Some(member),
            "SUCCESS",
        ),
        (
            HttpFunction::Checkout,
            "/api/payments/toss/checkout".into(),
            r#"{"amount":5000,"orderName":"포인트 충전"}"#.into(),
            Some(member),
            "SUCCESS",
        ),
        (
            HttpFunction::Confirm,
            "/api/payments/toss/confirm".into(),
            serde_json::json!({ "paymentKey": "tsbx_unknown", "orderId": order, "amount": 5000 })
                .to_string(),
            Some(member),
            // Toss (the sandbox) knows no such paymentKey: a definitive refusal.
            "PAYMENT_FAILED",
        ),
        (
            HttpFunction::PaymentStatus,
            format!("/api/payments/toss/{order}"),
            String::new(),
            Some(member),
            "SUCCESS",
        ),
        (
            HttpFunction::Refund,
            format!("/api/payments/toss/{order}/refund"),
            r#"{"reason":"생성된 이벤트"}"#.into(),
            Some(member),
            // The checkout was never paid: no purchase to refund.
            "PAYMENT_NOT_REFUNDABLE",
        ),
        (
            HttpFunction::TossWebhook,
            "/api/payments/toss/webhook".into(),
            r#"{"eventType":"PAYMENT_STATUS_CHANGED","data":{"orderId":"ord_generated_1"}}"#.into(),
            None,
            // SAM's event has no transmission-id header: no delivery of Toss's.
            "INVALID_FIELD",
        ),
        (
            HttpFunction::GetMe,
            "/api/members/me".into(),
            String::new(),
            Some(member),
            "SUCCESS",
        ),
        (
            HttpFunction::MyPoints,
            "/api/members/me/points".into(),
            String::new(),
            Some(member),
            "SUCCESS",
        ),
    ];
    let covered: std::collections::BTreeSet<&str> = cases.iter().map(|c| c.0.name()).collect();
    assert_eq!(
        covered.len(),
        HttpFunction::ALL.len(),
        "every HTTP function has a case"
    );
    for (function, path, body, caller, expected) in cases {
        let event = generated_event(function, &path, &body, caller);
        let request = lambda_http::request::from_str(&event)
            .unwrap_or_else(|e| panic!("{}: {e}", function.name()));
        let response = function.handle(&app.services, request).await;
        let status = response.status().as_u16();
        let reply: serde_json::Value = match response.body() {
            lambda_http::Body::Text(text) => serde_json::from_str(text).unwrap(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            reply["code"],
            expected,
            "{}: {status} {reply}",
            function.name()
        );
        assert_eq!(reply["status"], status, "{}", function.name());
    }
}

async fn create_secret(aws: &aws_config::SdkConfig, values: serde_json::Value) -> String {
    let name = format!("secret-{}", uuid::Uuid::new_v4().simple());
    let created = aws_sdk_secretsmanager::Client::new(aws)
        .create_secret()
        .name(&name)
        .secret_string(values.to_string())
        .send()
        .await
        .expect("secret created in the emulator");
    created.arn().expect("an ARN").to_owned()
}

/// Deployed functions take their secrets from Secrets Manager at cold start, never from
/// the template, each only from the secrets its role may read: the service secret gives
/// the database and Redis URLs and nothing else; the token key and the Toss key come from
/// secrets of their own. Here against the emulator.
#[tokio::test]
async fn secrets_come_from_their_own_secrets_only() {
    use secrecy::ExposeSecret;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let service = create_secret(
        &aws,
        serde_json::json!({
            "DATABASE_URL": "mysql://from-secret@db/profiles",
            "REDIS_URL": "rediss://from-secret:6379",
            "TOSS_SECRET_KEY": "test_sk_smuggled_in_the_service_secret",
            "UNRELATED": "ignored",
        }),
    )
    .await;
    let tokens = create_secret(
        &aws,
        serde_json::json!({ "TOKEN_SIGNING_KEY": "signing-from-secret" }),
    )
    .await;
    let toss = create_secret(
        &aws,
        serde_json::json!({ "TOSS_SECRET_KEY": "test_sk_from_secret" }),
    )
    .await;
    let load = |ids: [Option<&String>; 3]| {
        api::services::Settings::load_secrets(&aws, ids.map(|id| id.cloned()))
    };

    let settings = load([Some(&service), Some(&tokens), Some(&toss)])
        .await
        .expect("settings load");
    assert_eq!(
        settings.database_url.expose_secret(),
        "mysql://from-secret@db/profiles"
    );
    assert_eq!(
        settings.redis_url.expose_secret(),
        "rediss://from-secret:6379"
    );
    let toss_key = settings
        .toss_secret_key
        .as_ref()
        .map(|k| k.expose_secret().to_owned());
    assert_eq!(toss_key.as_deref(), Some("test_sk_from_secret"));
    let token_key = settings
        .token_signing_key
        .as_ref()
        .map(|k| k.expose_secret().to_owned());
    assert_eq!(token_key.as_deref(), Some("signing-from-secret"));
    let shown = format!("{settings:?}");
    assert!(
        !shown.contains("from-secret") && !shown.contains("pw@"),
        "secrets never print: {shown}"
    );

    let service_only = load([Some(&service), None, None])
        .await
        .expect("settings load");
    let toss_key = service_only
        .toss_secret_key
        .as_ref()
        .map(|k| k.expose_secret().to_owned());
    assert_ne!(
        toss_key.as_deref(),
        Some("test_sk_smuggled_in_the_service_secret"),
        "the service secret cannot hand out the Toss key"
    );
    // The authorizer reads the signing key alone, from the token secret.
    let key = api::services::token_key(&aws, Some(&tokens))
        .await
        .expect("the token key");
    assert_eq!(key.expose_secret(), "signing-from-secret");
    assert!(
        load([Some(&"no-such-secret".to_owned()), None, None])
            .await
            .is_err(),
        "a missing secret stops the cold start"
    );
}
