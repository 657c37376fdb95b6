-- The ML Metadata (ml-metadata 1.17) tables at MLMD schema version 10, as ml-metadata creates
-- them on PostgreSQL: unquoted, hence lower-case, names. ml-metadata and metadb read and write
-- the same database. A database that ml-metadata created is adopted at this version without
-- running this file ('metadb migrate baseline').
CREATE TABLE type (
    id SERIAL PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    version VARCHAR(255),
    type_kind SMALLINT NOT NULL,
    description TEXT,
    input_type TEXT,
    output_type TEXT,
    external_id VARCHAR(255) UNIQUE
);
CREATE INDEX idx_type_name ON type (name);
CREATE INDEX idx_type_external_id ON type (external_id);
CREATE TABLE parenttype (
    type_id INT NOT NULL,
    parent_type_id INT NOT NULL,
    PRIMARY KEY (type_id, parent_type_id)
);
CREATE TABLE typeproperty (
    type_id INT NOT NULL,
    name VARCHAR(255) NOT NULL,
    data_type INT NULL,
    PRIMARY KEY (type_id, name)
);
CREATE TABLE artifact (
    id SERIAL PRIMARY KEY,
    type_id INT NOT NULL,
    uri TEXT,
    state INT,
    name VARCHAR(255),
    external_id VARCHAR(255) UNIQUE,
    create_time_since_epoch BIGINT NOT NULL DEFAULT 0,
    last_update_time_since_epoch BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT UniqueArtifactTypeName UNIQUE (type_id, name)
);
CREATE INDEX idx_artifact_uri ON artifact (uri);
CREATE INDEX idx_artifact_create_time_since_epoch ON artifact (create_time_since_epoch);
CREATE INDEX idx_artifact_last_update_time_since_epoch ON artifact (last_update_time_since_epoch);
CREATE INDEX idx_artifact_external_id ON artifact (external_id);
CREATE TABLE artifactproperty (
    artifact_id INT NOT NULL,
    name VARCHAR(255) NOT NULL,
    is_custom_property BOOLEAN NOT NULL,
    int_value INT,
    double_value DOUBLE PRECISION,
    string_value TEXT,
    byte_value BYTEA,
    proto_value BYTEA,
    bool_value BOOLEAN,
    PRIMARY KEY (artifact_id, name, is_custom_property)
);
CREATE INDEX idx_artifact_property_int ON artifactproperty (name, is_custom_property, int_value);
CREATE INDEX idx_artifact_property_double ON artifactproperty (name, is_custom_property, double_value);
CREATE INDEX idx_artifact_property_string ON artifactproperty (name, is_custom_property, string_value);
CREATE TABLE execution (
    id SERIAL PRIMARY KEY,
    type_id INT NOT NULL,
    last_known_state INT,
    name VARCHAR(255),
    external_id VARCHAR(255) UNIQUE,
    create_time_since_epoch BIGINT NOT NULL DEFAULT 0,
    last_update_time_since_epoch BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT UniqueExecutionTypeName UNIQUE (type_id, name)
);
CREATE INDEX idx_execution_create_time_since_epoch ON execution (create_time_since_epoch);
CREATE INDEX idx_execution_last_update_time_since_epoch ON execution (last_update_time_since_epoch);
CREATE INDEX idx_execution_external_id ON execution (external_id);
CREATE TABLE executionproperty (
    execution_id INT NOT NULL,
    name VARCHAR(255) NOT NULL,
    is_custom_property BOOLEAN NOT NULL,
    int_value INT,
    double_value DOUBLE PRECISION,
    string_value TEXT,
    byte_value BYTEA,
    proto_value BYTEA,
    bool_value BOOLEAN,
    PRIMARY KEY (execution_id, name, is_custom_property)
);
CREATE INDEX idx_execution_property_int ON executionproperty (name, is_custom_property, int_value);
CREATE INDEX idx_execution_property_double ON executionproperty (name, is_custom_property, double_value);
CREATE INDEX idx_execution_property_string ON executionproperty (name, is_custom_property, string_value);
CREATE TABLE context (
    id SERIAL PRIMARY KEY,
    type_id INT NOT NULL,
    name VARCHAR(255) NOT NULL,
    external_id VARCHAR(255) UNIQUE,
    create_time_since_epoch BIGINT NOT NULL DEFAULT 0,
    last_update_time_since_epoch BIGINT NOT NULL DEFAULT 0,
    UNIQUE (type_id, name)
);
CREATE INDEX idx_context_create_time_since_epoch ON context (create_time_since_epoch);
CREATE INDEX idx_context_last_update_time_since_epoch ON context (last_update_time_since_epoch);
CREATE INDEX idx_context_external_id ON context (external_id);
CREATE TABLE contextproperty (
    context_id INT NOT NULL,
    name VARCHAR(255) NOT NULL,
    is_custom_property BOOLEAN NOT NULL,
    int_value INT,
    double_value DOUBLE PRECISION,
    string_value TEXT,
    byte_value BYTEA,
    proto_value BYTEA,
    bool_value BOOLEAN,
    PRIMARY KEY (context_id, name, is_custom_property)
);
CREATE INDEX idx_context_property_int ON contextproperty (name, is_custom_property, int_value);
CREATE INDEX idx_context_property_double ON contextproperty (name, is_custom_property, double_value);
CREATE INDEX idx_context_property_string ON contextproperty (name, is_custom_property, string_value);
CREATE TABLE parentcontext (
    context_id INT NOT NULL,
    parent_context_id INT NOT NULL,
    PRIMARY KEY (context_id, parent_context_id)
);
CREATE INDEX idx_parentcontext_parent_context_id ON parentcontext (parent_context_id);
CREATE TABLE event (
    id SERIAL PRIMARY KEY,
    artifact_id INT NOT NULL,
    execution_id INT NOT NULL,
    type INT NOT NULL,
    milliseconds_since_epoch BIGINT,
    CONSTRAINT UniqueEvent UNIQUE (artifact_id, execution_id, type)
);
CREATE INDEX idx_event_execution_id ON event (execution_id);
CREATE TABLE eventpath (
    event_id INT NOT NULL,
    is_index_step BOOLEAN NOT NULL,
    step_index INT,
    step_key TEXT
);
CREATE INDEX idx_eventpath_event_id ON eventpath (event_id);
CREATE TABLE association (
    id SERIAL PRIMARY KEY,
    context_id INT NOT NULL,
    execution_id INT NOT NULL,
    UNIQUE (context_id, execution_id)
);
CREATE TABLE attribution (
    id SERIAL PRIMARY KEY,
    context_id INT NOT NULL,
    artifact_id INT NOT NULL,
    UNIQUE (context_id, artifact_id)
);
CREATE TABLE mlmdenv (
    schema_version INTEGER PRIMARY KEY
);

-- The system types ml-metadata seeds (ids 1-9); user types start at 10.
INSERT INTO type (name, type_kind) VALUES
    ('mlmd.Dataset', 1), ('mlmd.Model', 1), ('mlmd.Metrics', 1), ('mlmd.Statistics', 1),
    ('mlmd.Train', 0), ('mlmd.Transform', 0), ('mlmd.Process', 0), ('mlmd.Evaluate', 0),
    ('mlmd.Deploy', 0);
INSERT INTO mlmdenv (schema_version) VALUES (10);
