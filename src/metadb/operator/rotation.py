"""The credential policy of the control loop, over :mod:`metadb.operator.credentials`.

At version N: ensure the role of N; revoke every version at or below N-2 once no session uses
it (waiting, and saying so, while one does; ending sessions only with ``kill_sessions``); report
versions above N (a database restored from a backup) without keeping or dropping them silently.
Read-only mode only lists what exists.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from metadb.operator.credentials import Credential, RevokeOutcome, SecretSink, VersionCredentials
from metadb.operator.resources import CredentialsStatus, PendingRevocation


@dataclass
class Rotation:
    """What one call of :func:`rotate` did, and the status to publish."""

    status: CredentialsStatus
    created: list[Credential] = field(default_factory=list)
    revoked: list[RevokeOutcome] = field(default_factory=list)
    #: The roles of the versions above the current one.
    usernames: list[str] = field(default_factory=list)

    @property
    def above_current_message(self) -> str | None:
        if not self.status.above_current:
            return None
        return (
            f"credentials of versions above the current one exist "
            f"({', '.join(self.usernames)}): the database went back (restored from a "
            "backup?). They are kept; revoke them by hand, or they are used again when the "
            "schema reaches their version"
        )


def rotate(
    creds: VersionCredentials,
    *,
    current: int | None,
    database: str,
    sink: SecretSink,
    kill_sessions: bool = False,
    read_only: bool = False,
) -> Rotation:
    """Apply the policy at version ``current`` (None: nothing to ensure or revoke).

    Raises:
        CredentialError, SecretStoreError: as :class:`VersionCredentials` does.
    """
    if not creds.applicable:
        return Rotation(
            CredentialsStatus(
                applicable=False,
                message=f"not applicable: {creds.database.url.dialect} has no login roles",
            )
        )
    rotation = Rotation(CredentialsStatus())
    status = rotation.status
    changing = current is not None and not read_only
    if changing:
        assert current is not None
        credential = creds.ensure(current)
        if credential.created:
            rotation.created.append(credential)
    for version in creds.existing_versions():
        if not changing or current is None or version > current - 2:
            continue
        outcome = creds.revoke(version, kill_sessions=kill_sessions)
        if outcome.revoked:
            rotation.revoked.append(outcome)
        else:
            status.waiting.append(
                PendingRevocation(
                    version=version,
                    username=outcome.username,
                    sessions=outcome.sessions,
                    message=outcome.message,
                )
            )
    status.active_versions = creds.existing_versions()
    for version in status.active_versions:
        secret = sink.find(database=database, version=version)
        if secret is not None:
            status.secrets[str(version)] = secret
    status.above_current = [v for v in status.active_versions if current is None or v > current]
    rotation.usernames = [creds.username(v) for v in status.above_current]
    return rotation


__all__ = ["Rotation", "rotate"]
