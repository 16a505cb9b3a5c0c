-- Inspections recorded through the API, enforcement actions, merged-organisation exclusions and
-- judgement decisions. Portable SQL: runs on SQLite and Postgres (dates are ISO 8601 TEXT).

-- One row per inspection report of a location (or of a trust-wide service set: location_id '').
-- Its key question × service ratings are rows of cqc_service_ratings with evidence_id = inspection_id.
CREATE TABLE IF NOT EXISTS cqc_inspections (
    trust_code    TEXT NOT NULL,
    location_id   TEXT NOT NULL,
    report_date   TEXT NOT NULL,
    inspection_id TEXT NOT NULL,
    location_name TEXT NOT NULL,
    rating_count  BIGINT NOT NULL,
    recorded_by   TEXT NOT NULL,
    recorded_at   TEXT NOT NULL,
    PRIMARY KEY (trust_code, location_id, report_date)
);

-- Limiters on a key question × service (DOMAIN.md §2.2). kind: requirement_notice,
-- warning_notice or condition. An action limits the rating standing on action_date.
CREATE TABLE IF NOT EXISTS cqc_enforcement_actions (
    trust_code   TEXT NOT NULL,
    location_id  TEXT NOT NULL,
    service_id   TEXT NOT NULL,
    key_question TEXT NOT NULL,
    action_date  TEXT NOT NULL,
    kind         TEXT NOT NULL,
    reason       TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    PRIMARY KEY (trust_code, location_id, service_id, key_question, action_date, kind)
);

-- Services from a previously separate organisation, left out of trust aggregation (§2.3).
-- merged_on '' = unknown.
CREATE TABLE IF NOT EXISTS cqc_merged_services (
    trust_code   TEXT NOT NULL,
    location_id  TEXT NOT NULL,
    service_id   TEXT NOT NULL,
    organisation TEXT NOT NULL,
    merged_on    TEXT NOT NULL,
    until_date   TEXT NOT NULL,
    reason       TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    PRIMARY KEY (trust_code, location_id, service_id)
);

-- Published decisions beside computed ratings (§2.4). Append-only: each decision about an entity
-- and key question ('' = overall) is a new row with the next sequence; draft → final changes are
-- kept as history, never overwritten. computed '' = the rules computed no rating.
CREATE TABLE IF NOT EXISTS cqc_judgements (
    trust_code   TEXT NOT NULL,
    entity_kind  TEXT NOT NULL,
    location_id  TEXT NOT NULL,
    service_id   TEXT NOT NULL,
    key_question TEXT NOT NULL,
    sequence     BIGINT NOT NULL,
    computed     TEXT NOT NULL,
    published    TEXT NOT NULL,
    rationale    TEXT NOT NULL,
    stage        TEXT NOT NULL,
    decided_on   TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    PRIMARY KEY (trust_code, entity_kind, location_id, service_id, key_question, sequence)
);
