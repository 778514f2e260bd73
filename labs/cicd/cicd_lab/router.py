"""Task 3: a sticky, weighted traffic router for a canary.

``Router(canary_weight=25).route("user-42")`` returns ``"canary"`` for about 25 % of users
and ``"baseline"`` for the rest. A user must always get the same answer: in this
process, in another process, on another replica, after a restart.
"""

from __future__ import annotations

__all__ = ["BASELINE", "BUCKETS", "CANARY", "Router", "bucket"]

CANARY = "canary"
BASELINE = "baseline"
BUCKETS = 100


def bucket(user_id: str, salt: str = "canary") -> int:
    """A bucket in ``range(BUCKETS)``, the same for the same (salt, user) everywhere."""
    # TODO(student): derive the bucket from a hash of salt and user id. Which hash
    # functions give the same answer in every process?
    raise NotImplementedError("TODO(student): hash the user id into a stable bucket")


class Router:
    def __init__(self, canary_weight: int, salt: str = "canary") -> None:
        """``canary_weight`` is the percentage of users sent to the canary, 0 to 100.

        Raises ValueError for a weight outside 0..100.
        """
        # TODO(student): validate and store the weight.
        raise NotImplementedError("TODO(student): validate the weight")

    def route(self, user_id: str) -> str:
        """``"canary"`` or ``"baseline"`` for this user.

        Weight 0 sends nobody and 100 sends everybody to the canary, and raising the
        weight must only ever move users from baseline to canary.
        """
        # TODO(student): compare the user's bucket with the weight.
        raise NotImplementedError("TODO(student): route the user by bucket")
