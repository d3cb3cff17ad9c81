//! The Toss `/v1/payments` routes: confirm, lookups and cancel.

use crate::Sandbox;
use crate::auth::{KeyFamily, SecretKey};
use crate::codes::{ApiError, Lang};
use crate::faults::{Faults, HANG, MIXED_KEY_CODE, PARTIAL_LANDING};
use crate::idempotency::{Reply, forced_error, run_post};
use crate::state::{Approval, Payment, State, Status, later};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State as Shared};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

const MAX_PAYMENT_KEY_CHARS: usize = 200;
const MAX_CANCEL_REASON_CHARS: usize = 200;

pub async fn confirm(
    Shared(sandbox): Shared<Sandbox>,
    Extension(secret_key): Extension<SecretKey>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Counted before idempotency handling so replays and 409s show in the stats too.
    if let Some(key) = peek_payment_key(&body) {
        sandbox.lock().stats_mut(&key).confirm_requests += 1;
    }
    let caller = Caller {
        family: secret_key.family(),
        lang: Lang::of(&headers),
    };
    let operation = confirm_operation(sandbox.clone(), body, caller);
    run_post(&sandbox, &secret_key, uri.path(), &headers, operation).await
}

pub async fn cancel(
    Shared(sandbox): Shared<Sandbox>,
    Extension(secret_key): Extension<SecretKey>,
    Path(payment_key): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let operation = cancel_operation(sandbox.clone(), payment_key, body, Lang::of(&headers));
    run_post(&sandbox, &secret_key, uri.path(), &headers, operation).await
}

pub async fn get_by_key(
    Shared(sandbox): Shared<Sandbox>,
    Extension(secret_key): Extension<SecretKey>,
    Path(payment_key): Path<String>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::of(&headers);
    if let Some(error) = forced_error(&headers, &secret_key) {
        return error.respond(lang);
    }
    lookup(sandbox.lock().payment_mut(&payment_key).map(|p| &*p), lang)
}

pub async fn get_by_order(
    Shared(sandbox): Shared<Sandbox>,
    Extension(secret_key): Extension<SecretKey>,
    Path(order_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let lang = Lang::of(&headers);
    if let Some(error) = forced_error(&headers, &secret_key) {
        return error.respond(lang);
    }
    lookup(
        sandbox.lock().payment_by_order_mut(&order_id).map(|p| &*p),
        lang,
    )
}

fn lookup(found: Option<&Payment>, lang: Lang) -> Response {
    match found.filter(|p| !p.hidden_from_lookups()) {
        Some(payment) => Json(payment.to_json(lang)).into_response(),
        None => ApiError::of("NOT_FOUND_PAYMENT").respond(lang),
    }
}

/// Who sends a confirm: the family of its secret key and the language it reads.
#[derive(Clone, Copy)]
struct Caller {
    family: KeyFamily,
    lang: Lang,
}

struct ConfirmRequest {
    payment_key: String,
    order_id: String,
    amount: i64,
    caller: Caller,
}

fn peek_payment_key(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    Some(value.get("paymentKey")?.as_str()?.to_owned())
}

fn json_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(fields)) => Ok(fields),
        _ => Err(ApiError::invalid_request(
            "요청 본문은 JSON 객체여야 합니다.",
            "The request body must be a JSON object.",
        )),
    }
}

/// A JSON integer; `1000.0` counts too, as Toss takes `amount` as a plain number.
fn integer(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
            .map(|f| f as i64)
    })
}

fn parse_confirm(body: &[u8], caller: Caller) -> Result<ConfirmRequest, ApiError> {
    let fields = json_object(body)?;
    let text = |name: &str| -> Result<String, ApiError> {
        match fields.get(name) {
            Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
            _ => Err(ApiError::invalid_request(
                format!("{name}은(는) 필수이며 문자열이어야 합니다."),
                format!("{name} is required and must be a string."),
            )),
        }
    };
    let payment_key = text("paymentKey")?;
    if payment_key.chars().count() > MAX_PAYMENT_KEY_CHARS {
        return Err(ApiError::invalid_request(
            "paymentKey는 최대 200자입니다.",
            "paymentKey is at most 200 characters.",
        ));
    }
    let order_id = text("orderId")?;
    let amount = fields
        .get("amount")
        .and_then(integer)
        .filter(|a| *a >= 0)
        .ok_or_else(|| {
            ApiError::invalid_request(
                "amount는 필수이며 0 이상의 정수여야 합니다.",
                "amount is required and must be a non-negative integer.",
            )
        })?;
    Ok(ConfirmRequest {
        payment_key,
        order_id,
        amount,
        caller,
    })
}

/// The checks between the body and the faults, in Toss's order. Run again after a `delay`
/// because another request may have changed the payment meanwhile.
fn confirmable<'a>(
    state: &'a mut State,
    request: &ConfirmRequest,
) -> Result<&'a mut Payment, ApiError> {
    let payment = state
        .payment_mut(&request.payment_key)
        .ok_or_else(|| ApiError::of("NOT_FOUND_PAYMENT"))?;
    // A widget payment is confirmed with the widget secret key, an API-window payment with
    // the API one (docs/toss.md §1 "Key pairing"); the code is a choice, see MIXED_KEY_CODE.
    if payment.integration != request.caller.family {
        let code = payment
            .faults
            .mixed_key
            .as_deref()
            .unwrap_or(MIXED_KEY_CODE);
        return Err(ApiError::of(code));
    }
    if payment.order_id != request.order_id {
        return Err(ApiError::of("NOT_FOUND_PAYMENT_SESSION"));
    }
    // After a `partial-` answer a new attempt gets a final-looking code although the approval
    // went through: a final code after an unknown outcome is no verdict (docs/toss.md §5.3).
    if payment.partial_answered {
        return Err(ApiError::of("NOT_FOUND_PAYMENT_SESSION"));
    }
    match payment.status {
        // Another confirm's approval is still running (`late-`). Toss does not document this
        // answer; a 5xx that "may be partial" (§5.2) sends the caller to a lookup, which fits.
        Status::InProgress if payment.pending_approval.is_some() => {
            return Err(ApiError::of("FAILED_INTERNAL_SYSTEM_PROCESSING"));
        }
        Status::InProgress => {}
        Status::WaitingForDeposit | Status::Done | Status::Canceled | Status::PartialCanceled => {
            return Err(ApiError::of("ALREADY_PROCESSED_PAYMENT"));
        }
        // READY was never authenticated, so there is no session to confirm either.
        Status::Expired | Status::Aborted | Status::Ready => {
            return Err(ApiError::of("NOT_FOUND_PAYMENT_SESSION"));
        }
    }
    if request.amount != payment.requested_amount {
        let (sent, authenticated) = (request.amount, payment.requested_amount);
        return Err(ApiError::invalid_request(
            format!("요청 금액 {sent}이(가) 인증된 금액 {authenticated}과(와) 다릅니다."),
            format!("The amount {sent} differs from the authenticated amount {authenticated}."),
        ));
    }
    Ok(payment)
}

async fn confirm_operation(sandbox: Sandbox, body: Bytes, caller: Caller) -> Reply {
    let request = match parse_confirm(&body, caller) {
        Ok(request) => request,
        Err(error) => return error.into(),
    };
    let faults = match confirmable(&mut sandbox.lock(), &request) {
        Ok(payment) => payment.faults.clone(),
        Err(error) => return error.into(),
    };
    if let Some(delay) = faults.delay {
        tokio::time::sleep(delay).await;
    }
    let reply = answer_confirm(&mut sandbox.lock(), &request, &faults);
    if faults.hang {
        tokio::time::sleep(HANG).await;
    }
    Reply {
        drop_connection: reply.drop_connection || faults.drop,
        ..reply
    }
}

/// The faults that decide the answer, then the approval, all under one lock so that no other
/// request sees a half-done confirm.
fn answer_confirm(state: &mut State, request: &ConfirmRequest, faults: &Faults) -> Reply {
    let now = state.now();
    let payment = match confirmable(state, request) {
        Ok(payment) => payment,
        Err(error) => return error.into(),
    };
    if let Some((code, n)) = &faults.fail
        && payment.injected_failures < *n
    {
        payment.injected_failures += 1;
        return ApiError::of(code).into();
    }
    if let Some(code) = &faults.abort {
        let failure = ApiError::of(code);
        payment.abort(failure.clone(), now);
        return failure.into();
    }
    let amount = faults.amount.unwrap_or(request.amount);
    if let Some(late) = faults.late {
        let approval = Approval::new(amount, later(now, late));
        return late_approval(payment, approval, request.caller.lang);
    }
    if let Some(code) = &faults.partial {
        let approval = Approval::new(amount, later(now, PARTIAL_LANDING));
        return partial_approval(payment, approval, code);
    }
    payment.approve(amount, now);
    let approved = payment.to_json(request.caller.lang);
    state.stats_mut(&request.payment_key).approvals += 1;
    Reply::ok(approved)
}

/// The `late-` fault: no answer reaches the client (as with `drop`) while the approval is
/// still running at Toss. The Idempotency-Key counts as in flight until it lands, then replays
/// the approved Payment (docs/toss.md §4).
fn late_approval(payment: &mut Payment, approval: Approval, lang: Lang) -> Reply {
    let running_until = Some(approval.at);
    Reply {
        drop_connection: true,
        running_until,
        ..Reply::ok(payment.schedule_approval(approval, lang))
    }
}

/// The `partial-` fault: Toss answers an error (replayed for the same key, §4) while the
/// approval still goes through, as a `FAILED_*_PROCESSING` "may be partial" (§5.2, §5.3).
fn partial_approval(payment: &mut Payment, approval: Approval, code: &str) -> Reply {
    // The promised Payment is not this answer, so its language does not matter.
    payment.schedule_approval(approval, Lang::default());
    payment.partial_answered = true;
    ApiError::of(code).into()
}

struct CancelRequest {
    reason: String,
    amount: Option<i64>,
    refundable_amount: Option<i64>,
    /// `refundReceiveAccount {bank, accountNumber, holderName}`: where a refund of a
    /// deposited virtual account is paid (docs/toss.md §3, §7b).
    refund_account: Option<Value>,
}

/// A refund account with all three fields as non-empty text.
fn refund_account(value: Option<&Value>) -> Result<Option<Value>, ApiError> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let filled = |name: &str| {
        value
            .get(name)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.trim().is_empty())
    };
    if ["bank", "accountNumber", "holderName"]
        .iter()
        .all(|f| filled(f))
    {
        Ok(Some(value.clone()))
    } else {
        Err(ApiError::of("INVALID_REFUND_ACCOUNT_INFO"))
    }
}

fn parse_cancel(body: &[u8]) -> Result<CancelRequest, ApiError> {
    let fields = json_object(body)?;
    let reason = match fields.get("cancelReason") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        _ => {
            return Err(ApiError::invalid_request(
                "cancelReason은 필수입니다.",
                "cancelReason is required.",
            ));
        }
    };
    if reason.chars().count() > MAX_CANCEL_REASON_CHARS {
        return Err(ApiError::invalid_request(
            "cancelReason은 최대 200자입니다.",
            "cancelReason is at most 200 characters.",
        ));
    }
    // Absent and null both mean "the whole balance" / "not checked".
    let optional_amount = |name: &str| -> Result<Option<i64>, ApiError> {
        match fields.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => integer(value).filter(|a| *a > 0).map(Some).ok_or_else(|| {
                ApiError::invalid_request(
                    format!("{name}은(는) 양의 정수여야 합니다."),
                    format!("{name} must be a positive integer."),
                )
            }),
        }
    };
    Ok(CancelRequest {
        reason,
        amount: optional_amount("cancelAmount")?,
        refundable_amount: optional_amount("refundableAmount")?,
        refund_account: refund_account(fields.get("refundReceiveAccount"))?,
    })
}

async fn cancel_operation(sandbox: Sandbox, payment_key: String, body: Bytes, lang: Lang) -> Reply {
    let request = match parse_cancel(&body) {
        Ok(request) => request,
        Err(error) => return error.into(),
    };
    let mut state = sandbox.lock();
    let now = state.now();
    let Some(payment) = state.payment_mut(&payment_key) else {
        return ApiError::of("NOT_FOUND_PAYMENT").into();
    };
    match payment.status {
        Status::Done | Status::PartialCanceled => {}
        // Before the deposit a virtual account is cancelled whole or not at all (§7b).
        Status::WaitingForDeposit if request.amount.is_some_and(|a| a < payment.balance_amount) => {
            return ApiError::of("NOT_ALLOWED_PARTIAL_REFUND_WAITING_DEPOSIT").into();
        }
        Status::WaitingForDeposit => {}
        Status::Canceled => return ApiError::of("ALREADY_CANCELED_PAYMENT").into(),
        _ => return ApiError::of("NOT_CANCELABLE_PAYMENT").into(),
    }
    // Money paid into a virtual account goes back to an account the merchant names (§3).
    let deposited = payment.account.is_some() && payment.approved_at.is_some();
    if deposited && request.refund_account.is_none() {
        return ApiError::of("INVALID_REFUND_ACCOUNT_INFO").into();
    }
    if let Some((code, n)) = &payment.faults.cancel_fail
        && payment.injected_cancel_failures < *n
    {
        payment.injected_cancel_failures += 1;
        return ApiError::of(code).into();
    }
    // Toss's guard for safe partial cancels: the caller states the balance it expects.
    if request
        .refundable_amount
        .is_some_and(|expected| expected != payment.balance_amount)
    {
        return ApiError::of("NOT_MATCHES_REFUNDABLE_AMOUNT").into();
    }
    let amount = request.amount.unwrap_or(payment.balance_amount);
    if amount > payment.balance_amount {
        return ApiError::of("NOT_CANCELABLE_AMOUNT").into();
    }
    payment.cancel(amount, request.reason, now);
    if let Some(account) = payment.account.as_mut().filter(|_| deposited) {
        account.refund_account = request.refund_account;
    }
    let canceled = payment.to_json(lang);
    let drop_connection = payment.faults.cancel_drop;
    state.stats_mut(&payment_key).cancels += 1;
    Reply {
        drop_connection,
        ..Reply::ok(canceled)
    }
}
