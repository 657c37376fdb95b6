"""One router per resource family; ``metadb.api.app`` includes them."""
