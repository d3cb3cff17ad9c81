-- A payment's row version: every settlement and every look at a virtual account bumps
-- it. A deposit look (webhook or recovery) reads it, asks Toss, and moves the payment
-- only if it is unchanged, so a move decided on an older look at Toss cannot land after
-- a newer one (two deposit callbacks handled at once, one before and one after a deposit
-- error). Looks are not claimed, so this is their only order.
ALTER TABLE payments
    ADD COLUMN version BIGINT UNSIGNED NOT NULL DEFAULT 0 AFTER status;
