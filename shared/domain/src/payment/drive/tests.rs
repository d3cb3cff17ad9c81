//! The decision table: hand-picked journeys (one per rule of the README's payment section),
//! then every sequence of Toss answers up to the retry limit, checked against the money
//! rules stated independently of the code.

use super::*;
use chrono::TimeZone;

const ORDER: &str = "ord_drive_1";
const KEY: &str = "pk_drive_1";

fn authenticated_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
}

fn after(secs: i64) -> DateTime<Utc> {
    authenticated_at() + Duration::seconds(secs)
}

fn ours() -> OurPayment {
    OurPayment {
        order_id: ORDER.into(),
        payment_key: Some(KEY.into()),
        amount: Amount::stored(5_000),
        authenticated_at: Some(authenticated_at()),
        key_number: 1,
    }
}

fn view(status: &'static str, total_amount: u64) -> TossView<'static> {
    TossView {
        order_id: ORDER,
        payment_key: KEY,
        currency: Some("KRW"),
        status,
        total_amount,
        failure: None,
    }
}

fn refused(code: &'static str) -> Answer<'static> {
    Answer::Refused { code, message: "m" }
}

fn open(note: &str) -> Step {
    Step::Settle(Outcome::StillOpen { note: note.into() })
}

fn failed(code: &str, message: &str) -> Step {
    Step::Settle(Outcome::Failed {
        code: code.into(),
        message: message.into(),
    })
}

/// Runs `answers` through a drive and returns every step it took (the first included).
fn journey(start: Start, now: DateTime<Utc>, answers: &[Answer<'static>]) -> Vec<Step> {
    let (mut drive, first) = Drive::begin(ours(), start, 2);
    let mut steps = vec![first];
    for answer in answers {
        steps.push(drive.next(*answer, now));
    }
    steps
}

/// (name, how the drive starts, seconds after authentication, Toss's answers, steps).
type Journey = (&'static str, Start, i64, Vec<Answer<'static>>, Vec<Step>);

#[test]
fn journeys() {
    use Answer::*;
    use Step::*;
    let confirm = |d: Option<u32>| Confirm { after_delay: d };
    let not_yet = "still not approved after confirm attempts";
    let aborted = TossView {
        failure: Some(("REJECT_CARD_COMPANY", "거절")),
        ..view("ABORTED", 5_000)
    };
    let cases: Vec<Journey> = vec![
        (
            "approved at once",
            Start::Confirm,
            0,
            vec![Confirmed(view("DONE", 5_000))],
            vec![confirm(None), Settle(Outcome::Approved)],
        ),
        (
            "a decline with nothing in doubt is Toss's verdict",
            Start::Confirm,
            0,
            vec![refused("REJECT_CARD_COMPANY")],
            vec![confirm(None), failed("REJECT_CARD_COMPANY", "m")],
        ),
        (
            "a timeout, then a 404 inside the window: the same key again, which lands",
            Start::Confirm,
            0,
            vec![NoAnswer, NotFound, Confirmed(view("DONE", 5_000))],
            vec![
                confirm(None),
                LookUp,
                confirm(Some(0)),
                Settle(Outcome::Approved),
            ],
        ),
        (
            "404s until the retries are spent leave the payment open, never FAILED",
            Start::Confirm,
            0,
            vec![NoAnswer, NotFound, NoAnswer, NotFound, NoAnswer, NotFound],
            vec![
                confirm(None),
                LookUp,
                confirm(Some(0)),
                LookUp,
                confirm(Some(1)),
                LookUp,
                open(not_yet),
            ],
        ),
        (
            "a partial code, a new key, then a decline: not a verdict until Toss shows ABORTED",
            Start::Confirm,
            0,
            vec![
                refused("FAILED_INTERNAL_SYSTEM_PROCESSING"),
                Found(view("IN_PROGRESS", 5_000)),
                Rotated(true),
                refused("REJECT_CARD_COMPANY"),
                Found(aborted),
            ],
            vec![
                confirm(None),
                LookUp,
                RotateKey { to: 2 },
                confirm(Some(0)),
                LookUp,
                failed("REJECT_CARD_COMPANY", "거절"),
            ],
        ),
        (
            "a decline after a timeout, and Toss shows DONE: approved",
            Start::Confirm,
            0,
            vec![
                NoAnswer,
                NotFound,
                refused("REJECT_CARD_COMPANY"),
                Found(view("DONE", 5_000)),
            ],
            vec![
                confirm(None),
                LookUp,
                confirm(Some(0)),
                LookUp,
                Settle(Outcome::Approved),
            ],
        ),
        (
            "an unknown-class code with a body used up its key: rotate",
            Start::Confirm,
            0,
            vec![refused("UNKNOWN_PAYMENT_ERROR"), NotFound],
            vec![confirm(None), LookUp, RotateKey { to: 2 }],
        ),
        (
            "another driver rotated first: yield to it",
            Start::Confirm,
            0,
            vec![refused("PROVIDER_ERROR"), NotFound, Rotated(false)],
            vec![confirm(None), LookUp, RotateKey { to: 2 }, Yield],
        ),
        (
            "the first request with this key still runs: same key again",
            Start::Confirm,
            0,
            vec![
                refused("IDEMPOTENT_REQUEST_PROCESSING"),
                Found(view("IN_PROGRESS", 5_000)),
            ],
            vec![confirm(None), LookUp, confirm(Some(0))],
        ),
        (
            "recovery inside the window: a 404 sends the confirm again",
            Start::LookUp,
            60,
            vec![NotFound],
            vec![LookUp, confirm(Some(0))],
        ),
        (
            "recovery past the window but inside the slack: open",
            Start::LookUp,
            TOSS_CONFIRM_WINDOW_SECS + 60,
            vec![NotFound],
            vec![LookUp, open(not_yet)],
        ),
        (
            "recovery after window and slack: a 404 is final",
            Start::LookUp,
            TOSS_CONFIRM_WINDOW_SECS + CONFIRM_WINDOW_SLACK_SECS,
            vec![NotFound],
            vec![
                LookUp,
                failed("NOT_FOUND_PAYMENT", "토스페이먼츠에 결제 정보가 없습니다."),
            ],
        ),
        (
            "recovery: a final code is not a verdict (the dead confirm may have landed)",
            Start::LookUp,
            60,
            vec![NotFound, refused("REJECT_CARD_COMPANY")],
            vec![LookUp, confirm(Some(0)), LookUp],
        ),
        (
            "a lookup that fails leaves it open",
            Start::LookUp,
            60,
            vec![LookupFailed],
            vec![LookUp, open("the lookup failed")],
        ),
        (
            "another amount approved: cancel at Toss, ask a person",
            Start::Confirm,
            0,
            vec![Confirmed(view("DONE", 4_000))],
            vec![
                confirm(None),
                Settle(Outcome::AmountDiffers {
                    approved: 4_000,
                    cancel_at_toss: true,
                }),
            ],
        ),
        (
            "cancelled at Toss: ask a person, nothing to cancel",
            Start::LookUp,
            60,
            vec![Found(view("CANCELED", 5_000))],
            vec![
                LookUp,
                Settle(Outcome::AmountDiffers {
                    approved: 5_000,
                    cancel_at_toss: false,
                }),
            ],
        ),
        (
            "someone else's payment: never a charge",
            Start::Confirm,
            0,
            vec![Confirmed(TossView {
                order_id: "ord_other_1",
                ..view("DONE", 5_000)
            })],
            vec![confirm(None), Settle(Outcome::NotOurs)],
        ),
        (
            "another currency: never a charge",
            Start::LookUp,
            60,
            vec![Found(TossView {
                currency: Some("USD"),
                ..view("DONE", 5_000)
            })],
            vec![LookUp, Settle(Outcome::NotOurs)],
        ),
    ];
    for (name, start, at, answers, expected) in cases {
        assert_eq!(journey(start, after(at), &answers), expected, "{name}");
    }
}

#[test]
fn a_rotation_moves_to_the_next_key_number() {
    let (mut drive, _) = Drive::begin(ours(), Start::Confirm, 2);
    drive.next(refused("PROVIDER_ERROR"), after(0));
    assert_eq!(
        drive.next(Answer::NotFound, after(0)),
        Step::RotateKey { to: 2 }
    );
    drive.next(Answer::Rotated(true), after(0));
    assert_eq!(drive.key_number(), 2);
    assert_eq!(confirm_key(ORDER, 2), "confirm-ord_drive_1-2");
}

#[test]
fn a_lookup_404_is_final_only_after_the_confirm_window_and_slack() {
    let edge = TOSS_CONFIRM_WINDOW_SECS + CONFIRM_WINDOW_SLACK_SECS;
    for (now, fin) in [
        (after(0), false),
        (after(600), false),
        (after(edge - 1), false),
        (after(edge), true),
    ] {
        assert_eq!(
            not_found_is_final(Some(authenticated_at()), now),
            fin,
            "{now}"
        );
    }
    assert!(
        not_found_is_final(None, after(0)),
        "no confirm of ours was ever sent"
    );
}

#[test]
fn an_open_outcome_goes_to_a_person_after_the_last_look() {
    assert_eq!(still_open(0, 12), StillOpen::LookAgain { attempt: 0 });
    assert_eq!(still_open(11, 12), StillOpen::LookAgain { attempt: 11 });
    assert_eq!(still_open(12, 12), StillOpen::HandToPerson);
    assert_eq!(still_open(13, 12), StillOpen::HandToPerson);
}

// ------------------------------------------------------------- every combination

/// Answers Toss can give to each kind of step.
fn possible_answers(step: &Step) -> Vec<Answer<'static>> {
    let views = [
        view("DONE", 5_000),
        view("DONE", 4_000),
        view("IN_PROGRESS", 5_000),
        view("ABORTED", 5_000),
        view("EXPIRED", 5_000),
        view("CANCELED", 5_000),
        view("READY", 5_000),
        TossView {
            order_id: "ord_other_1",
            ..view("DONE", 5_000)
        },
    ];
    let codes = [
        "REJECT_CARD_COMPANY",
        "INVALID_API_KEY",
        "PROVIDER_ERROR",
        "FAILED_INTERNAL_SYSTEM_PROCESSING",
        "UNKNOWN_PAYMENT_ERROR",
        "ALREADY_PROCESSED_PAYMENT",
        "IDEMPOTENT_REQUEST_PROCESSING",
        "A_CODE_TOSS_ADDS_LATER",
    ];
    match step {
        Step::Confirm { .. } => views
            .iter()
            .map(|v| Answer::Confirmed(*v))
            .chain(codes.iter().map(|c| refused(c)))
            .chain([Answer::NoAnswer])
            .collect(),
        Step::LookUp => views
            .iter()
            .map(|v| Answer::Found(*v))
            .chain([Answer::NotFound, Answer::LookupFailed])
            .collect(),
        Step::RotateKey { .. } => vec![Answer::Rotated(true), Answer::Rotated(false)],
        Step::Settle(_) | Step::Yield => vec![],
    }
}

/// What the rules allow, stated from Toss's facts rather than from the code.
fn check(start: Start, now: DateTime<Utc>, history: &[(Step, Answer<'static>)], last: &Step) {
    let trail = || format!("start {start:?} at {now}: {history:?} → {last:?}");
    let (_, answer) = history.last().expect("a settle follows an answer");
    // Doubt: an attempt before the last answer whose outcome is not known.
    let doubt = start == Start::LookUp
        || history[..history.len() - 1].iter().any(|(_, a)| match a {
            Answer::NoAnswer | Answer::Rotated(true) => true,
            Answer::Refused { code, .. } => !ConfirmErrorClass::of(code).is_final(),
            _ => false,
        });
    let ours_with = |v: &TossView<'_>, statuses: &[&str]| {
        v.order_id == ORDER && v.currency == Some("KRW") && statuses.contains(&v.status)
    };
    match last {
        Step::Settle(Outcome::Approved) => match answer {
            Answer::Confirmed(v) | Answer::Found(v) => {
                assert!(
                    ours_with(v, &["DONE"]) && v.total_amount == 5_000,
                    "{}",
                    trail()
                )
            }
            _ => panic!("approved without Toss showing DONE: {}", trail()),
        },
        Step::Settle(Outcome::Failed { .. }) => match answer {
            Answer::Refused { code, .. } => assert!(
                ConfirmErrorClass::of(code).is_final() && !doubt,
                "a refusal settled FAILED although in doubt: {}",
                trail()
            ),
            Answer::Confirmed(v) | Answer::Found(v) => {
                assert!(ours_with(v, &["ABORTED", "EXPIRED"]), "{}", trail())
            }
            Answer::NotFound => assert!(
                now >= after(TOSS_CONFIRM_WINDOW_SECS + CONFIRM_WINDOW_SLACK_SECS),
                "a 404 settled FAILED inside the window and slack: {}",
                trail()
            ),
            _ => panic!("FAILED without Toss's word: {}", trail()),
        },
        Step::Settle(Outcome::NotOurs) => assert!(
            matches!(answer, Answer::Confirmed(v) | Answer::Found(v) if v.order_id != ORDER),
            "{}",
            trail()
        ),
        Step::RotateKey { .. } => assert!(
            history
                .iter()
                .any(|(_, a)| matches!(a, Answer::Refused { code, .. }
                if ConfirmErrorClass::of(code) != ConfirmErrorClass::RetrySameKey)),
            "a key rotated without a refusal that used it up: {}",
            trail()
        ),
        _ => {}
    }
    let confirms = history
        .iter()
        .filter(|(s, _)| matches!(s, Step::Confirm { .. }))
        .count();
    assert!(confirms <= 3, "more confirms than 1 + retries: {}", trail());
}

fn explore(
    start: Start,
    now: DateTime<Utc>,
    drive: &Drive,
    step: &Step,
    history: &mut Vec<(Step, Answer<'static>)>,
    ends: &mut usize,
) {
    let answers = possible_answers(step);
    if answers.is_empty() {
        *ends += 1;
        return;
    }
    assert!(history.len() < 12, "a drive that does not end: {history:?}");
    for answer in answers {
        let mut next_drive = drive.clone();
        let next = next_drive.next(answer, now);
        history.push((step.clone(), answer));
        check(start, now, history, &next);
        explore(start, now, &next_drive, &next, history, ends);
        history.pop();
    }
}

#[test]
fn every_sequence_of_answers_keeps_the_money_rules() {
    let times = [
        0,
        TOSS_CONFIRM_WINDOW_SECS + 1,
        TOSS_CONFIRM_WINDOW_SECS + CONFIRM_WINDOW_SLACK_SECS,
    ];
    let mut ends = 0;
    for start in [Start::Confirm, Start::LookUp] {
        for at in times {
            let (drive, first) = Drive::begin(ours(), start, 2);
            explore(start, after(at), &drive, &first, &mut Vec::new(), &mut ends);
        }
    }
    // Every path ends in a settle or a yield; this many were walked.
    assert!(ends > 10_000, "only {ends} journeys explored");
}
