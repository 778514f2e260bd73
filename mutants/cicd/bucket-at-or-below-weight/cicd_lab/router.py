"""Task 3: a sticky, weighted traffic router for a canary.

``Router(canary_weight=25).route("user-42")`` returns ``"canary"`` for about 25 % of users
and ``"baseline"`` for the rest. A user always gets the same answer, in every process and
on every replica, because the decision is a stable hash of the user id, not a coin flip.
"""

from __future__ import annotations

import hashlib

__all__ = ["BASELINE", "BUCKETS", "CANARY", "Router", "bucket"]

CANARY = "canary"
BASELINE = "baseline"
BUCKETS = 100


def bucket(user_id: str, salt: str = "canary") -> int:
    """A bucket in ``range(BUCKETS)``, the same for the same (salt, user) everywhere."""
    # hashlib, not hash(): Python salts str hashes per process (PYTHONHASHSEED), so two
    # replicas would disagree about the same user. 64 bits make the modulo bias negligible.
    digest = hashlib.sha256(f"{salt}:{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS


class Router:
    def __init__(self, canary_weight: int, salt: str = "canary") -> None:
        if isinstance(canary_weight, bool) or not isinstance(canary_weight, int):
            raise TypeError(f"canary_weight must be an int percentage, got {canary_weight!r}")
        if not 0 <= canary_weight <= BUCKETS:
            raise ValueError(f"canary_weight must be within 0..100, got {canary_weight}")
        self.canary_weight = canary_weight
        self.salt = salt

    def route(self, user_id: str) -> str:
        # Buckets below the weight go to the canary: 0 sends nobody, 100 sends everybody,
        # and raising the weight only ever moves users from baseline to canary.
        return CANARY if bucket(user_id, self.salt) <= self.canary_weight else BASELINE
