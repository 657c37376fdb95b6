-- Drops every ML Metadata table, and with them all metadata.
DROP TABLE attribution;
DROP TABLE association;
DROP TABLE parentcontext;
DROP TABLE contextproperty;
DROP TABLE context;
DROP TABLE mlmdenv;
DROP TABLE eventpath;
DROP TABLE event;
DROP TABLE executionproperty;
DROP TABLE execution;
DROP TABLE artifactproperty;
DROP TABLE artifact;
DROP TABLE parenttype;
DROP TABLE typeproperty;
DROP TABLE type;
