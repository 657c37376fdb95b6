"""The wire format: the REST API's request and response models (pydantic), one module per
resource family. Neutral ground: the server and the client import it; it imports neither.

The models are the wire format, shared by the server (``metadb.api.routers``) and the typed
client (``metadb.client``): each converts to and from the library's dataclasses with
``from_entity`` / ``to_entity``, so both sides read and write JSON the same way.
"""

#: The error code of a 404 for a path the server does not serve (not a missing node): the
#: server answers it (metadb.api.errors) and the client reads it as a version mismatch.
ROUTE_NOT_FOUND = "route_not_found"
