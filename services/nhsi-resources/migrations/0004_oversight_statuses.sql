-- Oversight statuses (issue 14): financial special measures, quality special measures and deficit
-- support, recorded by NHSI through gRPC (RecordOversightStatus) or the oversight status feed.
-- Append-only: every record is kept. A record is a whole status; recording a status again with the
-- same kind and from_date (e.g. with the day it ended) adds a record, and the rules take the latest
-- (nhsi_rules::status). A status stands from from_date up to, not including, to_date ('' while it
-- stands). evidence_id is the feed evidence a record came from ('' through gRPC): evidence already
-- recorded is not recorded again (redelivery, replay). Portable SQL: runs on SQLite and Postgres.
CREATE TABLE IF NOT EXISTS nhsi_oversight_statuses (
    trust_code  TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    kind        TEXT NOT NULL,
    from_date   TEXT NOT NULL,
    to_date     TEXT NOT NULL,
    source      TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    evidence_id TEXT NOT NULL,
    PRIMARY KEY (trust_code, seq)
);
CREATE INDEX IF NOT EXISTS nhsi_oversight_statuses_evidence ON nhsi_oversight_statuses (evidence_id);
