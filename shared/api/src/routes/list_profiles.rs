use super::ProfileBody;
use crate::envelope::{ApiError, Outcome, Reply};
use crate::request::{query_param, request_time};
use crate::services::Services;
use app::usecases::list_profiles::{ListProfilesDeps, ListQuery, list_profiles};
use domain::{Cursor, PageSize, ProfileFilter, ProfileSort};
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::Serialize;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    items: Vec<ProfileBody>,
    next_cursor: Option<String>,
    /// False while the view counter is unavailable: counts then exclude today's views.
    counts_live: bool,
}

/// `GET /api/profiles?category=&region=&keyword=&minCareerYears=&cursor=&size=&sort=`
pub async fn handle(services: &Services, req: Request) -> Outcome {
    let result = async {
        let q = |name| query_param(&req, name);
        let query = ListQuery {
            filter: ProfileFilter::parse(
                q("category"),
                q("region"),
                q("keyword"),
                q("minCareerYears"),
            )?,
            cursor: q("cursor").map(Cursor::decode).transpose()?,
            size: PageSize::parse(q("size"))?,
            sort: ProfileSort::parse(q("sort"))?,
        };
        let deps = ListProfilesDeps {
            search: &*services.store,
            counter: &*services.counter,
            collator: &services.collator,
        };
        let page = list_profiles(&deps, query, request_time(&req)).await?;
        Ok::<_, ApiError>(Page {
            items: page
                .items
                .into_iter()
                .map(|(p, views)| ProfileBody::new(p, views))
                .collect(),
            next_cursor: page.next_cursor.map(Cursor::encode),
            counts_live: page.counts_live,
        })
    }
    .await?;
    Ok(Reply::success(StatusCode::OK, result))
}
