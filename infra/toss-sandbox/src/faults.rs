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
}

/// How long a `hang` confirm waits: past any sane client timeout.
pub const HANG: Duration = Duration::from_secs(120);

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
            } else {
                return Err(format!("unknown fault {raw:?}"));
            }
            suffix.push('.');
            suffix.push_str(raw);
        }
        if faults.hang && faults.drop {
            return Err("hang and drop cannot be combined".into());
        }
        Ok((faults, suffix))
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
        ] {
            assert!(Faults::parse(bad).is_err(), "{bad} accepted");
        }
    }
}
