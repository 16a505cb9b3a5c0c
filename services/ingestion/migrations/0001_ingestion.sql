-- Ingestion owns these tables. Portable SQL: runs on SQLite and Postgres.
CREATE TABLE IF NOT EXISTS ingestion_batches (
    batch_id    TEXT PRIMARY KEY,
    source      TEXT NOT NULL,
    format      TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    state       TEXT NOT NULL,
    records     BIGINT NOT NULL DEFAULT 0,
    accepted    BIGINT NOT NULL DEFAULT 0,
    duplicates  BIGINT NOT NULL DEFAULT 0,
    rejected    BIGINT NOT NULL DEFAULT 0,
    received_at TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS ingestion_rejections (
    batch_id      TEXT NOT NULL,
    file_name     TEXT NOT NULL,
    record_number BIGINT NOT NULL,
    field         TEXT NOT NULL,
    reason        TEXT NOT NULL,
    PRIMARY KEY (batch_id, file_name, record_number, field)
);

-- Canonical evidence, one row per accepted record. The id is a hash of the batch id and the
-- record's content, so the same batch sent twice (through any door) stores nothing new.
-- `published` is the outbox flag: rows are published after commit and marked afterwards.
CREATE TABLE IF NOT EXISTS ingestion_evidence (
    evidence_id TEXT PRIMARY KEY,
    batch_id    TEXT NOT NULL,
    trust_code  TEXT NOT NULL,
    kind        TEXT NOT NULL,
    payload_hex TEXT NOT NULL,
    ingested_on TEXT NOT NULL,
    published   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS ingestion_evidence_unpublished ON ingestion_evidence (published);
CREATE INDEX IF NOT EXISTS ingestion_evidence_trust ON ingestion_evidence (trust_code, ingested_on);

-- Chunks of batches that arrive on the queue in several messages.
CREATE TABLE IF NOT EXISTS ingestion_feed_chunks (
    batch_id    TEXT NOT NULL,
    chunk_index BIGINT NOT NULL,
    is_last     BIGINT NOT NULL,
    source      TEXT NOT NULL,
    format      TEXT NOT NULL,
    file_name   TEXT NOT NULL,
    content_hex TEXT NOT NULL,
    PRIMARY KEY (batch_id, chunk_index)
);
