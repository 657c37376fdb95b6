-- The ML Metadata (ml-metadata 1.17) tables at MLMD schema version 10, as ml-metadata creates
-- them on MySQL and MariaDB, so that ml-metadata and metadb read and write the same database.
-- A database that ml-metadata created is adopted at this version without running this file
-- ('metadb migrate baseline').
CREATE TABLE `Type` (
    `id` INT PRIMARY KEY AUTO_INCREMENT,
    `name` VARCHAR(255) NOT NULL,
    `version` VARCHAR(255),
    `type_kind` TINYINT(1) NOT NULL,
    `description` TEXT,
    `input_type` TEXT,
    `output_type` TEXT,
    `external_id` VARCHAR(255) UNIQUE,
    INDEX `idx_type_name` (`name`),
    INDEX `idx_type_external_id` (`external_id`)
);
CREATE TABLE `ParentType` (
    `type_id` INT NOT NULL,
    `parent_type_id` INT NOT NULL,
    PRIMARY KEY (`type_id`, `parent_type_id`)
);
CREATE TABLE `TypeProperty` (
    `type_id` INT NOT NULL,
    `name` VARCHAR(255) NOT NULL,
    `data_type` INT NULL,
    PRIMARY KEY (`type_id`, `name`)
);
CREATE TABLE `Artifact` (
    `id` INTEGER PRIMARY KEY AUTO_INCREMENT,
    `type_id` INT NOT NULL,
    `uri` TEXT,
    `state` INT,
    `name` VARCHAR(255),
    `external_id` VARCHAR(255) UNIQUE,
    `create_time_since_epoch` BIGINT NOT NULL DEFAULT 0,
    `last_update_time_since_epoch` BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT UniqueArtifactTypeName UNIQUE(`type_id`, `name`),
    INDEX `idx_artifact_uri` (`uri`(255)),
    INDEX `idx_artifact_create_time_since_epoch` (`create_time_since_epoch`),
    INDEX `idx_artifact_last_update_time_since_epoch` (`last_update_time_since_epoch`),
    INDEX `idx_artifact_external_id` (`external_id`)
);
CREATE TABLE `ArtifactProperty` (
    `artifact_id` INT NOT NULL,
    `name` VARCHAR(255) NOT NULL,
    `is_custom_property` TINYINT(1) NOT NULL,
    `int_value` INT,
    `double_value` DOUBLE,
    `string_value` MEDIUMTEXT,
    `byte_value` MEDIUMBLOB,
    `proto_value` MEDIUMBLOB,
    `bool_value` BOOLEAN,
    PRIMARY KEY (`artifact_id`, `name`, `is_custom_property`),
    INDEX `idx_artifact_property_int` (`name`, `is_custom_property`, `int_value`),
    INDEX `idx_artifact_property_double` (`name`, `is_custom_property`, `double_value`),
    INDEX `idx_artifact_property_string` (`name`, `is_custom_property`, `string_value`(255))
);
CREATE TABLE `Execution` (
    `id` INTEGER PRIMARY KEY AUTO_INCREMENT,
    `type_id` INT NOT NULL,
    `last_known_state` INT,
    `name` VARCHAR(255),
    `external_id` VARCHAR(255) UNIQUE,
    `create_time_since_epoch` BIGINT NOT NULL DEFAULT 0,
    `last_update_time_since_epoch` BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT UniqueExecutionTypeName UNIQUE(`type_id`, `name`),
    INDEX `idx_execution_create_time_since_epoch` (`create_time_since_epoch`),
    INDEX `idx_execution_last_update_time_since_epoch` (`last_update_time_since_epoch`),
    INDEX `idx_execution_external_id` (`external_id`)
);
CREATE TABLE `ExecutionProperty` (
    `execution_id` INT NOT NULL,
    `name` VARCHAR(255) NOT NULL,
    `is_custom_property` TINYINT(1) NOT NULL,
    `int_value` INT,
    `double_value` DOUBLE,
    `string_value` MEDIUMTEXT,
    `byte_value` MEDIUMBLOB,
    `proto_value` MEDIUMBLOB,
    `bool_value` BOOLEAN,
    PRIMARY KEY (`execution_id`, `name`, `is_custom_property`),
    INDEX `idx_execution_property_int` (`name`, `is_custom_property`, `int_value`),
    INDEX `idx_execution_property_double` (`name`, `is_custom_property`, `double_value`),
    INDEX `idx_execution_property_string` (`name`, `is_custom_property`, `string_value`(255))
);
CREATE TABLE `Context` (
    `id` INTEGER PRIMARY KEY AUTO_INCREMENT,
    `type_id` INT NOT NULL,
    `name` VARCHAR(255) NOT NULL,
    `external_id` VARCHAR(255) UNIQUE,
    `create_time_since_epoch` BIGINT NOT NULL DEFAULT 0,
    `last_update_time_since_epoch` BIGINT NOT NULL DEFAULT 0,
    UNIQUE(`type_id`, `name`),
    INDEX `idx_context_create_time_since_epoch` (`create_time_since_epoch`),
    INDEX `idx_context_last_update_time_since_epoch` (`last_update_time_since_epoch`),
    INDEX `idx_context_external_id` (`external_id`)
);
CREATE TABLE `ContextProperty` (
    `context_id` INT NOT NULL,
    `name` VARCHAR(255) NOT NULL,
    `is_custom_property` TINYINT(1) NOT NULL,
    `int_value` INT,
    `double_value` DOUBLE,
    `string_value` MEDIUMTEXT,
    `byte_value` MEDIUMBLOB,
    `proto_value` MEDIUMBLOB,
    `bool_value` BOOLEAN,
    PRIMARY KEY (`context_id`, `name`, `is_custom_property`),
    INDEX `idx_context_property_int` (`name`, `is_custom_property`, `int_value`),
    INDEX `idx_context_property_double` (`name`, `is_custom_property`, `double_value`),
    INDEX `idx_context_property_string` (`name`, `is_custom_property`, `string_value`(255))
);
CREATE TABLE `ParentContext` (
    `context_id` INT NOT NULL,
    `parent_context_id` INT NOT NULL,
    PRIMARY KEY (`context_id`, `parent_context_id`),
    INDEX `idx_parentcontext_parent_context_id` (`parent_context_id`)
);
CREATE TABLE `Event` (
    `id` INTEGER PRIMARY KEY AUTO_INCREMENT,
    `artifact_id` INT NOT NULL,
    `execution_id` INT NOT NULL,
    `type` INT NOT NULL,
    `milliseconds_since_epoch` BIGINT,
    CONSTRAINT UniqueEvent UNIQUE(`artifact_id`, `execution_id`, `type`),
    INDEX `idx_event_execution_id` (`execution_id`)
);
CREATE TABLE `EventPath` (
    `event_id` INT NOT NULL,
    `is_index_step` TINYINT(1) NOT NULL,
    `step_index` INT,
    `step_key` TEXT,
    INDEX `idx_eventpath_event_id` (`event_id`)
);
CREATE TABLE `Association` (
    `id` INTEGER PRIMARY KEY AUTO_INCREMENT,
    `context_id` INT NOT NULL,
    `execution_id` INT NOT NULL,
    UNIQUE(`context_id`, `execution_id`)
);
CREATE TABLE `Attribution` (
    `id` INTEGER PRIMARY KEY AUTO_INCREMENT,
    `context_id` INT NOT NULL,
    `artifact_id` INT NOT NULL,
    UNIQUE(`context_id`, `artifact_id`)
);
CREATE TABLE `MLMDEnv` (
    `schema_version` INTEGER PRIMARY KEY
);

-- The system types ml-metadata seeds (ids 1-9); user types start at 10.
INSERT INTO `Type` (`name`, `type_kind`) VALUES
    ('mlmd.Dataset', 1), ('mlmd.Model', 1), ('mlmd.Metrics', 1), ('mlmd.Statistics', 1),
    ('mlmd.Train', 0), ('mlmd.Transform', 0), ('mlmd.Process', 0), ('mlmd.Evaluate', 0),
    ('mlmd.Deploy', 0);
INSERT INTO `MLMDEnv` (`schema_version`) VALUES (10);
