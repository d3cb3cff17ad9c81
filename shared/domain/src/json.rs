//! JSON number handling shared by request forms: JSON has one number type, so `40.0` is
//! the integer 40 (as JSON Schema says); fractions and out-of-range values are refused.

use serde::Deserialize;
use serde::de::{Deserializer, Error};

#[derive(Deserialize)]
#[serde(untagged)]
enum Number {
    Int(i64),
    Big(u64),
    Float(f64),
}

/// An optional whole number: `40`, `40.0` and `4e1` are 40; `40.5` is an error.
pub fn whole_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    match Option::<Number>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Number::Int(n)) => Ok(Some(n)),
        Some(Number::Big(_)) => Err(D::Error::custom("integer out of range")),
        Some(Number::Float(f))
            if f.fract() == 0.0 && f >= i64::MIN as f64 && f < i64::MAX as f64 =>
        {
            Ok(Some(f as i64))
        }
        Some(Number::Float(_)) => Err(D::Error::custom("expected a whole number")),
    }
}

/// An optional non-negative whole number.
pub fn whole_u64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
    match Option::<Number>::deserialize(deserializer)? {
        None => Ok(None),
        Some(Number::Int(n)) if n >= 0 => Ok(Some(n as u64)),
        Some(Number::Big(n)) => Ok(Some(n)),
        Some(Number::Float(f)) if f.fract() == 0.0 && f >= 0.0 && f < u64::MAX as f64 => {
            Ok(Some(f as u64))
        }
        Some(_) => Err(D::Error::custom("expected a non-negative whole number")),
    }
}
