use crate::envelope::{ApiError, finish};
use crate::request::{json_body, request_time};
use crate::services::Services;
use app::usecases::signup::signup;
use domain::SignupForm;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SignedUp {
    member_id: u64,
    profile_id: u64,
}

/// `POST /api/members/signup`
pub async fn handle(services: &Services, req: Request) -> Response<Body> {
    let outcome = async {
        let form: SignupForm = json_body(&req)?;
        let registered = signup(&services.store, form, request_time(&req)).await?;
        Ok::<_, ApiError>(SignedUp {
            member_id: registered.member_id.0,
            profile_id: registered.profile_id.0,
        })
    }
    .await;
    finish(StatusCode::CREATED, outcome)
}
