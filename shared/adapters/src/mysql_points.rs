//! Members' accounts and point history (point_lots, point_history, members.points).

use crate::mysql::{MySqlStore, infra};
use app::InfraError;
use app::ports::{MemberAccount, PointAccounts, PointEntry, ProfileSummary};
use async_trait::async_trait;
use domain::points::{HistoryCursor, PointEntryKind};
use domain::{Category, MemberId, ProfileId, Region};
use sqlx::Row;
use sqlx::mysql::MySqlRow;

#[async_trait]
impl PointAccounts for MySqlStore {
    async fn account(&self, member: MemberId) -> Result<Option<MemberAccount>, InfraError> {
        // One statement, so the balance and the lots are one snapshot.
        let row = sqlx::query(
            "SELECT m.id, m.name, m.email, m.points, m.created_at, \
             (SELECT COUNT(*) FROM point_lots l WHERE l.member_id = m.id AND l.remaining > 0) AS open_lots, \
             p.id AS profile_id, p.headline, p.category, p.region, p.career_years \
             FROM members m LEFT JOIN profiles p ON p.member_id = m.id WHERE m.id = ?",
        )
        .bind(member.0)
        .fetch_optional(self.pool())
        .await
        .map_err(infra("could not read the member's account"))?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn point_history(
        &self,
        member: MemberId,
        cursor: Option<HistoryCursor>,
        limit: u32,
    ) -> Result<Vec<PointEntry>, InfraError> {
        let rows = sqlx::query(
            "SELECT id, kind, amount, balance_after, order_id, created_at FROM point_history \
             WHERE member_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
        )
        .bind(member.0)
        .bind(cursor.map_or(u64::MAX, |c| c.before_id))
        .bind(limit)
        .fetch_all(self.pool())
        .await
        .map_err(infra("could not read the point history"))?;
        rows.iter().map(entry_from_row).collect()
    }
}

fn account_from_row(row: &MySqlRow) -> Result<MemberAccount, InfraError> {
    let decode = |e: sqlx::Error| InfraError::new("account row has an unexpected shape", e);
    let profile_id: Option<u64> = row.try_get("profile_id").map_err(decode)?;
    let profile = match profile_id {
        None => None,
        Some(id) => {
            let category: String = row.try_get("category").map_err(decode)?;
            let region: String = row.try_get("region").map_err(decode)?;
            Some(ProfileSummary {
                id: ProfileId(id),
                headline: row.try_get("headline").map_err(decode)?,
                category: Category::parse(&category)
                    .map_err(|e| InfraError::new("unknown category in database", e))?,
                region: Region::parse(&region)
                    .map_err(|e| InfraError::new("unknown region in database", e))?,
                career_years: row.try_get("career_years").map_err(decode)?,
            })
        }
    };
    let open_lots: i64 = row.try_get("open_lots").map_err(decode)?;
    Ok(MemberAccount {
        member_id: MemberId(row.try_get("id").map_err(decode)?),
        name: row.try_get("name").map_err(decode)?,
        email: row.try_get("email").map_err(decode)?,
        points: row.try_get("points").map_err(decode)?,
        open_lots: open_lots.unsigned_abs(),
        joined_at: row.try_get("created_at").map_err(decode)?,
        profile,
    })
}

fn entry_from_row(row: &MySqlRow) -> Result<PointEntry, InfraError> {
    let decode = |e: sqlx::Error| InfraError::new("history row has an unexpected shape", e);
    let kind: String = row.try_get("kind").map_err(decode)?;
    Ok(PointEntry {
        id: row.try_get("id").map_err(decode)?,
        kind: PointEntryKind::parse(&kind)
            .ok_or_else(|| InfraError::new("unknown point entry kind in database", kind.clone()))?,
        amount: row.try_get("amount").map_err(decode)?,
        balance_after: row.try_get("balance_after").map_err(decode)?,
        order_id: row.try_get("order_id").map_err(decode)?,
        at: row.try_get("created_at").map_err(decode)?,
    })
}

/// Adds `points` (negative: takes them) to the member's balance and writes the history
/// entry of `kind` for `order_id` with the balance after it, in the caller's transaction.
pub(crate) async fn change_balance(
    tx: &mut sqlx::Transaction<'_, sqlx::MySql>,
    member: u64,
    order_id: &str,
    points: i64,
    kind: PointEntryKind,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), InfraError> {
    sqlx::query("UPDATE members SET points = points + ? WHERE id = ?")
        .bind(points)
        .bind(member)
        .execute(&mut **tx)
        .await
        .map_err(infra("could not change the member's points"))?;
    // The member's row is locked by the update: the balance read is this change's.
    sqlx::query(
        "INSERT INTO point_history (member_id, kind, amount, balance_after, order_id, created_at) \
         SELECT id, ?, ?, points, ?, ? FROM members WHERE id = ?",
    )
    .bind(kind.as_str())
    .bind(points)
    .bind(order_id)
    .bind(now)
    .bind(member)
    .execute(&mut **tx)
    .await
    .map_err(infra("could not write the point history"))?;
    Ok(())
}
