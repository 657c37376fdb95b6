-- Drops the runs and backfill tables, and all runs with them.
DROP TABLE metadb_backfill;
DROP TABLE metadb_run_task;
DROP TABLE metadb_run_metric;
DROP TABLE metadb_run_annotation;
DROP TABLE metadb_run;
