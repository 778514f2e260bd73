"""A model endpoint that authenticates callers by API key (given: do not edit).

It stands in for the service whose key task 4 rotates: in production this would be a
model server, an API gateway or a partner's API. It accepts any number of keys at once,
which is what lets a rotation run without downtime: the new key is added before the old
one is retired.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence

__all__ = ["ModelEndpoint", "Unauthorized"]


class Unauthorized(Exception):
    """The endpoint rejected the API key. The message never contains the key."""


class ModelEndpoint:
    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._keys: set[str] = set(keys)

    def add_key(self, key: str) -> None:
        """Start accepting ``key`` (old keys stay valid)."""
        self._keys.add(key)

    def revoke_key(self, key: str) -> None:
        """Stop accepting ``key``; a no-op for an unknown key."""
        self._keys.discard(key)

    def accepts(self, key: str) -> bool:
        # Constant-time comparison: a key check must not leak how many characters matched.
        return any(hmac.compare_digest(key, known) for known in self._keys)

    def predict(self, api_key: str, features: Sequence[float]) -> float:
        """Score one row; raises :class:`Unauthorized` for a key it does not accept."""
        if not self.accepts(api_key):
            raise Unauthorized("the endpoint rejected the API key")
        return round(sum(features) / max(len(features), 1), 6)
