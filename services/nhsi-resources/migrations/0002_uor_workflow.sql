-- The use-of-resources workflow (suggested → proposed by NHSI → approved by CQC → published), the
-- CQC overall ratings seen on quality.rated (a segmentation trigger) and recorded segment decisions.
-- Portable SQL: runs on SQLite and Postgres.

-- One row per assessment of a trust: its current state. `workflow_json` is the pure state machine
-- (nhsi_rules::workflow::UorWorkflow) as JSON; `revision` guards concurrent writers.
CREATE TABLE IF NOT EXISTS nhsi_uor_assessments (
    trust_code    TEXT NOT NULL,
    assessment    BIGINT NOT NULL,
    report_date   TEXT NOT NULL,
    state         TEXT NOT NULL,
    workflow_json TEXT NOT NULL,
    revision      BIGINT NOT NULL,
    updated_at    TEXT NOT NULL,
    PRIMARY KEY (trust_code, assessment)
);

-- Every transition of every assessment, append-only, with who and when.
CREATE TABLE IF NOT EXISTS nhsi_uor_transitions (
    trust_code  TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    assessment  BIGINT NOT NULL,
    version     BIGINT NOT NULL,
    action      TEXT NOT NULL,
    role        TEXT NOT NULL,
    caller      TEXT NOT NULL,
    from_state  TEXT NOT NULL,
    to_state    TEXT NOT NULL,
    rating      TEXT NOT NULL,
    note        TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (trust_code, seq)
);

-- The latest CQC overall quality rating of each trust (from quality.rated).
CREATE TABLE IF NOT EXISTS nhsi_quality_overall (
    trust_code  TEXT PRIMARY KEY,
    version     BIGINT NOT NULL,
    rating      TEXT NOT NULL,
    report_date TEXT NOT NULL
);

-- Decided SOF segments with their rationale, append-only.
CREATE TABLE IF NOT EXISTS nhsi_segment_decisions (
    trust_code        TEXT NOT NULL,
    seq               BIGINT NOT NULL,
    segment           BIGINT NOT NULL,
    suggested_segment BIGINT NOT NULL,
    rationale         TEXT NOT NULL,
    triggers_json     TEXT NOT NULL,
    decided_by        TEXT NOT NULL,
    decided_at        TEXT NOT NULL,
    PRIMARY KEY (trust_code, seq)
);
