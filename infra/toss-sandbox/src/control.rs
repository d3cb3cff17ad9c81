//! `/sandbox` routes (no auth): a widget-like authentication step that issues paymentKeys,
//! the settable clock and per-payment counters for tests.

use crate::Sandbox;
use crate::codes::ApiError;
use crate::faults::Faults;
use crate::state::{Payment, Status, hex32, kst};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State as Shared};
use axum::http::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;

const MAX_ORDER_NAME_CHARS: usize = 100;
const MAX_PAYMENT_KEY_CHARS: usize = 200;

pub async fn authenticate_get(
    Shared(sandbox): Shared<Sandbox>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let params = form_params(uri.query().unwrap_or("").as_bytes());
    authenticate(&sandbox, &headers, &params)
}

/// The same fields as a JSON object (or, for HTML forms, url-encoded).
pub async fn authenticate_post(
    Shared(sandbox): Shared<Sandbox>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let params = if is_form {
        form_params(&body)
    } else {
        match serde_json::from_slice(&body) {
            Ok(Value::Object(fields)) => fields
                .into_iter()
                .filter_map(|(name, value)| {
                    let text = match value {
                        Value::String(s) => s,
                        Value::Null => return None,
                        other => other.to_string(),
                    };
                    Some((name, text))
                })
                .collect(),
            _ => {
                return ApiError::invalid_request("The body must be a JSON object.")
                    .into_response();
            }
        }
    };
    authenticate(&sandbox, &headers, &params)
}

fn form_params(encoded: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(encoded).into_owned().collect()
}

fn valid_order_id(order_id: &str) -> bool {
    (6..=64).contains(&order_id.len())
        && order_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn positive_amount(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok().filter(|a| *a > 0)
}

fn authenticate(
    sandbox: &Sandbox,
    headers: &HeaderMap,
    params: &HashMap<String, String>,
) -> Response {
    let wants_json = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    // Checked before anything is created: a browser-style request needs somewhere to go.
    if !wants_json && params.get("successUrl").is_none_or(|url| url.is_empty()) {
        return ApiError::invalid_request(
            "successUrl is required unless Accept: application/json.",
        )
        .into_response();
    }
    match authenticate_payment(sandbox, params) {
        Ok(issued) => issued.into_response(wants_json),
        Err(error) => error.into_response(),
    }
}

struct Issued {
    payment_key: String,
    order_id: String,
    amount: i64,
    redirect_url: Option<String>,
}

impl Issued {
    /// A 302 to successUrl like the widget, or JSON for API-style callers (`authenticate`
    /// guarantees a successUrl whenever JSON was not asked for).
    fn into_response(self, wants_json: bool) -> Response {
        match self.redirect_url {
            Some(url) if !wants_json => (StatusCode::FOUND, [(LOCATION, url)]).into_response(),
            redirect_url => Json(json!({
                "paymentKey": self.payment_key,
                "orderId": self.order_id,
                "amount": self.amount,
                "paymentType": "NORMAL",
                "redirectUrl": redirect_url,
            }))
            .into_response(),
        }
    }
}

fn authenticate_payment(
    sandbox: &Sandbox,
    params: &HashMap<String, String>,
) -> Result<Issued, ApiError> {
    let param = |name: &str| {
        params
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    };
    let order_id = param("orderId")
        .filter(|id| valid_order_id(id))
        .ok_or_else(|| {
            ApiError::invalid_request("orderId must be 6-64 characters of [A-Za-z0-9_-].")
        })?;
    let amount = param("amount")
        .and_then(positive_amount)
        .ok_or_else(|| ApiError::invalid_request("amount must be a positive integer."))?;
    let order_name = param("orderName").unwrap_or("sandbox order");
    if order_name.chars().count() > MAX_ORDER_NAME_CHARS {
        return Err(ApiError::invalid_request(
            "orderName is at most 100 characters.",
        ));
    }
    let success_url = param("successUrl");
    if success_url.is_some_and(|url| !url.starts_with("http://") && !url.starts_with("https://")) {
        return Err(ApiError::invalid_request(
            "successUrl must be an absolute http(s) URL.",
        ));
    }
    let (faults, suffix) =
        Faults::parse(param("faults").unwrap_or("")).map_err(ApiError::invalid_request)?;
    // `authenticated=false` leaves the payment READY (window opened, shopper not yet through);
    // a later call for the same orderId authenticates it.
    let authenticated = match param("authenticated") {
        None | Some("true") => true,
        Some("false") => false,
        Some(_) => {
            return Err(ApiError::invalid_request(
                "authenticated must be true or false.",
            ));
        }
    };

    let mut state = sandbox.lock();
    let now = state.now();
    let existing = state.payment_by_order_mut(order_id);
    let payment_key = match existing {
        Some(payment) if matches!(payment.status, Status::Ready | Status::InProgress) => {
            // Idempotent for the same checkout; a different one under this orderId is a bug.
            if payment.requested_amount != amount || payment.faults != faults {
                return Err(ApiError::new(
                    "DUPLICATED_ORDER_ID",
                    "This orderId is already in a checkout with a different amount or faults.",
                ));
            }
            if authenticated && payment.status == Status::Ready {
                payment.authenticate(now);
            }
            payment.payment_key.clone()
        }
        Some(payment)
            if matches!(
                payment.status,
                Status::Done | Status::Canceled | Status::PartialCanceled
            ) =>
        {
            return Err(ApiError::of("DUPLICATED_ORDER_ID"));
        }
        // Nothing yet, or only an ABORTED/EXPIRED attempt: start a new payment.
        _ => {
            let payment_key = format!("tsbx_{}{suffix}", hex32());
            if payment_key.len() > MAX_PAYMENT_KEY_CHARS {
                return Err(ApiError::invalid_request(
                    "The faults make the paymentKey longer than 200 characters.",
                ));
            }
            let payment = Payment::new(
                payment_key.clone(),
                order_id.to_owned(),
                order_name.to_owned(),
                amount,
                faults,
                now,
                authenticated,
            );
            state.payments.insert(payment_key.clone(), payment);
            state
                .orders
                .insert(order_id.to_owned(), payment_key.clone());
            payment_key
        }
    };
    let redirect_url = success_url.map(|url| {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("paymentType", "NORMAL")
            .append_pair("orderId", order_id)
            .append_pair("paymentKey", &payment_key)
            .append_pair("amount", &amount.to_string())
            .finish();
        let separator = if url.contains('?') { '&' } else { '?' };
        format!("{url}{separator}{query}")
    });
    Ok(Issued {
        payment_key,
        order_id: order_id.to_owned(),
        amount,
        redirect_url,
    })
}

pub async fn get_clock(Shared(sandbox): Shared<Sandbox>) -> Json<Value> {
    Json(json!({ "now": kst(sandbox.lock().now()) }))
}

/// `{"advanceSeconds": N}` moves the clock by N seconds; `{"now": "<RFC 3339>"}` sets it.
pub async fn set_clock(Shared(sandbox): Shared<Sandbox>, body: Bytes) -> Response {
    let fields = match serde_json::from_slice(&body) {
        Ok(Value::Object(fields)) => fields,
        _ => return ApiError::invalid_request("The body must be a JSON object.").into_response(),
    };
    let mut state = sandbox.lock();
    match (fields.get("advanceSeconds"), fields.get("now")) {
        (Some(seconds), None) => match seconds.as_i64().and_then(TimeDelta::try_seconds) {
            Some(step) => state.clock_offset += step,
            None => {
                return ApiError::invalid_request("advanceSeconds must be an integer.")
                    .into_response();
            }
        },
        (None, Some(now)) => match now
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        {
            Some(now) => state.clock_offset = now.with_timezone(&Utc) - Utc::now(),
            None => {
                return ApiError::invalid_request("now must be an RFC 3339 timestamp.")
                    .into_response();
            }
        },
        _ => {
            return ApiError::invalid_request("Give exactly one of advanceSeconds and now.")
                .into_response();
        }
    }
    Json(json!({ "now": kst(state.now()) })).into_response()
}

pub async fn stats(
    Shared(sandbox): Shared<Sandbox>,
    Path(payment_key): Path<String>,
) -> Json<Value> {
    let mut state = sandbox.lock();
    // Reading the payment lands a due `late-`/`partial-` approval, which counts as one.
    state.payment_mut(&payment_key);
    // A key nobody touched simply has zero counts, so tests can assert "never called".
    let stats = state.stats.get(&payment_key).copied().unwrap_or_default();
    Json(json!({
        "confirmRequests": stats.confirm_requests,
        "approvals": stats.approvals,
        "cancels": stats.cancels,
    }))
}
