use chrono::{DateTime, Datelike, NaiveDate, Utc};
use chrono_tz::Asia::Seoul;
use std::fmt;

/// A calendar day in Asia/Seoul. Views are counted per KST day because that is the day
/// the product's users (and the 01:00 flush) live in, not the UTC day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KstDay(NaiveDate);

impl KstDay {
    pub fn of(instant: DateTime<Utc>) -> Self {
        Self(instant.with_timezone(&Seoul).date_naive())
    }

    pub fn from_date(date: NaiveDate) -> Self {
        Self(date)
    }

    pub fn date(self) -> NaiveDate {
        self.0
    }

    pub fn previous(self) -> Self {
        Self(self.0.pred_opt().expect("date in range"))
    }

    pub fn next(self) -> Self {
        Self(self.0.succ_opt().expect("date in range"))
    }

    pub fn minus_days(self, days: u32) -> Self {
        Self(self.0 - chrono::Days::new(days.into()))
    }

    /// The instant the KST month after this day's begins (00:00 KST on its 1st).
    pub fn first_of_next_month_start(self) -> DateTime<Utc> {
        let next = self
            .0
            .with_day(1)
            .and_then(|first| first.checked_add_months(chrono::Months::new(1)))
            .expect("date in range");
        next.and_hms_opt(0, 0, 0)
            .and_then(|midnight| midnight.and_local_timezone(Seoul).single())
            .expect("KST has no gaps")
            .with_timezone(&Utc)
    }

    /// `yyyyMMdd`, the form used in counter keys and ledger keys.
    pub fn compact(self) -> String {
        format!(
            "{:04}{:02}{:02}",
            self.0.year(),
            self.0.month(),
            self.0.day()
        )
    }

    /// Days strictly after `self` up to and including `last`, oldest first.
    pub fn days_after_through(self, last: KstDay) -> Vec<KstDay> {
        let mut days = Vec::new();
        let mut day = self.next();
        while day <= last {
            days.push(day);
            day = day.next();
        }
        days
    }
}

impl fmt::Display for KstDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn kst_day_rolls_over_at_seoul_midnight_not_utc() {
        // 14:59:59 UTC is 23:59:59 KST; two seconds later it is the next KST day.
        let before = Utc.with_ymd_and_hms(2026, 11, 24, 14, 59, 59).unwrap();
        let after = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 1).unwrap();
        assert_eq!(KstDay::of(before).compact(), "20261124");
        assert_eq!(KstDay::of(after).compact(), "20261125");
    }

    #[test]
    fn days_after_through_is_exclusive_then_inclusive() {
        let d = KstDay::from_date(NaiveDate::from_ymd_opt(2026, 2, 27).unwrap());
        let got: Vec<String> = d
            .days_after_through(d.next().next())
            .into_iter()
            .map(KstDay::compact)
            .collect();
        assert_eq!(got, ["20260228", "20260301"]);
        assert!(d.days_after_through(d).is_empty());
    }
}
