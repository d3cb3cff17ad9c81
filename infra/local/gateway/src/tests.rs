//! The gateway's own tests, without servers: the event builder, and the site in front of a
//! stand-in API (a router that answers with the event the real one would build, so no
//! `Services` are needed) served on a real socket.

use super::*;
use axum::http::Request as HttpRequest;
use std::path::PathBuf;

#[test]
fn path_templates_bind_parameters() {
    assert_eq!(
        match_path("/api/profiles/{profileId}", "/api/profiles/42"),
        Some(vec![("profileId".to_owned(), "42".to_owned())])
    );
    assert_eq!(match_path("/api/profiles", "/api/profiles"), Some(vec![]));
    assert_eq!(
        match_path("/api/profiles/{profileId}", "/api/profiles"),
        None
    );
    assert_eq!(
        match_path("/api/profiles/{profileId}", "/api/profiles/1/x"),
        None
    );
    assert_eq!(
        match_path("/api/profiles/{profileId}", "/api/profiles/%ED%95%9C"),
        Some(vec![("profileId".to_owned(), "한".to_owned())])
    );
}

fn request_parts(peer: Option<SocketAddr>) -> axum::http::request::Parts {
    let mut request = HttpRequest::get("/api/profiles/7").body(()).unwrap();
    if let Some(peer) = peer {
        request.extensions_mut().insert(ConnectInfo(peer));
    }
    request.into_parts().0
}

#[test]
fn the_event_carries_the_callers_address_as_source_ip() {
    let parts = request_parts(Some(SocketAddr::from(([127, 0, 0, 2], 40_000))));
    let params = [("profileId".to_owned(), "7".to_owned())];
    let event = http_api_event(
        HttpFunction::ALL[0],
        &parts,
        &params,
        b"",
        Utc::now(),
        peer_ip(&parts),
    );
    assert_eq!(event["requestContext"]["http"]["sourceIp"], "127.0.0.2");
    // And it is what the handlers' per-client limits read.
    let request = lambda_http::request::from_str(&event.to_string()).unwrap();
    assert_eq!(api::request::client_address(&request), "127.0.0.2");
}

#[test]
fn without_a_socket_the_source_ip_is_loopback() {
    assert_eq!(
        peer_ip(&request_parts(None)),
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    );
    // A dual-stack listener sees IPv4 callers as IPv4-mapped IPv6; API Gateway shows IPv4.
    let mapped: SocketAddr = "[::ffff:10.1.2.3]:5000".parse().unwrap();
    assert_eq!(
        peer_ip(&request_parts(Some(mapped))).to_string(),
        "10.1.2.3"
    );
}

/// A stand-in for the API router: answers every request with the event `dispatch` would
/// build for it (status 418, so the tests can tell it from a file).
fn echo_api() -> Router {
    Router::new().fallback(|request: Request| async move {
        let (parts, _) = request.into_parts();
        let function = HttpFunction::ALL[0];
        let event = http_api_event(function, &parts, &[], b"", Utc::now(), peer_ip(&parts));
        (StatusCode::IM_A_TEAPOT, axum::Json(event))
    })
}

/// A site folder of its own (removed on drop), with a `secret.txt` just outside it.
struct SiteFolder {
    parent: PathBuf,
}

impl SiteFolder {
    fn new() -> Self {
        let parent = std::env::temp_dir().join(format!("local-gateway-{}", uuid::Uuid::new_v4()));
        let root = parent.join("web");
        std::fs::create_dir_all(root.join("api")).unwrap();
        std::fs::write(
            root.join("index.html"),
            "<!doctype html><title>목록</title>",
        )
        .unwrap();
        std::fs::write(root.join("app.js"), "window.x = 1;").unwrap();
        // A file where an API path is: the API must still answer that path.
        std::fs::write(root.join("api").join("profiles"), "not the API").unwrap();
        std::fs::write(parent.join("secret.txt"), "outside the site").unwrap();
        Self { parent }
    }

    fn root(&self) -> PathBuf {
        self.parent.join("web")
    }
}

impl Drop for SiteFolder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.parent);
    }
}

/// The site in front of the stand-in API, served like `serve` does; its base URL.
async fn spawn_site(folder: &SiteFolder) -> String {
    let site = Site::new(folder.root(), "http://127.0.0.1:17000/v2/standard");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(serve_router(listener, with_site(echo_api(), site)));
    base
}

#[tokio::test]
async fn a_caller_at_127_0_0_2_is_the_events_source_ip() {
    let folder = SiteFolder::new();
    let base = spawn_site(&folder).await;
    let client = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .build()
        .unwrap();
    let answer = client
        .get(format!("{base}/api/profiles/1"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::IM_A_TEAPOT);
    let event: Value = answer.json().await.unwrap();
    assert_eq!(event["requestContext"]["http"]["sourceIp"], "127.0.0.2");
}

#[tokio::test]
async fn the_site_serves_its_files_and_config_and_leaves_the_rest_to_the_api() {
    let folder = SiteFolder::new();
    let base = spawn_site(&folder).await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{base}{path}")).send();

    let index = get("/").await.unwrap();
    assert_eq!(index.status(), StatusCode::OK);
    assert!(content_type(&index).starts_with("text/html"));
    assert!(index.text().await.unwrap().contains("목록"));
    let script = get("/app.js").await.unwrap();
    assert!(content_type(&script).contains("javascript"));

    let config = get("/config.js").await.unwrap();
    assert_eq!(config.status(), StatusCode::OK);
    assert_eq!(
        content_type(&config),
        "application/javascript; charset=utf-8"
    );
    let text = config.text().await.unwrap();
    assert!(text.starts_with("window.APP_CONFIG = {"), "{text}");
    assert!(text.contains(r#""tossSdkUrl":"http://127.0.0.1:17000/v2/standard""#));

    let head = http.head(format!("{base}/")).send().await.unwrap();
    assert_eq!(head.status(), StatusCode::OK);

    // The API's paths, other methods and files that are not there are the API's to answer.
    for path in ["/api/profiles", "/local/jobs/flush-views", "/nowhere.html"] {
        assert_api_answered(get(path).await.unwrap(), "GET", path).await;
    }
    let post = http
        .post(format!("{base}/index.html"))
        .send()
        .await
        .unwrap();
    assert_api_answered(post, "POST", "/index.html").await;
}

#[tokio::test]
async fn nothing_outside_the_site_folder_is_served() {
    let folder = SiteFolder::new();
    let base = spawn_site(&folder).await;
    let http = reqwest::Client::new();
    for path in [
        "/..%2fsecret.txt",
        "/%2e%2e/secret.txt",
        "/api/..%2f..%2fsecret.txt",
    ] {
        let answer = http.get(format!("{base}{path}")).send().await.unwrap();
        let status = answer.status();
        let body = answer.text().await.unwrap();
        assert!(
            !body.contains("outside the site"),
            "{path}: {status} {body}"
        );
    }
}

fn content_type(response: &reqwest::Response) -> String {
    response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

async fn assert_api_answered(answer: reqwest::Response, method: &str, path: &str) {
    assert_eq!(answer.status(), StatusCode::IM_A_TEAPOT, "{method} {path}");
    let event: Value = answer.json().await.unwrap();
    assert_eq!(event["requestContext"]["http"]["method"], method);
    assert_eq!(event["rawPath"], path);
}
