use crate::error::AppError;
use crate::ports::{ProfileRecord, ProfileSearch, ViewCounter};
use chrono::{DateTime, Utc};
use domain::listing::KoreanCollator;
use domain::views::{flushed_through, unflushed_closed_days};
use domain::{Cursor, KstDay, PageSize, ProfileFilter, ProfileSort};

#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: ProfileFilter,
    pub cursor: Option<Cursor>,
    pub size: PageSize,
    pub sort: ProfileSort,
}

#[derive(Debug, Clone)]
pub struct ProfilePage {
    pub items: Vec<(ProfileRecord, u64)>,
    /// Present when there may be more profiles after this page.
    pub next_cursor: Option<Cursor>,
    /// False when the counter store did not answer and counts exclude unflushed views.
    pub counts_live: bool,
}

pub struct ListProfilesDeps<'a> {
    pub search: &'a dyn ProfileSearch,
    pub counter: &'a dyn ViewCounter,
    pub collator: &'a KoreanCollator,
}

#[tracing::instrument(name = "list_profiles", skip_all)]
pub async fn list_profiles(
    deps: &ListProfilesDeps<'_>,
    query: ListQuery,
    now: DateTime<Utc>,
) -> Result<ProfilePage, AppError> {
    let limit = query.size.get();
    // One extra row tells whether another page exists without a COUNT query.
    let mut rows = deps
        .search
        .search(&query.filter, query.cursor, limit + 1)
        .await?;
    let has_more = rows.len() > limit as usize;
    rows.truncate(limit as usize);
    let next_cursor = has_more.then(|| Cursor {
        before_id: rows.last().expect("a full page").id.0,
    });
    let (pending, counts_live) = unflushed_views(deps.counter, &rows, KstDay::of(now)).await;
    let mut items: Vec<(ProfileRecord, u64)> = rows
        .into_iter()
        .zip(pending)
        .map(|(p, pending)| {
            let total = p.flushed_views + pending;
            (p, total)
        })
        .collect();
    sort_page(&mut items, query.sort, deps.collator);
    Ok(ProfilePage {
        items,
        next_cursor,
        counts_live,
    })
}

/// Each row's views not yet flushed into its row (closed days since its last flush, and
/// today), and whether the counter store answered; if it did not, zeros, so the page
/// still lists with flushed counts.
pub(crate) async fn unflushed_views(
    counter: &dyn ViewCounter,
    rows: &[ProfileRecord],
    today: KstDay,
) -> (Vec<u64>, bool) {
    let wanted: Vec<_> = rows
        .iter()
        .map(|p| {
            let mut days = unflushed_closed_days(
                flushed_through(p.own_flushed_through, p.global_flushed_through),
                today,
            );
            days.push(today);
            (p.id, days)
        })
        .collect();
    if wanted.is_empty() {
        return (Vec::new(), true);
    }
    match counter.sum_days(&wanted).await {
        Ok(sums) => (sums, true),
        Err(e) => {
            tracing::warn!(error = %e, "view counter unavailable, listing flushed counts only");
            (vec![0; rows.len()], false)
        }
    }
}

/// Re-orders one page by `sort` (the page itself is chosen newest first); equal keys
/// keep the newer profile first.
fn sort_page(items: &mut [(ProfileRecord, u64)], sort: ProfileSort, collator: &KoreanCollator) {
    match sort {
        ProfileSort::Latest => {}
        ProfileSort::Views => items.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.id.cmp(&a.0.id))),
        ProfileSort::Name => items.sort_by(|a, b| {
            collator
                .compare(&a.0.name, &b.0.name)
                .then(b.0.id.cmp(&a.0.id))
        }),
    }
}
