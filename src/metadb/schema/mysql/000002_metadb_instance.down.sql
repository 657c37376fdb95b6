DROP TABLE metadb_instance;
