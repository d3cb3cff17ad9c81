use crate::envelope::{ApiError, Outcome, Reply};
use crate::idempotency::idempotent;
use crate::request::{header, json_body, path_param, request_time, require_caller};
use crate::services::Services;
use adapters::metrics;
use app::AppError;
use app::ports::{PaymentRecord, RefundStore};
use app::usecases::payments::{
    CONFIRM_RESERVE, CheckoutForm, ConfirmForm, PaymentDeps, PaymentError, PaymentTimings,
    RefundDeps, RefundError, RefundForm, WebhookDeps, checkout, confirm, payment_status,
    receive_webhook, refund,
};
use domain::ErrorCode;
use domain::payment::PaymentStatus;
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PaymentBody {
    order_id: String,
    member_id: u64,
    order_name: String,
    amount: u64,
    status: &'static str,
    points_charged: u64,
    failure_code: Option<String>,
    failure_message: Option<String>,
    /// The account to pay into (virtual accounts only; null otherwise).
    virtual_account: Option<app::ports::VirtualAccount>,
    /// The status answer lists the order's refunds (newest first); confirm leaves it out.
    #[serde(skip_serializing_if = "Option::is_none")]
    refunds: Option<Vec<RefundBody>>,
}

impl From<&PaymentRecord> for PaymentBody {
    fn from(p: &PaymentRecord) -> Self {
        Self {
            order_id: p.order_id.to_string(),
            member_id: p.member_id.0,
            order_name: p.order_name.clone(),
            amount: p.amount.won(),
            status: p.status.as_str(),
            points_charged: p.points_charged,
            failure_code: p.failure_code.clone(),
            failure_message: p.failure_message.clone(),
            virtual_account: p.virtual_account.clone(),
            refunds: None,
        }
    }
}

impl From<PaymentError> for ApiError {
    fn from(e: PaymentError) -> Self {
        match e {
            PaymentError::MemberNotFound => ApiError::refusal(
                StatusCode::NOT_FOUND,
                ErrorCode::MemberNotFound,
                "회원을 찾을 수 없습니다.",
            ),
            PaymentError::PaymentNotFound => ApiError::refusal(
                StatusCode::NOT_FOUND,
                ErrorCode::PaymentNotFound,
                "결제 정보를 찾을 수 없습니다.",
            ),
            PaymentError::NotYou => ApiError::refusal(
                StatusCode::FORBIDDEN,
                ErrorCode::ForbiddenMember,
                "다른 회원으로 요청할 수 없습니다.",
            ),
            PaymentError::NotYourOrder => ApiError::refusal(
                StatusCode::FORBIDDEN,
                ErrorCode::ForbiddenOrder,
                "본인의 주문이 아닙니다.",
            ),
            PaymentError::AmountMismatch => ApiError::refusal(
                StatusCode::BAD_REQUEST,
                ErrorCode::AmountMismatch,
                "결제 금액이 일치하지 않습니다.",
            ),
            PaymentError::PaymentKeyMismatch => ApiError::refusal(
                StatusCode::CONFLICT,
                ErrorCode::PaymentKeyMismatch,
                "이 주문에는 다른 결제가 이미 연결되어 있습니다.",
            ),
            PaymentError::App(e) => e.into(),
        }
    }
}

/// The Toss client. The cold start of a function that calls Toss fails without its key,
/// so this 503 is only the local gateway run without one.
fn gateway(services: &Services) -> Result<&adapters::TossGateway, ApiError> {
    services.toss.as_ref().ok_or_else(|| {
        tracing::error!("TOSS_SECRET_KEY is not configured for this function");
        ApiError::unavailable("일시적으로 결제를 처리할 수 없습니다.")
    })
}

/// `POST /api/payments/toss/checkout`
pub async fn handle_checkout(services: &Services, req: Request) -> Outcome {
    let now = request_time(&req);
    let caller = require_caller(&req)?;
    // Keys are per member: one member's key never answers for another.
    let scope = format!("checkout#{}", caller.0);
    idempotent(services, &scope, &req, now, || async {
        let form: CheckoutForm = json_body(&req)?;
        let seed = uuid::Uuid::new_v4().simple().to_string();
        let settings = &services.checkout;
        let made = checkout(&*services.store, settings, caller, form, &seed, now).await?;
        Ok(Reply::success(StatusCode::OK, made))
    })
    .await
}

/// The payment timings with the confirm budget cut to what this invocation has left
/// (Lambda's deadline less the reserve for recording `UNKNOWN` and answering 202).
fn confirm_timings(services: &Services, req: &Request) -> PaymentTimings {
    use lambda_http::RequestExt;
    let mut timings = services.payment_timings;
    let deadline = req
        .lambda_context_ref()
        .and_then(|c| crate::runtime::invocation_deadline(c.deadline));
    if let Some(deadline) = deadline {
        let left = (deadline - chrono::Utc::now()).to_std().unwrap_or_default();
        timings.confirm_budget = timings
            .confirm_budget
            .min(left.saturating_sub(CONFIRM_RESERVE));
    }
    timings
}

/// `POST /api/payments/toss/confirm`: 200 when approved and charged, 202 while the
/// outcome is being confirmed (poll the status endpoint), 4xx when refused.
pub async fn handle_confirm(services: &Services, req: Request) -> Outcome {
    let gateway = gateway(services)?;
    let now = request_time(&req);
    let caller = require_caller(&req)?;
    let scope = format!("confirm#{}", caller.0);
    idempotent(services, &scope, &req, now, || async {
        let form: ConfirmForm = json_body(&req)?;
        let deps = PaymentDeps {
            store: &*services.store,
            gateway,
            publisher: &*services.publisher,
            timings: confirm_timings(services, &req),
        };
        let payment = confirm(&deps, caller, form, now).await?;
        metrics::count(settled_metric(payment.status), 1);
        Ok(payment_reply(&payment))
    })
    .await
}

/// The metric counting payments that ended a confirm in `status`.
pub(crate) fn settled_metric(status: PaymentStatus) -> &'static str {
    match status {
        PaymentStatus::Done => "PaymentsDone",
        PaymentStatus::Failed => "PaymentsFailed",
        PaymentStatus::NeedsAttention => "PaymentsNeedsAttention",
        PaymentStatus::Expired => "PaymentsExpired",
        PaymentStatus::WaitingForDeposit => "PaymentsAwaitingDeposit",
        PaymentStatus::Ready | PaymentStatus::InProgress | PaymentStatus::Unknown => {
            "PaymentsUnknown"
        }
    }
}

/// A confirm's answer: the payment, with a status and code saying where it stands.
fn payment_reply(payment: &PaymentRecord) -> Reply {
    let body = PaymentBody::from(payment);
    match payment.status {
        PaymentStatus::Done => Reply::success(StatusCode::OK, body),
        PaymentStatus::InProgress | PaymentStatus::Unknown | PaymentStatus::Ready => Reply::with(
            StatusCode::ACCEPTED,
            ErrorCode::PaymentPending.as_str(),
            "결제 결과를 확인 중입니다. 잠시 후 결제 상태를 조회해 주세요.",
            Some(body),
        ),
        PaymentStatus::WaitingForDeposit => Reply::with(
            StatusCode::ACCEPTED,
            ErrorCode::PaymentAwaitingDeposit.as_str(),
            "가상계좌가 발급되었습니다. 입금이 확인되면 포인트가 충전됩니다.",
            Some(body),
        ),
        PaymentStatus::NeedsAttention => Reply::with(
            StatusCode::CONFLICT,
            ErrorCode::PaymentNeedsAttention.as_str(),
            "결제 확인이 필요합니다. 고객센터에서 확인 후 안내해 드립니다.",
            Some(body),
        ),
        PaymentStatus::Failed | PaymentStatus::Expired => {
            let message = match (&payment.failure_code, &payment.failure_message) {
                (Some(code), Some(message)) => {
                    format!("결제가 승인되지 않았습니다: {message} ({code})")
                }
                _ => "결제 가능 시간이 지나 결제가 취소되었습니다.".to_owned(),
            };
            Reply::with(
                StatusCode::BAD_REQUEST,
                ErrorCode::PaymentFailed.as_str(),
                &message,
                Some(body),
            )
        }
    }
}

/// `GET /api/payments/toss/{orderId}`: the payment as it stands, for polling after a 202.
pub async fn handle_status(services: &Services, req: Request) -> Outcome {
    let caller = require_caller(&req)?;
    let order_id = path_param(&req, "orderId").unwrap_or_default();
    let payment = payment_status(&*services.store, caller, &order_id).await?;
    let refunds = services
        .store
        .refunds_of(&payment.order_id)
        .await
        .map_err(AppError::from)?;
    let body = PaymentBody {
        refunds: Some(refunds.iter().map(RefundBody::from).collect()),
        ..PaymentBody::from(&payment)
    };
    Ok(Reply::success(StatusCode::OK, body))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RefundBody {
    refund_id: String,
    order_id: String,
    status: &'static str,
    points: u64,
    fee: u64,
    refund_won: u64,
    failure_code: Option<String>,
    failure_message: Option<String>,
}

impl From<&app::ports::RefundRecord> for RefundBody {
    fn from(r: &app::ports::RefundRecord) -> Self {
        Self {
            refund_id: r.refund_id.clone(),
            order_id: r.order_id.to_string(),
            status: r.status.as_str(),
            points: r.points,
            fee: r.fee,
            refund_won: r.refund_won,
            failure_code: r.failure_code.clone(),
            failure_message: r.failure_message.clone(),
        }
    }
}

/// `POST /api/payments/toss/{orderId}/refund`: 200 when Toss refunded it, 202 while its
/// outcome is being settled, 4xx when our policy or Toss refuses (the points stay or come
/// back).
pub async fn handle_refund(services: &Services, req: Request) -> Outcome {
    let gateway = gateway(services)?;
    let now = request_time(&req);
    let caller = require_caller(&req)?;
    let scope = format!("refund#{}", caller.0);
    idempotent(services, &scope, &req, now, || async {
        let form: RefundForm = json_body(&req)?;
        let order_id = path_param(&req, "orderId").unwrap_or_default();
        let deps = RefundDeps {
            payments: PaymentDeps {
                store: &*services.store,
                gateway,
                publisher: &*services.publisher,
                timings: services.payment_timings,
            },
            refunds: &*services.store,
            policy: services.refund_policy,
        };
        let refund_id = format!("rf_{}", uuid::Uuid::new_v4().simple());
        let refunded = refund(&deps, caller, &order_id, form, &refund_id, now).await?;
        metrics::count(refund_metric(refunded.status), 1);
        Ok(refund_reply(&refunded))
    })
    .await
}

/// The metric counting refunds that ended a request or a recovery look in `status`.
pub(crate) fn refund_metric(status: domain::refund::RefundStatus) -> &'static str {
    use domain::refund::RefundStatus::*;
    match status {
        Done => "RefundsDone",
        Refused => "RefundsRefused",
        NeedsAttention => "RefundsNeedsAttention",
        Requested | Unknown => "RefundsUnknown",
    }
}

fn refund_reply(refund: &app::ports::RefundRecord) -> Reply {
    use domain::refund::RefundStatus::*;
    let body = RefundBody::from(refund);
    match refund.status {
        Done => Reply::success(StatusCode::OK, body),
        Requested | Unknown => Reply::with(
            StatusCode::ACCEPTED,
            ErrorCode::RefundPending.as_str(),
            "환불 결과를 확인 중입니다. 포인트 내역에서 결과를 확인해 주세요.",
            Some(body),
        ),
        Refused => Reply::with(
            StatusCode::CONFLICT,
            ErrorCode::RefundRefused.as_str(),
            "토스페이먼츠가 환불을 거절했습니다. 포인트는 되돌려졌습니다.",
            Some(body),
        ),
        NeedsAttention => Reply::with(
            StatusCode::CONFLICT,
            ErrorCode::RefundNeedsAttention.as_str(),
            "환불 확인이 필요합니다. 고객센터에서 확인 후 안내해 드립니다.",
            Some(body),
        ),
    }
}

impl From<RefundError> for ApiError {
    fn from(e: RefundError) -> Self {
        use app::ports::RefundOpenError as Open;
        use domain::refund::RefundRefusal as Policy;
        match e {
            RefundError::App(e) => e.into(),
            RefundError::Open(open) => match open {
                Open::PaymentNotFound => PaymentError::PaymentNotFound.into(),
                Open::NotYourOrder => PaymentError::NotYourOrder.into(),
                Open::Infra(e) => AppError::from(e).into(),
                Open::NotRefundable => ApiError::refusal(
                    StatusCode::CONFLICT,
                    ErrorCode::PaymentNotRefundable,
                    "승인된 결제만 환불할 수 있습니다.",
                ),
                Open::RefundAccountRequired => ApiError::refusal(
                    StatusCode::BAD_REQUEST,
                    ErrorCode::RefundAccountRequired,
                    "가상계좌 결제는 환불받을 계좌(refundAccount)가 필요합니다.",
                ),
                Open::InProgress => ApiError::refusal(
                    StatusCode::CONFLICT,
                    ErrorCode::RefundInProgress,
                    "이 결제의 다른 환불이 처리 중입니다.",
                ),
                Open::Policy(Policy::NothingLeft) => ApiError::refusal(
                    StatusCode::CONFLICT,
                    ErrorCode::NothingToRefund,
                    "환불할 수 있는 포인트가 남아 있지 않습니다.",
                ),
                Open::Policy(Policy::MoreThanUnused { unused }) => ApiError::refusal(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::RefundExceedsUnused,
                    format!("사용하지 않은 {unused}포인트까지만 환불할 수 있습니다."),
                ),
                Open::Policy(Policy::ZeroPoints) => {
                    domain::ValidationError::invalid("amount", "1 이상이어야 합니다.").into()
                }
                Open::Policy(Policy::PastDeadline { deadline }) => ApiError::refusal(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::RefundDeadlinePassed,
                    format!(
                        "결제 수단의 환불 기한({})이 지났습니다.",
                        deadline.to_rfc3339()
                    ),
                ),
                Open::Policy(Policy::NothingToPayBack) => ApiError::refusal(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ErrorCode::RefundFeeTakesAll,
                    "수수료를 빼면 환불할 금액이 없습니다.",
                ),
            },
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WebhookBody {
    outcome: String,
}

/// `POST /api/payments/toss/webhook` (public: Toss calls it). 200 once the delivery is
/// handled or known (Toss stops sending it); 4xx for what is no Toss delivery; 503 when
/// Toss or the database did not answer (the delivery stays unfinished; Toss retries it).
pub async fn handle_webhook(services: &Services, req: Request) -> Outcome {
    let gateway = gateway(services)?;
    let body: domain::webhook::WebhookBody = json_body(&req)?;
    let delivery = domain::webhook::Delivery::parse(
        header(&req, "tosspayments-webhook-transmission-id"),
        header(&req, "tosspayments-webhook-transmission-retried-count"),
        body,
    )?;
    let deps = WebhookDeps {
        payments: PaymentDeps {
            store: &*services.store,
            gateway,
            publisher: &*services.publisher,
            // A settlement's confirm retries fit in what Toss's 10 s leave this invocation.
            timings: confirm_timings(services, &req),
        },
        deliveries: &*services.store,
    };
    let outcome = receive_webhook(&deps, &delivery, request_time(&req)).await?;
    if let app::usecases::payments::WebhookOutcome::ClawedBack { shortfall, .. } = outcome {
        metrics::count("PointsClawedBack", 1);
        if shortfall > 0 {
            metrics::count("ClawbackShortfalls", 1);
        }
    }
    let body = WebhookBody {
        outcome: outcome.label(),
    };
    Ok(Reply::success(StatusCode::OK, body))
}
