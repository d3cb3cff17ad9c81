//! Toss's Basic auth: `Authorization: Basic base64(secretKey + ":")`, and the key families.

use crate::Sandbox;
use crate::codes::{ApiError, Lang};
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Toss issues one key pair per integration: the payment widget (`test_gck_`/`test_gsk_`,
/// live `live_gck_`/`live_gsk_`) and the API individual integration (`test_ck_`/`test_sk_`,
/// `live_ck_`/`live_sk_`). A payment must be confirmed with the secret key of the family
/// whose client key opened it (docs/toss.md §1 "Key pairing", §8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFamily {
    Widget,
    Api,
}

impl KeyFamily {
    /// Only the widget prefixes are told apart; `test_sk_`/`live_sk_`, the legacy `test_ak_`
    /// (docs/toss.md §1) and any other key given to [`Sandbox::new`] count as the API family,
    /// so callers that configure a single non-widget key keep their behaviour.
    pub fn of_secret_key(key: &str) -> KeyFamily {
        if key.starts_with("test_gsk_") || key.starts_with("live_gsk_") {
            KeyFamily::Widget
        } else {
            KeyFamily::Api
        }
    }

    /// `None` for a string that is no Toss client key at all.
    pub fn of_client_key(key: &str) -> Option<KeyFamily> {
        let body = key
            .strip_prefix("test_")
            .or_else(|| key.strip_prefix("live_"))?;
        if body
            .strip_prefix("gck_")
            .is_some_and(|rest| !rest.is_empty())
        {
            Some(KeyFamily::Widget)
        } else if body
            .strip_prefix("ck_")
            .is_some_and(|rest| !rest.is_empty())
        {
            Some(KeyFamily::Api)
        } else {
            None
        }
    }
}

/// The secret key a `/v1` request authenticated with; part of the idempotency scope.
#[derive(Debug, Clone)]
pub struct SecretKey(pub String);

impl SecretKey {
    /// Toss honours test-only headers such as `TossPayments-Test-Code` for test keys only.
    pub fn is_live(&self) -> bool {
        self.0.starts_with("live_")
    }

    pub fn family(&self) -> KeyFamily {
        KeyFamily::of_secret_key(&self.0)
    }
}

pub async fn require_secret_key(
    State(sandbox): State<Sandbox>,
    mut request: Request,
    next: Next,
) -> Response {
    let lang = Lang::of(request.headers());
    match secret_key(request.headers()) {
        Some(key) if sandbox.accepts(&key) => {
            request.extensions_mut().insert(SecretKey(key));
            next.run(request).await
        }
        Some(_) => ApiError::of("UNAUTHORIZED_KEY").respond(lang),
        None => ApiError::of("INCORRECT_BASIC_AUTH_FORMAT").respond(lang),
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

    #[test]
    fn key_families_follow_the_prefixes() {
        use KeyFamily::{Api, Widget};
        assert_eq!(KeyFamily::of_secret_key("test_gsk_docs_x"), Widget);
        assert_eq!(KeyFamily::of_secret_key("live_gsk_x"), Widget);
        assert_eq!(KeyFamily::of_secret_key("test_sk_x"), Api);
        assert_eq!(KeyFamily::of_secret_key("live_sk_x"), Api);
        assert_eq!(KeyFamily::of_secret_key("test_ak_legacy"), Api);
        assert_eq!(KeyFamily::of_client_key("test_gck_docs_x"), Some(Widget));
        assert_eq!(KeyFamily::of_client_key("live_gck_x"), Some(Widget));
        assert_eq!(KeyFamily::of_client_key("test_ck_x"), Some(Api));
        assert_eq!(KeyFamily::of_client_key("live_ck_x"), Some(Api));
        for not_a_client_key in ["test_ck_", "test_sk_x", "ck_x", "test_gsk_x", "x"] {
            assert_eq!(KeyFamily::of_client_key(not_a_client_key), None);
        }
    }
}
