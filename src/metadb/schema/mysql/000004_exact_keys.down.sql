-- Back to the tables' default collation, which ignores case: this fails with a duplicate key
-- while a run has two keys that differ only in case ("Team" and "team"); delete one first.
ALTER TABLE metadb_backfill
    MODIFY id VARCHAR(128) CHARACTER SET utf8mb4 NOT NULL;
ALTER TABLE metadb_run_metric
    MODIFY name VARCHAR(255) CHARACTER SET utf8mb4 NOT NULL;
ALTER TABLE metadb_run_annotation
    MODIFY annotation_key VARCHAR(255) CHARACTER SET utf8mb4 NOT NULL;
