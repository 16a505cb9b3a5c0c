-- One row per observation (trust, feed, period, ward) with its values packed as a JSON object of
-- metric name → exact decimal string, instead of one row per metric: a national backfill of daily
-- ward staffing is millions of observations, and five rows each would be five times the writes.
-- Rows of the old table (nhsi_metric_observations) are moved here at start by the service.
CREATE TABLE IF NOT EXISTS nhsi_observations (
    trust_code    TEXT NOT NULL,
    feed          TEXT NOT NULL,
    period        TEXT NOT NULL,
    ward_code     TEXT NOT NULL,
    metric_values TEXT NOT NULL,
    evidence_id   TEXT NOT NULL,
    PRIMARY KEY (trust_code, feed, period, ward_code)
);
CREATE INDEX IF NOT EXISTS nhsi_observations_feed ON nhsi_observations (feed, trust_code, period);
