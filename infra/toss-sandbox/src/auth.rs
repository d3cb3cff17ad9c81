//! Toss's Basic auth: `Authorization: Basic base64(secretKey + ":")`.

use crate::Sandbox;
use crate::codes::ApiError;
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// The secret key a `/v1` request authenticated with; part of the idempotency scope.
#[derive(Debug, Clone)]
pub struct SecretKey(pub String);

impl SecretKey {
    /// Toss honours test-only headers such as `TossPayments-Test-Code` for test keys only.
    pub fn is_live(&self) -> bool {
        self.0.starts_with("live_")
    }
}

pub async fn require_secret_key(
    State(sandbox): State<Sandbox>,
    mut request: Request,
    next: Next,
) -> Response {
    match secret_key(request.headers()) {
        Some(key) if sandbox.accepts(&key) => {
            request.extensions_mut().insert(SecretKey(key));
            next.run(request).await
        }
        Some(_) => ApiError::of("UNAUTHORIZED_KEY").into_response(),
        None => ApiError::of("INCORRECT_BASIC_AUTH_FORMAT").into_response(),
    }
}

/// The username of a well-formed Basic header, or `None` when the format is wrong (which Toss
/// tells apart from a well-formed but unknown key: 403 vs 401).
fn secret_key(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = STANDARD.decode(token.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    // The password is empty for Toss; only the colon separating it is required.
    let (user, _password) = text.split_once(':')?;
    Some(user.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn key_of(header: &str) -> Option<String> {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(header).unwrap());
        secret_key(&headers)
    }

    #[test]
    fn accepts_only_well_formed_basic_headers() {
        let good = format!("Basic {}", STANDARD.encode("test_sk_abc:"));
        assert_eq!(key_of(&good).as_deref(), Some("test_sk_abc"));
        // The classic mistake: no colon before encoding.
        assert_eq!(
            key_of(&format!("Basic {}", STANDARD.encode("test_sk_abc"))),
            None
        );
        assert_eq!(key_of("Bearer test_sk_abc"), None);
        assert_eq!(key_of("Basic !!!not-base64"), None);
        assert_eq!(
            key_of(&format!("Basic {}", STANDARD.encode([0xff, 0xfe, b':']))),
            None
        );
        assert_eq!(key_of("Basic"), None);
        assert_eq!(secret_key(&HeaderMap::new()), None);
    }
}
