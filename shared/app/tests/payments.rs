//! The payment use cases against in-memory fakes of their ports: every rule of the
//! README's payment section that does not need a real server, in plain `cargo test`.
//! (The same journeys run against MariaDB and the Toss sandbox in the scenario suite.)

mod fakes;

use app::usecases::payments::{
    CheckoutForm, CheckoutSettings, ConfirmForm, DepositOutcome, PaymentDeps, PaymentError,
    PaymentTimings, READY_EXPIRES_AFTER_SECS, check_deposit, checkout, confirm, recover_payments,
};
use chrono::{DateTime, Duration, Utc};
use domain::MemberId;
use domain::payment::{Amount, OrderId, PaymentStatus};
use fakes::{Act, Events, Store, Toss, toss_payment};
use std::time::Duration as StdDuration;

const MEMBER: MemberId = MemberId(7);
const AMOUNT: i64 = 5_000;

struct World {
    store: Store,
    toss: Toss,
    events: Events,
}

impl World {
    fn new(acts: impl IntoIterator<Item = Act>) -> Self {
        Self {
            store: Store::default(),
            toss: Toss::script(acts),
            events: Events::default(),
        }
    }

    fn deps(&self) -> PaymentDeps<'_> {
        PaymentDeps {
            store: &self.store,
            gateway: &self.toss,
            publisher: &self.events,
            timings: PaymentTimings {
                in_call_first_delay: StdDuration::from_millis(1),
                ..PaymentTimings::default()
            },
        }
    }

    async fn checkout(&self, seed: &str, now: DateTime<Utc>) -> OrderId {
        let settings = CheckoutSettings {
            client_key: "test_ck".into(),
            success_url: "http://127.0.0.1/success".into(),
            fail_url: "http://127.0.0.1/fail".into(),
        };
        let form = CheckoutForm {
            amount: Some(AMOUNT),
            order_name: Some("포인트 충전".into()),
            member_id: None,
        };
        let made = checkout(&self.store, &settings, MEMBER, form, seed, now)
            .await
            .unwrap();
        OrderId::parse(&made.order_id).unwrap()
    }

    async fn confirm(
        &self,
        order: &OrderId,
        now: DateTime<Utc>,
    ) -> Result<PaymentStatus, PaymentError> {
        let form = ConfirmForm {
            member_id: None,
            payment_key: Some(payment_key(order)),
            order_id: Some(order.to_string()),
            amount: Some(AMOUNT),
        };
        Ok(confirm(&self.deps(), MEMBER, form, now).await?.status)
    }

    async fn recover(&self, at: DateTime<Utc>) -> app::usecases::payments::PaymentRecoverySummary {
        recover_payments(&self.deps(), at, 50, None).await.unwrap()
    }

    /// Toss DONE ⇔ ours DONE with exactly one ledger row and the points once.
    fn assert_money(&self, order: &OrderId) {
        let ours = self.store.payment(order);
        let approved = self.toss.is_approved(order);
        let charged = self.store.ledger_rows(order);
        assert_eq!(
            (approved, ours.status == PaymentStatus::Done, charged),
            (approved, approved, usize::from(approved)),
            "Toss approved={approved}, ours {} with {charged} ledger rows",
            ours.status
        );
    }
}

fn payment_key(order: &OrderId) -> String {
    format!("pk_{order}")
}

fn noon() -> DateTime<Utc> {
    "2026-12-02T03:00:00Z".parse().unwrap()
}

/// After Toss's confirm window and the slack: a 404 is then Toss's word.
fn past_window() -> DateTime<Utc> {
    noon() + Duration::minutes(16)
}

#[tokio::test]
async fn an_approval_charges_once_and_publishes_its_event() {
    let world = World::new([Act::Approve]);
    let order = world.checkout("a1", noon()).await;
    assert_eq!(
        world.confirm(&order, noon()).await.unwrap(),
        PaymentStatus::Done
    );
    assert_eq!(
        world.confirm(&order, noon()).await.unwrap(),
        PaymentStatus::Done
    );
    assert_eq!(
        world.toss.confirm_keys().len(),
        1,
        "a second confirm answers from the store"
    );
    world.assert_money(&order);
    assert_eq!(world.store.unpublished(), 0);
}

#[tokio::test]
async fn a_decline_with_nothing_in_doubt_fails_without_points() {
    let world = World::new([Act::Refuse("REJECT_CARD_COMPANY")]);
    let order = world.checkout("b1", noon()).await;
    assert_eq!(
        world.confirm(&order, noon()).await.unwrap(),
        PaymentStatus::Failed
    );
    let failed = world.store.payment(&order);
    assert_eq!(failed.failure_code.as_deref(), Some("REJECT_CARD_COMPANY"));
    world.assert_money(&order);
}

#[tokio::test]
async fn a_lost_answer_is_found_by_the_lookup() {
    let world = World::new([Act::ApproveUnanswered]);
    let order = world.checkout("c1", noon()).await;
    assert_eq!(
        world.confirm(&order, noon()).await.unwrap(),
        PaymentStatus::Done
    );
    world.assert_money(&order);
}

#[tokio::test]
async fn a_404_after_an_unanswered_confirm_is_not_a_failure() {
    let world = World::new([Act::Unanswered, Act::Unanswered, Act::Unanswered]);
    let order = world.checkout("d1", noon()).await;
    assert_eq!(
        world.confirm(&order, noon()).await.unwrap(),
        PaymentStatus::Unknown
    );
    assert_eq!(
        world.toss.confirm_keys(),
        vec![format!("confirm-{order}-1"); 3]
    );
    // Recovery inside the window confirms again with the same key, which lands.
    let summary = world.recover(noon() + Duration::minutes(2)).await;
    assert_eq!(summary.done, 1, "{summary:?}");
    world.assert_money(&order);
}

#[tokio::test]
async fn a_404_is_final_only_after_the_window_and_slack() {
    let world = World::new(std::iter::repeat_n(Act::Unanswered, 20));
    let order = world.checkout("e1", noon()).await;
    world.confirm(&order, noon()).await.unwrap();
    world.recover(noon() + Duration::minutes(11)).await;
    assert_ne!(world.store.payment(&order).status, PaymentStatus::Failed);
    world
        .store
        .edit(&order, |p| p.next_attempt_at = Some(past_window()));
    let summary = world.recover(past_window()).await;
    assert_eq!(summary.failed, 1, "{summary:?}");
    world.assert_money(&order);
}

#[tokio::test]
async fn an_approval_that_lands_after_a_404_is_charged() {
    let world = World::new([Act::ApproveLate]);
    let order = world.checkout("f0", noon()).await;
    assert_eq!(
        world.confirm(&order, noon()).await.unwrap(),
        PaymentStatus::Done
    );
    world.assert_money(&order);
}

#[tokio::test]
async fn an_approval_that_landed_late_is_charged_even_past_the_window() {
    let world = World::new([Act::Unanswered, Act::Unanswered, Act::Unanswered]);
    let order = world.checkout("f1", noon()).await;
    world.confirm(&order, noon()).await.unwrap();
    world
        .toss
        .approves_later(&order, &payment_key(&order), Amount::stored(5_000));
    world
        .store
        .edit(&order, |p| p.next_attempt_at = Some(past_window()));
    assert_eq!(world.recover(past_window()).await.done, 1);
    world.assert_money(&order);
}

#[tokio::test]
async fn a_partial_code_is_not_a_verdict_and_rotates_the_key() {
    let world = World::new([Act::RefuseButApprove("FAILED_INTERNAL_SYSTEM_PROCESSING")]);
    let order = world.checkout("g1", noon()).await;
    assert_eq!(
        world.confirm(&order, noon()).await.unwrap(),
        PaymentStatus::Done
    );
    world.assert_money(&order);

    let world = World::new([
        Act::Refuse("FAILED_INTERNAL_SYSTEM_PROCESSING"),
        Act::Refuse("REJECT_CARD_COMPANY"),
    ]);
    let order = world.checkout("g2", noon()).await;
    // A decline after a partial answer is not Toss's verdict: the payment stays open.
    assert_eq!(
        world.confirm(&order, noon()).await.unwrap(),
        PaymentStatus::Unknown
    );
    let keys = world.toss.confirm_keys();
    assert_eq!(keys[0], format!("confirm-{order}-1"));
    assert!(
        keys[1..].iter().all(|k| *k == format!("confirm-{order}-2")),
        "{keys:?}"
    );
    world
        .store
        .edit(&order, |p| p.next_attempt_at = Some(past_window()));
    assert_eq!(world.recover(past_window()).await.failed, 1);
    world.assert_money(&order);
}

#[tokio::test]
async fn a_payment_that_is_not_ours_never_charges() {
    let order = OrderId::parse("ord_h1_unused").unwrap();
    let other = toss_payment(
        &OrderId::parse("ord_someone_else").unwrap(),
        "pk_x",
        Amount::stored(5_000),
        "DONE",
    );
    let world = World::new([Act::AnswerWith(Box::new(other))]);
    let order_h = world.checkout("h1", noon()).await;
    assert_ne!(order, order_h);
    assert_eq!(
        world.confirm(&order_h, noon()).await.unwrap(),
        PaymentStatus::NeedsAttention
    );
    assert_eq!(world.store.ledger_rows(&order_h), 0);
}

#[tokio::test]
async fn another_amount_is_cancelled_at_toss_and_handed_to_a_person() {
    let world = World::new([]);
    let order = world.checkout("i1", noon()).await;
    world
        .toss
        .approves_later(&order, &payment_key(&order), Amount::stored(4_000));
    assert_eq!(
        world.confirm(&order, noon()).await.unwrap(),
        PaymentStatus::NeedsAttention
    );
    assert_eq!(world.toss.cancels(), vec![format!("cancel-{order}")]);
    let held = world.store.payment(&order);
    assert_eq!(
        (held.approved_amount, held.points_charged),
        (Some(4_000), 0)
    );
}

#[tokio::test(start_paused = true)]
async fn a_toss_slower_than_the_budget_leaves_time_to_answer() {
    let world = World::new([Act::Slow(StdDuration::from_secs(120))]);
    let order = world.checkout("j1", noon()).await;
    let started = tokio::time::Instant::now();
    assert_eq!(
        world.confirm(&order, noon()).await.unwrap(),
        PaymentStatus::Unknown
    );
    let spent = started.elapsed();
    let budget = PaymentTimings::default().confirm_budget;
    assert!(
        spent <= budget + StdDuration::from_millis(50),
        "spent {spent:?} of {budget:?}"
    );
    assert_eq!(world.recover(noon() + Duration::minutes(2)).await.done, 1);
    world.assert_money(&order);
}

#[tokio::test]
async fn two_overlapping_recovery_runs_charge_once() {
    let world = World::new([Act::ApproveUnanswered]);
    let order = world.checkout("k1", noon()).await;
    world.store.edit(&order, |p| {
        p.status = PaymentStatus::Unknown;
        p.payment_key = Some(payment_key(&order));
        p.confirm_key = Some(format!("confirm-{order}-1"));
        p.confirm_attempts = 1;
        p.authenticated_at = Some(noon());
        p.next_attempt_at = Some(noon());
    });
    world
        .toss
        .approves_later(&order, &payment_key(&order), Amount::stored(5_000));
    let at = noon() + Duration::minutes(1);
    let (a, b) = tokio::join!(world.recover(at), world.recover(at));
    assert_eq!(a.done + b.done, 1, "{a:?} {b:?}");
    world.assert_money(&order);
}

#[tokio::test]
async fn after_the_last_look_an_open_payment_goes_to_a_person() {
    let world = World::new(std::iter::repeat_n(Act::Unanswered, 20));
    let order = world.checkout("l1", noon()).await;
    world.confirm(&order, noon()).await.unwrap();
    world.store.edit(&order, |p| {
        p.recovery_attempts = PaymentTimings::default().recovery_max_attempts;
        p.next_attempt_at = Some(noon());
    });
    let summary = world.recover(noon() + Duration::minutes(1)).await;
    assert_eq!(summary.needs_attention, 1, "{summary:?}");
}

#[tokio::test]
async fn events_left_behind_by_a_down_event_bus_go_out_with_recovery() {
    let world = World::new([Act::Approve]);
    world
        .events
        .down
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let order = world.checkout("m1", noon()).await;
    assert_eq!(
        world.confirm(&order, noon()).await.unwrap(),
        PaymentStatus::Done
    );
    assert_eq!(world.store.unpublished(), 1);
    world
        .events
        .down
        .store(false, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(world.recover(noon()).await.events_published, 1);
    assert_eq!(world.store.unpublished(), 0);
}

#[tokio::test]
async fn bad_confirms_never_reach_toss() {
    let world = World::new([]);
    let order = world.checkout("n1", noon()).await;
    let form = |member: Option<u64>, key: &str, amount: i64| ConfirmForm {
        member_id: member,
        payment_key: Some(key.into()),
        order_id: Some(order.to_string()),
        amount: Some(amount),
    };
    let deps = world.deps();
    let other = MemberId(8);
    let answer = confirm(&deps, other, form(None, "pk_1", AMOUNT), noon()).await;
    assert!(
        matches!(answer, Err(PaymentError::NotYourOrder)),
        "{answer:?}"
    );
    let answer = confirm(&deps, MEMBER, form(Some(8), "pk_1", AMOUNT), noon()).await;
    assert!(matches!(answer, Err(PaymentError::NotYou)), "{answer:?}");
    let answer = confirm(&deps, MEMBER, form(None, "pk_1", AMOUNT + 1), noon()).await;
    assert!(
        matches!(answer, Err(PaymentError::AmountMismatch)),
        "{answer:?}"
    );
    assert!(world.toss.confirm_keys().is_empty());
    confirm(&deps, MEMBER, form(None, "pk_1", AMOUNT), noon())
        .await
        .unwrap();
    let answer = confirm(&deps, MEMBER, form(None, "pk_2", AMOUNT), noon()).await;
    assert!(
        matches!(answer, Err(PaymentError::PaymentKeyMismatch)),
        "{answer:?}"
    );
}

#[tokio::test]
async fn an_abandoned_checkout_expires_only_after_every_window() {
    let world = World::new([]);
    let order = world.checkout("o1", noon()).await;
    let just_before = noon() + Duration::seconds(READY_EXPIRES_AFTER_SECS - 1);
    assert_eq!(world.recover(just_before).await.expired, 0);
    let after = noon() + Duration::seconds(READY_EXPIRES_AFTER_SECS + 1);
    assert_eq!(world.recover(after).await.expired, 1);
    assert_eq!(world.store.payment(&order).status, PaymentStatus::Expired);
}

/// The money invariant over random Toss behaviour: every payment, once recovery has
/// caught up, is DONE with one ledger row exactly when Toss approved it, and never
/// undecided. The seed is printed; rerun one with PAYMENT_FAKES_SEED.
#[tokio::test]
async fn random_toss_behaviour_keeps_the_money_invariant() {
    let seed: u64 = std::env::var("PAYMENT_FAKES_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| Utc::now().timestamp_micros() as u64);
    println!("PAYMENT_FAKES_SEED={seed}");
    let mut rng = seed | 1;
    let mut next = move |n: u64| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng % n
    };
    for round in 0..200 {
        let acts: Vec<Act> = (0..6)
            .map(|_| match next(7) {
                0 => Act::Approve,
                6 => Act::ApproveLate,
                1 => Act::Refuse("REJECT_CARD_COMPANY"),
                2 => Act::ApproveUnanswered,
                3 => Act::Unanswered,
                4 => Act::RefuseButApprove("FAILED_INTERNAL_SYSTEM_PROCESSING"),
                _ => Act::Refuse("PROVIDER_ERROR"),
            })
            .collect();
        let world = World::new(acts.clone());
        let order = world.checkout(&format!("r{round}"), noon()).await;
        world.confirm(&order, noon()).await.unwrap();
        for minutes in [1, 3, 6, 9] {
            if next(2) == 0 {
                world.store.edit(&order, |p| {
                    p.next_attempt_at = p.next_attempt_at.map(|_| noon());
                });
                world.recover(noon() + Duration::minutes(minutes)).await;
            }
        }
        // Recovery catches up: past every window, a 404 is final.
        for _ in 0..3 {
            world.store.edit(&order, |p| {
                p.next_attempt_at = p.next_attempt_at.map(|_| past_window());
            });
            world.recover(past_window()).await;
        }
        let status = world.store.payment(&order).status;
        assert!(
            matches!(status, PaymentStatus::Done | PaymentStatus::Failed),
            "seed {seed} round {round} {acts:?}: left {status}"
        );
        world.assert_money(&order);
    }
}

/// A virtual account issued for a fresh checkout, waiting for its deposit.
async fn waiting_account(world: &World) -> OrderId {
    let order = world.checkout("va", noon()).await;
    world.store.edit(&order, |p| {
        p.status = PaymentStatus::WaitingForDeposit;
        p.payment_key = Some(payment_key(&order));
        p.deposit_secret = Some("secret".into());
        p.deposit_due_at = Some(noon() + Duration::days(7));
    });
    order
}

fn amount() -> Amount {
    Amount::parse(AMOUNT).unwrap()
}

/// Two deposit callbacks handled at once, one looking before a deposit error and one
/// after: the older look's answer comes back last, yet its "deposited" never lands.
#[tokio::test]
async fn a_deposit_seen_before_a_deposit_error_never_lands_after_it() {
    let world = World::new([]);
    let order = waiting_account(&world).await;
    world
        .toss
        .approves_later(&order, &payment_key(&order), amount());
    let (reached, release) = world.toss.hold_next_lookup();
    let deps = world.deps();
    let first = world.store.payment(&order);
    let older = check_deposit(&deps, &first, noon(), false);
    let newer = async {
        reached.notified().await;
        world.toss.undo_approval(&order);
        let seen = world.store.payment(&order);
        let newer = check_deposit(&deps, &seen, noon(), true).await.unwrap();
        release.notify_one();
        newer
    };
    let (older, newer) = tokio::join!(older, newer);
    assert_eq!(newer, DepositOutcome::Unchanged);
    assert_eq!(
        older.unwrap(),
        DepositOutcome::Unchanged,
        "overtaken, it looked again"
    );
    let ours = world.store.payment(&order);
    assert_eq!(
        (
            ours.status,
            ours.points_charged,
            world.store.ledger_rows(&order)
        ),
        (PaymentStatus::WaitingForDeposit, 0, 0)
    );
}

/// The other way round: a deposit error seen, then a new deposit whose look changes
/// nothing (ours is still DONE); the older "undone" must not reverse the new deposit.
#[tokio::test]
async fn a_deposit_error_seen_before_a_new_deposit_never_lands_after_it() {
    let world = World::new([]);
    let order = waiting_account(&world).await;
    world
        .toss
        .approves_later(&order, &payment_key(&order), amount());
    let seen = world.store.payment(&order);
    let credited = check_deposit(&world.deps(), &seen, noon(), false).await;
    assert_eq!(
        credited.unwrap(),
        DepositOutcome::Moved(PaymentStatus::Done)
    );
    world.toss.undo_approval(&order);
    let (reached, release) = world.toss.hold_next_lookup();
    let deps = world.deps();
    let first = world.store.payment(&order);
    let older = check_deposit(&deps, &first, noon(), true);
    let newer = async {
        reached.notified().await;
        world
            .toss
            .approves_later(&order, &payment_key(&order), amount());
        let seen = world.store.payment(&order);
        let newer = check_deposit(&deps, &seen, noon(), false).await.unwrap();
        release.notify_one();
        newer
    };
    let (older, newer) = tokio::join!(older, newer);
    assert_eq!(newer, DepositOutcome::Unchanged);
    assert_eq!(
        older.unwrap(),
        DepositOutcome::Unchanged,
        "overtaken, it looked again"
    );
    let ours = world.store.payment(&order);
    assert_eq!(
        (ours.status, ours.points_charged),
        (PaymentStatus::Done, AMOUNT as u64)
    );
}
