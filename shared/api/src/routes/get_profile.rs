use super::ProfileBody;
use crate::envelope::{ApiError, Outcome, Reply};
use crate::request::{path_param, request_time};
use crate::services::Services;
use adapters::metrics;
use app::usecases::view_profile::{ViewProfileDeps, ViewRecordedIn, ViewStamp, view_profile};
use domain::ProfileId;
use lambda_http::Request;
use lambda_http::http::StatusCode;

/// The profile with whether its count is live (false while the view counter is down:
/// the count is then what MySQL and the loss ledger hold).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct DetailBody {
    #[serde(flatten)]
    profile: ProfileBody,
    counts_live: bool,
}

/// `GET /api/profiles/{profileId}`: the profile, counting this view.
pub async fn handle(services: &Services, req: Request) -> Outcome {
    let result = async {
        let id = ProfileId::parse(&path_param(&req, "profileId").unwrap_or_default())?;
        let deps = ViewProfileDeps {
            profiles: &*services.store,
            counter: &*services.counter,
            ledger: &*services.ledger,
            landing: services.view_landing,
        };
        let viewed = view_profile(&deps, id, request_time(&req), new_stamp()).await?;
        metrics::count(
            match viewed.recorded_in {
                ViewRecordedIn::Counter => "ViewsCounted",
                ViewRecordedIn::LossLedger => "ViewsToLossLedger",
                ViewRecordedIn::Nowhere => "ViewsLost",
            },
            1,
        );
        Ok::<_, ApiError>(DetailBody {
            profile: ProfileBody::new(viewed.profile, viewed.view_count),
            counts_live: viewed.counts_live,
        })
    }
    .await?;
    Ok(Reply::success(StatusCode::OK, result))
}

/// A fresh view: a random id (62 bits, so Redis keeps marker sets as compact integer sets)
/// stamped with the real clock.
fn new_stamp() -> ViewStamp {
    let random = uuid::Uuid::new_v4().as_u64_pair().0;
    ViewStamp {
        id: domain::views::ViewId(random >> 2),
        sent_at_ms: crate::jobs::wall_clock_ms(),
    }
}
