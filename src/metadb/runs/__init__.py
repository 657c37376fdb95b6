"""Pipeline runs: annotations, metrics, tasks, and fast search and listing."""
