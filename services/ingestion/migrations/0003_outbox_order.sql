-- The outbox publishes evidence in the order it was stored (per trust, the order of the feed),
-- not in evidence-id (hash) order: consumers apply one trust's evidence in stream order.
ALTER TABLE ingestion_evidence ADD COLUMN stored_seq BIGINT NOT NULL DEFAULT 0;
DROP INDEX IF EXISTS ingestion_evidence_outbox;
CREATE INDEX IF NOT EXISTS ingestion_evidence_outbox_order ON ingestion_evidence (published, stored_seq, evidence_id);
