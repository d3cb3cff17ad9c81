-- The marker each Redis counter shard held when the flush last looked (see
-- domain::views::shards_with_lost_counters): a shard whose marker is gone lost its counts.
CREATE TABLE redis_counter_markers (
  shard SMALLINT UNSIGNED NOT NULL PRIMARY KEY,
  marker VARCHAR(64) NOT NULL,
  seen_at DATETIME(6) NOT NULL DEFAULT CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6)
) ENGINE = InnoDB;
