-- The line of the file where a rejected record starts (CSV: the header is line 1); 0 when unknown.
ALTER TABLE ingestion_rejections ADD COLUMN line BIGINT NOT NULL DEFAULT 0;

-- The outbox query filters on `published` and pages in evidence_id order: one index serves both,
-- so draining the outbox does not scan every published row.
DROP INDEX IF EXISTS ingestion_evidence_unpublished;
CREATE INDEX IF NOT EXISTS ingestion_evidence_outbox ON ingestion_evidence (published, evidence_id);
