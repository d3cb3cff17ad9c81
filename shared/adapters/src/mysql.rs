use app::InfraError;
use app::ports::{
    MemberRegistry, ProfileEditor, ProfileReader, ProfileRecord, ProfileSearch, RegisterError,
    Registered, ShardFlush, ViewHistory,
};
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use domain::listing::{Cursor, ProfileFilter};
use domain::name_search::{
    KeywordPlan, SPARSE_POSTINGS, counts_needed, keyword_probes, name_grams, plan_keyword,
};
use domain::{Category, KstDay, MemberId, NewMember, ProfileEdit, ProfileId, Region};
use sqlx::mysql::{MySqlPool, MySqlPoolOptions};
use sqlx::{MySql, QueryBuilder, Row};
use std::time::Duration;

pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../infra/migrations");

/// MySQL (MariaDB locally) store of members, profiles and the view history.
#[derive(Clone)]
pub struct MySqlStore {
    pool: MySqlPool,
}

/// Pool sizing for one Lambda execution environment: it serves one request at a time,
/// so one or two connections; connections are opened on demand and tested before use,
/// because a frozen environment wakes up with dead sockets.
pub fn lambda_pool(url: &str, max_connections: u32) -> Result<MySqlPool, InfraError> {
    MySqlPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(3))
        .test_before_acquire(true)
        .connect_lazy(url)
        .map_err(|e| InfraError::new("invalid DATABASE_URL", e))
}

/// Maps a driver error to the step that failed (the driver's detail stays the source).
pub(crate) fn infra(what: &'static str) -> impl FnOnce(sqlx::Error) -> InfraError {
    move |e| InfraError::new(what, e)
}

/// The profile row plus the global flush watermark, read in one statement (one snapshot).
macro_rules! profile_select {
    () => {
        profile_select!("profiles p")
    };
    // From `profiles p` with an index hint, or from tables that join it.
    ($from:expr) => {
        profile_select!("", $from)
    };
    // With a modifier after SELECT (e.g. STRAIGHT_JOIN: join in the order written).
    ($modifier:expr, $from:expr) => {
        concat!(
            "SELECT",
            $modifier,
            " p.id, p.member_id, m.name, p.headline, p.category, p.career_years, p.region, \
     p.introduction, p.created_at, p.view_count, p.views_flushed_through, p.version, \
     (SELECT MAX(r.day) FROM view_flush_runs r) AS global_flushed_through \
     FROM ",
            $from,
            " JOIN members m ON m.id = p.member_id"
        )
    };
}

fn profile_from_row(row: &sqlx::mysql::MySqlRow) -> Result<ProfileRecord, InfraError> {
    let decode = |e: sqlx::Error| InfraError::new("profile row has an unexpected shape", e);
    let category: String = row.try_get("category").map_err(decode)?;
    let region: String = row.try_get("region").map_err(decode)?;
    let own: Option<NaiveDate> = row.try_get("views_flushed_through").map_err(decode)?;
    let global: Option<NaiveDate> = row.try_get("global_flushed_through").map_err(decode)?;
    Ok(ProfileRecord {
        id: ProfileId(row.try_get("id").map_err(decode)?),
        member_id: MemberId(row.try_get("member_id").map_err(decode)?),
        name: row.try_get("name").map_err(decode)?,
        headline: row.try_get("headline").map_err(decode)?,
        category: Category::parse(&category)
            .map_err(|e| InfraError::new("unknown category in database", e))?,
        career_years: row.try_get("career_years").map_err(decode)?,
        region: Region::parse(&region)
            .map_err(|e| InfraError::new("unknown region in database", e))?,
        introduction: row.try_get("introduction").map_err(decode)?,
        created_at: row.try_get("created_at").map_err(decode)?,
        flushed_views: row.try_get("view_count").map_err(decode)?,
        own_flushed_through: own.map(KstDay::from_date),
        global_flushed_through: global.map(KstDay::from_date),
        version: row.try_get("version").map_err(decode)?,
    })
}

impl MySqlStore {
    pub fn new(pool: MySqlPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &MySqlPool {
        &self.pool
    }

    /// How many migrations the database has applied.
    pub async fn applied_migrations(&self) -> Result<i64, InfraError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
            .fetch_one(&self.pool)
            .await
            .map_err(infra("could not count the applied migrations"))
    }

    pub async fn migrate(&self) -> Result<(), InfraError> {
        MIGRATOR
            .run(&self.pool)
            .await
            .map_err(|e| InfraError::new("database migration failed", e))
    }
}

#[async_trait]
impl MemberRegistry for MySqlStore {
    async fn credentials(
        &self,
        email: &domain::Email,
    ) -> Result<Option<(MemberId, Option<String>)>, InfraError> {
        let row: Option<(u64, Option<String>)> =
            sqlx::query_as("SELECT id, password_hash FROM members WHERE email = ?")
                .bind(email.as_str())
                .fetch_optional(&self.pool)
                .await
                .map_err(infra("could not read the member's credentials"))?;
        Ok(row.map(|(id, hash)| (MemberId(id), hash)))
    }

    async fn register(
        &self,
        member: &NewMember,
        password_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Registered, RegisterError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(infra("could not start the signup transaction"))?;
        let inserted = sqlx::query(
            "INSERT INTO members (name, email, password_hash, created_at) VALUES (?, ?, ?, ?)",
        )
        .bind(&member.name)
        .bind(member.email.as_str())
        .bind(password_hash)
        .bind(now)
        .execute(&mut *tx)
        .await;
        let member_id = match inserted {
            Ok(done) => done.last_insert_id(),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(RegisterError::DuplicateEmail);
            }
            Err(e) => return Err(InfraError::new("could not insert the member", e).into()),
        };
        let profile_id = sqlx::query(
            "INSERT INTO profiles (member_id, headline, category, career_years, region, introduction, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(member_id)
        .bind(&member.headline)
        .bind(member.category.as_str())
        .bind(member.career_years)
        .bind(member.region.as_str())
        .bind(&member.introduction)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(infra("could not insert the profile"))?
        .last_insert_id();
        insert_name_grams(&mut tx, &member.name, profile_id).await?;
        tx.commit()
            .await
            .map_err(infra("could not commit the signup"))?;
        Ok(Registered {
            member_id: MemberId(member_id),
            profile_id: ProfileId(profile_id),
        })
    }
}

#[async_trait]
impl ProfileReader for MySqlStore {
    async fn find(&self, id: ProfileId) -> Result<Option<ProfileRecord>, InfraError> {
        let row = sqlx::query(concat!(profile_select!(), " WHERE p.id = ?"))
            .bind(id.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(infra("could not read the profile"))?;
        row.as_ref().map(profile_from_row).transpose()
    }
}

#[async_trait]
impl ProfileEditor for MySqlStore {
    async fn edit_profile(
        &self,
        member: MemberId,
        edit: &ProfileEdit,
    ) -> Result<Option<ProfileRecord>, InfraError> {
        let updated = sqlx::query(
            "UPDATE profiles SET headline = COALESCE(?, headline), \
             introduction = COALESCE(?, introduction), category = COALESCE(?, category), \
             career_years = COALESCE(?, career_years), region = COALESCE(?, region), \
             version = version + 1 WHERE member_id = ?",
        )
        .bind(edit.headline.as_deref())
        .bind(edit.introduction.as_deref())
        .bind(edit.category.map(|c| c.as_str()))
        .bind(edit.career_years)
        .bind(edit.region.map(|r| r.as_str()))
        .bind(member.0)
        .execute(&self.pool)
        .await
        .map_err(infra("could not edit the profile"))?;
        if updated.rows_affected() == 0 {
            return Ok(None);
        }
        let row = sqlx::query(concat!(profile_select!(), " WHERE p.member_id = ?"))
            .bind(member.0)
            .fetch_optional(&self.pool)
            .await
            .map_err(infra("could not read the edited profile"))?;
        row.as_ref().map(profile_from_row).transpose()
    }
}

#[async_trait]
impl ProfileSearch for MySqlStore {
    async fn search(
        &self,
        filter: &ProfileFilter,
        cursor: Option<Cursor>,
        limit: u32,
    ) -> Result<Vec<ProfileRecord>, InfraError> {
        let walk = match &filter.name_keyword {
            Some(keyword) => match self.plan_keyword(filter, keyword).await? {
                KeywordPlan::NoMatch => return Ok(Vec::new()),
                KeywordPlan::WalkGram(i) => Walk::Gram(keyword_probes(keyword).swap_remove(i)),
                KeywordPlan::WalkFilterIndex => Walk::Profiles,
            },
            None => Walk::Profiles,
        };
        let mut query = listing_query(filter, &walk);
        if let Some(keyword) = &filter.name_keyword {
            query
                .push(" AND m.name LIKE ")
                .push_bind(format!("%{}%", escape_like(keyword)))
                .push(" ESCAPE '!'");
        }
        if let Some(years) = filter.min_career_years {
            query.push(" AND p.career_years >= ").push_bind(years);
        }
        let id = walk.profile_id_column();
        if let Some(cursor) = cursor {
            query
                .push(format!(" AND {id} < "))
                .push_bind(cursor.before_id);
        }
        query
            .push(format!(" ORDER BY {id} DESC LIMIT "))
            .push_bind(limit);
        let rows = query
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(infra("could not search profiles"))?;
        rows.iter().map(profile_from_row).collect()
    }
}

impl MySqlStore {
    /// Counts each probe's profiles (up to just past SPARSE_POSTINGS, so a common
    /// fragment costs no more than a rare one) and lets the domain choose the walk.
    async fn plan_keyword(
        &self,
        filter: &ProfileFilter,
        keyword: &str,
    ) -> Result<KeywordPlan, InfraError> {
        let probes = keyword_probes(keyword);
        let has_equality_filter = filter.category.is_some() || filter.region.is_some();
        if !counts_needed(probes.len(), has_equality_filter) {
            return Ok(KeywordPlan::WalkGram(0));
        }
        let mut counts: QueryBuilder<MySql> = QueryBuilder::new("");
        for (i, gram) in probes.iter().enumerate() {
            if i > 0 {
                counts.push(" UNION ALL ");
            }
            counts
                .push(format!("SELECT {i} AS probe, COUNT(*) AS postings FROM (SELECT 1 FROM member_name_grams WHERE gram = "))
                .push_bind(gram.clone())
                .push(format!(" LIMIT {}) AS g{i}", SPARSE_POSTINGS + 1));
        }
        let mut postings: Vec<(i64, i64)> = counts
            .build_query_as()
            .fetch_all(&self.pool)
            .await
            .map_err(infra("could not count the keyword's name fragments"))?;
        postings.sort_unstable();
        let postings: Vec<u64> = postings
            .into_iter()
            .map(|(_, n)| n.unsigned_abs())
            .collect();
        Ok(plan_keyword(&postings, has_equality_filter))
    }
}

/// What the list query reads newest first.
enum Walk {
    /// The profiles of one name fragment (`member_name_grams`).
    Gram(String),
    /// `profiles` through the index of its category / region filter, if any.
    Profiles,
}

impl Walk {
    /// The walked index's profile id: the keyset's range and order are on it.
    fn profile_id_column(&self) -> &'static str {
        match self {
            Walk::Gram(_) => "g.profile_id",
            Walk::Profiles => "p.id",
        }
    }
}

/// The list query up to its first optional condition: the SELECT over what it walks,
/// with the category and region filters.
fn listing_query(filter: &ProfileFilter, walk: &Walk) -> QueryBuilder<MySql> {
    let mut query: QueryBuilder<MySql> = match walk {
        // STRAIGHT_JOIN: the fragment's postings drive, in their (gram, profile_id) order.
        Walk::Gram(gram) => {
            let mut q = QueryBuilder::new(profile_select!(
                " STRAIGHT_JOIN",
                "member_name_grams g JOIN profiles p ON p.id = g.profile_id"
            ));
            q.push(" WHERE g.gram = ").push_bind(gram.clone());
            q
        }
        Walk::Profiles => {
            let mut q = QueryBuilder::new(listing_select(filter));
            q.push(" WHERE 1 = 1");
            q
        }
    };
    if let Some(category) = filter.category {
        query
            .push(" AND p.category = ")
            .push_bind(category.as_str());
    }
    if let Some(region) = filter.region {
        query.push(" AND p.region = ").push_bind(region.as_str());
    }
    query
}

/// The list query's SELECT, naming the index it walks newest first: the one whose
/// equality prefix is the filter's, so `id < cursor` is a range inside it. Named,
/// because MariaDB otherwise
/// takes the prefix as a `ref` and reads a deep page from the prefix's newest row
/// (measured in `make bench-views`: 67 ms instead of ~1 ms at 1,000,000 profiles).
fn listing_select(filter: &ProfileFilter) -> &'static str {
    match (filter.category, filter.region) {
        (Some(_), Some(_)) => {
            profile_select!("profiles p FORCE INDEX (ix_profiles_category_region_id)")
        }
        (Some(_), None) => profile_select!("profiles p FORCE INDEX (ix_profiles_category_id)"),
        (None, Some(_)) => profile_select!("profiles p FORCE INDEX (ix_profiles_region_id)"),
        (None, None) => profile_select!(),
    }
}

/// Locks (in id order) the rows of the batch's profiles that do not hold `day` yet and
/// returns their deltas; the rest were flushed by an earlier, interrupted run.
async fn lock_profiles_to_flush(
    tx: &mut sqlx::Transaction<'_, MySql>,
    day: KstDay,
    deltas: &[(ProfileId, u64)],
) -> Result<Vec<(ProfileId, u64)>, InfraError> {
    if deltas.is_empty() {
        return Ok(Vec::new());
    }
    let mut query: QueryBuilder<MySql> = QueryBuilder::new("SELECT id FROM profiles WHERE id IN (");
    let mut ids = query.separated(", ");
    for (profile, _) in deltas {
        ids.push_bind(profile.0);
    }
    query
        .push(") AND (views_flushed_through IS NULL OR views_flushed_through < ")
        .push_bind(day.date())
        .push(") ORDER BY id FOR UPDATE");
    let open: std::collections::HashSet<u64> = query
        .build_query_scalar::<u64>()
        .fetch_all(&mut **tx)
        .await
        .map_err(infra("could not lock the profiles to flush"))?
        .into_iter()
        .collect();
    Ok(deltas
        .iter()
        .filter(|(profile, _)| open.contains(&profile.0))
        .copied()
        .collect())
}

/// Adds the day's written history rows to the locked profiles' totals and moves their
/// watermark; returns how many profiles changed.
async fn add_flushed_views(
    tx: &mut sqlx::Transaction<'_, MySql>,
    day: KstDay,
    pending: &[(ProfileId, u64)],
) -> Result<u64, InfraError> {
    // The watermark guard repeats the lock's condition: a re-run adds nothing twice.
    let mut totals: QueryBuilder<MySql> = QueryBuilder::new(
        "UPDATE profiles p JOIN profile_view_daily d ON d.profile_id = p.id \
         SET p.view_count = p.view_count + d.redis_views, p.views_flushed_through = ",
    );
    totals
        .push_bind(day.date())
        .push(" WHERE d.day = ")
        .push_bind(day.date())
        .push(" AND (p.views_flushed_through IS NULL OR p.views_flushed_through < ")
        .push_bind(day.date())
        .push(") AND p.id IN (");
    let mut ids = totals.separated(", ");
    for (profile, _) in pending {
        ids.push_bind(profile.0);
    }
    totals.push(")");
    Ok(totals
        .build()
        .execute(&mut **tx)
        .await
        .map_err(infra("could not add flushed views to profiles"))?
        .rows_affected())
}

/// The index entries of a new member's name (see member_name_grams); fragments that
/// the column's collation takes as equal (e.g. 'Ab' and 'ab') are one entry.
async fn insert_name_grams(
    tx: &mut sqlx::Transaction<'_, MySql>,
    name: &str,
    profile_id: u64,
) -> Result<(), InfraError> {
    let grams = name_grams(name);
    if grams.is_empty() {
        return Ok(());
    }
    let mut insert: QueryBuilder<MySql> =
        QueryBuilder::new("INSERT INTO member_name_grams (gram, profile_id) ");
    insert.push_values(grams, |mut row, gram| {
        row.push_bind(gram).push_bind(profile_id);
    });
    insert.push(" ON DUPLICATE KEY UPDATE profile_id = profile_id");
    insert
        .build()
        .execute(&mut **tx)
        .await
        .map_err(infra("could not index the member's name"))?;
    Ok(())
}

/// LIKE wildcards in a user's keyword are literal characters.
fn escape_like(keyword: &str) -> String {
    let mut out = String::with_capacity(keyword.len());
    for c in keyword.chars() {
        if matches!(c, '%' | '_' | '!') {
            out.push('!');
        }
        out.push(c);
    }
    out
}

#[async_trait]
impl ViewHistory for MySqlStore {
    async fn counter_markers(&self) -> Result<Vec<(u64, String)>, InfraError> {
        let rows: Vec<(u16, String)> =
            sqlx::query_as("SELECT shard, marker FROM redis_counter_markers ORDER BY shard")
                .fetch_all(&self.pool)
                .await
                .map_err(infra("could not read the Redis counter markers"))?;
        Ok(rows.into_iter().map(|(s, m)| (u64::from(s), m)).collect())
    }

    async fn record_counter_markers(&self, markers: &[(u64, String)]) -> Result<(), InfraError> {
        if markers.is_empty() {
            return Ok(());
        }
        let mut query =
            QueryBuilder::<MySql>::new("INSERT INTO redis_counter_markers (shard, marker) ");
        query.push_values(markers, |mut row, (shard, marker)| {
            row.push_bind(*shard as u16).push_bind(marker);
        });
        query.push(" ON DUPLICATE KEY UPDATE marker = VALUES(marker)");
        query
            .build()
            .execute(&self.pool)
            .await
            .map_err(infra("could not record the Redis counter markers"))?;
        Ok(())
    }

    async fn first_profile_day(&self) -> Result<Option<KstDay>, InfraError> {
        // The lowest id is the oldest profile (ids only grow); one primary-key lookup.
        let created: Option<DateTime<Utc>> =
            sqlx::query_scalar("SELECT created_at FROM profiles ORDER BY id LIMIT 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(infra("could not read the first profile"))?;
        Ok(created.map(KstDay::of))
    }

    async fn last_completed_flush(&self) -> Result<Option<KstDay>, InfraError> {
        let day: Option<NaiveDate> = sqlx::query_scalar("SELECT MAX(day) FROM view_flush_runs")
            .fetch_one(&self.pool)
            .await
            .map_err(infra("could not read the flush runs"))?;
        Ok(day.map(KstDay::from_date))
    }

    async fn apply_flush_batch(
        &self,
        day: KstDay,
        deltas: &[(ProfileId, u64)],
    ) -> Result<u64, InfraError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(infra("could not start a flush batch"))?;
        // Profile rows first, in id order, as every writer of both tables takes them
        // (loss recovery too): no deadlock between a flush and a recovery.
        let pending = lock_profiles_to_flush(&mut tx, day, deltas).await?;
        if pending.is_empty() {
            return Ok(0);
        }
        // Only the profiles this run adds to get their history row written: one already
        // flushed keeps the row that matches its total.
        let mut daily: QueryBuilder<MySql> =
            QueryBuilder::new("INSERT INTO profile_view_daily (profile_id, day, redis_views) ");
        daily.push_values(&pending, |mut row, (profile, views)| {
            row.push_bind(profile.0)
                .push_bind(day.date())
                .push_bind(*views);
        });
        daily.push(" ON DUPLICATE KEY UPDATE redis_views = VALUES(redis_views)");
        daily
            .build()
            .execute(&mut *tx)
            .await
            .map_err(infra("could not write daily view rows"))?;
        let applied = add_flushed_views(&mut tx, day, &pending).await?;
        tx.commit()
            .await
            .map_err(infra("could not commit a flush batch"))?;
        Ok(applied)
    }

    async fn flushed_shards(&self, day: KstDay) -> Result<Vec<ShardFlush>, InfraError> {
        let rows: Vec<(u16, u64, u64)> = sqlx::query_as(
            "SELECT shard, viewed_profiles, views FROM view_flush_shards WHERE day = ?",
        )
        .bind(day.date())
        .fetch_all(&self.pool)
        .await
        .map_err(infra("could not read the flush progress"))?;
        Ok(rows
            .into_iter()
            .map(|(shard, profiles, views)| ShardFlush {
                shard: u64::from(shard),
                profiles,
                views,
            })
            .collect())
    }

    async fn complete_shard(&self, day: KstDay, done: &ShardFlush) -> Result<(), InfraError> {
        sqlx::query(
            "INSERT INTO view_flush_shards (day, shard, viewed_profiles, views) VALUES (?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE viewed_profiles = VALUES(viewed_profiles), views = VALUES(views)",
        )
        .bind(day.date())
        .bind(done.shard as u16)
        .bind(done.profiles)
        .bind(done.views)
        .execute(&self.pool)
        .await
        .map_err(infra("could not record the flush progress"))?;
        Ok(())
    }

    async fn complete_flush(
        &self,
        day: KstDay,
        profiles: u64,
        views: u64,
        now: DateTime<Utc>,
    ) -> Result<(), InfraError> {
        sqlx::query(
            "INSERT INTO view_flush_runs (day, viewed_profiles, views, completed_at) VALUES (?, ?, ?, ?) \
             ON DUPLICATE KEY UPDATE viewed_profiles = VALUES(viewed_profiles), views = VALUES(views), completed_at = VALUES(completed_at)",
        )
        .bind(day.date())
        .bind(profiles)
        .bind(views)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(infra("could not record the flush run"))?;
        Ok(())
    }

    async fn apply_loss(
        &self,
        profile: ProfileId,
        day: KstDay,
        lost: u64,
    ) -> Result<u64, InfraError> {
        let mut tx = self
            .pool
            .begin()
            .await
            .map_err(infra("could not start a loss recovery"))?;
        sqlx::query(
            "INSERT IGNORE INTO view_loss_applied (profile_id, day, applied) VALUES (?, ?, 0)",
        )
        .bind(profile.0)
        .bind(day.date())
        .execute(&mut *tx)
        .await
        .map_err(infra("could not create the applied-loss row"))?;
        // The row lock serialises concurrent recoveries of the same entry.
        let applied: u64 = sqlx::query_scalar(
            "SELECT applied FROM view_loss_applied WHERE profile_id = ? AND day = ? FOR UPDATE",
        )
        .bind(profile.0)
        .bind(day.date())
        .fetch_one(&mut *tx)
        .await
        .map_err(infra("could not lock the applied-loss row"))?;
        if lost <= applied {
            return Ok(0);
        }
        let delta = lost - applied;
        // The version tells cached copies of the profile that its total moved.
        sqlx::query(
            "UPDATE profiles SET view_count = view_count + ?, version = version + 1 WHERE id = ?",
        )
        .bind(delta)
        .bind(profile.0)
        .execute(&mut *tx)
        .await
        .map_err(infra("could not add recovered views"))?;
        sqlx::query(
            "INSERT INTO profile_view_daily (profile_id, day, recovered_views) VALUES (?, ?, ?) \
             ON DUPLICATE KEY UPDATE recovered_views = recovered_views + VALUES(recovered_views)",
        )
        .bind(profile.0)
        .bind(day.date())
        .bind(delta)
        .execute(&mut *tx)
        .await
        .map_err(infra("could not add recovered views to the daily row"))?;
        sqlx::query("UPDATE view_loss_applied SET applied = ? WHERE profile_id = ? AND day = ?")
            .bind(lost)
            .bind(profile.0)
            .bind(day.date())
            .execute(&mut *tx)
            .await
            .map_err(infra("could not record the applied losses"))?;
        tx.commit()
            .await
            .map_err(infra("could not commit a loss recovery"))?;
        Ok(delta)
    }
}
