-- Drops every ML Metadata table, and with them all metadata.
DROP TABLE `Attribution`;
DROP TABLE `Association`;
DROP TABLE `ParentContext`;
DROP TABLE `ContextProperty`;
DROP TABLE `Context`;
DROP TABLE `MLMDEnv`;
DROP TABLE `EventPath`;
DROP TABLE `Event`;
DROP TABLE `ExecutionProperty`;
DROP TABLE `Execution`;
DROP TABLE `ArtifactProperty`;
DROP TABLE `Artifact`;
DROP TABLE `ParentType`;
DROP TABLE `TypeProperty`;
DROP TABLE `Type`;
