use crate::error::AppError;
use crate::ports::{MemberRegistry, RegisterError, Registered};
use chrono::{DateTime, Utc};
use domain::{NewMember, SignupForm};

#[tracing::instrument(name = "signup", skip_all)]
pub async fn signup(
    registry: &dyn MemberRegistry,
    form: SignupForm,
    now: DateTime<Utc>,
) -> Result<Registered, AppError> {
    let member = NewMember::parse(form)?;
    match registry.register(&member, now).await {
        Ok(registered) => {
            tracing::info!(
                member_id = registered.member_id.0,
                profile_id = registered.profile_id.0,
                "member signed up"
            );
            Ok(registered)
        }
        Err(RegisterError::DuplicateEmail) => Err(AppError::DuplicateEmail),
        Err(RegisterError::Infra(e)) => Err(e.into()),
    }
}
