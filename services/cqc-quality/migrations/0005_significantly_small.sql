-- "Significantly small" services (DOMAIN.md §2.1): decisions to leave a service out of its
-- location's aggregation (and so the trust's). Append-only: each decision about a service is a new
-- row with the next sequence, never updated; the rules decide which stands on a date.
-- until_date '' = open (until a later decision). Portable SQL: runs on SQLite and Postgres.
CREATE TABLE IF NOT EXISTS cqc_significantly_small_services (
    trust_code   TEXT NOT NULL,
    location_id  TEXT NOT NULL,
    service_id   TEXT NOT NULL,
    sequence     BIGINT NOT NULL,
    from_date    TEXT NOT NULL,
    until_date   TEXT NOT NULL,
    reason       TEXT NOT NULL,
    recorded_by  TEXT NOT NULL,
    recorded_at  TEXT NOT NULL,
    PRIMARY KEY (trust_code, location_id, service_id, sequence)
);
