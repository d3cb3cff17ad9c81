use app::InfraError;
use app::ports::ViewCounter;
use async_trait::async_trait;
use domain::views::{COUNTER_RETENTION_DAYS, CounterSlot};
use domain::{KstDay, ProfileId};
use redis::Script;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use std::future::Future;
use std::time::Duration;

/// How long a caller waits for Redis. A page view must not hang on a sick cache (the
/// loss ledger takes the view instead); the flush job can wait longer.
#[derive(Debug, Clone, Copy)]
pub struct RedisTimeouts {
    pub connect: Duration,
    /// Bound on one call including any reconnect attempt.
    pub call: Duration,
}

impl RedisTimeouts {
    pub const REQUEST: Self = Self {
        connect: Duration::from_millis(250),
        call: Duration::from_millis(500),
    };
    pub const JOB: Self = Self {
        connect: Duration::from_secs(2),
        call: Duration::from_secs(30),
    };
}

/// Per-day view deltas in Redis (layout in `domain::views`).
///
/// Keys: `{prefix}pv:{<shard>}:<yyyyMMdd>:<bucket>` is a hash of bucket offset → views, and
/// `{prefix}pv:{<shard>}:<yyyyMMdd>:idx` the set of that shard's buckets viewed that day,
/// so the flush enumerates exactly the viewed profiles without scanning the keyspace.
#[derive(Clone)]
pub struct RedisViewCounter {
    connection: ConnectionManager,
    prefix: String,
    call_timeout: Duration,
    count_script: Script,
    uncount_script: Script,
}

/// One atomic step per view: increment; the first view of a profile that day registers
/// its bucket in the day's index, and the bucket's first registration sets the TTLs (so
/// the common view runs one write). Then read the closed days asked for. All keys share
/// the shard's hash tag, so this is valid on a cluster.
const COUNT_VIEW_LUA: &str = r"
local n = redis.call('HINCRBY', KEYS[1], ARGV[1], 1)
if n == 1 and redis.call('SADD', KEYS[2], ARGV[2]) == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[3])
  redis.call('EXPIRE', KEYS[2], ARGV[3])
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
    /// Builds the client without connecting: the first command connects, and after a
    /// Redis restart or a Lambda thaw the manager reconnects on its own.
    pub fn new(
        url: &str,
        prefix: impl Into<String>,
        timeouts: RedisTimeouts,
    ) -> Result<Self, InfraError> {
        let client =
            redis::Client::open(url).map_err(|e| InfraError::new("invalid REDIS_URL", e))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeouts.connect))
            .set_response_timeout(Some(timeouts.call))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(20))
            .set_max_delay(Duration::from_millis(100));
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| InfraError::new("could not create the Redis connection manager", e))?;
        Ok(Self {
            connection,
            prefix: prefix.into(),
            call_timeout: timeouts.call,
            count_script: Script::new(COUNT_VIEW_LUA),
            uncount_script: Script::new(UNCOUNT_VIEW_LUA),
        })
    }

    fn bucket_key(&self, day: KstDay, slot: CounterSlot) -> String {
        format!(
            "{}pv:{{{}}}:{}:{}",
            self.prefix,
            slot.shard,
            day.compact(),
            slot.bucket
        )
    }

    fn index_key(&self, day: KstDay, shard: u64) -> String {
        format!("{}pv:{{{}}}:{}:idx", self.prefix, shard, day.compact())
    }

    async fn bounded<T>(
        &self,
        what: &'static str,
        call: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, InfraError> {
        match tokio::time::timeout(self.call_timeout, call).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(InfraError::new(what, e)),
            Err(elapsed) => Err(InfraError::new(what, elapsed)),
        }
    }

    /// Writes whole days of counts at once (restoring counters from a backup, loading a
    /// benchmark), in the same layout and with the same TTL as counted views.
    pub async fn load_day(
        &self,
        day: KstDay,
        counts: &[(ProfileId, u64)],
    ) -> Result<(), InfraError> {
        let mut conn = self.connection.clone();
        for chunk in counts.chunks(10_000) {
            let mut pipe = redis::pipe();
            for (profile, views) in chunk {
                let slot = CounterSlot::of(*profile);
                let key = self.bucket_key(day, slot);
                pipe.hset(&key, slot.field, *views).ignore();
                pipe.expire(&key, TTL_SECONDS as i64).ignore();
                let index = self.index_key(day, slot.shard);
                pipe.sadd(&index, slot.bucket).ignore();
                pipe.expire(&index, TTL_SECONDS as i64).ignore();
            }
            let () = self
                .bounded("Redis bulk load failed", pipe.query_async(&mut conn))
                .await?;
        }
        Ok(())
    }

    /// A raw connection for tools (benchmarks, tests) that inspect Redis directly.
    pub fn connection(&self) -> ConnectionManager {
        self.connection.clone()
    }
}

const TTL_SECONDS: u64 = COUNTER_RETENTION_DAYS as u64 * 24 * 3600;

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
        let mut conn = self.connection.clone();
        let counts: Vec<u64> = self
            .bounded(
                "Redis view increment failed",
                invocation.invoke_async(&mut conn),
            )
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
        let mut conn = self.connection.clone();
        let _: i64 = self
            .bounded(
                "Redis view take-back failed",
                invocation.invoke_async(&mut conn),
            )
            .await?;
        Ok(())
    }

    async fn sum_days(&self, wanted: &[(ProfileId, Vec<KstDay>)]) -> Result<Vec<u64>, InfraError> {
        let mut pipe = redis::pipe();
        for (profile, days) in wanted {
            let slot = CounterSlot::of(*profile);
            for day in days {
                pipe.hget(self.bucket_key(*day, slot), slot.field);
            }
        }
        let mut conn = self.connection.clone();
        let values: Vec<Option<u64>> = self
            .bounded("Redis view count read failed", pipe.query_async(&mut conn))
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

    async fn day_shard(
        &self,
        day: KstDay,
        shard: u64,
    ) -> Result<Vec<(ProfileId, u64)>, InfraError> {
        let mut conn = self.connection.clone();
        let buckets: Vec<u64> = self
            .bounded(
                "Redis bucket index read failed",
                redis::cmd("SMEMBERS")
                    .arg(self.index_key(day, shard))
                    .query_async(&mut conn),
            )
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
            let hashes: Vec<Vec<(u64, u64)>> = self
                .bounded("Redis bucket read failed", pipe.query_async(&mut conn))
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
        let mut conn = self.connection.clone();
        let mut pipe = redis::pipe();
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
            .bounded("Redis rate limit failed", pipe.query_async(&mut conn))
            .await?;
        Ok(count <= u64::from(limit))
    }
}

static ATTEMPT_SEQUENCE: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
