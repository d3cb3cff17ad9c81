-- Newest-first keyset pages filtered by category and region together (the list's most
-- selective common combination): one ordered range scan instead of an index merge and a
-- filesort. The list names the index it uses (shared/adapters/src/mysql.rs) because
-- MariaDB otherwise reads a deep page's equality prefix from its top.
CREATE INDEX ix_profiles_category_region_id ON profiles (category, region, id);
