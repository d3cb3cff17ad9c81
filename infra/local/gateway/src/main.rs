//! `make dev`'s server: prepares the local database and table, then serves every route of
//! `template.yaml` and the web front end (`web/`, or `WEB_ROOT`) at
//! http://127.0.0.1:$GATEWAY_PORT (3000 unless set).

use adapters::{DynamoViewLossLedger, EventBridgePublisher};
use api::Services;
use api::jobs::ScheduledFunction;
use api::routes::HttpFunction;
use api::services::Settings;
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    api::telemetry::init();
    let settings = Settings::from_env()?;
    let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    DynamoViewLossLedger::create_table(&aws_sdk_dynamodb::Client::new(&aws), &settings.table_name)
        .await?;
    EventBridgePublisher::create_bus(
        &aws_sdk_eventbridge::Client::new(&aws),
        &settings.event_bus_name,
    )
    .await?;
    let services = Services::new(&settings, &aws, api::services::CallBudget::REQUEST)?;
    services.store.migrate().await?;

    let port: u16 = std::env::var("GATEWAY_PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let base = format!("http://127.0.0.1:{port}");
    println!("\nLocal gateway at {base} (Ctrl-C stops everything)");
    print_site(&base);
    println!("\nRoutes:");
    for f in HttpFunction::ALL {
        println!("  {:<5} {base}{:<28} -> {}", f.method(), f.path(), f.name());
    }
    for f in ScheduledFunction::ALL {
        println!(
            "  POST  {base}/local/jobs/{:<17} -> {} ({} Asia/Seoul, local only)",
            f.name(),
            f.name(),
            f.schedule()
        );
    }
    println!(
        r#"
Try:
  curl -s -X POST {base}/api/members/signup -H 'content-type: application/json' \
    -d '{{"name":"김민수","email":"minsu@example.com","headline":"백엔드 멘토","category":"DEVELOPMENT","careerYears":7,"region":"SEOUL","introduction":"Rust와 AWS","password":"correct horse battery"}}'
  curl -s -X POST {base}/api/members/login -H 'content-type: application/json' \
    -d '{{"email":"minsu@example.com","password":"correct horse battery"}}'
  curl -s {base}/api/profiles/1
  curl -s '{base}/api/profiles?category=DEVELOPMENT&size=10&sort=NAME'
  curl -s {base}/api/profiles/1 -H 'x-local-time: 2026-11-24T23:59:59+09:00'
  curl -s -X POST {base}/local/jobs/flush-views -H 'x-local-time: 2026-11-25T01:00:00+09:00'
  TOKEN=<accessToken from signup or login>
  curl -s -X POST {base}/api/payments/toss/checkout -H "authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' -d '{{"amount":5000,"orderName":"포인트 충전"}}'
  (then see the README: authenticate at the Toss sandbox, confirm, poll the status)
"#
    );
    api_serve(listener, Arc::new(services)).await
}

/// Where the web front end is and which Toss SDK its pages load.
fn print_site(base: &str) {
    let site = local_gateway::Site::from_env();
    let root = site.root().display();
    println!("Web site at {base}/ (files from {root})");
    if !site.root().join("index.html").is_file() {
        println!("  warning: {root}/index.html does not exist; set WEB_ROOT to the site folder");
    }
    println!("  /config.js: {}", site.config_js().trim_end());
}

async fn api_serve(
    listener: tokio::net::TcpListener,
    services: Arc<Services>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    tokio::select! {
        served = local_gateway::serve(listener, services) => served?,
        _ = tokio::signal::ctrl_c() => println!("stopping"),
    }
    Ok(())
}
