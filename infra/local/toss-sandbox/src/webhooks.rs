//! The webhooks Toss sends to the URL a merchant registered (docs/toss.md §7): the body and
//! headers Toss uses, an answer counts only if it is a 200 within 10 s, and a failed
//! delivery is retried 7 times, 1, 4, 16, 64, 256, 1024 and 4096 minutes after each
//! failure, on the sandbox clock (so a test moves the clock to reach the next retry).
//! Faults chosen through the paymentKey repeat, reorder or falsify deliveries.

use crate::Sandbox;
use crate::faults::{Faults, REORDER_HOLD};
use crate::state::{Notice, State, hex32, kst, kst_local_micros, later};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State as Shared};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

/// Minutes from a failed attempt to the next one (docs/toss.md §7).
pub const RETRY_MINUTES: [i64; 7] = [1, 4, 16, 64, 256, 1024, 4096];
/// An answer later than this is a failure, whatever it says (§7).
pub const ANSWER_WITHIN: Duration = Duration::from_secs(10);
/// How often the sender looks for due deliveries.
const TICK: Duration = Duration::from_millis(100);

/// The registered URL and every delivery so far.
#[derive(Debug, Default)]
pub struct Webhooks {
    pub url: Option<String>,
    pub deliveries: Vec<Delivery>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Pending,
    Sending,
    Delivered,
    /// All 7 retries failed: Toss shows "실패" and sends nothing more on its own.
    Failed,
}

#[derive(Debug, Clone)]
pub struct Delivery {
    pub transmission_id: String,
    pub event_type: &'static str,
    pub payment_key: String,
    pub body: Value,
    /// `webhook-duplicate`: each attempt goes out twice at once.
    pub duplicate: bool,
    /// Attempts after the first (`tosspayments-webhook-transmission-retried-count`).
    pub retried_count: u32,
    pub next_at: DateTime<Utc>,
    pub state: DeliveryState,
    pub attempts: Vec<Attempt>,
}

#[derive(Debug, Clone)]
pub struct Attempt {
    pub at: DateTime<Utc>,
    pub retried_count: u32,
    /// The HTTP status, or why there was none in time.
    pub answer: Result<u16, String>,
}

/// One attempt to send, taken out of the state so no lock is held over the network.
struct Send {
    transmission_id: String,
    url: String,
    body: String,
    retried_count: u32,
    copies: usize,
}

/// The sender: lands due changes (approvals, expiries) while a URL is registered, turns
/// the payments' notices into deliveries and sends what is due. Runs until the process ends.
pub async fn run(sandbox: Sandbox) {
    let client = reqwest::Client::new();
    let mut tick = tokio::time::interval(TICK);
    loop {
        tick.tick().await;
        let due = take_due(&mut sandbox.lock());
        for send in due {
            tokio::spawn(send_one(sandbox.clone(), client.clone(), send));
        }
    }
}

fn take_due(state: &mut State) -> Vec<Send> {
    if state.webhooks.url.is_some() {
        // Toss changes payments on its own clock and announces it; the sandbox applies
        // such changes lazily, so it looks at every payment while anyone is listening.
        let keys: Vec<String> = state.payments.keys().cloned().collect();
        for key in keys {
            state.payment_mut(&key);
        }
    }
    collect_notices(state);
    let now = state.now();
    let Some(url) = state.webhooks.url.clone() else {
        return Vec::new();
    };
    let due = state
        .webhooks
        .deliveries
        .iter_mut()
        .filter(|d| d.state == DeliveryState::Pending && d.next_at <= now);
    due.map(|delivery| {
        delivery.state = DeliveryState::Sending;
        Send {
            transmission_id: delivery.transmission_id.clone(),
            url: url.clone(),
            body: delivery.body.to_string(),
            retried_count: delivery.retried_count,
            copies: if delivery.duplicate { 2 } else { 1 },
        }
    })
    .collect()
}

/// Moves the payments' notices into deliveries, in the order the changes happened;
/// without a registered URL they are dropped, as Toss sends nothing then.
pub fn collect_notices(state: &mut State) {
    let now = state.now();
    let mut notices: Vec<(Notice, String, Faults)> = Vec::new();
    for payment in state.payments.values_mut() {
        for notice in std::mem::take(&mut payment.notices) {
            notices.push((notice, payment.payment_key.clone(), payment.faults.clone()));
        }
    }
    if state.webhooks.url.is_none() {
        return;
    }
    notices.sort_by_key(|(notice, _, _)| notice.sequence);
    for (notice, payment_key, faults) in notices {
        let deliveries = &mut state.webhooks.deliveries;
        let first_of_payment = !deliveries.iter().any(|d| d.payment_key == payment_key);
        let hold = faults.webhook_reorder && first_of_payment;
        let mut body = notice.body;
        if faults.webhook_lie {
            lie_about(&mut body);
        }
        deliveries.push(Delivery {
            transmission_id: format!("wh_{}", hex32()),
            event_type: notice.event_type,
            payment_key,
            body,
            duplicate: faults.webhook_duplicate,
            retried_count: 0,
            next_at: if hold { later(now, REORDER_HOLD) } else { now },
            state: DeliveryState::Pending,
            attempts: Vec::new(),
        });
    }
}

/// `webhook-lie`: the unsigned body says the opposite of what happened — a cancel of a
/// payment that was approved, an approval of one that was not.
fn lie_about(body: &mut Value) {
    // A deposit callback lies about the deposit.
    if body.get("eventType").is_none() {
        let deposited = body["status"] == "DONE";
        body["status"] = json!(if deposited {
            "WAITING_FOR_DEPOSIT"
        } else {
            "DONE"
        });
        return;
    }
    let Some(data) = body.get_mut("data").and_then(Value::as_object_mut) else {
        return;
    };
    let total = data.get("totalAmount").cloned().unwrap_or(json!(0));
    if data.get("status").and_then(Value::as_str) == Some("DONE") {
        data.insert("status".into(), json!("CANCELED"));
        data.insert("balanceAmount".into(), json!(0));
    } else {
        data.insert("status".into(), json!("DONE"));
        data.insert("balanceAmount".into(), total);
    }
}

async fn send_one(sandbox: Sandbox, client: reqwest::Client, send: Send) {
    let sent_at = sandbox.lock().now();
    let send = std::sync::Arc::new(send);
    // The copies of a duplicated delivery go out at the same time, as separate requests.
    let copies: Vec<_> = (0..send.copies)
        .map(|_| {
            let (client, send) = (client.clone(), send.clone());
            tokio::spawn(async move { post(&client, &send, sent_at).await })
        })
        .collect();
    let mut answers = Vec::with_capacity(copies.len());
    for copy in copies {
        answers.push(
            copy.await
                .unwrap_or_else(|e| Err(format!("sender failed: {e}"))),
        );
    }
    let mut state = sandbox.lock();
    let now = state.now();
    let Some(delivery) = state
        .webhooks
        .deliveries
        .iter_mut()
        .find(|d| d.transmission_id == send.transmission_id)
    else {
        return;
    };
    let delivered = answers.contains(&Ok(200));
    for answer in answers {
        delivery.attempts.push(Attempt {
            at: sent_at,
            retried_count: send.retried_count,
            answer,
        });
    }
    settle_attempt(delivery, delivered, now);
}

/// After an attempt: delivered, the next retry scheduled, or given up after the 7th retry.
fn settle_attempt(delivery: &mut Delivery, delivered: bool, now: DateTime<Utc>) {
    if delivered {
        delivery.state = DeliveryState::Delivered;
        return;
    }
    match RETRY_MINUTES.get(delivery.retried_count as usize) {
        Some(minutes) => {
            delivery.retried_count += 1;
            delivery.next_at = now + TimeDelta::minutes(*minutes);
            delivery.state = DeliveryState::Pending;
        }
        None => delivery.state = DeliveryState::Failed,
    }
}

async fn post(client: &reqwest::Client, send: &Send, at: DateTime<Utc>) -> Result<u16, String> {
    let answer = client
        .post(&send.url)
        .timeout(ANSWER_WITHIN)
        .header("content-type", "application/json")
        .header(
            "tosspayments-webhook-transmission-id",
            &send.transmission_id,
        )
        .header(
            "tosspayments-webhook-transmission-time",
            kst_local_micros(at),
        )
        .header(
            "tosspayments-webhook-transmission-retried-count",
            send.retried_count.to_string(),
        )
        .body(send.body.clone())
        .send()
        .await;
    match answer {
        Ok(response) => Ok(response.status().as_u16()),
        Err(error) if error.is_timeout() => Err("no answer within 10 s".into()),
        Err(error) => Err(format!("not delivered: {error}")),
    }
}

/// `POST /sandbox/webhooks {"url": "http(s)://…" | null}`: registers (or removes) the URL,
/// like the 웹훅 menu of Toss's developer center.
pub async fn register(Shared(sandbox): Shared<Sandbox>, body: Bytes) -> Response {
    let url = match serde_json::from_slice::<Value>(&body) {
        Ok(value) => value.get("url").cloned().unwrap_or(Value::Null),
        Err(_) => return bad_request("the body must be {\"url\": ...}"),
    };
    let url = match url {
        Value::Null => None,
        Value::String(url) if url.starts_with("http://") || url.starts_with("https://") => {
            Some(url)
        }
        _ => return bad_request("url must be an absolute http(s) URL or null"),
    };
    sandbox.set_webhook_url(url.clone());
    Json(json!({ "url": url })).into_response()
}

/// `GET /sandbox/webhooks[?paymentKey=]`: the registered URL and the deliveries with
/// every attempt, for tests to wait on and assert.
pub async fn list(Shared(sandbox): Shared<Sandbox>, uri: Uri) -> Json<Value> {
    let filter: HashMap<String, String> =
        form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .into_owned()
            .collect();
    let state = sandbox.lock();
    let wanted = filter.get("paymentKey").filter(|key| !key.is_empty());
    let deliveries: Vec<Value> = state
        .webhooks
        .deliveries
        .iter()
        .filter(|d| wanted.is_none_or(|key| *key == d.payment_key))
        .map(Delivery::to_json)
        .collect();
    Json(json!({ "url": state.webhooks.url, "deliveries": deliveries }))
}

/// `POST /sandbox/webhooks/{transmissionId}/resend`: the console's "다시 시도": pending
/// retries are replaced by one attempt now (§7).
pub async fn resend(
    Shared(sandbox): Shared<Sandbox>,
    Path(transmission_id): Path<String>,
) -> Response {
    let mut state = sandbox.lock();
    let now = state.now();
    let found = state
        .webhooks
        .deliveries
        .iter_mut()
        .find(|d| d.transmission_id == transmission_id);
    match found {
        Some(delivery) if delivery.state != DeliveryState::Sending => {
            delivery.state = DeliveryState::Pending;
            delivery.next_at = now;
            Json(delivery.to_json()).into_response()
        }
        Some(_) => bad_request("an attempt is being sent right now"),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "unknown transmissionId" })),
        )
            .into_response(),
    }
}

fn bad_request(why: &str) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": why }))).into_response()
}

impl Delivery {
    fn to_json(&self) -> Value {
        let state = match self.state {
            DeliveryState::Pending => "PENDING",
            DeliveryState::Sending => "SENDING",
            DeliveryState::Delivered => "DELIVERED",
            DeliveryState::Failed => "FAILED",
        };
        let attempts: Vec<Value> = self
            .attempts
            .iter()
            .map(|a| {
                json!({
                    "at": kst(a.at),
                    "retriedCount": a.retried_count,
                    "status": a.answer.as_ref().ok(),
                    "error": a.answer.as_ref().err(),
                })
            })
            .collect();
        json!({
            "transmissionId": self.transmission_id,
            "eventType": self.event_type,
            "paymentKey": self.payment_key,
            "state": state,
            "retriedCount": self.retried_count,
            "nextAttemptAt": matches!(self.state, DeliveryState::Pending).then(|| kst(self.next_at)),
            "attempts": attempts,
            "body": self.body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(now: DateTime<Utc>) -> Delivery {
        Delivery {
            transmission_id: "wh_1".into(),
            event_type: "PAYMENT_STATUS_CHANGED",
            payment_key: "tsbx_1".into(),
            body: json!({}),
            duplicate: false,
            retried_count: 0,
            next_at: now,
            state: DeliveryState::Sending,
            attempts: Vec::new(),
        }
    }

    #[test]
    fn failures_follow_tosss_retry_schedule_then_give_up() {
        let now = Utc::now();
        let mut d = delivery(now);
        for (retry, minutes) in RETRY_MINUTES.iter().enumerate() {
            settle_attempt(&mut d, false, now);
            assert_eq!(d.state, DeliveryState::Pending);
            assert_eq!(d.retried_count, retry as u32 + 1);
            assert_eq!(d.next_at, now + TimeDelta::minutes(*minutes));
        }
        settle_attempt(&mut d, false, now);
        assert_eq!(d.state, DeliveryState::Failed, "the 7th retry was the last");
        assert_eq!(
            RETRY_MINUTES.iter().sum::<i64>(),
            5461,
            "3 days 19 hours (§7)"
        );
    }

    #[test]
    fn a_lie_flips_the_status_and_the_balance() {
        let mut done = json!({ "eventType": "PAYMENT_STATUS_CHANGED", "data": { "status": "DONE", "totalAmount": 5000, "balanceAmount": 5000 } });
        lie_about(&mut done);
        assert_eq!(done["data"]["status"], "CANCELED");
        assert_eq!(done["data"]["balanceAmount"], 0);
        let mut aborted = json!({ "eventType": "PAYMENT_STATUS_CHANGED", "data": { "status": "ABORTED", "totalAmount": 5000, "balanceAmount": 5000 } });
        lie_about(&mut aborted);
        assert_eq!(aborted["data"]["status"], "DONE");
    }
}
