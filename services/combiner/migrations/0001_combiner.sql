-- The combiner owns these tables. Portable SQL: runs on SQLite and Postgres.
-- The latest version of each part, as received (older or repeated versions never overwrite).
CREATE TABLE IF NOT EXISTS combiner_quality_parts (
    trust_code  TEXT PRIMARY KEY,
    version     BIGINT NOT NULL,
    payload_hex TEXT NOT NULL
);

CREATE TABLE IF NOT EXISTS combiner_uor_parts (
    trust_code  TEXT PRIMARY KEY,
    version     BIGINT NOT NULL,
    payload_hex TEXT NOT NULL
);

-- Every published version of each trust's combined rating (outbox + append-only history).
CREATE TABLE IF NOT EXISTS combiner_events (
    event_key   TEXT NOT NULL,
    version     BIGINT NOT NULL,
    fingerprint TEXT NOT NULL,
    subject     TEXT NOT NULL,
    msg_id      TEXT NOT NULL,
    payload_hex TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    published   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (event_key, version)
);
