use crate::envelope::{ApiError, Outcome, Reply};
use crate::request::{client_address, json_body, request_time};
use crate::services::Services;
use app::auth::AccessToken;
use app::usecases::signup::{AuthDeps, AuthError, signup};
use domain::{ErrorCode, SignupForm};
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignedUp {
    member_id: u64,
    profile_id: u64,
    #[serde(flatten)]
    token: AccessToken,
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::TooManyAttempts => ApiError::try_later(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::TooManyRequests,
                "요청이 너무 많습니다. 잠시 후 다시 시도해 주세요.",
            ),
            AuthError::InvalidCredentials => ApiError::refusal(
                StatusCode::UNAUTHORIZED,
                ErrorCode::InvalidCredentials,
                "이메일 또는 비밀번호가 올바르지 않습니다.",
            ),
            AuthError::App(e) => e.into(),
        }
    }
}

/// The auth dependencies, or 503 when this function has no signing key configured.
pub(super) fn auth_deps(services: &Services) -> Result<AuthDeps<'_>, ApiError> {
    let tokens = services.tokens.as_ref().ok_or_else(|| {
        tracing::error!("TOKEN_SIGNING_KEY is not configured for this function");
        ApiError::unavailable("일시적으로 요청을 처리할 수 없습니다.")
    })?;
    Ok(AuthDeps {
        members: &*services.store,
        limiter: &*services.counter,
        tokens,
        limits: services.auth_limits,
    })
}

/// `POST /api/members/signup`: creates the member and its profile; answers an access token.
pub async fn handle(services: &Services, req: Request) -> Outcome {
    let result = async {
        let deps = auth_deps(services)?;
        let form: SignupForm = json_body(&req)?;
        let (registered, token) =
            signup(&deps, form, &client_address(&req), request_time(&req)).await?;
        Ok::<_, ApiError>(SignedUp {
            member_id: registered.member_id.0,
            profile_id: registered.profile_id.0,
            token,
        })
    }
    .await?;
    Ok(Reply::success(StatusCode::CREATED, result))
}
