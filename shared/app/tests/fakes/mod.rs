//! In-memory stand-ins for the payment ports, so the use cases run in plain `cargo test`.
//! `Store` keeps the MySQL adapter's rules (conditional claims, the lease and version guards, one
//! ledger row per order); `Toss` keeps Toss's (docs/toss.md): an Idempotency-Key replays
//! its first answer, a lookup answers 404 until the payment is approved, and an
//! unanswered confirm may still be approved.

use app::InfraError;
use app::ports::{
    Claim, EventPublisher, GatewayError, MoveGuard, NewPayment, OutboxEvent, PaymentGateway,
    PaymentRecord, PaymentStore, Settlement, TossPayment,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::MemberId;
use domain::payment::{Amount, OrderId, PaymentStatus};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

#[derive(Default)]
struct Rows {
    payments: HashMap<String, PaymentRecord>,
    /// (order, points): the point ledger.
    ledger: Vec<(String, u64)>,
    outbox: Vec<(OutboxEvent, bool)>,
}

#[derive(Default)]
pub struct Store {
    rows: Mutex<Rows>,
}

impl Store {
    pub fn payment(&self, order_id: &OrderId) -> PaymentRecord {
        self.rows.lock().unwrap().payments[order_id.as_str()].clone()
    }

    pub fn ledger_rows(&self, order_id: &OrderId) -> usize {
        let rows = self.rows.lock().unwrap();
        rows.ledger
            .iter()
            .filter(|(o, _)| o == order_id.as_str())
            .count()
    }

    pub fn unpublished(&self) -> usize {
        self.rows
            .lock()
            .unwrap()
            .outbox
            .iter()
            .filter(|(_, p)| !p)
            .count()
    }

    /// Lets a test age a payment (as if its lease or retry time had passed).
    pub fn edit(&self, order_id: &OrderId, change: impl FnOnce(&mut PaymentRecord)) {
        change(
            self.rows
                .lock()
                .unwrap()
                .payments
                .get_mut(order_id.as_str())
                .unwrap(),
        );
    }
}

fn claim_row(row: &mut PaymentRecord, claim: &Claim, now: DateTime<Utc>) -> bool {
    match claim {
        Claim::Confirm {
            payment_key,
            confirm_key,
            lease_until,
        } if row.status == PaymentStatus::Ready => {
            row.payment_key = Some(payment_key.clone());
            row.confirm_key = Some(confirm_key.clone());
            row.confirm_attempts = 1;
            row.authenticated_at = Some(now);
            row.next_attempt_at = Some(*lease_until);
        }
        Claim::Recover {
            seen,
            seen_next_attempt_at,
            lease_until,
        } if row.status == *seen
            && row.next_attempt_at == *seen_next_attempt_at
            && row.next_attempt_at.is_some_and(|at| at <= now) =>
        {
            row.next_attempt_at = Some(*lease_until);
            row.recovery_attempts += 1;
        }
        _ => return false,
    }
    row.status = PaymentStatus::InProgress;
    true
}

fn settle_row(rows: &mut Rows, order: &str, settlement: &Settlement, now: DateTime<Utc>) {
    let row = rows.payments.get_mut(order).unwrap();
    row.status = settlement.status();
    row.next_attempt_at = None;
    row.version += 1;
    match settlement {
        Settlement::Done {
            approved_amount,
            issued,
            ..
        } => {
            if let Some(issued) = issued {
                row.deposit_secret = row.deposit_secret.clone().or(issued.secret.clone());
                row.virtual_account = row.virtual_account.clone().or(Some(issued.account.clone()));
                row.deposit_due_at = row.deposit_due_at.or(issued.due_at);
            }
            let points = row.amount.won();
            assert!(
                !rows.ledger.iter().any(|(o, _)| o == order),
                "the ledger's unique order key: a second charge of {order}"
            );
            row.approved_amount = Some(*approved_amount);
            row.points_charged = points;
            rows.ledger.push((order.to_owned(), points));
            let id = rows.outbox.len() as u64 + 1;
            let event = OutboxEvent {
                id,
                event_id: format!("PaymentConfirmed-{order}"),
                detail_type: "PaymentConfirmed".into(),
                detail: format!("{{\"orderId\":\"{order}\"}}"),
            };
            rows.outbox.push((event, false));
        }
        Settlement::Failed { code, message } => {
            row.failure_code = Some(code.clone());
            row.failure_message = Some(message.clone());
        }
        Settlement::Unknown { retry_at, .. } => row.next_attempt_at = Some(*retry_at),
        Settlement::NeedsAttention {
            approved_amount, ..
        } => row.approved_amount = *approved_amount,
        Settlement::Expired => {}
        Settlement::AwaitingDeposit { issued, next_look } => {
            row.next_attempt_at = Some(*next_look);
            if let Some(issued) = issued {
                row.deposit_secret = issued.secret.clone();
                row.virtual_account = Some(issued.account.clone());
                row.deposit_due_at = issued.due_at;
            }
        }
        Settlement::DepositReversed { next_look } => {
            row.next_attempt_at = Some(*next_look);
            row.points_charged = 0;
        }
    }
    let _ = now;
}

#[async_trait]
impl PaymentStore for Store {
    async fn member_exists(&self, _member: MemberId) -> Result<bool, InfraError> {
        Ok(true)
    }

    async fn create(&self, payment: &NewPayment, now: DateTime<Utc>) -> Result<(), InfraError> {
        let record = PaymentRecord {
            order_id: payment.order_id.clone(),
            member_id: payment.member_id,
            order_name: payment.order_name.clone(),
            amount: payment.amount,
            status: PaymentStatus::Ready,
            payment_key: None,
            confirm_key: None,
            confirm_attempts: 0,
            recovery_attempts: 0,
            next_attempt_at: None,
            authenticated_at: None,
            failure_code: None,
            failure_message: None,
            approved_amount: None,
            points_charged: 0,
            created_at: now,
            deposit_secret: None,
            virtual_account: None,
            deposit_due_at: None,
            version: 0,
        };
        let mut rows = self.rows.lock().unwrap();
        rows.payments
            .insert(payment.order_id.as_str().to_owned(), record);
        Ok(())
    }

    async fn find(&self, order_id: &OrderId) -> Result<Option<PaymentRecord>, InfraError> {
        Ok(self
            .rows
            .lock()
            .unwrap()
            .payments
            .get(order_id.as_str())
            .cloned())
    }

    async fn claim(
        &self,
        order_id: &OrderId,
        claim: Claim,
        now: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        let mut rows = self.rows.lock().unwrap();
        Ok(rows
            .payments
            .get_mut(order_id.as_str())
            .is_some_and(|row| claim_row(row, &claim, now)))
    }

    async fn rotate_confirm_key(
        &self,
        order_id: &OrderId,
        from: &str,
        to: &str,
        _now: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        let mut rows = self.rows.lock().unwrap();
        let row = rows.payments.get_mut(order_id.as_str()).unwrap();
        if row.status != PaymentStatus::InProgress || row.confirm_key.as_deref() != Some(from) {
            return Ok(false);
        }
        row.confirm_key = Some(to.to_owned());
        row.confirm_attempts += 1;
        Ok(true)
    }

    async fn settle(
        &self,
        order_id: &OrderId,
        from: &[PaymentStatus],
        settlement: &Settlement,
        guard: MoveGuard,
        now: DateTime<Utc>,
    ) -> Result<bool, InfraError> {
        let mut rows = self.rows.lock().unwrap();
        let Some(row) = rows.payments.get(order_id.as_str()) else {
            return Ok(false);
        };
        if !from.contains(&row.status) || !row.status.can_become(settlement.status()) {
            return Ok(false);
        }
        let holds = match guard {
            MoveGuard::Free => true,
            MoveGuard::Lease(lease) => row.next_attempt_at == Some(lease) && Utc::now() < lease,
            MoveGuard::Version(version) => row.version == version,
        };
        if !holds {
            return Ok(false);
        }
        settle_row(&mut rows, order_id.as_str(), settlement, now);
        Ok(true)
    }

    async fn note_look(&self, order_id: &OrderId, version: u64) -> Result<bool, InfraError> {
        let mut rows = self.rows.lock().unwrap();
        let row = rows.payments.get_mut(order_id.as_str()).unwrap();
        if row.version != version {
            return Ok(false);
        }
        row.version += 1;
        Ok(true)
    }

    async fn due_for_recovery(
        &self,
        now: DateTime<Utc>,
        ready_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<PaymentRecord>, InfraError> {
        let rows = self.rows.lock().unwrap();
        let mut due: Vec<PaymentRecord> = rows
            .payments
            .values()
            .filter(|p| match p.status {
                PaymentStatus::Unknown | PaymentStatus::InProgress => {
                    p.next_attempt_at.is_some_and(|at| at <= now)
                }
                PaymentStatus::Ready => p.created_at < ready_before,
                _ => false,
            })
            .cloned()
            .collect();
        due.sort_by_key(|p| (p.status == PaymentStatus::Ready, p.next_attempt_at));
        due.truncate(limit as usize);
        Ok(due)
    }

    async fn unpublished_events(
        &self,
        order_id: Option<&OrderId>,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>, InfraError> {
        let rows = self.rows.lock().unwrap();
        Ok(rows
            .outbox
            .iter()
            .filter(|(e, published)| {
                !published && order_id.is_none_or(|o| e.event_id.ends_with(o.as_str()))
            })
            .map(|(e, _)| e.clone())
            .take(limit as usize)
            .collect())
    }

    async fn mark_published(&self, ids: &[u64], _now: DateTime<Utc>) -> Result<(), InfraError> {
        let mut rows = self.rows.lock().unwrap();
        for (event, published) in rows.outbox.iter_mut() {
            *published |= ids.contains(&event.id);
        }
        Ok(())
    }
}

/// What Toss does with the next confirm sent with a key it has not seen.
#[derive(Debug, Clone)]
pub enum Act {
    /// Approve and answer the Payment.
    Approve,
    /// Refuse with this code (a definitive error body, replayed for the same key).
    Refuse(&'static str),
    /// Approve, but the answer is lost (the confirm timed out on our side).
    ApproveUnanswered,
    /// Nothing comes back, and the approval lands after the next lookup has answered 404
    /// (the card network was still working: docs/toss.md §5.3).
    ApproveLate,
    /// Nothing happens and nothing comes back.
    Unanswered,
    /// Answer this code, and approve anyway (a "may be partial" 5xx).
    RefuseButApprove(&'static str),
    /// Approve, and answer only after this long (longer than every budget of ours).
    Slow(Duration),
    /// Answer with a Payment that is not the one we asked about.
    AnswerWith(Box<TossPayment>),
}

#[derive(Default)]
struct TossState {
    approved: HashMap<String, TossPayment>,
    replies: HashMap<String, Result<TossPayment, GatewayError>>,
    script: VecDeque<Act>,
    confirm_keys: Vec<String>,
    cancels: Vec<String>,
    lookups: usize,
    /// An approval still on its way (ApproveLate), landing after the next lookup.
    landing: Option<TossPayment>,
    /// (reached, release): the next lookup says it has its answer, then waits to return it.
    held: Option<(Arc<Notify>, Arc<Notify>)>,
}

#[derive(Default)]
pub struct Toss {
    state: Mutex<TossState>,
}

pub fn toss_payment(
    order_id: &OrderId,
    payment_key: &str,
    amount: Amount,
    status: &str,
) -> TossPayment {
    TossPayment {
        payment_key: payment_key.to_owned(),
        order_id: order_id.as_str().to_owned(),
        status: status.to_owned(),
        total_amount: amount.won(),
        currency: Some("KRW".into()),
        approved_at: Some("2026-12-02T10:00:00+09:00".into()),
        failure: None,
        method: Some("카드".into()),
        balance_amount: Some(amount.won()),
        secret: None,
        virtual_account: None,
    }
}

fn refused(code: &str) -> GatewayError {
    GatewayError::Rejected {
        http_status: 400,
        code: code.to_owned(),
        message: format!("{code} (sandbox)"),
    }
}

impl Toss {
    pub fn script(acts: impl IntoIterator<Item = Act>) -> Self {
        let toss = Self::default();
        toss.state.lock().unwrap().script.extend(acts);
        toss
    }

    pub fn confirm_keys(&self) -> Vec<String> {
        self.state.lock().unwrap().confirm_keys.clone()
    }

    pub fn cancels(&self) -> Vec<String> {
        self.state.lock().unwrap().cancels.clone()
    }

    pub fn approves_later(&self, order_id: &OrderId, payment_key: &str, amount: Amount) {
        let approved = toss_payment(order_id, payment_key, amount, "DONE");
        self.state
            .lock()
            .unwrap()
            .approved
            .insert(order_id.as_str().to_owned(), approved);
    }

    /// A deposit error at the bank: the payment is no longer approved (a lookup 404s).
    pub fn undo_approval(&self, order_id: &OrderId) {
        self.state
            .lock()
            .unwrap()
            .approved
            .remove(order_id.as_str());
    }

    /// Holds the next lookup after it has read its answer: `reached` is notified then, and
    /// the answer returns only once `release` is notified (a look overtaken meanwhile).
    pub fn hold_next_lookup(&self) -> (Arc<Notify>, Arc<Notify>) {
        let pair = (Arc::new(Notify::new()), Arc::new(Notify::new()));
        self.state.lock().unwrap().held = Some(pair.clone());
        pair
    }

    /// Toss's own view: whether this order was approved (what the money invariant checks).
    pub fn is_approved(&self, order_id: &OrderId) -> bool {
        self.state
            .lock()
            .unwrap()
            .approved
            .contains_key(order_id.as_str())
    }
}

#[async_trait]
impl PaymentGateway for Toss {
    async fn confirm(
        &self,
        payment_key: &str,
        order_id: &OrderId,
        amount: Amount,
        key: &str,
    ) -> Result<TossPayment, GatewayError> {
        let act = {
            let mut state = self.state.lock().unwrap();
            state.confirm_keys.push(key.to_owned());
            if let Some(reply) = state.replies.get(key) {
                return reply.clone();
            }
            if state.approved.contains_key(order_id.as_str()) {
                // A new key for an approved payment: Toss says it was already processed.
                return Err(refused("ALREADY_PROCESSED_PAYMENT"));
            }
            state.script.pop_front().unwrap_or(Act::Approve)
        };
        let approved = toss_payment(order_id, payment_key, amount, "DONE");
        let approve = |toss: &Self| {
            toss.state
                .lock()
                .unwrap()
                .approved
                .insert(order_id.as_str().to_owned(), approved.clone());
        };
        let (reply, remember) = match act {
            Act::Approve => {
                approve(self);
                (Ok(approved.clone()), true)
            }
            Act::Refuse(code) => (Err(refused(code)), true),
            Act::RefuseButApprove(code) => {
                approve(self);
                (Err(refused(code)), true)
            }
            Act::ApproveUnanswered => {
                approve(self);
                (Err(GatewayError::NoAnswer("read timed out".into())), false)
            }
            Act::ApproveLate => {
                self.state.lock().unwrap().landing = Some(approved.clone());
                (Err(GatewayError::NoAnswer("read timed out".into())), false)
            }
            Act::Unanswered => (Err(GatewayError::NoAnswer("read timed out".into())), false),
            Act::Slow(delay) => {
                // The approval happens at Toss whether or not we are still listening.
                approve(self);
                tokio::time::sleep(delay).await;
                (Ok(approved.clone()), true)
            }
            Act::AnswerWith(other) => (Ok(*other), true),
        };
        if remember {
            self.state
                .lock()
                .unwrap()
                .replies
                .insert(key.to_owned(), reply.clone());
        }
        reply
    }

    async fn lookup(&self, order_id: &OrderId) -> Result<Option<TossPayment>, GatewayError> {
        let (found, held) = {
            let mut state = self.state.lock().unwrap();
            state.lookups += 1;
            let found = state.approved.get(order_id.as_str()).cloned();
            if let Some(landed) = state.landing.take() {
                state.approved.insert(landed.order_id.clone(), landed);
            }
            (found, state.held.take())
        };
        if let Some((reached, release)) = held {
            reached.notify_one();
            release.notified().await;
        }
        Ok(found)
    }

    async fn cancel(
        &self,
        payment_key: &str,
        _reason: &str,
        _amount: Option<u64>,
        _refundable: Option<u64>,
        _refund_account: Option<&domain::refund_account::RefundAccount>,
        key: &str,
    ) -> Result<TossPayment, GatewayError> {
        let mut state = self.state.lock().unwrap();
        state.cancels.push(key.to_owned());
        let mut cancelled = state
            .approved
            .values()
            .find(|p| p.payment_key == payment_key)
            .cloned()
            .ok_or_else(|| refused("NOT_FOUND_PAYMENT"))?;
        cancelled.status = "CANCELED".into();
        Ok(cancelled)
    }
}

/// EventBridge: publishes everything, or nothing while `down`.
#[derive(Default)]
pub struct Events {
    pub down: std::sync::atomic::AtomicBool,
    pub published: Mutex<Vec<String>>,
}

#[async_trait]
impl EventPublisher for Events {
    async fn publish(&self, events: &[OutboxEvent]) -> Result<Vec<u64>, InfraError> {
        if self.down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(InfraError::new("EventBridge is down", "connection refused"));
        }
        let mut published = self.published.lock().unwrap();
        published.extend(events.iter().map(|e| e.event_id.clone()));
        Ok(events.iter().map(|e| e.id).collect())
    }
}
