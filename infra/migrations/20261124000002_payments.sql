-- Points purchases through Toss Payments. `status` moves only along the state machine in
-- domain::payment; every move is appended to payment_events.
CREATE TABLE payments (
    id                BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    order_id          VARCHAR(64)     NOT NULL,
    member_id         BIGINT UNSIGNED NOT NULL,
    order_name        VARCHAR(100)    NOT NULL,
    amount            BIGINT UNSIGNED NOT NULL,
    status            VARCHAR(20)     NOT NULL,
    payment_key       VARCHAR(200)    NULL,
    -- Idempotency-Key of the confirm call, stored before the call so a resend after a
    -- timeout or crash reuses it; a new key only after a definitive transient error.
    confirm_key       VARCHAR(300)    NULL,
    confirm_attempts  INT UNSIGNED    NOT NULL DEFAULT 0,
    recovery_attempts INT UNSIGNED    NOT NULL DEFAULT 0,
    -- IN_PROGRESS: end of the claim's lease. UNKNOWN: when recovery may look next.
    next_attempt_at   DATETIME(6)     NULL,
    authenticated_at  DATETIME(6)     NULL,
    failure_code      VARCHAR(64)     NULL,
    failure_message   VARCHAR(510)    NULL,
    approved_amount   BIGINT UNSIGNED NULL,
    approved_at       VARCHAR(40)     NULL,
    points_charged    BIGINT UNSIGNED NOT NULL DEFAULT 0,
    created_at        DATETIME(6)     NOT NULL,
    updated_at        DATETIME(6)     NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uk_payments_order (order_id),
    KEY ix_payments_recovery (status, next_attempt_at),
    KEY ix_payments_ready (status, created_at),
    CONSTRAINT fk_payments_member FOREIGN KEY (member_id) REFERENCES members (id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

CREATE TABLE payment_events (
    id          BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    order_id    VARCHAR(64)     NOT NULL,
    from_status VARCHAR(20)     NULL,
    to_status   VARCHAR(20)     NOT NULL,
    detail      VARCHAR(510)    NULL,
    created_at  DATETIME(6)     NOT NULL,
    PRIMARY KEY (id),
    KEY ix_payment_events_order (order_id, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Points added per order; the unique key makes a second charge of one order impossible.
CREATE TABLE point_ledger (
    id         BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    member_id  BIGINT UNSIGNED NOT NULL,
    order_id   VARCHAR(64)     NOT NULL,
    points     BIGINT UNSIGNED NOT NULL,
    created_at DATETIME(6)     NOT NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uk_point_ledger_order (order_id),
    KEY ix_point_ledger_member (member_id, id)
) ENGINE = InnoDB;

-- Domain events written in the transaction that makes them true, published afterwards.
-- event_id is deterministic (type + order), so a republish is recognisable downstream.
CREATE TABLE outbox (
    id           BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    event_id     VARCHAR(100)    NOT NULL,
    detail_type  VARCHAR(50)     NOT NULL,
    detail       TEXT            NOT NULL,
    created_at   DATETIME(6)     NOT NULL,
    published_at DATETIME(6)     NULL,
    PRIMARY KEY (id),
    UNIQUE KEY uk_outbox_event (event_id),
    KEY ix_outbox_unpublished (published_at, id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;
