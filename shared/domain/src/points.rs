//! Members' points: the kinds of change their history records and its keyset cursor.

use crate::error::ValidationError;
use crate::listing::{decode_keyset, encode_keyset};

/// What changed a member's points (the `kind` of a history entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PointEntryKind {
    /// A purchase through Toss: its lot's points added.
    Purchase,
    /// Points taken for a refund through our API (when it is asked for).
    Refund,
    /// A refund's points given back because Toss refused the cancel.
    RefundReversed,
    /// Points taken back because the payment was cancelled outside our API.
    Clawback,
    /// A virtual account's deposit undone by the bank (deposit error): its points taken
    /// back until the money comes again.
    DepositReversed,
}

impl PointEntryKind {
    pub const ALL: [PointEntryKind; 5] = [
        Self::Purchase,
        Self::Refund,
        Self::RefundReversed,
        Self::Clawback,
        Self::DepositReversed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Purchase => "PURCHASE",
            Self::Refund => "REFUND",
            Self::RefundReversed => "REFUND_REVERSED",
            Self::Clawback => "CLAWBACK",
            Self::DepositReversed => "DEPOSIT_REVERSED",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

/// Position in a member's point history, newest first: the next page starts strictly
/// below the last entry shown. Not interchangeable with the profile list's cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryCursor {
    pub before_id: u64,
}

const HISTORY_CURSOR_VERSION: &str = "h1:";

impl HistoryCursor {
    pub fn encode(self) -> String {
        encode_keyset(HISTORY_CURSOR_VERSION, self.before_id)
    }

    pub fn decode(raw: &str) -> Result<Self, ValidationError> {
        let before_id = decode_keyset(HISTORY_CURSOR_VERSION, raw)?;
        Ok(Self { before_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;
    use crate::listing::Cursor;

    #[test]
    fn kinds_round_trip() {
        for kind in PointEntryKind::ALL {
            assert_eq!(PointEntryKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(PointEntryKind::parse("purchase"), None);
    }

    #[test]
    fn a_history_cursor_round_trips_and_a_profile_cursor_is_refused() {
        let c = HistoryCursor { before_id: 42 };
        assert_eq!(HistoryCursor::decode(&c.encode()).unwrap(), c);
        let profile = Cursor { before_id: 42 }.encode();
        assert_eq!(
            HistoryCursor::decode(&profile).unwrap_err().code,
            ErrorCode::InvalidCursor
        );
        assert!(Cursor::decode(&c.encode()).is_err());
    }
}
