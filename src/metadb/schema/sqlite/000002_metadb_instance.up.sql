-- metadb's first migration: the identity of this metadb database.
-- One row, created here: a random id that the API, metrics and the operator report, so that two
-- databases (or a database and its restored copy) can be told apart.
CREATE TABLE metadb_instance (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    instance_id VARCHAR(36) NOT NULL,
    created_at_ms BIGINT NOT NULL
);

INSERT INTO metadb_instance (id, instance_id, created_at_ms)
VALUES (
    1,
    lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2)
          || '-' || substr('89ab', 1 + abs(random()) % 4, 1) || substr(hex(randomblob(2)), 2)
          || '-' || hex(randomblob(6))),
    CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
);
