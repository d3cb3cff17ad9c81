//! The sandbox's shared state: payments, the settable clock, idempotency records and counters.

use crate::auth::KeyFamily;
use crate::codes::{ApiError, Lang};
use crate::faults::Faults;
use axum::http::StatusCode;
use chrono::{DateTime, FixedOffset, SecondsFormat, TimeDelta, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Confirm must follow authentication within this window (docs/toss.md §2.1).
pub const CONFIRM_WINDOW: TimeDelta = TimeDelta::minutes(10);
/// A payment window nobody authenticated in lives this long.
pub const READY_WINDOW: TimeDelta = TimeDelta::minutes(30);
/// Idempotency keys are remembered this long from their first request (§4).
pub const IDEMPOTENCY_TTL: TimeDelta = TimeDelta::days(15);
/// How long a virtual account issued by a confirm takes deposits (the merchant's setting
/// on Toss; docs/toss.md §7b leaves it to the merchant).
pub const DEPOSIT_WINDOW: TimeDelta = TimeDelta::days(7);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ready,
    InProgress,
    /// A virtual account was issued; nothing paid yet (docs/toss.md §2.3, §7b).
    WaitingForDeposit,
    Done,
    Aborted,
    Expired,
    Canceled,
    PartialCanceled,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ready => "READY",
            Status::InProgress => "IN_PROGRESS",
            Status::WaitingForDeposit => "WAITING_FOR_DEPOSIT",
            Status::Done => "DONE",
            Status::Aborted => "ABORTED",
            Status::Expired => "EXPIRED",
            Status::Canceled => "CANCELED",
            Status::PartialCanceled => "PARTIAL_CANCELED",
        }
    }
}

/// The payment methods the sandbox approves: `method` is one of Toss's Korean labels
/// (docs/toss.md §2.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Method {
    #[default]
    Card,
    EasyPay,
    /// 가상계좌: confirm issues an account, the shopper pays into it later (§7b).
    VirtualAccount,
}

impl Method {
    /// The label, or the SDK's `method` name (`CARD`, `EASY_PAY`, §8), as given at checkout.
    pub fn parse(text: &str) -> Option<Method> {
        match text {
            "카드" | "CARD" => Some(Method::Card),
            "간편결제" | "EASY_PAY" => Some(Method::EasyPay),
            "가상계좌" | "VIRTUAL_ACCOUNT" => Some(Method::VirtualAccount),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Method::Card => "카드",
            Method::EasyPay => "간편결제",
            Method::VirtualAccount => "가상계좌",
        }
    }

    /// Every method, in the order the payment window offers them.
    pub const ALL: [Method; 3] = [Method::Card, Method::EasyPay, Method::VirtualAccount];

    /// The SDK's name for the method (`CARD`, …), which the browser pages use as form values.
    pub fn code(self) -> &'static str {
        match self {
            Method::Card => "CARD",
            Method::EasyPay => "EASY_PAY",
            Method::VirtualAccount => "VIRTUAL_ACCOUNT",
        }
    }
}

/// What the shopper's checkout fixed before authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    pub order_id: String,
    pub order_name: String,
    pub amount: i64,
    pub method: Method,
    /// The family of the client key that opened the window (docs/toss.md §1, §8).
    pub integration: KeyFamily,
    pub faults: Faults,
}

#[derive(Debug, Clone)]
pub struct Cancel {
    pub amount: i64,
    pub reason: String,
    pub refundable_amount: i64,
    pub canceled_at: DateTime<Utc>,
    pub transaction_key: String,
    pub receipt_key: String,
}

/// An approval decided by a confirm. It is applied at once, or (the `late-` and `partial-`
/// faults) kept pending and applied when the sandbox clock reaches `at`: Toss keeps running a
/// confirm whose client is gone and may finish it after an error answer (docs/toss.md §4, §5.3).
#[derive(Debug, Clone)]
pub struct Approval {
    pub amount: i64,
    pub at: DateTime<Utc>,
    transaction_key: String,
    approve_no: String,
}

impl Approval {
    pub fn new(amount: i64, at: DateTime<Utc>) -> Self {
        Self {
            amount,
            at,
            transaction_key: hex32(),
            // Approval numbers are 8 digits; any will do as long as it is stable per payment.
            approve_no: format!("{:08}", uuid::Uuid::new_v4().as_u128() % 100_000_000),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Payment {
    pub payment_key: String,
    pub order_id: String,
    pub order_name: String,
    /// What the shopper authenticated; confirm must send exactly this.
    pub requested_amount: i64,
    pub total_amount: i64,
    pub balance_amount: i64,
    pub status: Status,
    pub requested_at: DateTime<Utc>,
    pub authenticated_at: Option<DateTime<Utc>>,
    pub approved_at: Option<DateTime<Utc>>,
    pub last_transaction_key: Option<String>,
    pub approve_no: Option<String>,
    pub cancels: Vec<Cancel>,
    pub failure: Option<ApiError>,
    pub secret: String,
    pub method: Method,
    /// Confirm must come with a secret key of this family.
    pub integration: KeyFamily,
    pub faults: Faults,
    /// How many `fail-CODE-n` failures were already answered.
    pub injected_failures: u32,
    /// Cancels answered by the `cancel-fail-` fault so far.
    pub injected_cancel_failures: u32,
    /// An approval that has not landed yet; the payment shows `IN_PROGRESS` meanwhile.
    pub pending_approval: Option<Approval>,
    /// The `partial-CODE` answer was given, so no confirmable session is left.
    pub partial_answered: bool,
    /// Webhooks this payment's changes call for, not yet taken by the sender.
    pub notices: Vec<Notice>,
    /// The virtual account a confirm issued (virtual-account payments only).
    pub account: Option<VirtualAccount>,
}

/// An issued virtual account (docs/toss.md §2.2 `virtualAccount`, §7b).
#[derive(Debug, Clone)]
pub struct VirtualAccount {
    pub account_number: String,
    pub due_at: DateTime<Utc>,
    /// The due date passed without a deposit: Toss leaves the status `WAITING_FOR_DEPOSIT`
    /// and sends nothing (§2.3); only this flag tells.
    pub expired: bool,
    /// The account a refund after the deposit was paid out to.
    pub refund_account: Option<Value>,
}

/// A webhook Toss would send about a change of a payment (docs/toss.md §7): the event type
/// and Toss's body, fixed when the change happened.
#[derive(Debug, Clone)]
pub struct Notice {
    /// Process-wide order of the changes, so webhooks go out in the order they happened.
    pub sequence: u64,
    pub event_type: &'static str,
    pub body: Value,
}

static NOTICES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// `PAYMENT_STATUS_CHANGED` is sent when a payment becomes one of these, and not for
/// `READY` / `IN_PROGRESS` (docs/toss.md §7).
fn status_is_announced(status: Status) -> bool {
    matches!(
        status,
        Status::Done
            | Status::Aborted
            | Status::Expired
            | Status::Canceled
            | Status::PartialCanceled
    )
}

impl Payment {
    pub fn new(
        payment_key: String,
        checkout: Checkout,
        now: DateTime<Utc>,
        authenticated: bool,
    ) -> Self {
        let Checkout {
            order_id,
            order_name,
            amount,
            method,
            integration,
            faults,
        } = checkout;
        Self {
            payment_key,
            order_id,
            order_name,
            requested_amount: amount,
            total_amount: amount,
            balance_amount: amount,
            status: if authenticated {
                Status::InProgress
            } else {
                Status::Ready
            },
            requested_at: now,
            authenticated_at: authenticated.then_some(now),
            approved_at: None,
            last_transaction_key: None,
            approve_no: None,
            cancels: Vec::new(),
            failure: None,
            secret: format!("ps_{}", hex32()),
            method,
            integration,
            faults,
            injected_failures: 0,
            injected_cancel_failures: 0,
            pending_approval: None,
            partial_answered: false,
            notices: Vec::new(),
            account: None,
        }
    }

    /// A virtual-account payment: `secret` is always there, as docs/toss.md §7b has confirm
    /// return it for the deposit callback.
    fn has_secret(&self) -> bool {
        self.method == Method::VirtualAccount || self.faults.with_secret
    }

    /// The shopper paid into the account (before its due date): `DONE`, announced by
    /// `PAYMENT_STATUS_CHANGED` and `DEPOSIT_CALLBACK` (§7).
    pub fn deposit(&mut self, now: DateTime<Utc>) -> Result<(), &'static str> {
        let open = self.account.as_ref().is_some_and(|a| now <= a.due_at);
        if self.status != Status::WaitingForDeposit || !open {
            return Err("no virtual account waiting for a deposit (or past its due date)");
        }
        self.status = Status::Done;
        self.approved_at = Some(now);
        self.last_transaction_key = Some(hex32());
        self.announce(now);
        self.deposit_callback(now);
        Ok(())
    }

    /// A deposit error: `DONE` goes back to `WAITING_FOR_DEPOSIT` (API versions after
    /// 1.4, §2.3), told by `DEPOSIT_CALLBACK` only (the status is not one §7 announces).
    pub fn deposit_error(&mut self, now: DateTime<Utc>) -> Result<(), &'static str> {
        if self.method != Method::VirtualAccount || self.status != Status::Done {
            return Err("no deposited virtual-account payment without cancels");
        }
        self.status = Status::WaitingForDeposit;
        self.approved_at = None;
        self.last_transaction_key = Some(hex32());
        self.deposit_callback(now);
        Ok(())
    }

    /// `DEPOSIT_CALLBACK {createdAt, secret, status, transactionKey, orderId}` (§7).
    fn deposit_callback(&mut self, at: DateTime<Utc>) {
        let body = json!({
            "createdAt": kst_local_micros(at),
            "secret": self.secret,
            "status": self.status.as_str(),
            "transactionKey": self.last_transaction_key,
            "orderId": self.order_id,
        });
        self.notices.push(Notice {
            sequence: NOTICES.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            event_type: "DEPOSIT_CALLBACK",
            body,
        });
    }

    /// Queues the `PAYMENT_STATUS_CHANGED` webhook of the status just reached, with the
    /// Payment as it is now (docs/toss.md §7: `createdAt` has no offset).
    fn announce(&mut self, at: DateTime<Utc>) {
        if !status_is_announced(self.status) {
            return;
        }
        let body = json!({
            "eventType": "PAYMENT_STATUS_CHANGED",
            "createdAt": kst_local_micros(at),
            "data": self.to_json(Lang::Ko),
        });
        self.notices.push(Notice {
            sequence: NOTICES.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            event_type: "PAYMENT_STATUS_CHANGED",
            body,
        });
    }

    /// Applies a pending approval whose time has come and the expiry rules lazily: Toss does
    /// both on its own clock, the sandbox whenever a payment is read or touched. Returns whether
    /// an approval landed.
    pub fn refresh(&mut self, now: DateTime<Utc>) -> bool {
        if let Some(approval) = self.pending_approval.take_if(|a| now >= a.at) {
            self.land(approval);
            return true;
        }
        // The confirm reached Toss inside the window; the window does not cut off its approval.
        if self.pending_approval.is_some() {
            return false;
        }
        if let Some(account) = self.account.as_mut()
            && self.status == Status::WaitingForDeposit
        {
            account.expired = now > account.due_at;
        }
        let deadline = match (self.status, self.authenticated_at) {
            (Status::InProgress, Some(at)) => at + CONFIRM_WINDOW,
            (Status::Ready, _) => self.requested_at + READY_WINDOW,
            _ => return false,
        };
        if now > deadline {
            self.status = Status::Expired;
            self.announce(now);
        }
        false
    }

    pub fn authenticate(&mut self, now: DateTime<Utc>) {
        self.status = Status::InProgress;
        self.authenticated_at = Some(now);
    }

    pub fn approve(&mut self, amount: i64, now: DateTime<Utc>) {
        self.land(Approval::new(amount, now));
    }

    fn land(&mut self, approval: Approval) {
        if self.method == Method::VirtualAccount {
            return self.issue_account(approval);
        }
        self.status = Status::Done;
        self.total_amount = approval.amount;
        self.balance_amount = approval.amount;
        self.approved_at = Some(approval.at);
        self.last_transaction_key = Some(approval.transaction_key);
        self.approve_no = Some(approval.approve_no);
        self.announce(approval.at);
    }

    /// A confirmed virtual-account payment: the account is issued and the payment waits
    /// for the deposit; nothing is paid and no `PAYMENT_STATUS_CHANGED` is sent (§7).
    fn issue_account(&mut self, approval: Approval) {
        self.status = Status::WaitingForDeposit;
        self.total_amount = approval.amount;
        self.balance_amount = approval.amount;
        let digits = uuid::Uuid::new_v4().as_u128() % 10u128.pow(14);
        self.account = Some(VirtualAccount {
            account_number: format!("{digits:014}"),
            due_at: approval.at + DEPOSIT_WINDOW,
            expired: false,
            refund_account: None,
        });
    }

    /// Leaves the payment `IN_PROGRESS` until `approval.at` and returns the Payment as it will
    /// look once approved: the answer Toss stores for the Idempotency-Key of that confirm (§4).
    /// Nothing visible can change a pending payment, so later lookups show exactly this.
    pub fn schedule_approval(&mut self, approval: Approval, lang: Lang) -> Value {
        let mut landed = self.clone();
        landed.land(approval.clone());
        self.pending_approval = Some(approval);
        landed.to_json(lang)
    }

    /// The `lookup-404` fault: Toss documents its lookups as lookups of *approved* payments
    /// (docs/toss.md §3, §5.3), so until then a lookup may answer 404.
    pub fn hidden_from_lookups(&self) -> bool {
        self.faults.lookup_404 && self.approved_at.is_none()
    }

    pub fn abort(&mut self, failure: ApiError, now: DateTime<Utc>) {
        self.status = Status::Aborted;
        self.failure = Some(failure);
        self.announce(now);
    }

    pub fn cancel(&mut self, amount: i64, reason: String, now: DateTime<Utc>) {
        self.balance_amount -= amount;
        let transaction_key = hex32();
        self.cancels.push(Cancel {
            amount,
            reason,
            refundable_amount: self.balance_amount,
            canceled_at: now,
            transaction_key: transaction_key.clone(),
            receipt_key: hex32(),
        });
        self.last_transaction_key = Some(transaction_key);
        self.status = if self.balance_amount == 0 {
            Status::Canceled
        } else {
            Status::PartialCanceled
        };
        self.announce(now);
    }

    /// Whether this checkout still matches `checkout`, so authenticating again is the same
    /// checkout and not a new one under a used orderId.
    pub fn is_checkout(&self, checkout: &Checkout) -> bool {
        self.requested_amount == checkout.amount
            && self.method == checkout.method
            && self.integration == checkout.integration
            && self.faults == checkout.faults
    }

    /// The Payment object with Toss's field names (docs/toss.md §2.2). Every nullable field is
    /// present, `null` where it does not apply, so clients meet the nulls they must cope with;
    /// `lang` only picks the `failure` message.
    pub fn to_json(&self, lang: Lang) -> Value {
        let approved = self.approved_at.is_some();
        // VAT follows the cancellable balance, as Toss shrinks it with every cancel.
        let vat = (self.balance_amount + 5) / 11;
        let paid_by = |method| approved && self.method == method;
        json!({
            "version": "2022-11-16",
            "paymentKey": self.payment_key,
            "type": "NORMAL",
            "orderId": self.order_id,
            "orderName": self.order_name,
            "mId": "tosspayments",
            "currency": "KRW",
            "method": (approved || self.account.is_some()).then_some(self.method.label()),
            "totalAmount": self.total_amount,
            "balanceAmount": self.balance_amount,
            "status": self.status.as_str(),
            "requestedAt": kst(self.requested_at),
            "approvedAt": self.approved_at.map(kst),
            "useEscrow": false,
            "lastTransactionKey": self.last_transaction_key,
            "suppliedAmount": self.balance_amount - vat,
            "vat": vat,
            "cultureExpense": false,
            "taxFreeAmount": 0,
            "taxExemptionAmount": 0,
            "cancels": self.cancels_json(),
            "isPartialCancelable": true,
            "card": paid_by(Method::Card).then(|| self.card_json()),
            "easyPay": paid_by(Method::EasyPay).then(|| self.easy_pay_json()),
            "virtualAccount": self.account.as_ref().map(|a| a.to_json(self.approved_at.is_some())),
            // Methods and extras the sandbox never issues (§2.2: each nullable).
            "transfer": null,
            "mobilePhone": null,
            "giftCertificate": null,
            "cashReceipt": null,
            "cashReceipts": null,
            "discount": null,
            // Card and easy-pay payments carry none (§7b); `with-secret` for the other reading.
            "secret": self.has_secret().then_some(&self.secret),
            "metadata": null,
            "receipt": self.receipt_json(),
            "checkout": { "url": format!("https://api.tosspayments.com/v1/payments/{}/checkout", self.payment_key) },
            "country": "KR",
            "failure": self.failure.as_ref().map(|f| f.body(lang)),
        })
    }

    fn card_json(&self) -> Value {
        json!({
            "amount": self.total_amount,
            "issuerCode": "11",
            "acquirerCode": "11",
            "number": "43301234****123*",
            "installmentPlanMonths": 0,
            "approveNo": self.approve_no,
            "useCardPoint": false,
            "cardType": "신용",
            "ownerType": "개인",
            "acquireStatus": "READY",
            "isInterestFree": false,
            "interestPayer": null,
        })
    }

    /// Paid in full from the TossPay balance, so nothing goes through a card.
    fn easy_pay_json(&self) -> Value {
        json!({
            "provider": "토스페이",
            "amount": self.total_amount,
            "discountAmount": 0,
        })
    }

    fn cancels_json(&self) -> Option<Vec<Value>> {
        (!self.cancels.is_empty()).then(|| self.cancels.iter().map(Cancel::to_json).collect())
    }

    /// A receipt exists once there is a transaction (the approval) to show.
    fn receipt_json(&self) -> Option<Value> {
        self.last_transaction_key.as_ref().map(|tx| {
            json!({ "url": format!("https://dashboard.tosspayments.com/receipt/redirection?transactionId={tx}&ref=PX") })
        })
    }
}

impl VirtualAccount {
    /// Toss's `virtualAccount` object (bank `88` is 신한은행's code).
    fn to_json(&self, deposited: bool) -> Value {
        json!({
            "accountType": "일반",
            "accountNumber": self.account_number,
            "bankCode": "88",
            "customerName": "토스페이",
            "dueDate": kst(self.due_at),
            "refundStatus": if self.refund_account.is_some() { "COMPLETED" } else { "NONE" },
            "expired": self.expired,
            "settlementStatus": if deposited { "COMPLETED" } else { "INCOMPLETED" },
            "refundReceiveAccount": self.refund_account,
        })
    }
}

impl Cancel {
    fn to_json(&self) -> Value {
        json!({
            "cancelAmount": self.amount,
            "cancelReason": self.reason,
            "taxFreeAmount": 0,
            "taxExemptionAmount": 0,
            "refundableAmount": self.refundable_amount,
            "cardDiscountAmount": 0,
            "transferDiscountAmount": 0,
            "easyPayDiscountAmount": 0,
            "canceledAt": kst(self.canceled_at),
            "transactionKey": self.transaction_key,
            "receiptKey": self.receipt_key,
            "cancelStatus": "DONE",
            "cancelRequestId": null,
        })
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    pub confirm_requests: u64,
    pub approvals: u64,
    pub cancels: u64,
}

/// Idempotency scope (docs/toss.md §4): the body is deliberately not part of it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyScope {
    pub secret_key: String,
    pub method: String,
    pub path: String,
    pub key: String,
}

#[derive(Debug, Clone)]
pub enum IdempotencyState {
    InFlight,
    /// The first request's answer. With `running_until` (the `late-` fault) the request counts
    /// as still running on the Toss side until then, so resends get 409 before it (§4).
    Done {
        status: StatusCode,
        body: Value,
        running_until: Option<DateTime<Utc>>,
    },
}

#[derive(Debug, Clone)]
pub struct IdempotencyRecord {
    pub first_seen: DateTime<Utc>,
    pub state: IdempotencyState,
}

#[derive(Debug, Default)]
pub struct State {
    /// Sandbox time = real time + this offset, so tests can jump past expiry windows.
    pub clock_offset: TimeDelta,
    pub payments: HashMap<String, Payment>,
    /// orderId → the newest paymentKey authenticated for it.
    pub orders: HashMap<String, String>,
    pub stats: HashMap<String, Stats>,
    pub idempotency: HashMap<IdempotencyScope, IdempotencyRecord>,
    pub webhooks: crate::webhooks::Webhooks,
}

impl State {
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.clock_offset
    }

    /// The payment with a due approval landed and its expiry rules applied. Every read goes
    /// through here, so a landing is seen by lookups, confirms, cancels and `/sandbox` alike.
    pub fn payment_mut(&mut self, payment_key: &str) -> Option<&mut Payment> {
        let now = self.now();
        let payment = self.payments.get_mut(payment_key)?;
        if payment.refresh(now) {
            self.stats
                .entry(payment_key.to_owned())
                .or_default()
                .approvals += 1;
        }
        Some(payment)
    }

    pub fn payment_by_order_mut(&mut self, order_id: &str) -> Option<&mut Payment> {
        let key = self.orders.get(order_id)?.clone();
        self.payment_mut(&key)
    }

    pub fn stats_mut(&mut self, payment_key: &str) -> &mut Stats {
        self.stats.entry(payment_key.to_owned()).or_default()
    }
}

/// 32 lower-case hex digits, the shape of Toss's transaction keys.
pub fn hex32() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// `at + by`; a duration past chrono's range never comes (the `late-` fault takes any digits).
pub fn later(at: DateTime<Utc>, by: std::time::Duration) -> DateTime<Utc> {
    TimeDelta::from_std(by)
        .ok()
        .and_then(|by| at.checked_add_signed(by))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// ISO 8601 in Korea time, as Toss writes timestamps (`2022-01-01T00:00:00+09:00`).
pub fn kst(at: DateTime<Utc>) -> String {
    let seoul = FixedOffset::east_opt(9 * 3600).expect("+09:00 is a valid offset");
    at.with_timezone(&seoul)
        .to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// Korea time without an offset and with microseconds, as webhook bodies and headers
/// carry it (`yyyy-MM-dd'T'HH:mm:ss.SSSSSS`, docs/toss.md §7).
pub fn kst_local_micros(at: DateTime<Utc>) -> String {
    let seoul = FixedOffset::east_opt(9 * 3600).expect("+09:00 is a valid offset");
    at.with_timezone(&seoul)
        .format("%Y-%m-%dT%H:%M:%S%.6f")
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_parses_from_its_code_and_its_label() {
        for method in Method::ALL {
            assert_eq!(Method::parse(method.code()), Some(method));
            assert_eq!(Method::parse(method.label()), Some(method));
        }
    }

    fn payment(now: DateTime<Utc>) -> Payment {
        let checkout = Checkout {
            order_id: "order-1".into(),
            order_name: "n".into(),
            amount: 10_000,
            method: Method::Card,
            integration: KeyFamily::Api,
            faults: Faults::default(),
        };
        Payment::new("tsbx_x".into(), checkout, now, true)
    }

    #[test]
    fn vat_is_a_rounded_eleventh_of_the_balance() {
        let now = Utc::now();
        for (amount, vat) in [(10_000, 909), (11, 1), (16, 1), (17, 2), (1, 0)] {
            let mut p = payment(now);
            p.approve(amount, now);
            let v = p.to_json(Lang::Ko);
            assert_eq!(v["vat"], vat, "amount {amount}");
            assert_eq!(v["suppliedAmount"], amount - vat);
        }
    }

    #[test]
    fn in_progress_expires_after_ten_minutes() {
        let now = Utc::now();
        let mut p = payment(now);
        p.refresh(now + TimeDelta::minutes(10));
        assert_eq!(p.status, Status::InProgress);
        p.refresh(now + TimeDelta::minutes(10) + TimeDelta::seconds(1));
        assert_eq!(p.status, Status::Expired);
    }

    #[test]
    fn a_scheduled_approval_lands_at_its_instant_and_outlives_the_window() {
        let now = Utc::now();
        let mut p = payment(now);
        let at = now + TimeDelta::minutes(15);
        let promised = p.schedule_approval(Approval::new(9_000, at), Lang::Ko);
        assert_eq!(promised["status"], "DONE");
        // Past the 10-minute confirm window, yet the running approval is not cut off.
        assert!(!p.refresh(at - TimeDelta::milliseconds(1)));
        assert_eq!(p.status, Status::InProgress);
        assert!(p.to_json(Lang::Ko)["approvedAt"].is_null());
        assert!(p.refresh(at));
        assert_eq!(p.to_json(Lang::Ko), promised);
        assert_eq!(p.approved_at, Some(at));
        assert!(!p.refresh(at + TimeDelta::days(1)), "lands only once");
        assert_eq!(p.status, Status::Done);
    }

    #[test]
    fn later_saturates_instead_of_overflowing() {
        let now = Utc::now();
        let ms = std::time::Duration::from_millis(1500);
        assert_eq!(later(now, ms), now + TimeDelta::milliseconds(1500));
        let forever = std::time::Duration::from_millis(u64::MAX);
        assert_eq!(later(now, forever), DateTime::<Utc>::MAX_UTC);
    }

    #[test]
    fn kst_has_the_seoul_offset() {
        let at = DateTime::parse_from_rfc3339("2022-01-01T00:00:00Z").unwrap();
        assert_eq!(kst(at.with_timezone(&Utc)), "2022-01-01T09:00:00+09:00");
    }
}
