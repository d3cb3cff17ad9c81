use super::ProfileBody;
use crate::envelope::{ApiError, Outcome, Reply};
use crate::request::{path_param, request_time};
use crate::services::Services;
use adapters::metrics;
use app::usecases::view_profile::{ViewProfileDeps, ViewRecordedIn, view_profile};
use domain::ProfileId;
use lambda_http::Request;
use lambda_http::http::StatusCode;

/// `GET /api/profiles/{profileId}`: the profile, counting this view.
pub async fn handle(services: &Services, req: Request) -> Outcome {
    let result = async {
        let id = ProfileId::parse(&path_param(&req, "profileId").unwrap_or_default())?;
        let deps = ViewProfileDeps {
            profiles: &*services.store,
            counter: &*services.counter,
            ledger: &*services.ledger,
        };
        let viewed = view_profile(&deps, id, request_time(&req)).await?;
        metrics::count(
            match viewed.recorded_in {
                ViewRecordedIn::Counter => "ViewsCounted",
                ViewRecordedIn::LossLedger => "ViewsToLossLedger",
                ViewRecordedIn::Nowhere => "ViewsLost",
            },
            1,
        );
        Ok::<_, ApiError>(ProfileBody::new(viewed.profile, viewed.view_count))
    }
    .await?;
    Ok(Reply::success(StatusCode::OK, result))
}
