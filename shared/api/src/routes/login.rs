use super::signup::auth_deps;
use crate::envelope::{ApiError, Outcome, Reply};
use crate::request::{client_address, json_body, request_time};
use crate::services::Services;
use app::auth::AccessToken;
use app::usecases::signup::{LoginForm, login};
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoggedIn {
    member_id: u64,
    #[serde(flatten)]
    token: AccessToken,
}

/// `POST /api/members/login`: a fresh access token for e-mail and password.
pub async fn handle(services: &Services, req: Request) -> Outcome {
    let result = async {
        let deps = auth_deps(services)?;
        let form: LoginForm = json_body(&req)?;
        let (member, token) = login(&deps, form, &client_address(&req), request_time(&req)).await?;
        Ok::<_, ApiError>(LoggedIn {
            member_id: member.0,
            token,
        })
    }
    .await?;
    Ok(Reply::success(StatusCode::OK, result))
}
