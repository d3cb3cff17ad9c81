//! Faults Toss cannot produce on demand, chosen per payment at authentication.
//!
//! They are written into the paymentKey (`tsbx_<hex>.delay-500.fail-PROVIDER_ERROR-2`), so a
//! black-box client that only passes the key through still selects them. See README.md.

use std::time::Duration;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Sleep before confirming.
    pub delay: Option<Duration>,
    /// Approve, then answer only after [`HANG`].
    pub hang: bool,
    /// Approve, then close the connection without a response.
    pub drop: bool,
    /// The first `n` confirms answer this code; the payment is left as it was.
    pub fail: Option<(String, u32)>,
    /// Approve with this amount instead of the requested one.
    pub amount: Option<i64>,
    /// The confirm fails with this code and the payment becomes ABORTED.
    pub abort: Option<String>,
    /// Lookups answer 404 `NOT_FOUND_PAYMENT` until the payment is approved: Toss documents
    /// them as lookups of approved payments (toss-api.md §3, §5.3).
    pub lookup_404: bool,
    /// Close the connection without a response while the approval is still running at the
    /// card network; it lands this long afterwards (a confirm timeout, §4 and §6).
    pub late: Option<Duration>,
    /// The first confirm answers this code, yet the approval lands [`PARTIAL_LANDING`] later:
    /// a `FAILED_*_PROCESSING` "may be partial" and an earlier attempt may still end `DONE`
    /// (§5.2, §5.3).
    pub partial: Option<String>,
}

/// How long a `hang` confirm waits: past any sane client timeout.
pub const HANG: Duration = Duration::from_secs(120);

/// How long after its error answer a `partial-<CODE>` approval lands: "shortly after".
pub const PARTIAL_LANDING: Duration = Duration::from_millis(300);

impl Faults {
    /// Parses a comma-separated fault list. Returns the faults and the paymentKey suffix
    /// (`.fault` per fault, in the given order).
    pub fn parse(list: &str) -> Result<(Faults, String), String> {
        let mut faults = Faults::default();
        let mut suffix = String::new();
        for raw in list.split(',').map(str::trim).filter(|f| !f.is_empty()) {
            let dup = || format!("fault {raw:?} given twice");
            if raw == "hang" {
                if faults.hang {
                    return Err(dup());
                }
                faults.hang = true;
            } else if raw == "drop" {
                if faults.drop {
                    return Err(dup());
                }
                faults.drop = true;
            } else if raw == "lookup-404" {
                if faults.lookup_404 {
                    return Err(dup());
                }
                faults.lookup_404 = true;
            } else if let Some(ms) = raw.strip_prefix("delay-") {
                let ms: u64 = parse_digits(ms).ok_or_else(|| format!("bad delay in {raw:?}"))?;
                if faults.delay.replace(Duration::from_millis(ms)).is_some() {
                    return Err(dup());
                }
            } else if let Some(rest) = raw.strip_prefix("fail-") {
                let (code, n) = rest
                    .rsplit_once('-')
                    .and_then(|(code, n)| Some((code, parse_digits(n)?)))
                    .filter(|(code, _)| is_code(code))
                    .ok_or_else(|| format!("expected fail-<CODE>-<n>, got {raw:?}"))?;
                if faults.fail.replace((code.to_owned(), n)).is_some() {
                    return Err(dup());
                }
            } else if let Some(x) = raw.strip_prefix("amount-") {
                let x: i64 = parse_digits(x).ok_or_else(|| format!("bad amount in {raw:?}"))?;
                if faults.amount.replace(x).is_some() {
                    return Err(dup());
                }
            } else if let Some(code) = raw.strip_prefix("abort-") {
                if !is_code(code) {
                    return Err(format!("expected abort-<CODE>, got {raw:?}"));
                }
                if faults.abort.replace(code.to_owned()).is_some() {
                    return Err(dup());
                }
            } else if let Some(ms) = raw.strip_prefix("late-") {
                let ms: u64 =
                    parse_digits(ms).ok_or_else(|| format!("expected late-<ms>, got {raw:?}"))?;
                if faults.late.replace(Duration::from_millis(ms)).is_some() {
                    return Err(dup());
                }
            } else if let Some(code) = raw.strip_prefix("partial-") {
                if !is_code(code) {
                    return Err(format!("expected partial-<CODE>, got {raw:?}"));
                }
                if faults.partial.replace(code.to_owned()).is_some() {
                    return Err(dup());
                }
            } else {
                return Err(format!("unknown fault {raw:?}"));
            }
            suffix.push('.');
            suffix.push_str(raw);
        }
        faults.check_combination()?;
        Ok((faults, suffix))
    }

    /// Rejects faults that contradict each other, so a test never silently gets only one.
    fn check_combination(&self) -> Result<(), String> {
        let late = self.late.is_some();
        let partial = self.partial.is_some();
        let conflicts = [
            (self.hang && self.drop, "hang and drop"),
            // late already withholds the answer and decides the outcome on its own.
            (late && self.drop, "late and drop"),
            (late && self.hang, "late and hang"),
            (late && partial, "late and partial"),
            (late && self.abort.is_some(), "late and abort"),
            // Each of these decides what the first confirm answers.
            (partial && self.fail.is_some(), "partial and fail"),
            (partial && self.abort.is_some(), "partial and abort"),
        ];
        match conflicts.into_iter().find(|(clash, _)| *clash) {
            Some((_, pair)) => Err(format!("{pair} cannot be combined")),
            None => Ok(()),
        }
    }
}

/// Plain decimal digits only, so the key never carries signs, spaces or exponents.
fn parse_digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// Toss codes are upper-case words joined by `_`.
fn is_code(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_fault_and_keeps_the_order_in_the_suffix() {
        let (f, suffix) = Faults::parse(
            "delay-250, fail-PROVIDER_ERROR-2,amount-990,abort-REJECT_CARD_COMPANY,drop",
        )
        .unwrap();
        assert_eq!(f.delay, Some(Duration::from_millis(250)));
        assert_eq!(f.fail, Some(("PROVIDER_ERROR".into(), 2)));
        assert_eq!(f.amount, Some(990));
        assert_eq!(f.abort.as_deref(), Some("REJECT_CARD_COMPANY"));
        assert!(f.drop && !f.hang);
        assert_eq!(
            suffix,
            ".delay-250.fail-PROVIDER_ERROR-2.amount-990.abort-REJECT_CARD_COMPANY.drop"
        );
        assert_eq!(
            Faults::parse("").unwrap(),
            (Faults::default(), String::new())
        );
    }

    #[test]
    fn parses_late_partial_and_lookup_404() {
        let (f, suffix) = Faults::parse("late-3000,lookup-404").unwrap();
        assert_eq!(f.late, Some(Duration::from_millis(3000)));
        assert!(f.lookup_404 && f.partial.is_none());
        assert_eq!(suffix, ".late-3000.lookup-404");

        let (f, suffix) =
            Faults::parse("lookup-404,partial-FAILED_INTERNAL_SYSTEM_PROCESSING,delay-10,amount-5")
                .unwrap();
        assert_eq!(
            f.partial.as_deref(),
            Some("FAILED_INTERNAL_SYSTEM_PROCESSING")
        );
        assert!(f.lookup_404 && f.late.is_none());
        assert_eq!(
            suffix,
            ".lookup-404.partial-FAILED_INTERNAL_SYSTEM_PROCESSING.delay-10.amount-5"
        );
        // late combines with a failure first and with delay; partial with drop and hang.
        assert!(Faults::parse("fail-PROVIDER_ERROR-1,late-0,delay-5,amount-9").is_ok());
        assert!(Faults::parse("partial-PROVIDER_ERROR,drop").is_ok());
        assert!(Faults::parse("partial-PROVIDER_ERROR,hang").is_ok());
    }

    #[test]
    fn rejects_malformed_faults() {
        for bad in [
            "explode",
            "delay-",
            "delay--5",
            "fail-PROVIDER_ERROR",
            "fail-provider-1",
            "amount-1e3",
            "abort-",
            "hang,drop",
            "hang,hang",
            "delay-1,delay-2",
            "lookup-404,lookup-404",
            "lookup-405",
            "lookup-404x",
            "lookup",
            "late-",
            "late--5",
            "late-+5",
            "late-1.5",
            "late-1e3",
            "late-3s",
            "late-1,late-2",
            "partial-",
            "partial-failed",
            "partial-FAILED-",
            "partial-PROVIDER ERROR",
            "partial-A,partial-B",
        ] {
            assert!(Faults::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn rejects_combinations_that_make_no_sense() {
        for (bad, pair) in [
            ("hang,drop", "hang and drop"),
            ("late-10,drop", "late and drop"),
            ("hang,late-10", "late and hang"),
            ("late-10,partial-PROVIDER_ERROR", "late and partial"),
            ("late-10,abort-REJECT_CARD_COMPANY", "late and abort"),
            (
                "partial-PROVIDER_ERROR,fail-PROVIDER_ERROR-1",
                "partial and fail",
            ),
            (
                "abort-REJECT_CARD_COMPANY,partial-PROVIDER_ERROR",
                "partial and abort",
            ),
        ] {
            let error = Faults::parse(bad).expect_err(bad);
            assert_eq!(error, format!("{pair} cannot be combined"), "{bad}");
        }
    }
}
