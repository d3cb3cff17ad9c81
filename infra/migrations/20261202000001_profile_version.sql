-- Raised by every change a cached copy of the profile (Redis, next to its counters) must
-- not outlive: an owner's edit, views applied from the loss ledger. The cache keeps a
-- document only if no newer version is cached, so a slow reader cannot put back an older
-- row.
ALTER TABLE profiles ADD COLUMN version BIGINT UNSIGNED NOT NULL DEFAULT 0;
