-- A trust's NHS England region (e.g. 'London'), from feeds and CQC API objects; '' = not known yet.
-- Portable SQL: runs on SQLite and Postgres.
ALTER TABLE cqc_trusts ADD COLUMN region TEXT NOT NULL DEFAULT '';
