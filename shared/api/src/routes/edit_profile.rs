use super::ProfileBody;
use crate::envelope::{ApiError, Outcome, Reply};
use crate::request::{json_body, request_time, require_caller};
use crate::services::Services;
use app::usecases::edit_profile::{EditProfileDeps, edit_profile};
use domain::ProfileEditForm;
use lambda_http::Request;
use lambda_http::http::StatusCode;

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct EditedBody {
    #[serde(flatten)]
    profile: ProfileBody,
    counts_live: bool,
}

/// `PATCH /api/profiles/me`: the caller edits their own profile; answers it as edited.
pub async fn handle(services: &Services, req: Request) -> Outcome {
    let member = require_caller(&req)?;
    let form: ProfileEditForm = json_body(&req)?;
    let deps = EditProfileDeps {
        profiles: &*services.store,
        counter: &*services.counter,
    };
    let edited = edit_profile(&deps, member, form, request_time(&req)).await?;
    let body = EditedBody {
        profile: ProfileBody::new(edited.profile, edited.view_count),
        counts_live: edited.counts_live,
    };
    Ok::<_, ApiError>(Reply::success(StatusCode::OK, body))
}
