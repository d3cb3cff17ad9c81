//! The detail view in one Redis call: count the view, mark its landing, read the cached
//! profile document and add the unflushed deltas. All keys carry the profile's shard as
//! hash tag, so the script runs on one node of a cluster.
//!
//! Keys (besides the counters of `redis_counter`):
//! - `{prefix}pv:{<shard>}:doc:<profileId>`: hash `v` (profile version), `doc` (the
//!   profile as JSON), `views` (its flushed total), `through` (the day that total runs
//!   through, `yyyyMMdd`, 0 for none). The total travels with its watermark, so adding the
//!   deltas after `through` is exact whenever the flush ran (see README "View counting").
//! - `{prefix}pv:{<shard>}:seen:<slot>`: set of the ids of views sent in that
//!   `domain::views::landing` slot whose increment landed.

use app::InfraError;
use app::ports::{CachedCount, CountError, DetailView, ProfileRecord};
use chrono::{DateTime, NaiveDate, Utc};
use domain::views::{CounterSlot, MARKER_TTL_SECS};
use domain::{Category, KstDay, MemberId, ProfileId, Region};
use serde::{Deserialize, Serialize};

/// How long a cached document lives: bounds its memory (documents of the profiles viewed
/// in this window) and is far inside the counters' retention, so its watermark's days are
/// always still in Redis.
pub const DOCUMENT_TTL_SECS: u64 = 600;
/// Documents are not cached above this share of `maxmemory` (the counters, which must
/// never be refused, keep the rest). Views are still counted.
pub const DOCUMENT_MEMORY_CEILING: f64 = 0.8;

/// KEYS: 1 document, 2 today's bucket, 3 today's index, 4 marker set, 5.. closed days'
/// buckets. ARGV: 1 field, 2 bucket, 3 counter TTL, 4 view id, 5 sent at (ms), 6 late
/// after (ms), 7 marker TTL, 8 fill ('1': cache ARGV 9-13 unless a newer version is
/// cached), 9 version, 10 document, 11 flushed total, 12 watermark, 13 document TTL,
/// 14 memory ceiling, 15.. the closed days (`yyyyMMdd`, same order as their keys).
/// Returns {-1} refused as late, {0} no document (nothing counted), or {1, document,
/// live count}.
pub const DETAIL_VIEW_LUA: &str = r"
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now_ms - tonumber(ARGV[5]) > tonumber(ARGV[6]) then return {-1} end
if ARGV[8] == '1' and tonumber(redis.call('HGET', KEYS[1], 'v') or '-1') < tonumber(ARGV[9]) then
  local info = redis.call('INFO', 'memory')
  local used = tonumber(string.match(info, 'used_memory:(%d+)'))
  local max = tonumber(string.match(info, 'maxmemory:(%d+)') or '0')
  if max == 0 or used < max * tonumber(ARGV[14]) then
    redis.call('HSET', KEYS[1], 'v', ARGV[9], 'doc', ARGV[10], 'views', ARGV[11], 'through', ARGV[12])
    redis.call('EXPIRE', KEYS[1], ARGV[13])
  end
end
local doc = redis.call('HMGET', KEYS[1], 'doc', 'views', 'through')
if not doc[1] then
  if ARGV[8] ~= '1' then return {0} end
  doc = {ARGV[10], ARGV[11], ARGV[12]}
end
local n = redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
if n == 1 then
  if redis.call('HLEN', KEYS[2]) == 1 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
  if redis.call('SADD', KEYS[3], ARGV[2]) == 1 then redis.call('EXPIRE', KEYS[3], ARGV[3]) end
end
if redis.call('SADD', KEYS[4], ARGV[4]) == 1 and redis.call('SCARD', KEYS[4]) == 1 then
  redis.call('EXPIRE', KEYS[4], ARGV[7])
end
local total = tonumber(doc[2]) + n
local through = tonumber(doc[3])
for i = 5, #KEYS do
  if tonumber(ARGV[10 + i]) > through then
    total = total + tonumber(redis.call('HGET', KEYS[i], ARGV[1]) or '0')
  end
end
return {1, doc[1], total}
";

/// KEYS: 1 document. ARGV: 1 version, 2 document, 3 flushed total, 4 watermark, 5 TTL.
/// Writes unless a newer version is cached.
pub const STORE_DOCUMENT_LUA: &str = r"
if tonumber(redis.call('HGET', KEYS[1], 'v') or '-1') < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'v', ARGV[1], 'doc', ARGV[2], 'views', ARGV[3], 'through', ARGV[4])
  redis.call('EXPIRE', KEYS[1], ARGV[5])
  return 1
end
return 0
";

/// The cached document: the profile without what the script keeps beside it.
#[derive(Serialize, Deserialize)]
struct Document {
    member_id: u64,
    name: String,
    headline: String,
    category: String,
    career_years: u8,
    region: String,
    introduction: String,
    created_at: DateTime<Utc>,
    flushed_views: u64,
    flushed_through: Option<NaiveDate>,
    version: u64,
}

/// What the script stores for `profile`: (document JSON, flushed total, watermark).
pub fn encode(profile: &ProfileRecord) -> (String, u64, u64) {
    let through =
        domain::views::flushed_through(profile.own_flushed_through, profile.global_flushed_through);
    let document = Document {
        member_id: profile.member_id.0,
        name: profile.name.clone(),
        headline: profile.headline.clone(),
        category: profile.category.as_str().to_owned(),
        career_years: profile.career_years,
        region: profile.region.as_str().to_owned(),
        introduction: profile.introduction.clone(),
        created_at: profile.created_at,
        flushed_views: profile.flushed_views,
        flushed_through: through.map(KstDay::date),
        version: profile.version,
    };
    let json = serde_json::to_string(&document).expect("a document serialises");
    (json, profile.flushed_views, through.map_or(0, day_number))
}

fn decode(id: ProfileId, json: &str) -> Result<ProfileRecord, InfraError> {
    let bad = |e: String| InfraError::new("cached profile document is malformed", e);
    let d: Document = serde_json::from_str(json).map_err(|e| bad(e.to_string()))?;
    let through = d.flushed_through.map(KstDay::from_date);
    Ok(ProfileRecord {
        id,
        member_id: MemberId(d.member_id),
        name: d.name,
        headline: d.headline,
        category: Category::parse(&d.category).map_err(|e| bad(e.to_string()))?,
        career_years: d.career_years,
        region: Region::parse(&d.region).map_err(|e| bad(e.to_string()))?,
        introduction: d.introduction,
        created_at: d.created_at,
        flushed_views: d.flushed_views,
        own_flushed_through: through,
        global_flushed_through: through,
        version: d.version,
    })
}

/// `yyyyMMdd` as a number, compared in the script.
pub fn day_number(day: KstDay) -> u64 {
    day.compact().parse().expect("yyyyMMdd is a number")
}

/// The key names of one detail view's script call, in KEYS order.
pub struct DetailKeys {
    pub keys: Vec<String>,
    pub slot: CounterSlot,
}

/// ARGV of the script after the keys, for a warm count or a fill.
pub fn detail_args(
    invocation: &mut redis::ScriptInvocation<'_>,
    view: &DetailView,
    slot: CounterSlot,
    fill: Option<&ProfileRecord>,
) {
    invocation
        .arg(slot.field)
        .arg(slot.bucket)
        .arg(crate::redis_counter::TTL_SECONDS)
        .arg(view.id.0)
        .arg(view.sent_at_ms)
        .arg(view.late_after_ms)
        .arg(MARKER_TTL_SECS);
    match fill {
        Some(profile) => {
            let (json, views, through) = encode(profile);
            invocation
                .arg("1")
                .arg(profile.version)
                .arg(json)
                .arg(views)
                .arg(through);
        }
        None => {
            invocation.arg("0").arg(0).arg("").arg(0).arg(0);
        }
    }
    invocation
        .arg(DOCUMENT_TTL_SECS)
        .arg(DOCUMENT_MEMORY_CEILING);
    for day in &view.closed_days {
        invocation.arg(day_number(*day));
    }
}

/// Reads the script's answer.
pub fn detail_answer(id: ProfileId, reply: redis::Value) -> Result<CachedCount, CountError> {
    let shape = |what: &str| {
        CountError::Unanswered(InfraError::new(
            "Redis detail view answered an unexpected shape",
            what.to_owned(),
        ))
    };
    let redis::Value::Array(items) = reply else {
        return Err(shape("not an array"));
    };
    let int = |v: Option<&redis::Value>| match v {
        Some(redis::Value::Int(n)) => Ok(*n),
        _ => Err(shape("not an integer")),
    };
    match int(items.first())? {
        -1 => Err(CountError::Late),
        0 => Ok(CachedCount::Miss),
        _ => {
            let json = match items.get(1) {
                Some(redis::Value::BulkString(bytes)) => {
                    String::from_utf8_lossy(bytes).into_owned()
                }
                _ => return Err(shape("no document")),
            };
            let view_count = u64::try_from(int(items.get(2))?).map_err(|_| shape("negative"))?;
            Ok(CachedCount::Counted {
                profile: decode(id, &json)?,
                view_count,
            })
        }
    }
}
