-- Members and their expert profiles.
CREATE TABLE members (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    name        VARCHAR(50)     NOT NULL,
    -- Stored trimmed and lower-cased; the unique key makes signup race-free.
    email       VARCHAR(254)    NOT NULL,
    points      BIGINT UNSIGNED NOT NULL DEFAULT 0,
    created_at  DATETIME(6)     NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uk_members_email (email)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE profiles (
    id                    BIGINT UNSIGNED   NOT NULL AUTO_INCREMENT,
    member_id             BIGINT UNSIGNED   NOT NULL,
    headline              VARCHAR(100)      NOT NULL,
    category              VARCHAR(20)       NOT NULL,
    career_years          TINYINT UNSIGNED  NOT NULL,
    region                VARCHAR(20)       NOT NULL,
    introduction          TEXT              NOT NULL,
    created_at            DATETIME(6)       NOT NULL,
    -- Views through views_flushed_through (a KST day); later days live in Redis.
    view_count            BIGINT UNSIGNED   NOT NULL DEFAULT 0,
    views_flushed_through DATE              NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uk_profiles_member (member_id),
    -- Newest-first keyset pages filtered by one equality (the common listing filters).
    KEY ix_profiles_category_id (category, id),
    KEY ix_profiles_region_id (region, id),
    CONSTRAINT fk_profiles_member FOREIGN KEY (member_id) REFERENCES members (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Views per profile per KST day: from Redis by the flush, and from the loss ledger by
-- the recovery job (kept apart so each writer can be idempotent on its own column).
CREATE TABLE profile_view_daily (
    profile_id      BIGINT UNSIGNED NOT NULL,
    day             DATE            NOT NULL,
    redis_views     BIGINT UNSIGNED NOT NULL DEFAULT 0,
    recovered_views BIGINT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (profile_id, day)
) ENGINE = InnoDB;

-- A day whose flush finished for every viewed profile.
CREATE TABLE view_flush_runs (
    day             DATE            NOT NULL,
    viewed_profiles BIGINT UNSIGNED NOT NULL,
    views           BIGINT UNSIGNED NOT NULL,
    completed_at    DATETIME(6)     NOT NULL,
    PRIMARY KEY (day)
) ENGINE = InnoDB;

-- How many views of a loss-ledger entry (profile, day) MySQL already holds.
CREATE TABLE view_loss_applied (
    profile_id BIGINT UNSIGNED NOT NULL,
    day        DATE            NOT NULL,
    applied    BIGINT UNSIGNED NOT NULL,
    PRIMARY KEY (profile_id, day)
) ENGINE = InnoDB;
