-- How each purchase was paid (Toss's `method` label): a refund's deadline depends on it.
-- NULL for payments approved before this column (refunds treat them as cards).
ALTER TABLE payments ADD COLUMN method VARCHAR(20) NULL AFTER approved_at;

-- Points of a lot given back by refunds (neither used nor remaining): the policy's
-- "how much of the purchase is used" is bought - remaining - refunded.
ALTER TABLE point_lots ADD COLUMN refunded BIGINT UNSIGNED NOT NULL DEFAULT 0 AFTER remaining;

-- Refunds of purchases through Toss's cancel API. The intent (and the points it takes
-- from the lot) is written before Toss is called; `status` then moves REQUESTED → DONE,
-- REFUSED (points given back) or UNKNOWN (settled by the recovery job), and NEEDS_ATTENTION
-- when Toss's payment shows something no refund of ours explains.
CREATE TABLE refunds (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    refund_id         VARCHAR(40)     NOT NULL,
    order_id          VARCHAR(64)     NOT NULL,
    member_id         BIGINT UNSIGNED NOT NULL,
    points            BIGINT UNSIGNED NOT NULL,
    fee               BIGINT UNSIGNED NOT NULL,
    refund_won        BIGINT UNSIGNED NOT NULL,
    -- Toss's cancellable balance this cancel expects (`refundableAmount`, its stale-balance
    -- guard); the balance after it is this less refund_won.
    refundable_before BIGINT UNSIGNED NOT NULL,
    reason            VARCHAR(200)    NOT NULL,
    status            VARCHAR(20)     NOT NULL,
    -- The cancel's Idempotency-Key is refund_id + '-' + cancel_attempt: the same key after
    -- no answer (Toss replays the result), a new one after a definitive transient error.
    cancel_attempt    INT UNSIGNED    NOT NULL DEFAULT 1,
    recovery_attempts INT UNSIGNED    NOT NULL DEFAULT 0,
    -- REQUESTED: end of the handler's lease. UNKNOWN: when recovery may look next.
    next_attempt_at   DATETIME(6)     NULL,
    failure_code      VARCHAR(64)     NULL,
    failure_message   VARCHAR(510)    NULL,
    created_at        DATETIME(6)     NOT NULL,
    updated_at        DATETIME(6)     NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uk_refunds_refund (refund_id),
    KEY ix_refunds_order (order_id, id),
    KEY ix_refunds_recovery (status, next_attempt_at)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
