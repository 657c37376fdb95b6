"""Where credentials are written: files on one machine, Kubernetes Secrets on a cluster.

Both sinks name a secret ``<database>-v<N>`` (``<database>-migration`` for the migration role),
with the database name lower-cased and every character other than a-z, 0-9, "-" and "." turned
into "-", so that a name is valid both as a file name and as a Kubernetes object name.

- :class:`FileSecretSink`: one file per credential in a directory (created with mode 0700),
  written atomically with mode 0600. The file holds the URL and a newline, so
  ``metadb ... --database "$(cat secrets/shop-v3)"`` works.
- :class:`KubernetesSecretSink`: a Secret with the keys ``username``, ``password`` and ``url``,
  labelled with the database and the version and owned by the ManagedDatabase, deleted only
  when no pod references it (:func:`pods_referencing`).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any

from metadb.errors import SecretStoreError

__all__ = [
    "LABEL_CREDENTIAL",
    "LABEL_DATABASE",
    "LABEL_VERSION",
    "FileSecretSink",
    "KubernetesSecretSink",
    "migration_secret_name",
    "owner_reference",
    "pods_referencing",
    "secret_body",
    "secret_name",
]

log = logging.getLogger(__name__)

LABEL_DATABASE = "metadb.io/database"
LABEL_VERSION = "metadb.io/version"
#: "application" or "migration".
LABEL_CREDENTIAL = "metadb.io/credential"
_MANAGED_BY = {"app.kubernetes.io/managed-by": "metadb"}
#: Pods in these phases never start again, so a Secret they reference may go.
_FINISHED_PHASES = {"Succeeded", "Failed"}

_NOT_NAME = re.compile(r"[^a-z0-9.-]+")
_NOT_LABEL = re.compile(r"[^A-Za-z0-9_.-]+")


def _slug(database: str) -> str:
    slug = _NOT_NAME.sub("-", database.lower()).strip("-.")
    return slug[:200] or "database"


def secret_name(database: str, version: int) -> str:
    """The secret of ``version``'s credential: ``secret_name("shop_db", 3) == "shop-db-v3"``."""
    return f"{_slug(database)}-v{version}"


def migration_secret_name(database: str) -> str:
    """The secret of the migration role: ``"shop-db-migration"``."""
    return f"{_slug(database)}-migration"


class FileSecretSink:
    """Credentials as files in ``directory``; :meth:`write` returns the file's path.

    Constructing one does no I/O; the directory is created (mode 0700) on the first write.

    Example::

        sink = FileSecretSink("/var/lib/metadb/secrets")
        sink.write(database="shop", version=3, username=..., password=..., url=...)
        # -> "/var/lib/metadb/secrets/shop-v3", mode 0600, holding the URL
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)

    def path(self, name: str) -> Path:
        return self.directory / name

    def write(self, *, database: str, version: int, username: str, password: str, url: str) -> str:
        return self._write(secret_name(database, version), url)

    def write_migration(self, *, database: str, username: str, password: str, url: str) -> str:
        return self._write(migration_secret_name(database), url)

    def find(self, *, database: str, version: int) -> str | None:
        return self._find(secret_name(database, version))

    def find_migration(self, *, database: str) -> str | None:
        return self._find(migration_secret_name(database))

    def delete(self, *, database: str, version: int) -> None:
        path = self.path(secret_name(database, version))
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:
            raise SecretStoreError(str(path), exc.strerror or str(exc)) from None

    def _find(self, name: str) -> str | None:
        path = self.path(name)
        return str(path) if path.is_file() else None

    def _write(self, name: str, url: str) -> str:
        path = self.path(name)
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            # mkstemp creates the file with mode 0600; os.replace makes the new content appear
            # at once, so a reader never sees half a URL.
            fd, temporary = tempfile.mkstemp(prefix=f".{name}.", dir=self.directory)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as file:
                    file.write(url + "\n")
                    file.flush()
                    os.fsync(file.fileno())
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            # from None: nothing of the URL may travel in a traceback.
            raise SecretStoreError(str(path), exc.strerror or type(exc).__name__) from None
        return str(path)


def owner_reference(resource: Mapping[str, Any]) -> dict[str, Any]:
    """The ownerReference that makes a Secret belong to ``resource`` (a ManagedDatabase as the
    cluster sends it: ``apiVersion``, ``kind``, ``metadata.name``, ``metadata.uid``)."""
    metadata = resource["metadata"]
    return {
        "apiVersion": resource["apiVersion"],
        "kind": resource["kind"],
        "name": metadata["name"],
        "uid": metadata["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def _label(value: str) -> str:
    return _NOT_LABEL.sub("-", value)[:63].strip("-_.") or "x"


def secret_body(
    *,
    name: str,
    namespace: str,
    database: str,
    version: int | None,
    username: str,
    password: str,
    url: str,
    owner: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The Secret object for one credential (``version=None``: the migration role's), as the
    Kubernetes API takes it. ``owner`` is the ManagedDatabase (see :func:`owner_reference`).
    """
    labels = {
        **_MANAGED_BY,
        LABEL_DATABASE: _label(database),
        LABEL_CREDENTIAL: "migration" if version is None else "application",
    }
    if version is not None:
        labels[LABEL_VERSION] = str(version)
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels}
    if owner is not None:
        metadata["ownerReferences"] = [owner_reference(owner)]
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": metadata,
        "stringData": {"username": username, "password": password, "url": url},
    }


def _as_dict(obj: Any) -> dict[str, Any]:
    """A pod as a dict in the API's camelCase, whether the client's model or plain JSON."""
    if isinstance(obj, Mapping):
        return dict(obj)
    from kubernetes import client

    api_client: Any = client.ApiClient()
    data: dict[str, Any] = api_client.sanitize_for_serialization(obj)
    return data


def _secrets_of_pod(pod: Mapping[str, Any]) -> set[str]:
    spec = pod.get("spec") or {}
    names: set[str] = set()
    containers = [
        *(spec.get("containers") or []),
        *(spec.get("initContainers") or []),
        *(spec.get("ephemeralContainers") or []),
    ]
    for container in containers:
        for env in container.get("env") or []:
            ref = (env.get("valueFrom") or {}).get("secretKeyRef") or {}
            names.add(ref.get("name") or "")
        for source in container.get("envFrom") or []:
            names.add((source.get("secretRef") or {}).get("name") or "")
    for volume in spec.get("volumes") or []:
        names.add((volume.get("secret") or {}).get("secretName") or "")
        for projection in (volume.get("projected") or {}).get("sources") or []:
            names.add((projection.get("secret") or {}).get("name") or "")
    for pull in spec.get("imagePullSecrets") or []:
        names.add(pull.get("name") or "")
    names.discard("")
    return names


def pods_referencing(secret: str, pods: Iterable[Any]) -> list[str]:
    """Names of the pods that use Secret ``secret`` (in env, envFrom, a secret or projected
    volume, or imagePullSecrets, of any container). Finished pods (Succeeded, Failed) do not
    count: they never start again. ``pods`` are the client's V1Pod objects or plain dicts.

    Example: ``pods_referencing("shop-v1", core.list_namespaced_pod("shop").items) == []``
    means the Secret may be deleted.
    """
    users = []
    for obj in pods:
        pod = _as_dict(obj)
        if (pod.get("status") or {}).get("phase") in _FINISHED_PHASES:
            continue
        if secret in _secrets_of_pod(pod):
            users.append(str((pod.get("metadata") or {}).get("name")))
    return users


class KubernetesSecretSink:
    """Credentials as Kubernetes Secrets in ``namespace``, through the ``kubernetes`` client.

    ``api`` is a ``kubernetes.client.CoreV1Api``; when None, one is made on first use from the
    in-cluster configuration (or ~/.kube/config). ``owner`` is the ManagedDatabase object, so
    that deleting it deletes its Secrets. A Secret that a pod still references is kept by
    :meth:`delete`; :meth:`prune` removes such leftovers once their pods are gone.
    """

    def __init__(
        self,
        *,
        namespace: str,
        api: Any = None,
        owner: Mapping[str, Any] | None = None,
    ) -> None:
        self.namespace = namespace
        self.owner = owner
        self._api = api

    @property
    def api(self) -> Any:
        if self._api is None:
            from kubernetes import client
            from kubernetes import config as kubeconfig

            config: Any = kubeconfig
            try:
                config.load_incluster_config()
            except config.ConfigException:
                config.load_kube_config()
            self._api = client.CoreV1Api()
        return self._api

    def write(self, *, database: str, version: int, username: str, password: str, url: str) -> str:
        name = secret_name(database, version)
        self._put(name, database, version, username, password, url)
        return name

    def write_migration(self, *, database: str, username: str, password: str, url: str) -> str:
        name = migration_secret_name(database)
        self._put(name, database, None, username, password, url)
        return name

    def find(self, *, database: str, version: int) -> str | None:
        return self._find(secret_name(database, version))

    def find_migration(self, *, database: str) -> str | None:
        return self._find(migration_secret_name(database))

    def delete(self, *, database: str, version: int) -> None:
        name = secret_name(database, version)
        if self._find(name) is not None:
            self._delete_unless_used(name)

    def prune(self, *, database: str, keep: Collection[int]) -> list[str]:
        """Delete the application Secrets of ``database`` whose version is not in ``keep`` and
        that no pod references; return the names deleted. The operator calls it each pass."""
        selector = f"{LABEL_DATABASE}={_label(database)},{LABEL_CREDENTIAL}=application"
        found = self._call(
            f"secrets of {database}",
            lambda: self.api.list_namespaced_secret(self.namespace, label_selector=selector),
        )
        deleted = []
        for secret in found.items:
            version = (secret.metadata.labels or {}).get(LABEL_VERSION, "")
            if version.isdigit() and int(version) not in keep:
                name = secret.metadata.name
                if self._delete_unless_used(name):
                    deleted.append(name)
        return deleted

    def _put(
        self,
        name: str,
        database: str,
        version: int | None,
        username: str,
        password: str,
        url: str,
    ) -> None:
        body = secret_body(
            name=name,
            namespace=self.namespace,
            database=database,
            version=version,
            username=username,
            password=password,
            url=url,
            owner=self.owner,
        )
        if self._find(name) is None:
            self._call(name, lambda: self.api.create_namespaced_secret(self.namespace, body))
        else:
            self._call(name, lambda: self.api.replace_namespaced_secret(name, self.namespace, body))

    def _find(self, name: str) -> str | None:
        from kubernetes.client.exceptions import ApiException

        try:
            self.api.read_namespaced_secret(name, self.namespace)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise SecretStoreError(self._where(name), _api_reason(exc)) from None
        return name

    def _delete_unless_used(self, name: str) -> bool:
        pods = self._call(name, lambda: self.api.list_namespaced_pod(self.namespace))
        users = pods_referencing(name, pods.items)
        if users:
            log.info("kept Secret %s: pods %s still reference it", name, ", ".join(users))
            return False
        self._call(name, lambda: self.api.delete_namespaced_secret(name, self.namespace))
        return True

    def _call(self, name: str, action: Any) -> Any:
        from kubernetes.client.exceptions import ApiException

        try:
            return action()
        except ApiException as exc:
            # from None: the client's exception may echo the request body (the password).
            raise SecretStoreError(self._where(name), _api_reason(exc)) from None

    def _where(self, name: str) -> str:
        return f"{self.namespace}/{name}"


def _api_reason(exc: Any) -> str:
    return f"the Kubernetes API answered {exc.status} {exc.reason}"
