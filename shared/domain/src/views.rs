//! Where a profile's per-day view delta lives, and how the shown count is assembled.
//!
//! Counters are grouped: profiles `512·b … 512·b+511` share one Redis hash ("bucket" b)
//! per day, with the profile's offset as the field. Hashes of up to 512 fields keep
//! Redis' compact listpack encoding (the servers run `hash-max-listpack-entries 512`), so
//! a viewed profile-day costs a few bytes instead of a whole key with its own TTL, and
//! even a sparse day (1 profile in 100 viewed) shares each key's overhead among several. Buckets are spread over `SHARDS` shards; the shard is the cluster
//! hash tag, so every key one profile touches (all its days, and the day's bucket index)
//! lives in one slot and one request needs one round trip, while writes spread over
//! `SHARDS` slots instead of one hot key.

use crate::calendar::KstDay;
use crate::profile::ProfileId;
use chrono::{DateTime, Utc};

pub mod landing;
pub use landing::{LandingRules, LossDecision, MARKER_SLOT_SECS, MARKER_TTL_SECS, ViewId};

/// Profiles per bucket. Must not exceed the servers' `hash-max-listpack-entries`
/// (`HASH_MAX_LISTPACK_ENTRIES`), or full buckets fall back to Redis' far larger
/// hashtable encoding (still correct, only bigger).
pub const BUCKET_WIDTH: u64 = 512;
/// The Redis setting the template's parameter group and the local servers use.
pub const HASH_MAX_LISTPACK_ENTRIES: u64 = 512;
const _: () = assert!(BUCKET_WIDTH <= HASH_MAX_LISTPACK_ENTRIES);
/// Number of shards (cluster hash tags) per day.
pub const SHARDS: u64 = 64;
/// How long a day's counters live. Longer than any plausible outage of the flush job;
/// a day still unflushed after this is reported as lost by the flush job.
pub const COUNTER_RETENTION_DAYS: u32 = 8;
/// How long the loss ledger keeps an entry (DynamoDB TTL). The nightly recovery looks
/// this far back, so an entry older than the counters is still applied (and alarmed).
pub const LOSS_LEDGER_RETENTION_DAYS: u32 = 35;
/// Closed days read together with today's increment, so the usual case (the flush ran,
/// or it is between midnight and the 01:00 flush) needs no second round trip.
pub const CLOSED_DAYS_READ_AHEAD: u32 = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CounterSlot {
    pub shard: u64,
    pub bucket: u64,
    pub field: u64,
}

impl CounterSlot {
    pub fn of(profile: ProfileId) -> Self {
        let bucket = profile.0 / BUCKET_WIDTH;
        Self {
            shard: bucket % SHARDS,
            bucket,
            field: profile.0 % BUCKET_WIDTH,
        }
    }

    pub fn profile(bucket: u64, field: u64) -> ProfileId {
        ProfileId(bucket * BUCKET_WIDTH + field)
    }
}

/// The day through which a profile's MySQL `view_count` already includes Redis deltas:
/// its own watermark, or the last day the flush job finished for everyone (a profile
/// nobody viewed that day has nothing to flush, so its own watermark stays behind).
pub fn flushed_through(own: Option<KstDay>, global: Option<KstDay>) -> Option<KstDay> {
    own.max(global)
}

/// Closed days whose Redis deltas are not yet in MySQL, oldest first, bounded by the
/// counter retention (older counters have expired).
pub fn unflushed_closed_days(flushed: Option<KstDay>, today: KstDay) -> Vec<KstDay> {
    let oldest_kept = today.minus_days(COUNTER_RETENTION_DAYS);
    let after = flushed.map_or(oldest_kept, |d| d.max(oldest_kept));
    after.days_after_through(today.previous())
}

/// The day a flush treats as today: the day of the time it was invoked for, but never
/// later than the real clock's. A flush invoked for a future time (a mistyped manual run,
/// a skewed scheduler) would otherwise close today while views still arrive, and those
/// views would fall behind the watermark.
pub fn flush_today(requested: DateTime<Utc>, wall_now: DateTime<Utc>) -> KstDay {
    KstDay::of(requested.min(wall_now))
}

/// Days whose counters expired before any flush took them, oldest first: after the last
/// completed flush, or, if none ever completed, from the day the first profile was
/// created (no view can be older), through the newest day whose counters are gone.
pub fn expired_unflushed_days(
    last_flushed: Option<KstDay>,
    first_profile_day: Option<KstDay>,
    today: KstDay,
) -> Vec<KstDay> {
    let newest_expired = today.minus_days(COUNTER_RETENTION_DAYS);
    let after = match (last_flushed, first_profile_day) {
        (Some(last), _) => last,
        (None, Some(first)) => first.previous(),
        (None, None) => return Vec::new(),
    };
    after.days_after_through(newest_expired)
}

/// No flush shard is started closer than this to the invocation's deadline (a shard of a
/// day with a million viewed profiles takes well under a second; the margin leaves room
/// for a slow database).
pub const FLUSH_STOP_MARGIN_SECS: i64 = 60;

/// Whether a flush must stop before its next shard and leave the rest to the retry.
pub fn flush_must_pause(now: DateTime<Utc>, deadline: Option<DateTime<Utc>>) -> bool {
    deadline.is_some_and(|d| now + chrono::Duration::seconds(FLUSH_STOP_MARGIN_SECS) >= d)
}

/// Closed days read along with today's increment.
pub fn read_ahead_days(today: KstDay) -> Vec<KstDay> {
    (1..=CLOSED_DAYS_READ_AHEAD)
        .rev()
        .map(|n| today.minus_days(n))
        .collect()
}

/// Shards whose Redis counters were lost since the flush last looked. Each shard holds a
/// marker (no TTL, never rewritten) that the flush records in MySQL; a shard whose recorded
/// marker is missing now (the node was replaced empty, the data flushed or evicted) or is
/// another one has lost whatever it held. `present[shard]` is the marker found (None:
/// there was none). A shard never recorded cannot tell, so it does not count as lost.
pub fn shards_with_lost_counters(
    recorded: &[(u64, String)],
    present: &[Option<String>],
) -> Vec<u64> {
    recorded
        .iter()
        .filter(|(shard, marker)| {
            present
                .get(*shard as usize)
                .is_some_and(|found| found.as_ref() != Some(marker))
        })
        .map(|(shard, _)| *shard)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn day(d: u32) -> KstDay {
        KstDay::from_date(NaiveDate::from_ymd_opt(2026, 11, d).unwrap())
    }

    #[test]
    fn slot_round_trips_and_shares_a_shard_per_bucket() {
        for id in [1, 511, 512, 513, 32_767, 32_768, 10_000_003] {
            let slot = CounterSlot::of(ProfileId(id));
            assert_eq!(CounterSlot::profile(slot.bucket, slot.field), ProfileId(id));
            assert!(slot.field < BUCKET_WIDTH && slot.shard < SHARDS);
        }
        // (same bucket, next bucket, the bucket 64 further that shares the shard)
        let shard = |id| CounterSlot::of(ProfileId(id)).shard;
        assert_eq!(shard(512), shard(1023));
        assert_ne!(shard(512), shard(1024));
        assert_eq!(shard(512), shard(512 + 64 * 512));
    }

    #[test]
    fn a_flush_for_a_future_time_does_not_close_today() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // (requested, wall clock, today for the flush); 2026-11-24T16:00Z is 01:00 KST on the 25th.
        let cases = [
            ("2026-11-24T16:00:00Z", "2026-11-24T16:00:05Z", day(25)),
            ("2026-11-24T16:00:00Z", "2026-11-26T16:00:00Z", day(25)),
            ("2026-11-25T16:00:00Z", "2026-11-24T16:00:00Z", day(25)),
            ("2026-12-30T00:00:00Z", "2026-11-24T14:59:59Z", day(24)),
        ];
        for (requested, wall, today) in cases {
            assert_eq!(
                flush_today(at(requested), at(wall)),
                today,
                "{requested} {wall}"
            );
        }
    }

    #[test]
    fn a_flush_pauses_only_within_the_margin_of_a_deadline() {
        let now = "2026-11-24T16:00:00Z".parse::<DateTime<Utc>>().unwrap();
        let after = |s: i64| Some(now + chrono::Duration::seconds(s));
        let cases = [
            (None, false),
            (after(900), false),
            (after(FLUSH_STOP_MARGIN_SECS + 1), false),
            (after(FLUSH_STOP_MARGIN_SECS), true),
            (after(1), true),
            (after(-5), true),
        ];
        for (deadline, pause) in cases {
            assert_eq!(flush_must_pause(now, deadline), pause, "{deadline:?}");
        }
    }

    #[test]
    fn expired_days_are_known_with_or_without_a_completed_flush() {
        // today = 30th: counters of the 22nd and before are gone (8 days kept).
        let cases: [(Option<u32>, Option<u32>, Vec<u32>); 6] = [
            (Some(29), Some(1), vec![]),
            (Some(22), Some(1), vec![]),
            (Some(20), Some(1), vec![21, 22]),
            // Never flushed: from the first profile's day.
            (None, Some(20), vec![20, 21, 22]),
            (None, Some(23), vec![]),
            (None, None, vec![]),
        ];
        for (last, first, expired) in cases {
            assert_eq!(
                expired_unflushed_days(last.map(day), first.map(day), day(30)),
                expired.into_iter().map(day).collect::<Vec<_>>(),
                "last {last:?}, first {first:?}"
            );
        }
    }

    #[test]
    fn unflushed_days_between_watermark_and_today() {
        assert_eq!(unflushed_closed_days(Some(day(23)), day(24)), vec![]);
        assert_eq!(unflushed_closed_days(Some(day(22)), day(24)), vec![day(23)]);
        // Never flushed: every day whose counters may still exist.
        assert_eq!(
            unflushed_closed_days(None, day(24)).len(),
            COUNTER_RETENTION_DAYS as usize - 1
        );
        assert_eq!(flushed_through(Some(day(20)), Some(day(22))), Some(day(22)));
        assert_eq!(flushed_through(None, Some(day(22))), Some(day(22)));
        assert_eq!(read_ahead_days(day(24)), vec![day(22), day(23)]);
    }

    #[test]
    fn a_shard_is_lost_when_its_recorded_marker_is_gone_or_replaced() {
        let m = |s: &str| Some(s.to_owned());
        let recorded = vec![
            (0, "a".to_owned()),
            (1, "b".to_owned()),
            (2, "c".to_owned()),
        ];
        let cases: [(&[Option<String>], Vec<u64>); 5] = [
            (&[m("a"), m("b"), m("c")], vec![]),
            (&[None, m("b"), m("c")], vec![0]),
            (&[m("a"), m("x"), None], vec![1, 2]),
            (&[None, None, None, None], vec![0, 1, 2]),
            // Shard 3 was never recorded: it cannot tell.
            (&[m("a"), m("b"), m("c"), None], vec![]),
        ];
        for (present, lost) in cases {
            assert_eq!(
                shards_with_lost_counters(&recorded, present),
                lost,
                "{present:?}"
            );
        }
        assert_eq!(shards_with_lost_counters(&[], &[None]), Vec::<u64>::new());
    }
}
