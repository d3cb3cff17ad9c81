use crate::error::{ErrorCode, ValidationError};
use crate::profile::{Category, Region};
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MemberId(pub u64);

/// An e-mail address that passed RFC 5322 syntax checks, trimmed and lower-cased so that
/// `A@x.com` and `a@x.com` are one member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, ValidationError> {
        let email = raw.trim().to_lowercase();
        let bad = || {
            ValidationError::new(
                ErrorCode::InvalidEmail,
                "email: 올바른 이메일 형식이 아닙니다.",
            )
        };
        if email.is_empty() || email.len() > Self::MAX_LEN {
            return Err(bad());
        }
        // The crate accepts quoted local parts and IP-literal domains that no mail
        // provider hands out; a listing service wants a plain, deliverable-looking address.
        let parsed = email_address::EmailAddress::parse_with_options(
            &email,
            email_address::Options::default().without_display_text(),
        )
        .map_err(|_| bad())?;
        let domain = parsed.domain();
        if email.contains('"') || domain.starts_with('[') || !domain.contains('.') {
            return Err(bad());
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The signup request as the client sent it; every field optional so that a missing field
/// is reported by name instead of as a JSON error.
#[derive(Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignupForm {
    pub name: Option<String>,
    pub email: Option<String>,
    pub headline: Option<String>,
    pub category: Option<String>,
    #[serde(default, deserialize_with = "crate::json::whole_i64")]
    pub career_years: Option<i64>,
    pub region: Option<String>,
    pub introduction: Option<String>,
    pub password: Option<String>,
}

/// A password as typed: 8–128 characters, not only spaces. Never logged (no Debug text).
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(<hidden>)")
    }
}

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 128;

    pub fn parse(raw: String) -> Result<Self, ValidationError> {
        let chars = raw.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&chars)
            || raw.trim().is_empty()
            || raw.chars().any(char::is_control)
        {
            return Err(ValidationError::invalid(
                "password",
                format!(
                    "제어 문자 없이 {}자 이상 {}자 이하여야 합니다.",
                    Self::MIN_CHARS,
                    Self::MAX_CHARS
                ),
            ));
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SignupForm {
    // By hand: the password never reaches a log or a test failure message.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignupForm")
            .field("name", &self.name)
            .field("email", &self.email)
            .field("category", &self.category)
            .field("password", &self.password.as_ref().map(|_| "<hidden>"))
            .finish_non_exhaustive()
    }
}

/// A member and its expert profile, valid in every field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMember {
    pub name: String,
    pub email: Email,
    pub headline: String,
    pub category: Category,
    pub career_years: u8,
    pub region: Region,
    pub introduction: String,
    pub password: Password,
}

pub const NAME_MAX_CHARS: usize = 50;
pub const HEADLINE_MAX_CHARS: usize = 100;
pub const INTRODUCTION_MAX_CHARS: usize = 2000;
pub const CAREER_YEARS_MAX: i64 = 70;

impl NewMember {
    pub fn parse(form: SignupForm) -> Result<Self, ValidationError> {
        let name = text(form.name, "name", 1, NAME_MAX_CHARS)?;
        let email = Email::parse(
            &form
                .email
                .ok_or_else(|| ValidationError::missing("email"))?,
        )?;
        let headline = text(form.headline, "headline", 1, HEADLINE_MAX_CHARS)?;
        let category = Category::parse(
            &form
                .category
                .ok_or_else(|| ValidationError::missing("category"))?,
        )?;
        let career_years = career_years(
            form.career_years
                .ok_or_else(|| ValidationError::missing("careerYears"))?,
        )?;
        let region = Region::parse(
            &form
                .region
                .ok_or_else(|| ValidationError::missing("region"))?,
        )?;
        let introduction = match form.introduction {
            None => String::new(),
            some => text(some, "introduction", 0, INTRODUCTION_MAX_CHARS)?,
        };
        let password = Password::parse(
            form.password
                .ok_or_else(|| ValidationError::missing("password"))?,
        )?;
        Ok(Self {
            name,
            email,
            headline,
            category,
            career_years,
            region,
            introduction,
            password,
        })
    }
}

fn career_years(raw: i64) -> Result<u8, ValidationError> {
    if !(0..=CAREER_YEARS_MAX).contains(&raw) {
        return Err(ValidationError::invalid(
            "careerYears",
            format!("0 이상 {CAREER_YEARS_MAX} 이하여야 합니다."),
        ));
    }
    Ok(raw as u8)
}

/// An owner's edit of their profile as sent: the editable fields, each optional. Any
/// other field (name, e-mail, counts) is refused rather than silently ignored.
#[derive(Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProfileEditForm {
    pub headline: Option<String>,
    pub introduction: Option<String>,
    pub category: Option<String>,
    #[serde(default, deserialize_with = "crate::json::whole_i64")]
    pub career_years: Option<i64>,
    pub region: Option<String>,
}

/// A valid edit: the fields to change (None: keep), by the signup rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProfileEdit {
    pub headline: Option<String>,
    pub introduction: Option<String>,
    pub category: Option<Category>,
    pub career_years: Option<u8>,
    pub region: Option<Region>,
}

impl ProfileEdit {
    pub fn parse(form: ProfileEditForm) -> Result<Self, ValidationError> {
        let edit = Self {
            headline: form
                .headline
                .map(|h| text(Some(h), "headline", 1, HEADLINE_MAX_CHARS))
                .transpose()?,
            introduction: form
                .introduction
                .map(|i| text(Some(i), "introduction", 0, INTRODUCTION_MAX_CHARS))
                .transpose()?,
            category: form.category.as_deref().map(Category::parse).transpose()?,
            career_years: form.career_years.map(career_years).transpose()?,
            region: form.region.as_deref().map(Region::parse).transpose()?,
        };
        if edit == Self::default() {
            return Err(ValidationError::missing(
                "headline, introduction, category, careerYears or region",
            ));
        }
        Ok(edit)
    }
}

/// Trimmed text whose length in characters (not bytes: names are Korean) is within bounds,
/// and which carries no control characters that would corrupt listings or logs.
fn text(
    value: Option<String>,
    field: &str,
    min: usize,
    max: usize,
) -> Result<String, ValidationError> {
    let value = value.ok_or_else(|| ValidationError::missing(field))?;
    let value = value.trim();
    let chars = value.chars().count();
    if chars < min || chars > max {
        return Err(ValidationError::invalid(
            field,
            format!("{min}자 이상 {max}자 이하여야 합니다."),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(ValidationError::invalid(
            field,
            "제어 문자는 사용할 수 없습니다.",
        ));
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> SignupForm {
        SignupForm {
            name: Some(" 김철수 ".into()),
            email: Some("Kim@Example.COM".into()),
            headline: Some("백엔드 개발 10년".into()),
            category: Some("DEVELOPMENT".into()),
            career_years: Some(10),
            region: Some("SEOUL".into()),
            introduction: None,
            password: Some("correct horse".into()),
        }
    }

    #[test]
    fn valid_form_is_normalised() {
        let m = NewMember::parse(form()).unwrap();
        assert_eq!(m.name, "김철수");
        assert_eq!(m.email.as_str(), "kim@example.com");
        assert_eq!(m.introduction, "");
    }

    #[test]
    fn each_rule_has_its_code() {
        let cases: Vec<(SignupForm, ErrorCode)> = vec![
            (
                SignupForm {
                    name: None,
                    ..form()
                },
                ErrorCode::MissingField,
            ),
            (
                SignupForm {
                    name: Some("  ".into()),
                    ..form()
                },
                ErrorCode::InvalidField,
            ),
            (
                SignupForm {
                    name: Some("가".repeat(51)),
                    ..form()
                },
                ErrorCode::InvalidField,
            ),
            (
                SignupForm {
                    name: Some("a\u{0}b".into()),
                    ..form()
                },
                ErrorCode::InvalidField,
            ),
            (
                SignupForm {
                    email: Some("not-an-email".into()),
                    ..form()
                },
                ErrorCode::InvalidEmail,
            ),
            (
                SignupForm {
                    email: Some("a@localhost".into()),
                    ..form()
                },
                ErrorCode::InvalidEmail,
            ),
            (
                SignupForm {
                    email: Some(format!("{}@x.com", "a".repeat(250))),
                    ..form()
                },
                ErrorCode::InvalidEmail,
            ),
            (
                SignupForm {
                    category: Some("ASTROLOGY".into()),
                    ..form()
                },
                ErrorCode::InvalidField,
            ),
            (
                SignupForm {
                    career_years: Some(-1),
                    ..form()
                },
                ErrorCode::InvalidField,
            ),
            (
                SignupForm {
                    career_years: Some(71),
                    ..form()
                },
                ErrorCode::InvalidField,
            ),
            (
                SignupForm {
                    region: None,
                    ..form()
                },
                ErrorCode::MissingField,
            ),
            (
                SignupForm {
                    introduction: Some("x".repeat(2001)),
                    ..form()
                },
                ErrorCode::InvalidField,
            ),
        ];
        for (input, code) in cases {
            let err = NewMember::parse(input.clone()).expect_err(&format!("{input:?}"));
            assert_eq!(err.code, code, "{input:?}");
        }
    }

    #[test]
    fn profile_edits_follow_the_signup_rules_and_change_something() {
        let edit = |json: &str| {
            serde_json::from_str::<ProfileEditForm>(json)
                .map_err(|_| ErrorCode::InvalidJson)
                .and_then(|form| ProfileEdit::parse(form).map_err(|e| e.code))
        };
        assert_eq!(
            edit(r#"{"headline": "  데이터 엔지니어 "}"#),
            Ok(ProfileEdit {
                headline: Some("데이터 엔지니어".into()),
                ..ProfileEdit::default()
            })
        );
        assert_eq!(
            edit(r#"{"careerYears": 12, "region": "BUSAN", "introduction": ""}"#).map(|e| (
                e.career_years,
                e.region,
                e.introduction
            )),
            Ok((Some(12), Some(Region::Busan), Some(String::new())))
        );
        let refused = [
            (r#"{}"#, ErrorCode::MissingField),
            (r#"{"headline": ""}"#, ErrorCode::InvalidField),
            (r#"{"headline": "a\u0007b"}"#, ErrorCode::InvalidField),
            (r#"{"careerYears": 71}"#, ErrorCode::InvalidField),
            (r#"{"careerYears": -1}"#, ErrorCode::InvalidField),
            (r#"{"category": "NOPE"}"#, ErrorCode::InvalidField),
            // Refused by the form itself (the API answers INVALID_FIELD naming it).
            (r#"{"name": "새 이름"}"#, ErrorCode::InvalidJson),
            (r#"{"viewCount": 1000000}"#, ErrorCode::InvalidJson),
        ];
        for (json, code) in refused {
            assert_eq!(edit(json), Err(code), "{json}");
        }
    }
}
