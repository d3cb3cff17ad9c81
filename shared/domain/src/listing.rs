//! The profile list query: filters, keyset cursor, page size and in-page ordering.

use crate::error::{ErrorCode, ValidationError};
use crate::profile::{Category, Region};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::cmp::Ordering;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileFilter {
    pub category: Option<Category>,
    pub region: Option<Region>,
    /// Part of the member's name, matched anywhere in it.
    pub name_keyword: Option<String>,
    pub min_career_years: Option<u8>,
}

pub const KEYWORD_MAX_CHARS: usize = 50;

impl ProfileFilter {
    pub fn parse(
        category: Option<&str>,
        region: Option<&str>,
        keyword: Option<&str>,
        min_career_years: Option<&str>,
    ) -> Result<Self, ValidationError> {
        let category = category.map(Category::parse).transpose()?;
        let region = region.map(Region::parse).transpose()?;
        let name_keyword = match keyword.map(str::trim) {
            None | Some("") => None,
            Some(k) if k.chars().count() > KEYWORD_MAX_CHARS || k.chars().any(char::is_control) => {
                return Err(ValidationError::invalid(
                    "keyword",
                    format!("제어 문자 없이 {KEYWORD_MAX_CHARS}자 이하여야 합니다."),
                ));
            }
            Some(k) => Some(k.to_owned()),
        };
        let min_career_years = min_career_years
            .map(|raw| {
                raw.parse::<u8>()
                    .ok()
                    .filter(|y| i64::from(*y) <= crate::member::CAREER_YEARS_MAX)
                    .ok_or_else(|| {
                        ValidationError::invalid(
                            "minCareerYears",
                            "0 이상 70 이하의 정수여야 합니다.",
                        )
                    })
            })
            .transpose()?;
        Ok(Self {
            category,
            region,
            name_keyword,
            min_career_years,
        })
    }
}

/// Page size: 1..=100, 20 when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u32);

impl PageSize {
    pub const DEFAULT: u32 = 20;
    pub const MAX: u32 = 100;

    pub fn parse(raw: Option<&str>) -> Result<Self, ValidationError> {
        let Some(raw) = raw else {
            return Ok(Self(Self::DEFAULT));
        };
        match raw.parse::<u32>() {
            Ok(n) if (1..=Self::MAX).contains(&n) => Ok(Self(n)),
            _ => Err(ValidationError::new(
                ErrorCode::InvalidPageSize,
                format!("size: 1 이상 {} 이하여야 합니다.", Self::MAX),
            )),
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// Keyset position: the list is newest first (descending profile id, which follows
/// creation order), and the next page starts strictly below the last id shown.
/// Opaque to clients so the ordering key can change without breaking them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub before_id: u64,
}

const CURSOR_VERSION: &str = "p1:";

impl Cursor {
    pub fn encode(self) -> String {
        encode_keyset(CURSOR_VERSION, self.before_id)
    }

    pub fn decode(raw: &str) -> Result<Self, ValidationError> {
        let before_id = decode_keyset(CURSOR_VERSION, raw)?;
        Ok(Self { before_id })
    }
}

/// A keyset position as an opaque token: the id behind a prefix naming what it pages
/// through (so one list's cursor is refused by another), base64url.
pub(crate) fn encode_keyset(prefix: &str, before_id: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{prefix}{before_id}"))
}

pub(crate) fn decode_keyset(prefix: &str, raw: &str) -> Result<u64, ValidationError> {
    let bad = || {
        ValidationError::new(
            ErrorCode::InvalidCursor,
            "cursor: 올바르지 않은 커서입니다.",
        )
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(raw.trim_end_matches('='))
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    text.strip_prefix(prefix)
        .and_then(|n| n.parse::<u64>().ok())
        .filter(|n| *n > 0)
        .ok_or_else(bad)
}

/// Ordering applied within one page (the page itself is always chosen newest first, so
/// re-sorting never breaks the keyset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProfileSort {
    #[default]
    Latest,
    Views,
    Name,
}

impl ProfileSort {
    pub fn parse(raw: Option<&str>) -> Result<Self, ValidationError> {
        match raw {
            None | Some("LATEST") => Ok(Self::Latest),
            Some("VIEWS") => Ok(Self::Views),
            Some("NAME") => Ok(Self::Name),
            Some(_) => Err(ValidationError::invalid(
                "sort",
                "LATEST, VIEWS, NAME 중 하나여야 합니다.",
            )),
        }
    }
}

/// Korean dictionary order (가나다…) from the Unicode Collation Algorithm with the `ko`
/// tailoring: Hangul first in 가나다 order (ㄲ after ㄱ), then other scripts.
pub struct KoreanCollator(icu_collator::CollatorBorrowed<'static>);

impl KoreanCollator {
    pub fn new() -> Self {
        let prefs = icu_collator::CollatorPreferences::from(icu_locale::locale!("ko"));
        let collator = icu_collator::Collator::try_new(
            prefs,
            icu_collator::options::CollatorOptions::default(),
        )
        .expect("the compiled-in data has a Korean collation");
        Self(collator)
    }

    pub fn compare(&self, a: &str, b: &str) -> Ordering {
        self.0.compare(a, b)
    }
}

impl Default for KoreanCollator {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips_and_rejects_garbage() {
        let c = Cursor { before_id: 12345 };
        assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        for bad in [
            "",
            "!!!",
            "cDE6",
            &URL_SAFE_NO_PAD.encode("p1:abc"),
            &URL_SAFE_NO_PAD.encode("p1:0"),
        ] {
            assert_eq!(
                Cursor::decode(bad).unwrap_err().code,
                ErrorCode::InvalidCursor,
                "{bad}"
            );
        }
    }

    #[test]
    fn page_size_bounds() {
        assert_eq!(PageSize::parse(None).unwrap().get(), 20);
        assert_eq!(PageSize::parse(Some("100")).unwrap().get(), 100);
        for bad in ["0", "101", "-1", "x"] {
            assert_eq!(
                PageSize::parse(Some(bad)).unwrap_err().code,
                ErrorCode::InvalidPageSize
            );
        }
    }

    #[test]
    fn korean_names_sort_in_ganada_order() {
        let collator = KoreanCollator::new();
        let mut names = vec!["하나", "가을", "다람", "나비", "Alice", "까치"];
        names.sort_by(|a, b| collator.compare(a, b));
        // CLDR's Korean tailoring puts Hangul before Latin, as Korean dictionaries do.
        assert_eq!(names, ["가을", "까치", "나비", "다람", "하나", "Alice"]);
    }

    #[test]
    fn filter_parsing() {
        let f = ProfileFilter::parse(Some("DESIGN"), None, Some(" 김 "), Some("3")).unwrap();
        assert_eq!(f.category, Some(Category::Design));
        assert_eq!(f.name_keyword.as_deref(), Some("김"));
        assert_eq!(f.min_career_years, Some(3));
        assert!(ProfileFilter::parse(None, Some("MARS"), None, None).is_err());
        assert!(ProfileFilter::parse(None, None, None, Some("-2")).is_err());
        assert!(ProfileFilter::parse(None, None, Some(&"가".repeat(51)), None).is_err());
    }
}
