-- nhsi-resources owns these tables. Portable SQL: runs on SQLite and Postgres.
CREATE TABLE IF NOT EXISTS nhsi_trusts (
    trust_code TEXT PRIMARY KEY,
    trust_type TEXT NOT NULL
);

-- Approved (CQC-approved or published) use-of-resources ratings, one per trust and report date.
CREATE TABLE IF NOT EXISTS nhsi_uor_ratings (
    trust_code  TEXT NOT NULL,
    report_date TEXT NOT NULL,
    rating      TEXT NOT NULL,
    approved_by TEXT NOT NULL,
    rationale   TEXT NOT NULL,
    evidence_id TEXT NOT NULL,
    PRIMARY KEY (trust_code, report_date)
);

-- Metric observations from the finance, productivity, operational and ward staffing feeds.
CREATE TABLE IF NOT EXISTS nhsi_metric_observations (
    trust_code  TEXT NOT NULL,
    feed        TEXT NOT NULL,
    period      TEXT NOT NULL,
    ward_code   TEXT NOT NULL,
    metric      TEXT NOT NULL,
    value       TEXT NOT NULL,
    evidence_id TEXT NOT NULL,
    PRIMARY KEY (trust_code, feed, period, ward_code, metric)
);

-- Versions of each trust's approved UoR rating event (outbox + append-only history).
CREATE TABLE IF NOT EXISTS nhsi_uor_events (
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
