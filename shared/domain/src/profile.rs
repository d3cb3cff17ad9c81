use crate::error::{ErrorCode, ValidationError};
use std::fmt;
use std::str::FromStr;

/// A profile's id as it appears in `/api/profiles/{profileId}`: a positive integer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProfileId(pub u64);

impl ProfileId {
    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        match raw.parse::<u64>() {
            Ok(id) if id > 0 && !raw.starts_with('+') => Ok(Self(id)),
            _ => Err(ValidationError::new(
                ErrorCode::InvalidProfileId,
                "profileId: 양의 정수여야 합니다.",
            )),
        }
    }
}

impl fmt::Display for ProfileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

macro_rules! code_enum {
    ($(#[$doc:meta])* $name:ident, $field:literal, { $($variant:ident => $code:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            pub fn parse(raw: &str) -> Result<Self, ValidationError> {
                raw.parse()
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(raw: &str) -> Result<Self, ValidationError> {
                match raw.trim() {
                    $($code => Ok($name::$variant),)+
                    _ => Err(ValidationError::invalid(
                        $field,
                        format!("다음 중 하나여야 합니다: {}", [$($code),+].join(", ")),
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

code_enum!(
    /// The field an expert offers advice in; a closed list so listings can filter on it.
    Category, "category", {
        Development => "DEVELOPMENT",
        Design => "DESIGN",
        Marketing => "MARKETING",
        Business => "BUSINESS",
        Legal => "LEGAL",
        Finance => "FINANCE",
        Education => "EDUCATION",
        Health => "HEALTH",
        Career => "CAREER",
        Other => "OTHER",
    }
);

code_enum!(
    /// Where an expert meets clients: Korea's top-level administrative regions, or online.
    Region, "region", {
        Seoul => "SEOUL",
        Busan => "BUSAN",
        Daegu => "DAEGU",
        Incheon => "INCHEON",
        Gwangju => "GWANGJU",
        Daejeon => "DAEJEON",
        Ulsan => "ULSAN",
        Sejong => "SEJONG",
        Gyeonggi => "GYEONGGI",
        Gangwon => "GANGWON",
        Chungbuk => "CHUNGBUK",
        Chungnam => "CHUNGNAM",
        Jeonbuk => "JEONBUK",
        Jeonnam => "JEONNAM",
        Gyeongbuk => "GYEONGBUK",
        Gyeongnam => "GYEONGNAM",
        Jeju => "JEJU",
        Online => "ONLINE",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_id_accepts_only_positive_integers() {
        assert_eq!(ProfileId::parse("42").unwrap(), ProfileId(42));
        for bad in ["0", "-1", "+1", "abc", "", "1.5", "99999999999999999999999"] {
            assert_eq!(
                ProfileId::parse(bad).unwrap_err().code,
                ErrorCode::InvalidProfileId,
                "{bad}"
            );
        }
    }

    #[test]
    fn codes_round_trip() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()).unwrap(), *c);
        }
        for r in Region::ALL {
            assert_eq!(Region::parse(r.as_str()).unwrap(), *r);
        }
        assert!(Region::parse("MARS").is_err());
    }
}
