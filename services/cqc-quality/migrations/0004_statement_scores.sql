-- SAF quality-statement scores (DOMAIN.md §5) beside each key question × service rating and each
-- trust-level well-led assessment: comma-separated scores 1–4 ('4,3,2'); '' = none (evidence from
-- feeds, or judgements not assessed under the SAF). Portable SQL: runs on SQLite and Postgres.
ALTER TABLE cqc_service_ratings ADD COLUMN statement_scores TEXT NOT NULL DEFAULT '';
ALTER TABLE cqc_well_led_assessments ADD COLUMN statement_scores TEXT NOT NULL DEFAULT '';
