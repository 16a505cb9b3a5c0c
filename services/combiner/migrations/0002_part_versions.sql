-- Every version of each part as received, append-only: nothing is overwritten, so the inputs of
-- every combined version stay on record. The newest version of a part is the one combined.
-- Portable SQL: runs on SQLite and Postgres.
CREATE TABLE IF NOT EXISTS combiner_quality_part_versions (
    trust_code  TEXT NOT NULL,
    version     BIGINT NOT NULL,
    payload_hex TEXT NOT NULL,
    PRIMARY KEY (trust_code, version)
);

CREATE TABLE IF NOT EXISTS combiner_uor_part_versions (
    trust_code  TEXT NOT NULL,
    version     BIGINT NOT NULL,
    payload_hex TEXT NOT NULL,
    PRIMARY KEY (trust_code, version)
);

-- Keep what the 0001 "latest part" tables held, then retire them.
INSERT INTO combiner_quality_part_versions (trust_code, version, payload_hex)
    SELECT trust_code, version, payload_hex FROM combiner_quality_parts;
INSERT INTO combiner_uor_part_versions (trust_code, version, payload_hex)
    SELECT trust_code, version, payload_hex FROM combiner_uor_parts;
DROP TABLE combiner_quality_parts;
DROP TABLE combiner_uor_parts;
