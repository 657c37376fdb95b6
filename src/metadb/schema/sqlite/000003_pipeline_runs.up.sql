-- Pipeline runs, their annotations, metrics and tasks, and the state of backfills.
-- Lists and searches page on (sort column, id) with keyset pagination: every sort has an index
-- ending in id, and annotation and metric searches have (key, value, run_id) indexes.
CREATE TABLE metadb_run (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name VARCHAR(255) NOT NULL,
    pipeline_name VARCHAR(255),
    created_by VARCHAR(255),
    state VARCHAR(32) NOT NULL,
    created_at_ms BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    finished_at_ms BIGINT,
    pipeline_spec TEXT,
    extra_data TEXT,
    mlmd_context_id INTEGER
);
CREATE INDEX ix_metadb_run_created ON metadb_run (created_at_ms, id);
CREATE INDEX ix_metadb_run_finished ON metadb_run (finished_at_ms, id);
CREATE INDEX ix_metadb_run_name ON metadb_run (name, id);
CREATE INDEX ix_metadb_run_pipeline ON metadb_run (pipeline_name, created_at_ms, id);
CREATE INDEX ix_metadb_run_state ON metadb_run (state, created_at_ms, id);

CREATE TABLE metadb_run_annotation (
    run_id BIGINT NOT NULL,
    annotation_key VARCHAR(255) NOT NULL,
    annotation_value VARCHAR(255) NOT NULL,
    PRIMARY KEY (run_id, annotation_key)
);
CREATE INDEX ix_metadb_run_annotation_kv ON metadb_run_annotation (annotation_key, annotation_value, run_id);

CREATE TABLE metadb_run_metric (
    run_id BIGINT NOT NULL,
    name VARCHAR(255) NOT NULL,
    value DOUBLE NOT NULL,
    PRIMARY KEY (run_id, name)
);
CREATE INDEX ix_metadb_run_metric_nv ON metadb_run_metric (name, value, run_id);

CREATE TABLE metadb_run_task (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id BIGINT NOT NULL,
    name VARCHAR(255) NOT NULL,
    state VARCHAR(32) NOT NULL,
    started_at_ms BIGINT,
    finished_at_ms BIGINT,
    mlmd_execution_id INTEGER
);
CREATE INDEX ix_metadb_run_task_run ON metadb_run_task (run_id, id);

CREATE TABLE metadb_backfill (
    id VARCHAR(128) NOT NULL PRIMARY KEY,
    description TEXT,
    state VARCHAR(16) NOT NULL,
    cursor_value TEXT,
    rows_done BIGINT NOT NULL DEFAULT 0,
    rows_estimate BIGINT,
    batch_size INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    started_at_ms BIGINT,
    updated_at_ms BIGINT,
    finished_at_ms BIGINT
);
