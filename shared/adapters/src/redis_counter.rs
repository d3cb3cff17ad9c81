use crate::redis_connection::{RedisConfig, RedisConnection, SlotPipelines};
use app::InfraError;
use app::ports::ViewCounter;
use async_trait::async_trait;
use domain::views::{COUNTER_RETENTION_DAYS, CounterSlot, SHARDS};
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
    count_script: Script,
    uncount_script: Script,
}

/// One atomic step per view: increment, then read the closed days asked for. The first
/// view of a profile that day registers its bucket in the day's index; a view that
/// creates the bucket gives it its TTL whatever the index says (a bucket lost and made
/// again must not live forever), and the index gets its TTL when it is created. So the
/// common view runs one write. All keys share the shard's hash tag: valid on a cluster.
const COUNT_VIEW_LUA: &str = r"
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
if n == 1 then
  if redis.call('HLEN', KEYS[1]) == 1 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
  if redis.call('SADD', KEYS[2], ARGV[2]) == 1 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
end
local out = {n}
for i = 3, #KEYS do
  out[#out + 1] = tonumber(redis.call('HGET', KEYS[i], ARGV[1]) or '0')
end
return out
";

/// Takes one view back; when that empties the bucket, its index entry goes too, so an
/// unknown profile leaves nothing behind. (Another profile's first view re-adds it.)
const UNCOUNT_VIEW_LUA: &str = r"
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if n <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
return n
";

const SCAN_BUCKETS_PER_PIPELINE: usize = 512;

impl RedisViewCounter {
    /// Builds the client without connecting (see [`RedisConnection::new`]).
    pub fn new(config: &RedisConfig, prefix: impl Into<String>) -> Result<Self, InfraError> {
        Ok(Self {
            redis: RedisConnection::new(config)?,
            prefix: prefix.into(),
            count_script: Script::new(COUNT_VIEW_LUA),
            uncount_script: Script::new(UNCOUNT_VIEW_LUA),
        })
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
    async fn count_view(
        &self,
        profile: ProfileId,
        today: KstDay,
        closed_days: &[KstDay],
    ) -> Result<(u64, Vec<u64>), InfraError> {
        let slot = CounterSlot::of(profile);
        let mut invocation = self.count_script.prepare_invoke();
        invocation
            .key(self.bucket_key(today, slot))
            .key(self.index_key(today, slot.shard));
        for day in closed_days {
            invocation.key(self.bucket_key(*day, slot));
        }
        invocation.arg(slot.field).arg(slot.bucket).arg(TTL_SECONDS);
        let counts: Vec<u64> = self
            .redis
            .run("Redis view increment failed", |mut conn| async move {
                invocation.invoke_async(&mut conn).await
            })
            .await?;
        let (today_count, closed) = counts.split_first().ok_or_else(|| {
            InfraError::new("Redis view increment returned nothing", "empty reply")
        })?;
        Ok((*today_count, closed.to_vec()))
    }

    async fn uncount_view(&self, profile: ProfileId, today: KstDay) -> Result<(), InfraError> {
        let slot = CounterSlot::of(profile);
        let mut invocation = self.uncount_script.prepare_invoke();
        invocation
            .key(self.bucket_key(today, slot))
            .key(self.index_key(today, slot.shard))
            .arg(slot.field)
            .arg(slot.bucket);
        let _: i64 = self
            .redis
            .run("Redis view take-back failed", |mut conn| async move {
                invocation.invoke_async(&mut conn).await
            })
            .await?;
        Ok(())
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
