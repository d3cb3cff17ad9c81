-- Toss's webhook deliveries, one row per transmission (the dedupe key of §7): a repeat of
-- a delivery already handled changes nothing.
CREATE TABLE toss_webhook_deliveries (
    transmission_id VARCHAR(100)  NOT NULL,
    event_type      VARCHAR(40)   NOT NULL,
    order_id        VARCHAR(64)   NULL,
    retried_count   INT UNSIGNED  NOT NULL DEFAULT 0,
    outcome         VARCHAR(40)   NULL,
    received_at     DATETIME(6)   NOT NULL,
    handled_at      DATETIME(6)   NULL,
    PRIMARY KEY (transmission_id),
    KEY ix_toss_webhook_order (order_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Points of a lot taken back because its payment was cancelled outside our API (Toss's
-- merchant console), and the part of such a cancel no remaining points could cover
-- (already used: flagged and alarmed, never a negative balance).
ALTER TABLE point_lots
    ADD COLUMN clawed_back BIGINT UNSIGNED NOT NULL DEFAULT 0 AFTER refunded,
    ADD COLUMN clawback_shortfall BIGINT UNSIGNED NOT NULL DEFAULT 0 AFTER clawed_back;
