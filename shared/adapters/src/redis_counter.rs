use crate::redis_connection::{RedisConfig, RedisConnection, SlotPipelines};
use crate::redis_detail::{
    DETAIL_VIEW_LUA, DOCUMENT_TTL_SECS, STORE_DOCUMENT_LUA, detail_answer, detail_args, encode,
};
use app::InfraError;
use app::ports::{CachedCount, CountError, DetailView, LostView, ProfileRecord, ViewCounter};
use async_trait::async_trait;
use domain::views::{COUNTER_RETENTION_DAYS, CounterSlot, LandingRules, SHARDS};
use domain::{KstDay, ProfileId};
use redis::Script;

/// Per-day view deltas in Redis (layout in `domain::views`).
///
/// Keys: `{prefix}pv:{<shard>}:<yyyyMMdd>:<bucket>` is a hash of bucket offset → views, and
/// `{prefix}pv:{<shard>}:<yyyyMMdd>:idx` the set of that shard's buckets viewed that day,
/// so the flush enumerates exactly the viewed profiles without scanning the keyspace.
#[derive(Clone)]
pub struct RedisViewCounter {
    redis: RedisConnection,
    prefix: String,
    detail_script: Script,
    store_script: Script,
}

const SCAN_BUCKETS_PER_PIPELINE: usize = 512;

impl RedisViewCounter {
    /// Builds the client without connecting (see [`RedisConnection::new`]).
    pub fn new(config: &RedisConfig, prefix: impl Into<String>) -> Result<Self, InfraError> {
        Ok(Self {
            redis: RedisConnection::new(config)?,
            prefix: prefix.into(),
            detail_script: Script::new(DETAIL_VIEW_LUA),
            store_script: Script::new(STORE_DOCUMENT_LUA),
        })
    }

    /// The cached document of `profile` (public for tools that measure the layout, such
    /// as the benchmark).
    pub fn document_key(&self, profile: ProfileId) -> String {
        let shard = CounterSlot::of(profile).shard;
        format!("{}pv:{{{shard}}}:doc:{}", self.prefix, profile.0)
    }

    /// The landing-marker set of `shard` for views sent at `sent_at_ms` (public for tools
    /// that measure the layout, such as the benchmark).
    pub fn seen_key(&self, shard: u64, sent_at_ms: u64) -> String {
        let slot = LandingRules::marker_slot(sent_at_ms);
        format!("{}pv:{{{shard}}}:seen:{slot}", self.prefix)
    }

    /// One detail view's script call: a warm count, or a fill with `profile`.
    async fn detail(
        &self,
        view: &DetailView,
        fill: Option<&ProfileRecord>,
    ) -> Result<CachedCount, CountError> {
        let slot = CounterSlot::of(view.profile);
        let mut invocation = self.detail_script.prepare_invoke();
        invocation
            .key(self.document_key(view.profile))
            .key(self.bucket_key(view.today, slot))
            .key(self.index_key(view.today, slot.shard))
            .key(self.seen_key(slot.shard, view.sent_at_ms));
        for day in &view.closed_days {
            invocation.key(self.bucket_key(*day, slot));
        }
        detail_args(&mut invocation, view, slot, fill);
        let reply: redis::Value = self
            .redis
            .run("Redis detail view failed", |mut conn| async move {
                invocation.invoke_async(&mut conn).await
            })
            .await?;
        detail_answer(view.profile, reply)
    }

    /// The hash holding `slot`'s bucket of `day` (public for tools that write the layout
    /// in bulk, such as the benchmark's loader).
    pub fn bucket_key(&self, day: KstDay, slot: CounterSlot) -> String {
        format!(
            "{}pv:{{{}}}:{}:{}",
            self.prefix,
            slot.shard,
            day.compact(),
            slot.bucket
        )
    }

    fn marker_key(&self, shard: u64) -> String {
        format!("{}pv:{{{}}}:marker", self.prefix, shard)
    }

    /// The set of `shard`'s buckets viewed on `day`.
    pub fn index_key(&self, day: KstDay, shard: u64) -> String {
        format!("{}pv:{{{}}}:{}:idx", self.prefix, shard, day.compact())
    }
}

/// How long a day's counters live: past the flush and its retries (`domain::views`).
pub const TTL_SECONDS: u64 = COUNTER_RETENTION_DAYS as u64 * 24 * 3600;

#[async_trait]
impl ViewCounter for RedisViewCounter {
    async fn count_cached(&self, view: &DetailView) -> Result<CachedCount, CountError> {
        self.detail(view, None).await
    }

    async fn fill_and_count(
        &self,
        view: &DetailView,
        profile: &ProfileRecord,
    ) -> Result<(ProfileRecord, u64), CountError> {
        match self.detail(view, Some(profile)).await? {
            CachedCount::Counted {
                profile,
                view_count,
            } => Ok((profile, view_count)),
            CachedCount::Miss => Err(CountError::Unanswered(InfraError::new(
                "Redis detail view did not count a filled document",
                "miss after fill",
            ))),
        }
    }

    async fn store_cached(&self, profile: &ProfileRecord) -> Result<(), InfraError> {
        let (json, views, through) = encode(profile);
        let mut invocation = self.store_script.prepare_invoke();
        invocation
            .key(self.document_key(profile.id))
            .arg(profile.version)
            .arg(json)
            .arg(views)
            .arg(through)
            .arg(DOCUMENT_TTL_SECS);
        let _: i64 = self
            .redis
            .run("Redis document write failed", |mut conn| async move {
                invocation.invoke_async(&mut conn).await
            })
            .await?;
        Ok(())
    }

    async fn landed(&self, views: &[LostView]) -> Result<Vec<bool>, InfraError> {
        let mut pipes = SlotPipelines::new(self.redis.is_cluster());
        for view in views {
            let shard = CounterSlot::of(view.profile).shard;
            let key = self.seen_key(shard, view.sent_at_ms);
            pipes.add(shard, |p| {
                p.sismember(key, view.id.0);
            });
        }
        self.redis
            .run("Redis landing marker read failed", |conn| pipes.query(conn))
            .await
    }

    async fn sum_days(&self, wanted: &[(ProfileId, Vec<KstDay>)]) -> Result<Vec<u64>, InfraError> {
        let mut pipes = SlotPipelines::new(self.redis.is_cluster());
        for (profile, days) in wanted {
            let slot = CounterSlot::of(*profile);
            for day in days {
                let key = self.bucket_key(*day, slot);
                pipes.add(slot.shard, |p| {
                    p.hget(key, slot.field);
                });
            }
        }
        let values: Vec<Option<u64>> = self
            .redis
            .run("Redis view count read failed", |conn| pipes.query(conn))
            .await?;
        let mut values = values.into_iter();
        Ok(wanted
            .iter()
            .map(|(_, days)| {
                values
                    .by_ref()
                    .take(days.len())
                    .map(|v| v.unwrap_or(0))
                    .sum()
            })
            .collect())
    }

    async fn claim_markers(&self, marker: &str) -> Result<Vec<Option<String>>, InfraError> {
        self.claim_markers_impl(marker).await
    }

    async fn day_shard(
        &self,
        day: KstDay,
        shard: u64,
    ) -> Result<Vec<(ProfileId, u64)>, InfraError> {
        let index = self.index_key(day, shard);
        let buckets: Vec<u64> = self
            .redis
            .run("Redis bucket index read failed", |mut conn| async move {
                redis::cmd("SMEMBERS")
                    .arg(index)
                    .query_async(&mut conn)
                    .await
            })
            .await?;
        let mut out = Vec::new();
        for chunk in buckets.chunks(SCAN_BUCKETS_PER_PIPELINE) {
            let mut pipe = redis::pipe();
            for bucket in chunk {
                pipe.hgetall(self.bucket_key(
                    day,
                    CounterSlot {
                        shard,
                        bucket: *bucket,
                        field: 0,
                    },
                ));
            }
            // One shard's keys share a slot: one pipeline on a cluster too.
            let hashes: Vec<Vec<(u64, u64)>> = self
                .redis
                .run("Redis bucket read failed", |mut conn| async move {
                    pipe.query_async(&mut conn).await
                })
                .await?;
            for (bucket, fields) in chunk.iter().zip(hashes) {
                out.extend(
                    fields
                        .into_iter()
                        .filter(|(_, views)| *views > 0)
                        .map(|(field, views)| (CounterSlot::profile(*bucket, field), views)),
                );
            }
        }
        Ok(out)
    }
}

impl RedisViewCounter {
    async fn claim_markers_impl(&self, marker: &str) -> Result<Vec<Option<String>>, InfraError> {
        let mut pipes = SlotPipelines::new(self.redis.is_cluster());
        for shard in 0..SHARDS {
            let key = self.marker_key(shard);
            // SET NX GET: the marker there before, or none (and then ours is set); no TTL.
            pipes.add(shard, |p| {
                p.cmd("SET").arg(key).arg(marker).arg("NX").arg("GET");
            });
        }
        self.redis
            .run("Redis counter marker check failed", |conn| {
                pipes.query(conn)
            })
            .await
    }
}

/// Sliding-window attempt counters in Redis (`{prefix}rl:<bucket>`, a sorted set of attempt
/// times): exact over any window, unlike fixed windows that let twice the limit through
/// across a boundary. Attempts are rare (signups, logins), so a set per bucket is cheap.
#[async_trait]
impl app::ports::RateLimiter for RedisViewCounter {
    async fn allow(
        &self,
        bucket: &str,
        limit: u32,
        window_seconds: u32,
    ) -> Result<bool, InfraError> {
        let now_us = chrono::Utc::now().timestamp_micros();
        let window_us = i64::from(window_seconds) * 1_000_000;
        let key = format!("{}rl:{bucket}", self.prefix);
        // Unique member per attempt, even for two in the same microsecond.
        let member = format!(
            "{now_us}-{}",
            ATTEMPT_SEQUENCE.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let mut pipe = redis::pipe();
        // MULTI/EXEC on one key: one slot, so a cluster takes it as it is.
        pipe.atomic()
            .cmd("ZREMRANGEBYSCORE")
            .arg(&key)
            .arg(0)
            .arg(now_us - window_us)
            .ignore()
            .cmd("ZADD")
            .arg(&key)
            .arg(now_us)
            .arg(&member)
            .ignore()
            .cmd("ZCARD")
            .arg(&key)
            .cmd("EXPIRE")
            .arg(&key)
            .arg(i64::from(window_seconds) + 1)
            .ignore();
        let (count,): (u64,) = self
            .redis
            .run("Redis rate limit failed", |mut conn| async move {
                pipe.query_async(&mut conn).await
            })
            .await?;
        Ok(count <= u64::from(limit))
    }
}

static ATTEMPT_SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
