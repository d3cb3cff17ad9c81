//! What a member sees of their own account: the summary with the balance, and the point
//! history page by page.

use crate::error::AppError;
use crate::ports::{MemberAccount, PointAccounts, PointEntry};
use domain::points::HistoryCursor;
use domain::{MemberId, PageSize};

pub struct MyPointsDeps<'a> {
    pub accounts: &'a dyn PointAccounts,
}

#[tracing::instrument(name = "my_account", skip_all, fields(member_id = member.0))]
pub async fn my_account(
    deps: &MyPointsDeps<'_>,
    member: MemberId,
) -> Result<MemberAccount, AppError> {
    deps.accounts
        .account(member)
        .await?
        .ok_or(AppError::MemberNotFound)
}

#[derive(Debug, Clone)]
pub struct HistoryPage {
    pub items: Vec<PointEntry>,
    /// Present when there may be older entries after this page.
    pub next_cursor: Option<HistoryCursor>,
}

/// The caller's point history, newest first (keyset pages like the profile list's).
#[tracing::instrument(name = "my_point_history", skip_all, fields(member_id = member.0))]
pub async fn my_point_history(
    deps: &MyPointsDeps<'_>,
    member: MemberId,
    cursor: Option<HistoryCursor>,
    size: PageSize,
) -> Result<HistoryPage, AppError> {
    let limit = size.get();
    // One extra row tells whether another page exists.
    let mut items = deps
        .accounts
        .point_history(member, cursor, limit + 1)
        .await?;
    let has_more = items.len() > limit as usize;
    items.truncate(limit as usize);
    let next_cursor = has_more.then(|| HistoryCursor {
        before_id: items.last().expect("a full page").id,
    });
    Ok(HistoryPage { items, next_cursor })
}
