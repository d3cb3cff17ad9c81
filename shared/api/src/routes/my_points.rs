use crate::envelope::{ApiError, Outcome, Reply};
use crate::request::{query_param, require_caller};
use crate::services::Services;
use app::ports::{MemberAccount, PointEntry};
use app::usecases::my_points::{MyPointsDeps, my_account, my_point_history};
use chrono::{DateTime, SecondsFormat, Utc};
use domain::PageSize;
use domain::points::HistoryCursor;
use lambda_http::Request;
use lambda_http::http::StatusCode;
use serde::Serialize;

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AccountBody {
    member_id: u64,
    name: String,
    email: String,
    points: u64,
    open_lots: u64,
    joined_at: String,
    profile: Option<ProfileSummaryBody>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProfileSummaryBody {
    profile_id: u64,
    headline: String,
    category: &'static str,
    region: &'static str,
    career_years: u8,
}

impl From<MemberAccount> for AccountBody {
    fn from(a: MemberAccount) -> Self {
        Self {
            member_id: a.member_id.0,
            name: a.name,
            email: a.email,
            points: a.points,
            open_lots: a.open_lots,
            joined_at: timestamp(a.joined_at),
            profile: a.profile.map(|p| ProfileSummaryBody {
                profile_id: p.id.0,
                headline: p.headline,
                category: p.category.as_str(),
                region: p.region.as_str(),
                career_years: p.career_years,
            }),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EntryBody {
    entry_id: u64,
    kind: &'static str,
    amount: i64,
    balance_after: i64,
    order_id: String,
    at: String,
}

impl From<PointEntry> for EntryBody {
    fn from(e: PointEntry) -> Self {
        Self {
            entry_id: e.id,
            kind: e.kind.as_str(),
            amount: e.amount,
            balance_after: e.balance_after,
            order_id: e.order_id,
            at: timestamp(e.at),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HistoryBody {
    items: Vec<EntryBody>,
    next_cursor: Option<String>,
}

/// `GET /api/members/me`: the caller's summary, profile and point balance.
pub async fn handle_account(services: &Services, req: Request) -> Outcome {
    let member = require_caller(&req)?;
    let deps = MyPointsDeps {
        accounts: &*services.store,
    };
    let account = my_account(&deps, member).await?;
    Ok::<_, ApiError>(Reply::success(StatusCode::OK, AccountBody::from(account)))
}

/// `GET /api/members/me/points?cursor=&size=`: the caller's point history, newest first.
pub async fn handle_history(services: &Services, req: Request) -> Outcome {
    let member = require_caller(&req)?;
    let cursor = query_param(&req, "cursor")
        .map(HistoryCursor::decode)
        .transpose()
        .map_err(ApiError::from)?;
    let size = PageSize::parse(query_param(&req, "size")).map_err(ApiError::from)?;
    let deps = MyPointsDeps {
        accounts: &*services.store,
    };
    let page = my_point_history(&deps, member, cursor, size).await?;
    let body = HistoryBody {
        items: page.items.into_iter().map(EntryBody::from).collect(),
        next_cursor: page.next_cursor.map(HistoryCursor::encode),
    };
    Ok(Reply::success(StatusCode::OK, body))
}
