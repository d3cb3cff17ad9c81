use crate::auth::{AccessToken, TokenIssuer, decoy_hash, hash_password, verify_password};
use crate::error::AppError;
use crate::ports::{MemberRegistry, RateLimiter, RegisterError, Registered};
use chrono::{DateTime, Utc};
use domain::{Email, MemberId, NewMember, SignupForm};
use serde::Deserialize;

/// Attempts per minute: per client address, and per e-mail for logins. Enough for people,
/// too few for password guessing or mass signups.
#[derive(Debug, Clone, Copy)]
pub struct AuthLimits {
    pub signups_per_client: u32,
    pub logins_per_client: u32,
    pub logins_per_email: u32,
}

impl Default for AuthLimits {
    fn default() -> Self {
        Self {
            signups_per_client: 10,
            logins_per_client: 30,
            logins_per_email: 5,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("too many attempts")]
    TooManyAttempts,
    #[error("wrong e-mail or password")]
    InvalidCredentials,
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<domain::ValidationError> for AuthError {
    fn from(e: domain::ValidationError) -> Self {
        AuthError::App(e.into())
    }
}

/// Fails open: a limiter outage must not lock everyone out.
async fn within_limit(limiter: &dyn RateLimiter, bucket: &str, limit: u32) -> bool {
    match limiter.allow(bucket, limit, 60).await {
        Ok(allowed) => allowed,
        Err(e) => {
            tracing::warn!(error = %e, "rate limiter unavailable; allowing the attempt");
            true
        }
    }
}

pub struct AuthDeps<'a> {
    pub members: &'a dyn MemberRegistry,
    pub limiter: &'a dyn RateLimiter,
    pub tokens: &'a TokenIssuer,
    pub limits: AuthLimits,
}

#[tracing::instrument(name = "signup", skip_all)]
pub async fn signup(
    deps: &AuthDeps<'_>,
    form: SignupForm,
    client: &str,
    now: DateTime<Utc>,
) -> Result<(Registered, AccessToken), AuthError> {
    if !within_limit(
        deps.limiter,
        &format!("signup:{client}"),
        deps.limits.signups_per_client,
    )
    .await
    {
        return Err(AuthError::TooManyAttempts);
    }
    let member = NewMember::parse(form)?;
    let hash = hash_password(member.password.expose());
    match deps.members.register(&member, &hash, now).await {
        Ok(registered) => {
            tracing::info!(
                member_id = registered.member_id.0,
                profile_id = registered.profile_id.0,
                "member signed up"
            );
            Ok((registered, deps.tokens.issue(registered.member_id, now)))
        }
        Err(RegisterError::DuplicateEmail) => Err(AppError::DuplicateEmail.into()),
        Err(RegisterError::Infra(e)) => Err(AppError::from(e).into()),
    }
}

#[derive(Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoginForm {
    pub email: Option<String>,
    pub password: Option<String>,
}

#[tracing::instrument(name = "login", skip_all)]
pub async fn login(
    deps: &AuthDeps<'_>,
    form: LoginForm,
    client: &str,
    now: DateTime<Utc>,
) -> Result<(MemberId, AccessToken), AuthError> {
    let email = Email::parse(
        &form
            .email
            .ok_or_else(|| domain::ValidationError::missing("email"))?,
    )?;
    let password = form
        .password
        .ok_or_else(|| domain::ValidationError::missing("password"))?;
    let per_client = within_limit(
        deps.limiter,
        &format!("login:{client}"),
        deps.limits.logins_per_client,
    )
    .await;
    let per_email = within_limit(
        deps.limiter,
        &format!("login:{}", email.as_str()),
        deps.limits.logins_per_email,
    )
    .await;
    if !(per_client && per_email) {
        return Err(AuthError::TooManyAttempts);
    }
    let found = deps
        .members
        .credentials(&email)
        .await
        .map_err(AppError::from)?;
    let (member, hash) = match &found {
        Some((member, Some(hash))) => (Some(*member), hash.as_str()),
        _ => (None, decoy_hash()),
    };
    // Verify even for unknown members, so timing does not reveal who has an account.
    let verified = verify_password(&password, hash);
    match member {
        Some(member) if verified => {
            tracing::info!(member_id = member.0, "member logged in");
            Ok((member, deps.tokens.issue(member, now)))
        }
        _ => Err(AuthError::InvalidCredentials),
    }
}
