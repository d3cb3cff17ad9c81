//! The web front end (`web/`) beside the API, as CloudFront would serve the S3 bucket and
//! API Gateway the API in a deployment, but on one origin, so the pages call `/api/...`
//! without CORS.
//!
//! Who answers what:
//! - `/api/...` and `/local/...` (any method), and every method but GET/HEAD: the API
//!   router, so unknown API paths keep the API's 404/405 envelopes.
//! - `GET /config.js`: the pages' configuration (the API base and the Toss SDK's URL),
//!   which a deployment writes as a static file instead.
//! - any other GET/HEAD: a file of the site folder (`/` is `index.html`); a missing one
//!   falls back to the API router (its 404 envelope), as the gateway answered before.

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tower::ServiceExt;
use tower_http::services::ServeDir;

/// Toss's own SDK v2 script (docs/toss.md §8).
pub const TOSS_SDK_URL: &str = "https://js.tosspayments.com/v2/standard";
/// Toss's API; a deployment pointed at it loads Toss's own SDK.
const TOSS_API: &str = "https://api.tosspayments.com";
/// Where the sandbox (`infra/local/toss-sandbox`) serves its stand-in of the SDK script.
const SDK_PATH_ON_SANDBOX: &str = "/v2/standard";
const CONFIG_JS_PATH: &str = "/config.js";

/// The site folder and the `config.js` the pages load first.
#[derive(Clone, Debug)]
pub struct Site {
    root: PathBuf,
    config_js: String,
}

impl Site {
    /// The site in `root`, configured to load the Toss SDK from `toss_sdk_url`. The API
    /// base is empty: the pages call the API on the origin that served them.
    pub fn new(root: impl Into<PathBuf>, toss_sdk_url: &str) -> Self {
        let config = json!({ "apiBase": "", "tossSdkUrl": toss_sdk_url });
        Self {
            root: root.into(),
            config_js: format!("window.APP_CONFIG = {config};\n"),
        }
    }

    /// `WEB_ROOT` (default: the repository's `web/`), and the SDK URL from
    /// `WEB_TOSS_SDK_URL` or else derived from `TOSS_API_BASE` ([`toss_sdk_url`]).
    pub fn from_env() -> Self {
        let root = non_empty_env("WEB_ROOT")
            .map(PathBuf::from)
            .unwrap_or_else(repository_web_folder);
        let sdk = toss_sdk_url(
            non_empty_env("WEB_TOSS_SDK_URL").as_deref(),
            non_empty_env("TOSS_API_BASE").as_deref(),
        );
        Self::new(root, &sdk)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn config_js(&self) -> &str {
        &self.config_js
    }
}

/// The SDK script the pages load: the one set explicitly; else the sandbox's stand-in
/// when the functions talk to a sandbox (`TOSS_API_BASE`), since a real Toss SDK would
/// open Toss's real payment window, which cannot pay a sandbox order; else Toss's own.
pub fn toss_sdk_url(explicit: Option<&str>, toss_api_base: Option<&str>) -> String {
    if let Some(url) = explicit {
        return url.to_owned();
    }
    match toss_api_base.map(|base| base.trim_end_matches('/')) {
        Some(base) if base != TOSS_API => format!("{base}{SDK_PATH_ON_SANDBOX}"),
        _ => TOSS_SDK_URL.to_owned(),
    }
}

/// `web/` at the repository root (this crate is `infra/local/gateway`), wherever the
/// gateway is started from.
fn repository_web_folder() -> PathBuf {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../web");
    std::fs::canonicalize(&folder).unwrap_or(folder)
}

fn non_empty_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

struct Served {
    api: Router,
    files: ServeDir<Router>,
    config_js: String,
}

/// `api` with the site in front of it (see the module documentation for who answers what).
/// `api` needs no state of its own here, so tests can pass any router.
pub fn with_site(api: Router, site: Site) -> Router {
    let served = Arc::new(Served {
        files: ServeDir::new(&site.root).fallback(api.clone()),
        api,
        config_js: site.config_js,
    });
    Router::new().fallback(move |request: Request| site_or_api(served.clone(), request))
}

async fn site_or_api(served: Arc<Served>, request: Request) -> Response {
    if !is_site_request(request.method(), request.uri().path()) {
        let Ok(response) = served.api.clone().oneshot(request).await;
        return response;
    }
    if request.uri().path() == CONFIG_JS_PATH {
        return config_js_response(&served.config_js);
    }
    let Ok(response) = served.files.clone().oneshot(request).await;
    response.into_response()
}

/// A read of something outside the API's and the local jobs' paths.
fn is_site_request(method: &Method, path: &str) -> bool {
    let read = method == Method::GET || method == Method::HEAD;
    let under = |prefix: &str| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    };
    read && !under("/api") && !under("/local")
}

fn config_js_response(config_js: &str) -> Response {
    let mut response = config_js.to_owned().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/javascript; charset=utf-8"),
    );
    // The configuration follows the environment the gateway was started with.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdk_comes_from_the_sandbox_unless_toss_itself_is_used() {
        let sandbox = Some("http://127.0.0.1:17000/");
        assert_eq!(
            toss_sdk_url(None, sandbox),
            "http://127.0.0.1:17000/v2/standard"
        );
        assert_eq!(toss_sdk_url(None, Some(TOSS_API)), TOSS_SDK_URL);
        assert_eq!(toss_sdk_url(None, None), TOSS_SDK_URL);
        assert_eq!(
            toss_sdk_url(Some("http://cdn.test/sdk.js"), sandbox),
            "http://cdn.test/sdk.js"
        );
    }

    #[test]
    fn only_reads_outside_the_api_and_the_jobs_are_the_site() {
        for path in [
            "/",
            "/index.html",
            "/config.js",
            "/apidocs.html",
            "/localize",
        ] {
            assert!(is_site_request(&Method::GET, path), "{path}");
            assert!(is_site_request(&Method::HEAD, path), "{path}");
        }
        for path in ["/api", "/api/", "/api/profiles", "/local/jobs/flush-views"] {
            assert!(!is_site_request(&Method::GET, path), "{path}");
        }
        assert!(!is_site_request(&Method::POST, "/index.html"));
        assert!(!is_site_request(&Method::DELETE, "/"));
    }

    #[test]
    fn config_js_sets_the_app_config_as_json() {
        let site = Site::new("web", "http://127.0.0.1:17000/v2/standard");
        let json = site
            .config_js()
            .strip_prefix("window.APP_CONFIG = ")
            .and_then(|rest| rest.strip_suffix(";\n"))
            .expect("an assignment");
        let config: serde_json::Value = serde_json::from_str(json).unwrap();
        assert_eq!(
            config,
            json!({"apiBase": "", "tossSdkUrl": "http://127.0.0.1:17000/v2/standard"})
        );
    }
}
