//! What the use cases need from the outside world, one small trait per capability.

use crate::error::InfraError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::listing::{Cursor, ProfileFilter};
use domain::views::ViewId;
use domain::{Category, KstDay, MemberId, NewMember, ProfileEdit, ProfileId, Region};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registered {
    pub member_id: MemberId,
    pub profile_id: ProfileId,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("email already registered")]
    DuplicateEmail,
    #[error(transparent)]
    Infra(#[from] InfraError),
}

#[async_trait]
pub trait MemberRegistry: Send + Sync {
    /// Creates the member and its profile together, or neither.
    async fn register(
        &self,
        member: &NewMember,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Registered, RegisterError>;
    /// The member with this (normalised) e-mail and its password hash, if any.
    async fn credentials(
        &self,
        email: &domain::Email,
    ) -> Result<Option<(MemberId, Option<String>)>, InfraError>;
}

/// Counts attempts per bucket in fixed windows (signup and login throttling).
#[async_trait]
pub trait RateLimiter: Send + Sync {
    /// True while `bucket` has had at most `limit` attempts in the current window.
    async fn allow(
        &self,
        bucket: &str,
        limit: u32,
        window_seconds: u32,
    ) -> Result<bool, InfraError>;
}

/// A profile row as stored, with what the view count needs: the flushed total and the
/// watermarks telling which Redis days it already contains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileRecord {
    pub id: ProfileId,
    pub member_id: MemberId,
    pub name: String,
    pub headline: String,
    pub category: Category,
    pub career_years: u8,
    pub region: Region,
    pub introduction: String,
    pub created_at: DateTime<Utc>,
    pub flushed_views: u64,
    pub own_flushed_through: Option<KstDay>,
    /// Last day the flush job completed for all profiles, read in the same statement as
    /// the row so the two are consistent.
    pub global_flushed_through: Option<KstDay>,
    /// Raised by every change a cached copy must not outlive (an edit, applied losses).
    pub version: u64,
}

#[async_trait]
pub trait ProfileReader: Send + Sync {
    async fn find(&self, id: ProfileId) -> Result<Option<ProfileRecord>, InfraError>;
}

#[async_trait]
pub trait ProfileEditor: Send + Sync {
    /// Applies `edit` to `member`'s profile and raises its version, in one statement; the
    /// row after it (None: the member has no profile).
    async fn edit_profile(
        &self,
        member: MemberId,
        edit: &ProfileEdit,
    ) -> Result<Option<ProfileRecord>, InfraError>;
}

#[async_trait]
pub trait ProfileSearch: Send + Sync {
    /// Newest first, strictly below the cursor, at most `limit` rows.
    async fn search(
        &self,
        filter: &ProfileFilter,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> Result<Vec<ProfileRecord>, InfraError>;
}

/// One detail view as the counter sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DetailView {
    pub profile: ProfileId,
    pub today: KstDay,
    /// Closed days whose deltas may not be in the flushed total yet, oldest first; the
    /// counter adds those after the cached document's watermark.
    pub closed_days: Vec<KstDay>,
    pub id: ViewId,
    /// Wall-clock milliseconds when the request first sent this view to the counter
    /// (see `domain::views::landing`).
    pub sent_at_ms: u64,
    /// The counter refuses the increment when it arrives later than this after
    /// `sent_at_ms` (`LandingRules::late_after_ms`).
    pub late_after_ms: u64,
}

/// What counting a view against the cached profile document found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CachedCount {
    /// Counted: the cached document and the live count, this view included.
    Counted {
        profile: ProfileRecord,
        view_count: u64,
    },
    /// No cached document: nothing was counted.
    Miss,
}

#[derive(Debug, thiserror::Error)]
pub enum CountError {
    /// The counter answered that the increment arrived after its landing window and did
    /// not count it.
    #[error("the view increment arrived late and was refused")]
    Late,
    /// No answer: the increment may still land within its landing window.
    #[error(transparent)]
    Unanswered(#[from] InfraError),
}

/// Per-day view deltas and the profile documents cached beside them, in a fast shared
/// store (Redis).
#[async_trait]
pub trait ViewCounter: Send + Sync {
    /// Counts `view` if its profile's document is cached, in one round trip: the
    /// increment, its landing marker, the document and the unflushed deltas.
    async fn count_cached(&self, view: &DetailView) -> Result<CachedCount, CountError>;

    /// Caches `profile` (unless a newer version is cached) and counts `view` in the same
    /// step; the document counted against (the newer one, if cached) and the live count,
    /// this view included.
    async fn fill_and_count(
        &self,
        view: &DetailView,
        profile: &ProfileRecord,
    ) -> Result<(ProfileRecord, u64), CountError>;

    /// Replaces the cached document of `profile` unless a newer version is cached (after
    /// an edit or applied losses, so no reader keeps the older one).
    async fn store_cached(&self, profile: &ProfileRecord) -> Result<(), InfraError>;

    /// For each ledgered view, whether its increment landed (its marker is there).
    async fn landed(&self, views: &[LostView]) -> Result<Vec<bool>, InfraError>;

    /// Sum of the deltas of the given days, per profile (same order): one round trip on a
    /// single node, one concurrent pipeline per shard touched on a cluster.
    async fn sum_days(&self, wanted: &[(ProfileId, Vec<KstDay>)]) -> Result<Vec<u64>, InfraError>;

    /// Every profile viewed on `day` in one shard, with its delta.
    async fn day_shard(&self, day: KstDay, shard: u64)
    -> Result<Vec<(ProfileId, u64)>, InfraError>;

    /// Each shard's counter marker as it was before this call (None: there was none; then
    /// `marker` is set in its place). See `domain::views::shards_with_lost_counters`.
    async fn claim_markers(&self, marker: &str) -> Result<Vec<Option<String>>, InfraError>;
}

/// A view the counter may not have (its increment timed out or was refused).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LostView {
    pub profile: ProfileId,
    pub day: KstDay,
    pub id: ViewId,
    pub sent_at_ms: u64,
}

/// Durable record of views the counter may have missed (DynamoDB): one entry per view
/// while undecided, then per profile and day the views only the ledger has.
#[async_trait]
pub trait ViewLossLedger: Send + Sync {
    /// Records `view`; recording the same view again changes nothing.
    async fn record_loss(&self, view: &LostView) -> Result<(), InfraError>;
    /// Views of `day` the recovery has not decided yet.
    async fn undecided(&self, day: KstDay) -> Result<Vec<LostView>, InfraError>;
    /// Settles `view`: `counted` (its increment landed) drops it, otherwise it joins its
    /// profile-day's views to apply. Settling twice changes nothing.
    async fn settle(&self, view: &LostView, counted: bool) -> Result<(), InfraError>;
    /// Per profile, the views of `day` only the ledger has.
    async fn losses(&self, day: KstDay) -> Result<Vec<ViewLoss>, InfraError>;
    /// Notes how many of an entry's views MySQL holds, so later runs can skip it. Only a
    /// hint: MySQL's own record decides what is applied.
    async fn note_applied(&self, loss: &ViewLoss, applied: u64) -> Result<(), InfraError>;
    /// Views of `profile` on `days` the ledger holds and MySQL may not (shown while the
    /// counter is down).
    async fn held_views(&self, profile: ProfileId, days: &[KstDay]) -> Result<u64, InfraError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewLoss {
    pub profile: ProfileId,
    pub day: KstDay,
    pub lost: u64,
    pub applied_hint: u64,
}

/// One counter shard of a day, flushed: how many profiles it held and their views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardFlush {
    pub shard: u64,
    pub profiles: u64,
    pub views: u64,
}

/// MySQL side of the view history: totals, per-day rows, flush runs, applied losses.
#[async_trait]
pub trait ViewHistory: Send + Sync {
    async fn last_completed_flush(&self) -> Result<Option<KstDay>, InfraError>;

    /// The day the first profile was created (no view is older); None without profiles.
    async fn first_profile_day(&self) -> Result<Option<KstDay>, InfraError>;

    /// The Redis counter markers the flush last saw, per shard.
    async fn counter_markers(&self) -> Result<Vec<(u64, String)>, InfraError>;

    /// Records the markers the flush sees now (replacing the shards' previous ones).
    async fn record_counter_markers(&self, markers: &[(u64, String)]) -> Result<(), InfraError>;
    /// Adds each profile's delta for `day` unless that profile already has `day` flushed.
    /// Returns how many profiles were updated.
    async fn apply_flush_batch(
        &self,
        day: KstDay,
        deltas: &[(ProfileId, u64)],
    ) -> Result<u64, InfraError>;
    /// The shards of `day` earlier runs finished (their batches committed).
    async fn flushed_shards(&self, day: KstDay) -> Result<Vec<ShardFlush>, InfraError>;
    /// Records that `done.shard` of `day` is flushed: later runs skip it.
    async fn complete_shard(&self, day: KstDay, done: &ShardFlush) -> Result<(), InfraError>;
    async fn complete_flush(
        &self,
        day: KstDay,
        profiles: u64,
        views: u64,
        now: DateTime<Utc>,
    ) -> Result<(), InfraError>;
    /// Brings MySQL up to `lost` views for this ledger entry; returns how many views this
    /// call added (0 when already applied). Exactly once however often it is called.
    async fn apply_loss(
        &self,
        profile: ProfileId,
        day: KstDay,
        lost: u64,
    ) -> Result<u64, InfraError>;
}

// ---------------------------------------------------------------- payments

use domain::payment::{Amount, OrderId, PaymentStatus};

/// A payment row as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaymentRecord {
    pub order_id: OrderId,
    pub member_id: MemberId,
    pub order_name: String,
    pub amount: Amount,
    pub status: PaymentStatus,
    pub payment_key: Option<String>,
    pub confirm_key: Option<String>,
    pub confirm_attempts: u32,
    pub recovery_attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub authenticated_at: Option<DateTime<Utc>>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub approved_amount: Option<u64>,
    pub points_charged: u64,
    pub created_at: DateTime<Utc>,
    /// A virtual-account payment: Toss's `secret` from the confirm (a deposit callback must
    /// carry the same), the account to pay into and its due date.
    pub deposit_secret: Option<String>,
    pub virtual_account: Option<VirtualAccount>,
    pub deposit_due_at: Option<DateTime<Utc>>,
    /// Bumped by every settlement and every deposit look: what a [`MoveGuard::Version`]
    /// compares.
    pub version: u64,
}

/// What must still hold, besides the allowed from-states, for a settlement to happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveGuard {
    /// Nothing more (a move only one writer can make, e.g. expiring a checkout).
    Free,
    /// The lease end of the claim the settler holds: the move happens only while that
    /// lease is the payment's current one and has not passed (on the wall clock), so a
    /// driver that stalled past its lease cannot overrule the new owner.
    Lease(DateTime<Utc>),
    /// The row version the settler read before it looked at Toss: a move decided on an
    /// older look loses to any settlement or look since.
    Version(u64),
}

/// The virtual account Toss issued for a payment (its `virtualAccount` object, §2.2).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct VirtualAccount {
    pub bank_code: String,
    pub account_number: String,
    pub customer_name: String,
    /// As Toss wrote it (ISO 8601 with offset).
    pub due_date: String,
}

/// An account issued by a confirm, as stored with the payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedAccount {
    pub secret: Option<String>,
    pub account: VirtualAccount,
    pub due_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPayment {
    pub order_id: OrderId,
    pub member_id: MemberId,
    pub order_name: String,
    pub amount: Amount,
}

/// How a claim takes a payment for one attempt at Toss.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// A member's confirm: `READY` → `IN_PROGRESS`, remembering the key and the
    /// Idempotency-Key before Toss is called.
    Confirm {
        payment_key: String,
        confirm_key: String,
        lease_until: DateTime<Utc>,
    },
    /// Recovery: an `UNKNOWN` payment due for a look, or an `IN_PROGRESS` one whose lease
    /// ran out (its confirm died), observed in `seen` with `seen_next_attempt_at`.
    Recover {
        seen: PaymentStatus,
        seen_next_attempt_at: Option<DateTime<Utc>>,
        lease_until: DateTime<Utc>,
    },
}

/// The end of an attempt, written in one transaction together with its event row and,
/// where it applies, the point charge and the outbox event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    Done {
        approved_amount: u64,
        approved_at: Option<String>,
        /// Toss's label of the payment method (the refund deadline depends on it).
        method: Option<String>,
        /// A virtual account Toss's payment shows, kept if not known yet: a deposit can
        /// come before we saw the account issued (our confirm's answer lost), and its
        /// later deposit-error callback is checked against this secret.
        issued: Option<IssuedAccount>,
    },
    Failed {
        code: String,
        message: String,
    },
    Unknown {
        retry_at: DateTime<Utc>,
        note: String,
    },
    NeedsAttention {
        reason: String,
        approved_amount: Option<u64>,
    },
    Expired,
    /// A virtual account waits for its deposit (`issued` when the confirm just issued it);
    /// recovery looks again at `next_look`.
    AwaitingDeposit {
        issued: Option<IssuedAccount>,
        next_look: DateTime<Utc>,
    },
    /// A deposit error undid the deposit of a `DONE` virtual account: its points are taken
    /// back (what is spent is recorded as a shortfall) and it waits again.
    DepositReversed {
        next_look: DateTime<Utc>,
    },
}

impl Settlement {
    pub fn status(&self) -> PaymentStatus {
        match self {
            Settlement::Done { .. } => PaymentStatus::Done,
            Settlement::Failed { .. } => PaymentStatus::Failed,
            Settlement::Unknown { .. } => PaymentStatus::Unknown,
            Settlement::NeedsAttention { .. } => PaymentStatus::NeedsAttention,
            Settlement::Expired => PaymentStatus::Expired,
            Settlement::AwaitingDeposit { .. } | Settlement::DepositReversed { .. } => {
                PaymentStatus::WaitingForDeposit
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    pub id: u64,
    pub event_id: String,
    pub detail_type: String,
    pub detail: String,
}

#[async_trait]
pub trait PaymentStore: Send + Sync {
    async fn member_exists(&self, member: MemberId) -> Result<bool, InfraError>;
    async fn create(&self, payment: &NewPayment, now: DateTime<Utc>) -> Result<(), InfraError>;
    async fn find(&self, order_id: &OrderId) -> Result<Option<PaymentRecord>, InfraError>;
    /// Takes the payment for one attempt; false when someone else holds it or its state
    /// moved on (the conditional update matched no row).
    async fn claim(
        &self,
        order_id: &OrderId,
        claim: Claim,
        now: DateTime<Utc>,
    ) -> Result<bool, InfraError>;
    /// Replaces the confirm Idempotency-Key (after a definitive transient error, which the
    /// old key would only replay). Stored before the next call.
    async fn rotate_confirm_key(
        &self,
        order_id: &OrderId,
        from: &str,
        to: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, InfraError>;
    /// Moves the payment from one of `from` to the settlement's status and bumps its
    /// version; false if it was no longer in one of them (someone else settled it) or
    /// `guard` no longer holds.
    async fn settle(
        &self,
        order_id: &OrderId,
        from: &[PaymentStatus],
        settlement: &Settlement,
        guard: MoveGuard,
        now: DateTime<Utc>,
    ) -> Result<bool, InfraError>;
    /// Records a look at Toss that changed nothing by bumping the version, if it is still
    /// `version`: a move decided on an older look then loses. False if it moved on.
    async fn note_look(&self, order_id: &OrderId, version: u64) -> Result<bool, InfraError>;
    /// Payments recovery should look at now: due `UNKNOWN`, lease-expired `IN_PROGRESS`,
    /// and `READY` ones created before `ready_before`.
    async fn due_for_recovery(
        &self,
        now: DateTime<Utc>,
        ready_before: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<PaymentRecord>, InfraError>;
    /// Unpublished outbox events, oldest first; only `order_id`'s when given.
    async fn unpublished_events(
        &self,
        order_id: Option<&OrderId>,
        limit: u32,
    ) -> Result<Vec<OutboxEvent>, InfraError>;
    async fn mark_published(&self, ids: &[u64], now: DateTime<Utc>) -> Result<(), InfraError>;
}

/// Toss' view of a payment (the fields we decide on).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TossPayment {
    pub payment_key: String,
    pub order_id: String,
    pub status: String,
    pub total_amount: u64,
    /// `KRW` for every payment of ours (None if Toss left it out).
    pub currency: Option<String>,
    pub approved_at: Option<String>,
    pub failure: Option<(String, String)>,
    /// Toss's Korean label of how it was paid (`카드`, `간편결제`, …), once approved.
    pub method: Option<String>,
    /// What can still be cancelled (the amount less every cancel so far).
    pub balance_amount: Option<u64>,
    /// Virtual accounts only: compared with a deposit callback's `secret`.
    pub secret: Option<String>,
    pub virtual_account: Option<VirtualAccount>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GatewayError {
    /// Toss answered with an error object.
    #[error("Toss answered {http_status} {code}")]
    Rejected {
        http_status: u16,
        code: String,
        message: String,
    },
    /// No usable answer: timeout, reset, dropped connection, 5xx without a body.
    #[error("no answer from Toss: {0}")]
    NoAnswer(String),
}

/// Toss Payments' server API.
#[async_trait]
pub trait PaymentGateway: Send + Sync {
    async fn confirm(
        &self,
        payment_key: &str,
        order_id: &OrderId,
        amount: Amount,
        idempotency_key: &str,
    ) -> Result<TossPayment, GatewayError>;
    /// `None` when Toss has no payment for the order.
    async fn lookup(&self, order_id: &OrderId) -> Result<Option<TossPayment>, GatewayError>;
    /// `amount`: `cancelAmount` (None: the whole balance); `refundable`: the balance the
    /// caller expects (`refundableAmount`, Toss's stale-balance guard).
    async fn cancel(
        &self,
        payment_key: &str,
        reason: &str,
        amount: Option<u64>,
        refundable: Option<u64>,
        refund_account: Option<&domain::refund_account::RefundAccount>,
        idempotency_key: &str,
    ) -> Result<TossPayment, GatewayError>;
}

/// Where domain events go (EventBridge).
#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// Publishes what it can; returns the ids of the events it published.
    async fn publish(&self, events: &[OutboxEvent]) -> Result<Vec<u64>, InfraError>;
}

// ---------------------------------------------------------------- API idempotency

/// What an `Idempotency-Key` on one of our POST endpoints says about this request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// First use of the key (or its previous holder's lease ran out): run the request.
    Proceed,
    /// Finished before: answer exactly this again.
    Replay { status: u16, body: String },
    /// The first request with this key is still running.
    InProgress,
    /// The key was used for a different request.
    Mismatch,
}

#[async_trait]
pub trait IdempotencyStore: Send + Sync {
    async fn begin(
        &self,
        scope: &str,
        key: &str,
        fingerprint: &str,
        lease_until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<IdempotencyBegin, InfraError>;
    async fn finish(
        &self,
        scope: &str,
        key: &str,
        status: u16,
        body: &str,
        now: DateTime<Utc>,
    ) -> Result<(), InfraError>;
    /// Forgets an unfinished claim so the client's retry runs the request again.
    async fn release(&self, scope: &str, key: &str) -> Result<(), InfraError>;
}

/// A member as they see themselves: who they are, their profile, their balance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberAccount {
    pub member_id: MemberId,
    pub name: String,
    pub email: String,
    /// The balance: the sum of the remaining points of the member's lots.
    pub points: u64,
    /// Purchases with points left (lots not used up or refunded).
    pub open_lots: u64,
    pub joined_at: DateTime<Utc>,
    pub profile: Option<ProfileSummary>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileSummary {
    pub id: ProfileId,
    pub headline: String,
    pub category: Category,
    pub region: Region,
    pub career_years: u8,
}

/// One change of a member's points, as the history shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PointEntry {
    pub id: u64,
    pub kind: domain::points::PointEntryKind,
    /// Signed: added points are positive, points taken back negative.
    pub amount: i64,
    pub balance_after: i64,
    pub order_id: String,
    pub at: DateTime<Utc>,
}

#[async_trait]
pub trait PointAccounts: Send + Sync {
    async fn account(&self, member: MemberId) -> Result<Option<MemberAccount>, InfraError>;
    /// The member's entries newest first, strictly below the cursor, at most `limit`.
    async fn point_history(
        &self,
        member: MemberId,
        cursor: Option<domain::points::HistoryCursor>,
        limit: u32,
    ) -> Result<Vec<PointEntry>, InfraError>;
}

// ---------------------------------------------------------------- refunds

/// A member's request to refund (part of) one purchase, as the intent is written.
#[derive(Debug, Clone)]
pub struct RefundRequest<'a> {
    pub refund_id: &'a str,
    pub member: MemberId,
    pub order_id: &'a domain::payment::OrderId,
    /// Points to refund; None: all that remains of the purchase.
    pub points: Option<u64>,
    pub reason: &'a str,
    /// Where a virtual-account purchase's money goes back to.
    pub refund_account: Option<&'a domain::refund_account::RefundAccount>,
    /// Until then the requesting handler owns the refund; afterwards recovery may.
    pub lease_until: DateTime<Utc>,
    pub now: DateTime<Utc>,
}

/// A refund as stored, with what the cancel call needs of its payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundRecord {
    pub refund_id: String,
    pub order_id: domain::payment::OrderId,
    pub member_id: MemberId,
    pub payment_key: String,
    /// What Toss approved for the purchase.
    pub approved_amount: u64,
    pub points: u64,
    pub fee: u64,
    pub refund_won: u64,
    pub refundable_before: u64,
    pub reason: String,
    pub status: domain::refund::RefundStatus,
    /// The cancel's Idempotency-Key is `{refund_id}-{cancel_attempt}`.
    pub cancel_attempt: u32,
    pub recovery_attempts: u32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    /// The account the cancel pays a virtual-account refund to (sent on every attempt).
    pub refund_account: Option<domain::refund_account::RefundAccount>,
}

impl RefundRecord {
    pub fn cancel_key(&self) -> String {
        format!("{}-{}", self.refund_id, self.cancel_attempt)
    }
}

/// Why no refund intent was written.
#[derive(Debug, thiserror::Error)]
pub enum RefundOpenError {
    #[error("payment not found")]
    PaymentNotFound,
    #[error("another member's order")]
    NotYourOrder,
    #[error("the payment is not an approved purchase")]
    NotRefundable,
    #[error("another refund of this purchase is not settled yet")]
    InProgress,
    #[error("a virtual-account purchase is refunded to an account the member names")]
    RefundAccountRequired,
    #[error(transparent)]
    Policy(#[from] domain::refund::RefundRefusal),
    #[error(transparent)]
    Infra(#[from] InfraError),
}

/// The outcome a refund is moved to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundSettlement {
    /// Toss cancelled it: the refund is done (and `PaymentRefunded` goes out).
    Done,
    /// Toss refused it: the points go back to the lot.
    Refused { code: String, message: String },
    /// Not known yet; `new_key`: the next cancel needs a new Idempotency-Key.
    Unknown {
        retry_at: DateTime<Utc>,
        new_key: bool,
        note: String,
    },
    /// Toss shows something no refund of ours explains; the points stay taken.
    NeedsAttention { reason: String },
}

#[async_trait]
pub trait RefundStore: Send + Sync {
    /// In one transaction: checks the purchase and the policy, takes the points from the
    /// lot and the balance (a REFUND history entry) and writes the refund REQUESTED.
    async fn open_refund(
        &self,
        request: &RefundRequest<'_>,
        policy: &domain::refund::RefundPolicy,
    ) -> Result<RefundRecord, RefundOpenError>;
    /// Moves the refund from `from` (held until `fence`, its lease) to the settlement;
    /// false if it was no longer there or the lease is another's.
    async fn settle_refund(
        &self,
        refund: &RefundRecord,
        settlement: &RefundSettlement,
        fence: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, InfraError>;
    /// Open refunds whose lease or wait has passed, oldest first.
    async fn due_refunds(
        &self,
        now: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<RefundRecord>, InfraError>;
    /// Takes a due refund for one look until `lease_until`; false if another took it.
    async fn claim_refund(
        &self,
        refund: &RefundRecord,
        lease_until: DateTime<Utc>,
    ) -> Result<bool, InfraError>;
    /// The money Toss cancelled that we account for: DONE refunds and clawbacks.
    async fn refunded_won(&self, order_id: &domain::payment::OrderId) -> Result<u64, InfraError>;
    async fn find_refund(&self, refund_id: &str) -> Result<Option<RefundRecord>, InfraError>;
    /// Every refund of the order, newest first (a member follows a 202 here).
    async fn refunds_of(
        &self,
        order_id: &domain::payment::OrderId,
    ) -> Result<Vec<RefundRecord>, InfraError>;
}

// ---------------------------------------------------------------- Toss webhooks

/// Where a delivery stands when it arrives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryStart {
    /// First time this transmission id is seen.
    New,
    /// Seen before and handled: nothing to do again.
    Handled { outcome: String },
    /// Seen before, not finished (the earlier handling failed): handle it again.
    Unfinished,
}

/// What a clawback of a cancel made outside our API did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clawback {
    /// Toss's balance shows nothing beyond our refunds and earlier clawbacks.
    Nothing,
    /// A refund of ours is unsettled (its recovery decides first) or waits for a person.
    RefundOpen,
    /// The order is no approved purchase of ours.
    NotAPurchase,
    /// `points` taken from the lot; `shortfall` won no remaining points covered (flagged).
    Taken { points: u64, shortfall: u64 },
}

#[async_trait]
pub trait WebhookStore: Send + Sync {
    async fn record_delivery(
        &self,
        delivery: &domain::webhook::Delivery,
        now: DateTime<Utc>,
    ) -> Result<DeliveryStart, InfraError>;
    async fn finish_delivery(
        &self,
        transmission_id: &str,
        outcome: &str,
        now: DateTime<Utc>,
    ) -> Result<(), InfraError>;
    /// Under the purchase's locks: takes back the points of what Toss shows cancelled
    /// (`toss_balance` left of the approved amount) beyond our DONE refunds and earlier
    /// clawbacks, with a CLAWBACK history entry and a `PointsClawedBack` event.
    async fn claw_back(
        &self,
        order_id: &domain::payment::OrderId,
        toss_balance: u64,
        now: DateTime<Utc>,
    ) -> Result<Clawback, InfraError>;
}
