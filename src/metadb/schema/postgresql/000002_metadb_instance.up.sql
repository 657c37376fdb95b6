-- metadb's first migration: the identity of this metadb database.
-- One row, created here: a random id that the API, metrics and the operator report, so that two
-- databases (or a database and its restored copy) can be told apart.
CREATE TABLE metadb_instance (
    id SMALLINT PRIMARY KEY CHECK (id = 1),
    instance_id VARCHAR(36) NOT NULL,
    created_at_ms BIGINT NOT NULL
);

INSERT INTO metadb_instance (id, instance_id, created_at_ms)
VALUES (1, gen_random_uuid()::text, (extract(epoch FROM clock_timestamp()) * 1000)::bigint);
