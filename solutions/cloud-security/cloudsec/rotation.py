"""Task 4: rotate a model endpoint's API key in Secrets Manager, without downtime."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar

from cloudsec.endpoint import ModelEndpoint, Unauthorized

__all__ = [
    "CachedApiKey",
    "RotationError",
    "create_pending",
    "finish_rotation",
    "retire_previous",
    "rotate",
    "set_pending",
    "verify_pending",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

PENDING = "AWSPENDING"
CURRENT = "AWSCURRENT"
PREVIOUS = "AWSPREVIOUS"
GRACE_SECONDS = 24 * 3600  # how long the old key keeps working after a rotation
PROBE = (0.0, 1.0)


class RotationError(RuntimeError):
    """A rotation step failed. The message names the secret and the token, never a value."""


def _stages(sm: Any, secret_id: str) -> dict[str, list[str]]:
    return dict(sm.describe_secret(SecretId=secret_id).get("VersionIdsToStages", {}))


def _token_value(sm: Any, secret_id: str, token: str) -> str:
    # By VersionId alone: on a retry after finishSecret the version is no longer AWSPENDING.
    return str(sm.get_secret_value(SecretId=secret_id, VersionId=token)["SecretString"])


def create_pending(sm: Any, secret_id: str, token: str) -> None:
    """Step 1. Store a new random API key as version ``token`` with the AWSPENDING label."""
    if token in _stages(sm, secret_id):
        log.info("createSecret: version %s of %s already exists; nothing to do", token, secret_id)
        return
    sm.put_secret_value(
        SecretId=secret_id,
        ClientRequestToken=token,
        SecretString=secrets.token_urlsafe(32),  # 256 bits from the OS CSPRNG
        VersionStages=[PENDING],  # not AWSCURRENT: the endpoint does not know it yet
    )
    log.info("createSecret: stored version %s of %s as AWSPENDING", token, secret_id)


def set_pending(sm: Any, secret_id: str, token: str, endpoint: ModelEndpoint) -> None:
    """Step 2. Make ``endpoint`` accept the pending key. Do not revoke the current one."""
    endpoint.add_key(_token_value(sm, secret_id, token))
    log.info("setSecret: endpoint accepts version %s of %s", token, secret_id)


def verify_pending(sm: Any, secret_id: str, token: str, endpoint: ModelEndpoint) -> None:
    """Step 3. Call ``endpoint.predict`` with the pending key; raise if it is refused."""
    try:
        endpoint.predict(_token_value(sm, secret_id, token), PROBE)
    except Unauthorized:
        # "from None": the chained exception is harmless here, but a habit of dropping
        # context keeps client errors that echo request bodies out of tracebacks.
        raise RotationError(
            f"testSecret: the endpoint refused version {token} of {secret_id}; "
            "run setSecret for this token before testing it"
        ) from None
    log.info("testSecret: endpoint answered with version %s of %s", token, secret_id)


def finish_rotation(sm: Any, secret_id: str, token: str) -> None:
    """Step 4. Move AWSCURRENT to version ``token``, and remove AWSPENDING from it."""
    stages = _stages(sm, secret_id)
    if token not in stages:
        raise RotationError(f"finishSecret: {secret_id} has no version {token}")
    current = next((v for v, labels in stages.items() if CURRENT in labels), None)
    if current != token:
        sm.update_secret_version_stage(
            SecretId=secret_id,
            VersionStage=CURRENT,
            MoveToVersionId=token,
            RemoveFromVersionId=current,
        )
    if PENDING in stages[token]:
        sm.update_secret_version_stage(
            SecretId=secret_id, VersionStage=PENDING, RemoveFromVersionId=token
        )
    log.info("finishSecret: version %s of %s is AWSCURRENT", token, secret_id)


def rotate(sm: Any, secret_id: str, token: str, endpoint: ModelEndpoint) -> None:
    """Run the four steps in order, logging each one (secret id and token only)."""
    log.info("rotation of %s with token %s: start", secret_id, token)
    create_pending(sm, secret_id, token)
    set_pending(sm, secret_id, token, endpoint)
    verify_pending(sm, secret_id, token, endpoint)
    finish_rotation(sm, secret_id, token)


def retire_previous(
    sm: Any,
    secret_id: str,
    endpoint: ModelEndpoint,
    clock: Callable[[], float] = time.time,
    grace_seconds: float = GRACE_SECONDS,
) -> bool:
    """Step 5, after the grace period. Revoke the AWSPREVIOUS key at ``endpoint`` once
    ``grace_seconds`` have passed (by ``clock``, in epoch seconds) since the AWSCURRENT
    version was created; return whether it was revoked."""
    versions = sm.list_secret_version_ids(SecretId=secret_id)["Versions"]
    current = next((v for v in versions if CURRENT in v.get("VersionStages", [])), None)
    previous = next((v for v in versions if PREVIOUS in v.get("VersionStages", [])), None)
    if current is None or previous is None:
        log.info("retire: %s has no AWSPREVIOUS version; nothing to do", secret_id)
        return False
    age = clock() - current["CreatedDate"].timestamp()
    if age < grace_seconds:
        log.info(
            "retire: version %s of %s is AWSCURRENT for %.0f s only; the old key "
            "stays until the grace period ends",
            current["VersionId"],
            secret_id,
            age,
        )
        return False
    old = _token_value(sm, secret_id, previous["VersionId"])
    if old == _token_value(sm, secret_id, current["VersionId"]):
        return False  # never revoke the key in use, whatever the labels say
    # A leaked old key stops working here; clients that still held it get Unauthorized
    # and re-read AWSCURRENT (CachedApiKey.call).
    endpoint.revoke_key(old)
    log.info("retire: revoked version %s of %s", previous["VersionId"], secret_id)
    return True


class CachedApiKey:
    """A client-side cache of the endpoint's API key that survives a rotation."""

    def __init__(self, sm: Any, secret_id: str) -> None:
        self._sm = sm
        self._secret_id = secret_id
        self._key: str | None = None

    def get(self) -> str:
        """The cached key, read from Secrets Manager on first use only."""
        return self._key if self._key is not None else self.refresh()

    def refresh(self) -> str:
        """Re-read AWSCURRENT, replace the cached key, return it."""
        response = self._sm.get_secret_value(SecretId=self._secret_id, VersionStage=CURRENT)
        self._key = str(response["SecretString"])
        log.info("read AWSCURRENT of %s (version %s)", self._secret_id, response["VersionId"])
        return self._key

    def call(self, fn: Callable[[str], T]) -> T:
        """Return ``fn(key)``; on :class:`Unauthorized`, refresh once and retry once."""
        try:
            return fn(self.get())
        except Unauthorized:
            log.info("the endpoint refused the cached key of %s; re-reading it", self._secret_id)
        # Exactly one retry, outside the except block so the first failure is not chained.
        return fn(self.refresh())
