"""Task 4: rotate a model endpoint's API key in Secrets Manager, without downtime.

Secrets Manager keeps versions of a secret and moves *staging labels* between them:
``AWSCURRENT`` is the value clients read, ``AWSPENDING`` is the value being rolled out,
``AWSPREVIOUS`` is the value before the last rotation. A rotation is four steps, each
keyed by a ``token`` (the new version's id) so that a retried step is harmless:

1. ``create_pending``: store a new random key as version ``token``, labelled AWSPENDING.
2. ``set_pending``: make the endpoint accept the pending key (the old key keeps working).
3. ``verify_pending``: call the endpoint with the pending key; raise if it is refused.
4. ``finish_rotation``: move AWSCURRENT to ``token`` (the old version becomes
   AWSPREVIOUS) and take AWSPENDING off.

Then, once every client has had time to pick up the new key:

5. ``retire_previous``: revoke the AWSPREVIOUS key at the endpoint. Until then a leaked
   old key keeps working; a rotation is finished when the old key is dead.

On AWS these steps run inside a rotation Lambda (step 5 in a scheduled job, or at the
start of the next rotation); here they are plain functions, because moto's
``rotate_secret`` cannot run one. Every step may be called again with the same
token (a Lambda is retried) and must then change nothing.

Never put a secret value in a log line or an exception message: log the secret id, the
token and the step.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, TypeVar

from cloudsec.endpoint import ModelEndpoint, Unauthorized  # noqa: F401

__all__ = [
    "CachedApiKey",
    "create_pending",
    "finish_rotation",
    "retire_previous",
    "rotate",
    "set_pending",
    "verify_pending",
]

log = logging.getLogger(__name__)
T = TypeVar("T")

GRACE_SECONDS = 24 * 3600  # how long the old key keeps working after a rotation


def create_pending(sm: Any, secret_id: str, token: str) -> None:
    """Step 1. Store a new random API key as version ``token`` with the AWSPENDING label.

    If version ``token`` already exists, do nothing (the step is being retried). Make the
    key with the ``secrets`` module (at least 32 characters) or ``sm.get_random_password``.
    Pass ``ClientRequestToken=token`` and ``VersionStages=["AWSPENDING"]`` to
    ``put_secret_value``: without the stage the new key becomes AWSCURRENT at once, before
    the endpoint knows it.
    """
    # TODO(student): check for the pending version first, then put_secret_value.
    raise NotImplementedError("TODO(student): implement step 1, create_pending")


def set_pending(sm: Any, secret_id: str, token: str, endpoint: ModelEndpoint) -> None:
    """Step 2. Make ``endpoint`` accept the pending key. Do not revoke the current one."""
    # TODO(student): read version `token` (get_secret_value with VersionId=token) and
    # endpoint.add_key it. Read by VersionId, not by stage: a retry may come after step 4.
    raise NotImplementedError("TODO(student): implement step 2, set_pending")


def verify_pending(sm: Any, secret_id: str, token: str, endpoint: ModelEndpoint) -> None:
    """Step 3. Call ``endpoint.predict`` with the pending key; raise if it is refused.

    Raise an exception whose message names the secret and the token, never the key.
    """
    # TODO(student): a real call with the pending key, not just endpoint.accepts().
    raise NotImplementedError("TODO(student): implement step 3, verify_pending")


def finish_rotation(sm: Any, secret_id: str, token: str) -> None:
    """Step 4. Move AWSCURRENT to version ``token``, and remove AWSPENDING from it.

    If ``token`` is already AWSCURRENT, do nothing. ``describe_secret`` returns
    ``VersionIdsToStages``; ``update_secret_version_stage`` moves one label
    (``MoveToVersionId``, ``RemoveFromVersionId``). Secrets Manager gives AWSPREVIOUS to
    the version that loses AWSCURRENT.
    """
    # TODO(student): find the current version, move the label, remove AWSPENDING.
    raise NotImplementedError("TODO(student): implement step 4, finish_rotation")


def rotate(sm: Any, secret_id: str, token: str, endpoint: ModelEndpoint) -> None:
    """Run the four steps in order, logging each one (secret id and token only)."""
    # TODO(student): call the four steps; log.info one line per step.
    raise NotImplementedError("TODO(student): run the four rotation steps")


def retire_previous(
    sm: Any,
    secret_id: str,
    endpoint: ModelEndpoint,
    clock: Callable[[], float] = time.time,
    grace_seconds: float = GRACE_SECONDS,
) -> bool:
    """Step 5. Revoke the AWSPREVIOUS key at ``endpoint`` once the grace period is over.

    The grace period is ``grace_seconds`` (24 hours by default) from when the AWSCURRENT
    version was created (its ``CreatedDate`` in ``list_secret_version_ids``), measured by
    ``clock()``, which returns the time in epoch seconds like ``time.time``. Before that,
    change nothing and return False; after it, revoke the key AWSPREVIOUS holds and return
    True. Never revoke the AWSCURRENT or AWSPENDING key. With no AWSPREVIOUS version there
    is nothing to retire: return False. Calling it again changes nothing.
    """
    # TODO(student): find AWSCURRENT and AWSPREVIOUS, compare the age with the grace
    # period, then endpoint.revoke_key(...) the previous value.
    raise NotImplementedError("TODO(student): implement step 5, retire_previous")


class CachedApiKey:
    """A client-side cache of the endpoint's API key that survives a rotation.

    Reading Secrets Manager on every request is slow and costs money, so the key is read
    once (``VersionStage="AWSCURRENT"``) and cached. After a rotation the cached key is
    eventually revoked; :meth:`call` then sees :class:`Unauthorized`, re-reads the secret
    once and retries once. A second refusal is raised to the caller: retrying forever
    would hide a real outage.
    """

    def __init__(self, sm: Any, secret_id: str) -> None:
        self._sm = sm
        self._secret_id = secret_id
        # TODO(student): the cache (nothing is read here: no I/O in a constructor).

    def get(self) -> str:
        """The cached key, read from Secrets Manager on first use only."""
        # TODO(student)
        raise NotImplementedError("TODO(student): implement CachedApiKey.get")

    def refresh(self) -> str:
        """Re-read AWSCURRENT, replace the cached key, return it."""
        # TODO(student)
        raise NotImplementedError("TODO(student): implement CachedApiKey.refresh")

    def call(self, fn: Callable[[str], T]) -> T:
        """Return ``fn(key)``; on :class:`Unauthorized`, refresh once and retry once."""
        # TODO(student)
        raise NotImplementedError("TODO(student): implement CachedApiKey.call")
