//! `GET /v2/standard`: a stand-in for Toss's browser SDK v2 script
//! (`https://js.tosspayments.com/v2/standard`, docs/toss.md §8). The script itself,
//! assets/sdk-v2.js, says which of its behaviours are Toss's and which are its own.

use axum::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, CACHE_CONTROL, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};

const SCRIPT: &str = include_str!("../assets/sdk-v2.js");

pub async fn script() -> Response {
    (
        [
            (CONTENT_TYPE, "application/javascript; charset=utf-8"),
            // Harmless for a public script without secrets or credentials, and it lets a page
            // load it with `crossorigin`, so errors thrown inside reach window.onerror in full
            // rather than as "Script error.".
            (ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
            // A restarted sandbox with an edited script is picked up at once.
            (CACHE_CONTROL, "no-cache"),
        ],
        SCRIPT,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::SCRIPT;
    use crate::state::Method;

    #[test]
    fn the_script_offers_exactly_the_methods_the_sandbox_approves() {
        for method in Method::ALL {
            let entry = format!(
                "{{ code: \"{}\", label: \"{}\" }}",
                method.code(),
                method.label()
            );
            assert!(SCRIPT.contains(&entry), "{entry} missing");
        }
        assert_eq!(SCRIPT.matches("{ code: \"").count(), Method::ALL.len());
    }
}
