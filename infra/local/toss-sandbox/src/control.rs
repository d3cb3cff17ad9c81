//! `/sandbox` routes (no auth): a widget-like authentication step that issues paymentKeys,
//! the settable clock and per-payment counters for tests.

use crate::Sandbox;
use crate::auth::KeyFamily;
use crate::codes::{ApiError, Lang};
use crate::faults::Faults;
use crate::state::{Checkout, Method, Payment, State, Status, hex32, kst};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State as Shared};
use axum::http::header::{ACCEPT, CONTENT_TYPE, LOCATION};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Map, Value, json};
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
            Ok(Value::Object(fields)) => json_params(fields),
            _ => return not_an_object().respond(Lang::of(&headers)),
        }
    };
    authenticate(&sandbox, &headers, &params)
}

pub(crate) fn form_params(encoded: &[u8]) -> HashMap<String, String> {
    form_urlencoded::parse(encoded).into_owned().collect()
}

/// JSON fields as text, the way a query string would carry them (`null` = absent).
fn json_params(fields: Map<String, Value>) -> HashMap<String, String> {
    fields
        .into_iter()
        .filter_map(|(name, value)| {
            let text = match value {
                Value::String(s) => s,
                Value::Null => return None,
                other => other.to_string(),
            };
            Some((name, text))
        })
        .collect()
}

fn not_an_object() -> ApiError {
    ApiError::invalid_request(
        "요청 본문은 JSON 객체여야 합니다.",
        "The body must be a JSON object.",
    )
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
    let lang = Lang::of(headers);
    let wants_json = headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    // Checked before anything is created: a browser-style request needs somewhere to go.
    if !wants_json && params.get("successUrl").is_none_or(|url| url.is_empty()) {
        return ApiError::invalid_request(
            "Accept: application/json이 아니면 successUrl이 필요합니다.",
            "successUrl is required unless Accept: application/json.",
        )
        .respond(lang);
    }
    match authenticate_payment(sandbox, params) {
        Ok(issued) => issued.into_response(wants_json),
        Err(error) => match fail_url(params).filter(|_| !wants_json) {
            Some(url) => fail_redirect(url, &error, params, lang),
            None => error.respond(lang),
        },
    }
}

/// A browser-style request that names an absolute failUrl (the payment window's form).
fn fail_url(params: &HashMap<String, String>) -> Option<&str> {
    absolute_url(&Params(params), "failUrl").ok().flatten()
}

/// Where Toss's window sends a shopper whose payment it refused:
/// `failUrl?code&message&orderId` (docs/toss.md §8 "failUrl query"); nothing to confirm.
fn fail_redirect(
    url: &str,
    error: &ApiError,
    params: &HashMap<String, String>,
    lang: Lang,
) -> Response {
    let mut query = form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("code", &error.code)
        .append_pair("message", error.message(lang));
    if let Some(order_id) = params.get("orderId") {
        query.append_pair("orderId", order_id);
    }
    // Spaces as %20, which every decoder reads as a space (a `+` is one only to form
    // decoders); the serializer writes a literal `+` as %2B.
    let location = with_query(url, &query.finish().replace('+', "%20"));
    (StatusCode::FOUND, [(LOCATION, location)]).into_response()
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

/// The request's parameters, empty values counting as absent.
pub(crate) struct Params<'a>(pub(crate) &'a HashMap<String, String>);

impl<'a> Params<'a> {
    pub(crate) fn get(&self, name: &str) -> Option<&'a str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }
}

/// The checkout as the shopper's window would have it, validated, and the paymentKey suffix
/// of its faults. The payment window (`/sandbox/pay`) checks its parameters with it too, so
/// the form it posts here cannot fail on these rules.
pub(crate) fn parse_checkout(params: &Params) -> Result<(Checkout, String), ApiError> {
    let order_id = params
        .get("orderId")
        .filter(|id| valid_order_id(id))
        .ok_or_else(|| {
            ApiError::invalid_request(
                "orderId는 [A-Za-z0-9_-]로 된 6자 이상 64자 이하여야 합니다.",
                "orderId must be 6-64 characters of [A-Za-z0-9_-].",
            )
        })?;
    let amount = params
        .get("amount")
        .and_then(positive_amount)
        .ok_or_else(|| {
            ApiError::invalid_request(
                "amount는 양의 정수여야 합니다.",
                "amount must be a positive integer.",
            )
        })?;
    let order_name = params.get("orderName").unwrap_or("sandbox order");
    if order_name.chars().count() > MAX_ORDER_NAME_CHARS {
        return Err(ApiError::invalid_request(
            "orderName은 최대 100자입니다.",
            "orderName is at most 100 characters.",
        ));
    }
    let (faults, suffix) = Faults::parse(params.get("faults").unwrap_or(""))
        .map_err(|error| ApiError::invalid_request(error.ko(), error.en()))?;
    let checkout = Checkout {
        order_id: order_id.to_owned(),
        order_name: order_name.to_owned(),
        amount,
        method: parse_method(params)?,
        integration: parse_client_key(params)?,
        faults,
    };
    Ok((checkout, suffix))
}

/// `카드` unless given; a method the sandbox cannot approve gets Toss's global-list code for
/// it (docs/toss.md §5.2).
fn parse_method(params: &Params) -> Result<Method, ApiError> {
    match params.get("method") {
        None => Ok(Method::Card),
        Some(text) => Method::parse(text).ok_or_else(|| ApiError::of("NOT_SUPPORTED_METHOD")),
    }
}

/// The client key the window was opened with decides the key family the confirm must use.
/// Without one the payment belongs to the API family (`test_ck_`), as the sandbox always
/// behaved; something that is no client key gets `INVALID_CLIENT_KEY` (global list, §5.2).
fn parse_client_key(params: &Params) -> Result<KeyFamily, ApiError> {
    match params.get("clientKey") {
        None => Ok(KeyFamily::Api),
        Some(key) => {
            KeyFamily::of_client_key(key).ok_or_else(|| ApiError::of("INVALID_CLIENT_KEY"))
        }
    }
}

/// `authenticated=false` leaves the payment READY (window opened, shopper not yet through);
/// a later call for the same orderId authenticates it.
fn parse_authenticated(params: &Params) -> Result<bool, ApiError> {
    match params.get("authenticated") {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => Err(ApiError::invalid_request(
            "authenticated는 true 또는 false여야 합니다.",
            "authenticated must be true or false.",
        )),
    }
}

/// The URL parameter `name` (absent: `None`), which must be absolute: the browser is sent
/// there from the sandbox's origin, where a relative URL would lead nowhere (docs/toss.md §8).
pub(crate) fn absolute_url<'a>(
    params: &Params<'a>,
    name: &str,
) -> Result<Option<&'a str>, ApiError> {
    let url = params.get(name);
    if url.is_some_and(|url| !url.starts_with("http://") && !url.starts_with("https://")) {
        return Err(ApiError::invalid_request(
            format!("{name}은 http(s) 절대 URL이어야 합니다."),
            format!("{name} must be an absolute http(s) URL."),
        ));
    }
    Ok(url)
}

fn authenticate_payment(
    sandbox: &Sandbox,
    params: &HashMap<String, String>,
) -> Result<Issued, ApiError> {
    let params = Params(params);
    let (checkout, suffix) = parse_checkout(&params)?;
    let success_url = absolute_url(&params, "successUrl")?;
    let authenticated = parse_authenticated(&params)?;
    let payment_key = open_payment(&mut sandbox.lock(), &checkout, &suffix, authenticated)?;
    let redirect_url = success_url.map(|url| success_redirect(url, &checkout, &payment_key));
    Ok(Issued {
        payment_key,
        order_id: checkout.order_id,
        amount: checkout.amount,
        redirect_url,
    })
}

/// The paymentKey of this checkout: the running one for the same checkout, else a new one.
fn open_payment(
    state: &mut State,
    checkout: &Checkout,
    suffix: &str,
    authenticated: bool,
) -> Result<String, ApiError> {
    let now = state.now();
    match state.payment_by_order_mut(&checkout.order_id) {
        Some(payment) if matches!(payment.status, Status::Ready | Status::InProgress) => {
            // Idempotent for the same checkout; a different one under this orderId is a bug.
            if !payment.is_checkout(checkout) {
                return Err(ApiError::new(
                    "DUPLICATED_ORDER_ID",
                    "이 orderId는 금액, 결제수단, 키 종류 또는 fault가 다른 결제에 쓰이고 있습니다.",
                    "This orderId is already in a checkout with a different amount, method, key family or faults.",
                ));
            }
            if authenticated && payment.status == Status::Ready {
                payment.authenticate(now);
            }
            Ok(payment.payment_key.clone())
        }
        Some(payment)
            if matches!(
                payment.status,
                Status::WaitingForDeposit
                    | Status::Done
                    | Status::Canceled
                    | Status::PartialCanceled
            ) =>
        {
            Err(ApiError::of("DUPLICATED_ORDER_ID"))
        }
        // Nothing yet, or only an ABORTED/EXPIRED attempt: start a new payment.
        _ => new_payment(state, checkout, suffix, authenticated),
    }
}

fn new_payment(
    state: &mut State,
    checkout: &Checkout,
    suffix: &str,
    authenticated: bool,
) -> Result<String, ApiError> {
    let payment_key = format!("tsbx_{}{suffix}", hex32());
    if payment_key.len() > MAX_PAYMENT_KEY_CHARS {
        return Err(ApiError::invalid_request(
            "fault 때문에 paymentKey가 200자를 넘습니다.",
            "The faults make the paymentKey longer than 200 characters.",
        ));
    }
    let payment = Payment::new(
        payment_key.clone(),
        checkout.clone(),
        state.now(),
        authenticated,
    );
    state.payments.insert(payment_key.clone(), payment);
    state
        .orders
        .insert(checkout.order_id.clone(), payment_key.clone());
    Ok(payment_key)
}

/// `successUrl?paymentType=NORMAL&orderId=..&paymentKey=..&amount=..` (docs/toss.md §8).
fn success_redirect(url: &str, checkout: &Checkout, payment_key: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("paymentType", "NORMAL")
        .append_pair("orderId", &checkout.order_id)
        .append_pair("paymentKey", payment_key)
        .append_pair("amount", &checkout.amount.to_string())
        .finish();
    with_query(url, &query)
}

/// `url` with `query` appended, after the query `url` may already have (Toss keeps it).
pub(crate) fn with_query(url: &str, query: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{query}")
}

pub async fn get_clock(Shared(sandbox): Shared<Sandbox>) -> Json<Value> {
    Json(json!({ "now": kst(sandbox.lock().now()) }))
}

/// `{"advanceSeconds": N}` moves the clock by N seconds; `{"now": "<RFC 3339>"}` sets it.
pub async fn set_clock(
    Shared(sandbox): Shared<Sandbox>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let lang = Lang::of(&headers);
    let fields = match serde_json::from_slice(&body) {
        Ok(Value::Object(fields)) => fields,
        _ => return not_an_object().respond(lang),
    };
    let mut state = sandbox.lock();
    match clock_offset(&fields, state.clock_offset) {
        Ok(offset) => state.clock_offset = offset,
        Err(error) => return error.respond(lang),
    }
    Json(json!({ "now": kst(state.now()) })).into_response()
}

/// The clock offset the request asks for, given the current one.
fn clock_offset(fields: &Map<String, Value>, current: TimeDelta) -> Result<TimeDelta, ApiError> {
    match (fields.get("advanceSeconds"), fields.get("now")) {
        (Some(seconds), None) => seconds
            .as_i64()
            .and_then(TimeDelta::try_seconds)
            .map(|step| current + step)
            .ok_or_else(|| {
                ApiError::invalid_request(
                    "advanceSeconds는 정수여야 합니다.",
                    "advanceSeconds must be an integer.",
                )
            }),
        (None, Some(now)) => now
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|now| now.with_timezone(&Utc) - Utc::now())
            .ok_or_else(|| {
                ApiError::invalid_request(
                    "now는 RFC 3339 시각이어야 합니다.",
                    "now must be an RFC 3339 timestamp.",
                )
            }),
        _ => Err(ApiError::invalid_request(
            "advanceSeconds와 now 중 정확히 하나를 주세요.",
            "Give exactly one of advanceSeconds and now.",
        )),
    }
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

/// `POST /sandbox/payments/{paymentKey}/console-cancel {"cancelAmount"?}`: a cancel made
/// in Toss's merchant console (docs/toss.md §7b): it changes the payment as the cancel API
/// would (balance, `cancels[]`, `CANCELED`/`PARTIAL_CANCELED`) but reaches the merchant
/// only through a webhook or a lookup. Answers the Payment after it; 404 for an unknown
/// key, 400 for a payment that cannot be cancelled or an amount over its balance.
pub async fn console_cancel(
    Shared(sandbox): Shared<Sandbox>,
    Path(payment_key): Path<String>,
    body: axum::body::Bytes,
) -> axum::response::Response {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    let requested: Option<i64> = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("cancelAmount").and_then(Value::as_i64));
    let mut state = sandbox.lock();
    let now = state.now();
    let Some(payment) = state.payment_mut(&payment_key) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "unknown paymentKey" })),
        )
            .into_response();
    };
    if !matches!(payment.status, Status::Done | Status::PartialCanceled) {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "not cancellable" })),
        )
            .into_response();
    }
    let amount = requested.unwrap_or(payment.balance_amount);
    if amount <= 0 || amount > payment.balance_amount {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": "amount over the balance" })),
        )
            .into_response();
    }
    payment.cancel(amount, "상점관리자 취소".into(), now);
    let answer = payment.to_json(crate::codes::Lang::Ko);
    state.stats_mut(&payment_key).cancels += 1;
    Json(answer).into_response()
}

/// `GET /sandbox/payments/{paymentKey}`: the Payment as it is, never hidden by
/// `lookup-404`: the truth a test checks the merchant against. 404 for an unknown key.
pub async fn payment(
    Shared(sandbox): Shared<Sandbox>,
    Path(payment_key): Path<String>,
) -> Response {
    match sandbox.lock().payment_mut(&payment_key) {
        Some(payment) => Json(payment.to_json(Lang::Ko)).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "unknown paymentKey" })),
        )
            .into_response(),
    }
}

/// `POST /sandbox/payments/{paymentKey}/deposit`: the shopper pays into the virtual account
/// (`WAITING_FOR_DEPOSIT` → `DONE`, before its due date); `.../deposit-error`: the bank
/// reverses that deposit (`DONE` → `WAITING_FOR_DEPOSIT`). Both send `DEPOSIT_CALLBACK`
/// (docs/toss.md §7, §7b). Answers the Payment; 404 for an unknown key, 400 otherwise.
pub async fn deposit(
    Shared(sandbox): Shared<Sandbox>,
    Path(payment_key): Path<String>,
) -> Response {
    change_deposit(&sandbox, &payment_key, Payment::deposit)
}

pub async fn deposit_error(
    Shared(sandbox): Shared<Sandbox>,
    Path(payment_key): Path<String>,
) -> Response {
    change_deposit(&sandbox, &payment_key, Payment::deposit_error)
}

fn change_deposit(
    sandbox: &Sandbox,
    payment_key: &str,
    change: fn(&mut Payment, DateTime<Utc>) -> Result<(), &'static str>,
) -> Response {
    let mut state = sandbox.lock();
    let now = state.now();
    let Some(payment) = state.payment_mut(payment_key) else {
        return (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "unknown paymentKey" })),
        )
            .into_response();
    };
    match change(payment, now) {
        Ok(()) => Json(payment.to_json(Lang::Ko)).into_response(),
        Err(why) => (StatusCode::BAD_REQUEST, Json(json!({ "error": why }))).into_response(),
    }
}
