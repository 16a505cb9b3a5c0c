-- The line of the file where a rejected record starts (CSV: the header is line 1); 0 when unknown.
ALTER TABLE ingestion_rejections ADD COLUMN line BIGINT NOT NULL DEFAULT 0;
