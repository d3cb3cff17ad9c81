use app::InfraError;
use app::ports::{GatewayError, PaymentGateway, TossPayment};
use async_trait::async_trait;
use base64::Engine;
use domain::payment::{Amount, OrderId};
use reqwest::header::{AUTHORIZATION, HeaderValue};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// Toss Payments' server API over HTTPS (or the local sandbox: only the base URL differs).
#[derive(Clone)]
pub struct TossGateway {
    http: reqwest::Client,
    base_url: String,
    /// `Basic base64(secretKey + ":")`, marked sensitive so it never shows in debug output.
    authorization: HeaderValue,
}

#[derive(Debug, Clone, Copy)]
pub struct TossTimeouts {
    pub connect: Duration,
    /// Whole-request bound. Card networks can be slow; Toss documents up to 60 s for its
    /// slowest calls, and the confirm needs to finish inside the function's timeout.
    pub request: Duration,
}

impl Default for TossTimeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(4),
            request: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PaymentBody {
    payment_key: String,
    order_id: String,
    status: String,
    #[serde(default)]
    total_amount: u64,
    #[serde(default)]
    currency: Option<String>,
    #[serde(default)]
    approved_at: Option<String>,
    #[serde(default)]
    failure: Option<FailureBody>,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    balance_amount: Option<u64>,
    #[serde(default)]
    secret: Option<String>,
    #[serde(default)]
    virtual_account: Option<app::ports::VirtualAccount>,
}

#[derive(Debug, Deserialize)]
struct FailureBody {
    code: String,
    #[serde(default)]
    message: String,
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    code: String,
    #[serde(default)]
    message: String,
}

impl From<PaymentBody> for TossPayment {
    fn from(p: PaymentBody) -> Self {
        TossPayment {
            payment_key: p.payment_key,
            order_id: p.order_id,
            status: p.status,
            total_amount: p.total_amount,
            currency: p.currency,
            approved_at: p.approved_at,
            failure: p.failure.map(|f| (f.code, f.message)),
            method: p.method,
            balance_amount: p.balance_amount,
            secret: p.secret,
            virtual_account: p.virtual_account,
        }
    }
}

impl TossGateway {
    pub fn new(
        base_url: &str,
        secret_key: &str,
        timeouts: TossTimeouts,
    ) -> Result<Self, InfraError> {
        let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{secret_key}:"));
        let mut authorization = HeaderValue::from_str(&format!("Basic {encoded}"))
            .map_err(|e| InfraError::new("invalid Toss secret key", e))?;
        authorization.set_sensitive(true);
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            .timeout(timeouts.request)
            .build()
            .map_err(|e| InfraError::new("could not build the Toss HTTP client", e))?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            authorization,
        })
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<TossPayment, GatewayError> {
        let started = std::time::Instant::now();
        let sent = request
            .header(AUTHORIZATION, self.authorization.clone())
            .send()
            .await;
        crate::metrics::emit(&[(
            "TossLatency",
            started.elapsed().as_secs_f64() * 1000.0,
            crate::metrics::Unit::Milliseconds,
        )]);
        let response = sent.map_err(|e| GatewayError::NoAnswer(describe(e)))?;
        let status = response.status();
        let body = response
            .bytes()
            .await
            .map_err(|e| GatewayError::NoAnswer(describe(e)))?;
        if status.is_success() {
            return serde_json::from_slice::<PaymentBody>(&body)
                .map(TossPayment::from)
                .map_err(|e| GatewayError::NoAnswer(format!("unreadable payment body: {e}")));
        }
        match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(error) => Err(GatewayError::Rejected {
                http_status: status.as_u16(),
                code: error.code,
                message: error.message,
            }),
            Err(_) if status.as_u16() == 429 => Err(GatewayError::Rejected {
                http_status: 429,
                code: "TOO_MANY_REQUESTS".into(),
                message: "too many requests".into(),
            }),
            // A body-less error (a proxy's 502, a cut-off answer) says nothing about the
            // payment: treat it as no answer.
            Err(_) => Err(GatewayError::NoAnswer(format!(
                "HTTP {status} without an error body"
            ))),
        }
    }
}

/// Transport error text without the URL's query or any header.
fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect"
    } else if e.is_body() || e.is_decode() {
        "body"
    } else {
        "transport"
    };
    format!("{kind}: {}", e.without_url())
}

#[async_trait]
impl PaymentGateway for TossGateway {
    async fn confirm(
        &self,
        payment_key: &str,
        order_id: &OrderId,
        amount: Amount,
        idempotency_key: &str,
    ) -> Result<TossPayment, GatewayError> {
        let request = self
            .http
            .post(format!("{}/v1/payments/confirm", self.base_url))
            .header("Idempotency-Key", idempotency_key)
            .json(&json!({ "paymentKey": payment_key, "orderId": order_id.as_str(), "amount": amount.won() }));
        self.send(request).await
    }

    async fn lookup(&self, order_id: &OrderId) -> Result<Option<TossPayment>, GatewayError> {
        let request = self.http.get(format!(
            "{}/v1/payments/orders/{}",
            self.base_url,
            order_id.as_str()
        ));
        match self.send(request).await {
            Ok(payment) => Ok(Some(payment)),
            Err(GatewayError::Rejected { code, .. })
                if code == "NOT_FOUND_PAYMENT" || code == "NOT_FOUND" =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn cancel(
        &self,
        payment_key: &str,
        reason: &str,
        amount: Option<u64>,
        refundable: Option<u64>,
        refund_account: Option<&domain::refund_account::RefundAccount>,
        idempotency_key: &str,
    ) -> Result<TossPayment, GatewayError> {
        let mut body = json!({
            "cancelReason": reason,
            "cancelAmount": amount,
            "refundableAmount": refundable,
        });
        if let Some(account) = refund_account {
            // Toss's field names (docs/toss.md §3) happen to be ours.
            body["refundReceiveAccount"] = json!(account);
        }
        let request = self
            .http
            .post(format!(
                "{}/v1/payments/{payment_key}/cancel",
                self.base_url
            ))
            .header("Idempotency-Key", idempotency_key)
            .json(&body);
        self.send(request).await
    }
}
