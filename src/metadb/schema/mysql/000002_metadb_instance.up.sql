-- metadb's first migration: the identity of this metadb database.
-- One row, created here: a random id that the API, metrics and the operator report, so that two
-- databases (or a database and its restored copy) can be told apart.
CREATE TABLE metadb_instance (
    id TINYINT NOT NULL PRIMARY KEY,
    instance_id VARCHAR(36) NOT NULL,
    created_at_ms BIGINT NOT NULL,
    CONSTRAINT metadb_instance_single_row CHECK (id = 1)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

INSERT INTO metadb_instance (id, instance_id, created_at_ms)
VALUES (1, UUID(), CAST(UNIX_TIMESTAMP(CURRENT_TIMESTAMP(3)) * 1000 AS UNSIGNED));
