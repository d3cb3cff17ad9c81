//! When a view whose increment timed out may still land in Redis, and how the loss
//! recovery tells whether it did.
//!
//! A detail request that gives up on Redis records its view in the loss ledger, yet the
//! increment it sent may still be queued (a stalled node, a slow network) and run later.
//! Two rules make every such view count exactly once:
//!
//! 1. The counting script compares Redis' own clock with the time the request sent the
//!    increment and refuses to count once [`LandingRules::late_after_ms`] has passed. So
//!    an increment either lands within that window or never.
//! 2. An increment that lands writes the view's id into a marker set of its slot (same
//!    hash tag, same script), filed under the [`MARKER_SLOT_SECS`] slot of its sending
//!    time and kept [`MARKER_TTL_SECS`] from the set's first write. The recovery job decides a ledgered view only after its
//!    landing window (plus the allowed clock skew) has closed: its id in a marker set of
//!    that window means Redis has it, its absence means only the ledger does.

/// Width of one marker set in seconds (one set per shard per slot).
pub const MARKER_SLOT_SECS: u64 = 10;
/// How long a marker set lives after its last write. The recovery job runs every few
/// minutes; a ledgered view still undecided after this is decided blind (and reported).
pub const MARKER_TTL_SECS: u64 = 3_600;

/// A detail view's identity, shared by its increment's marker and its ledger entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ViewId(pub u64);

/// The timing the counting script and the recovery job agree on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LandingRules {
    /// An increment arriving later than this after it was sent is refused by the script.
    pub late_after_ms: u64,
    /// Allowed difference between the function's clock and Redis' clock.
    pub clock_skew_ms: u64,
}

impl Default for LandingRules {
    fn default() -> Self {
        Self {
            late_after_ms: 5_000,
            clock_skew_ms: 5_000,
        }
    }
}

/// What the recovery job concludes about one ledgered view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LossDecision {
    /// The increment may still land: ask again later.
    Wait,
    /// The increment landed: Redis counts it, the ledger entry is dropped.
    Counted,
    /// The increment never landed: the view is applied from the ledger.
    Missed,
    /// The markers that could tell have expired: applied from the ledger and reported,
    /// since it can no longer be told whether Redis had it too.
    MissedBlind,
}

impl LandingRules {
    /// The marker slot of an increment sent at `sent_at_ms`: the set its id goes into
    /// (by the sender's clock, so the recovery job knows the one set to look in).
    pub fn marker_slot(sent_at_ms: u64) -> u64 {
        sent_at_ms / 1_000 / MARKER_SLOT_SECS
    }

    /// The function-clock instant after which no increment sent at `sent_at_ms` can land.
    fn window_closes_ms(&self, sent_at_ms: u64) -> u64 {
        sent_at_ms + self.late_after_ms + 2 * self.clock_skew_ms
    }

    /// Until when (function clock) a marker of an increment sent at `sent_at_ms` is
    /// surely still there: a marker set expires MARKER_TTL_SECS after it was created, at
    /// the start of its slot at the earliest, on a clock up to the skew behind.
    fn markers_kept_until_ms(&self, sent_at_ms: u64) -> u64 {
        (sent_at_ms + MARKER_TTL_SECS * 1_000)
            .saturating_sub(MARKER_SLOT_SECS * 1_000 + 2 * self.clock_skew_ms)
    }

    /// `marker_found`: whether the view's id is in one of its marker sets (None: Redis
    /// could not be asked).
    pub fn decide(&self, sent_at_ms: u64, now_ms: u64, marker_found: Option<bool>) -> LossDecision {
        if now_ms <= self.window_closes_ms(sent_at_ms) {
            return LossDecision::Wait;
        }
        match marker_found {
            Some(true) => LossDecision::Counted,
            _ if now_ms >= self.markers_kept_until_ms(sent_at_ms) => LossDecision::MissedBlind,
            Some(false) => LossDecision::Missed,
            None => LossDecision::Wait,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: LandingRules = LandingRules {
        late_after_ms: 5_000,
        clock_skew_ms: 5_000,
    };
    const SENT: u64 = 1_800_000_000_000;

    #[test]
    fn a_view_is_decided_only_after_its_landing_window_closes() {
        let kept = RULES.markers_kept_until_ms(SENT) - SENT;
        assert_eq!(kept, 3_580_000);
        use LossDecision::*;
        let cases = [
            // (ms after sending, marker found, decision)
            (0, Some(false), Wait),
            (15_000, Some(false), Wait),
            (15_000, Some(true), Wait),
            (15_001, Some(true), Counted),
            (15_001, Some(false), Missed),
            (15_001, None, Wait),
            (kept - 1, Some(false), Missed),
            (kept - 1, None, Wait),
            (kept, Some(false), MissedBlind),
            (kept, None, MissedBlind),
            // A marker still found is proof, however late the check.
            (kept + 1, Some(true), Counted),
        ];
        for (after, found, decision) in cases {
            assert_eq!(
                RULES.decide(SENT, SENT + after, found),
                decision,
                "{after} ms, {found:?}"
            );
        }
    }

    #[test]
    fn views_sent_in_one_slot_share_a_marker_set() {
        let slot = LandingRules::marker_slot;
        assert_eq!(slot(SENT), slot(SENT + 9_999));
        assert_eq!(slot(SENT + 10_000), slot(SENT) + 1);
    }
}
