-- A day's flush progress per Redis counter shard (see shared/app/src/usecases/flush_views.rs):
-- a run stopped before its invocation's deadline, or killed, is resumed by the next run
-- after the shards already done instead of from the first.
CREATE TABLE view_flush_shards (
    day             DATE              NOT NULL,
    shard           SMALLINT UNSIGNED NOT NULL,
    viewed_profiles BIGINT UNSIGNED   NOT NULL,
    views           BIGINT UNSIGNED   NOT NULL,
    completed_at    DATETIME(6)       NOT NULL DEFAULT CURRENT_TIMESTAMP(6),
    PRIMARY KEY (day, shard)
) ENGINE = InnoDB;
