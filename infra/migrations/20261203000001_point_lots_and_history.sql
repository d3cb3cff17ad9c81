-- Points are kept per purchase ("lot"): what was bought and what remains of it, so "the
-- unused part of purchase X" is always defined. A member's balance (members.points) is
-- the sum of their lots' remaining points, changed in the same transaction as the lot.
-- The primary key on the order is the last line against charging one order twice.
CREATE TABLE point_lots (
    order_id   VARCHAR(64)     NOT NULL,
    member_id  BIGINT UNSIGNED NOT NULL,
    bought     BIGINT UNSIGNED NOT NULL,
    remaining  BIGINT UNSIGNED NOT NULL,
    created_at DATETIME(6)     NOT NULL,
    PRIMARY KEY (order_id),
    KEY ix_point_lots_member (member_id, created_at),
    CONSTRAINT ck_point_lots_remaining CHECK (remaining <= bought)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Every change of a member's points, newest first by id (the history's keyset): the
-- kind, the signed amount, the balance after it and the order it belongs to.
CREATE TABLE point_history (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    member_id     BIGINT UNSIGNED NOT NULL,
    kind          VARCHAR(20)     NOT NULL,
    amount        BIGINT          NOT NULL,
    balance_after BIGINT          NOT NULL,
    order_id      VARCHAR(64)     NOT NULL,
    created_at    DATETIME(6)     NOT NULL,
    PRIMARY KEY (id),
    KEY ix_point_history_member (member_id, id),
    KEY ix_point_history_order (order_id)
) ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = utf8mb4_unicode_ci;

-- Until now every point came from a purchase, none was spent: each ledger row is a lot
-- with nothing used, and a PURCHASE entry whose balance is the running sum.
INSERT INTO point_lots (order_id, member_id, bought, remaining, created_at)
SELECT order_id, member_id, points, points, created_at FROM point_ledger;

INSERT INTO point_history (member_id, kind, amount, balance_after, order_id, created_at)
SELECT member_id, 'PURCHASE', points,
       SUM(points) OVER (PARTITION BY member_id ORDER BY id ROWS UNBOUNDED PRECEDING),
       order_id, created_at
FROM point_ledger
ORDER BY id;

DROP TABLE point_ledger;
