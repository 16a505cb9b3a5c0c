-- cqc-quality owns these tables. Portable SQL: runs on SQLite and Postgres.
CREATE TABLE IF NOT EXISTS cqc_trusts (
    trust_code TEXT PRIMARY KEY,
    trust_name TEXT NOT NULL,
    trust_type TEXT NOT NULL
);

-- Every KQ × service rating ever received; the rules pick the latest (carry-forward).
CREATE TABLE IF NOT EXISTS cqc_service_ratings (
    trust_code    TEXT NOT NULL,
    location_id   TEXT NOT NULL,
    location_name TEXT NOT NULL,
    service_id    TEXT NOT NULL,
    key_question  TEXT NOT NULL,
    rating        TEXT NOT NULL,
    report_date   TEXT NOT NULL,
    evidence_id   TEXT NOT NULL,
    PRIMARY KEY (trust_code, location_id, service_id, key_question, report_date)
);

CREATE TABLE IF NOT EXISTS cqc_well_led_assessments (
    trust_code  TEXT NOT NULL,
    report_date TEXT NOT NULL,
    rating      TEXT NOT NULL,
    evidence_id TEXT NOT NULL,
    PRIMARY KEY (trust_code, report_date)
);

-- Versions of each trust's published quality rating (outbox + append-only history).
CREATE TABLE IF NOT EXISTS cqc_quality_events (
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
