-- Annotation keys, metric names and backfill ids compare exactly: byte for byte, as on
-- PostgreSQL and SQLite. MySQL's and MariaDB's default utf8mb4 collations ignore case and
-- accents, so "SYSTEM/x" matched the reserved "system/x" and {"Team": ...} replaced "team".
-- utf8mb4_bin still ignores trailing spaces (PAD SPACE): "team" and "team " are one key.
-- Values (annotation values, run and task names) keep the table's collation: see docs/runs.md.
ALTER TABLE metadb_run_annotation
    MODIFY annotation_key VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;
ALTER TABLE metadb_run_metric
    MODIFY name VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;
ALTER TABLE metadb_backfill
    MODIFY id VARCHAR(128) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL;
