-- Dev only: one database per service (each service owns its tables and migrations).
CREATE DATABASE oversight_ingestion;
CREATE DATABASE oversight_cqc;
CREATE DATABASE oversight_nhsi;
CREATE DATABASE oversight_combiner;
