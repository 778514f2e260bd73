"""Task 2: pseudonymise identifiers with keyed HMAC tokens.

A plain SHA-256 of a phone number looks random, but anyone can hash every phone number
in an area code (10**6 of them take about a second) and look yours up. A keyed HMAC is
different: without the key nobody can compute a token from a guess. The same value and
the same key always give the same token, so pseudonymised tables still join.

The key comes from the environment (in production, from a secret manager), never from a
literal in the code.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence

import pandas as pd

__all__ = [
    "ENV_VAR",
    "MIN_KEY_BYTES",
    "Pseudonymizer",
    "normalize",
    "pseudonymize_table",
    "rekey_table",
]

ENV_VAR = "PRIVACY_LAB_KEY"
MIN_KEY_BYTES = 32


def normalize(value: str) -> str:
    """The canonical form that is tokenised: NFKC, outer whitespace stripped, case-folded.

    Without it ``" Ana@Example.org"`` and ``"ana@example.org"`` get different tokens, and
    the join between two systems that spell the same email differently silently fails.
    """
    return unicodedata.normalize("NFKC", value).strip().casefold()


class Pseudonymizer:
    """Turns identifiers into keyed tokens."""

    def __init__(self, key: bytes) -> None:
        """Keep ``key``; raise ValueError if it is shorter than ``MIN_KEY_BYTES`` bytes."""
        # TODO(student): validate and store the key.
        raise NotImplementedError("TODO(student): implement Pseudonymizer.__init__")

    @classmethod
    def from_env(cls, var: str = ENV_VAR) -> Pseudonymizer:
        """Build a Pseudonymizer from the key in the environment variable ``var`` (UTF-8).

        If the variable is missing or empty, raise (KeyError is fine). Never fall back to a
        default key: a key written in the code is a key everyone with the repo has.
        """
        # TODO(student): read the key from os.environ.
        raise NotImplementedError("TODO(student): implement Pseudonymizer.from_env")

    def token(self, value: str) -> str:
        """The hex HMAC-SHA256 token of ``normalize(value)`` under this key."""
        # TODO(student): hmac.new(key, data, hashlib.sha256).hexdigest()
        raise NotImplementedError("TODO(student): implement Pseudonymizer.token")

    # TODO(student): make sure repr() of a Pseudonymizer does not show the key.


def pseudonymize_table(
    table: pd.DataFrame, columns: Sequence[str], pseudonymizer: Pseudonymizer
) -> pd.DataFrame:
    """A copy of ``table`` with each of ``columns`` replaced by its tokens.

    Missing values (None and NaN alike: test with ``pd.isna``) stay missing. A token of the
    string "None" or "nan" would give every unknown row one shared token, which any join
    then matches with every other unknown row.
    """
    # TODO(student): map each value of each column to its token; do not change ``table``.
    raise NotImplementedError("TODO(student): implement pseudonymize_table")


def rekey_table(
    table: pd.DataFrame,
    columns: Sequence[str],
    old: Pseudonymizer,
    new: Pseudonymizer,
    known_values: Iterable[str],
) -> pd.DataFrame:
    """Re-issue the tokens of ``columns`` (made with ``old``) under the ``new`` key.

    An HMAC cannot be reversed, so rotation goes back to the source of truth:
    ``known_values`` are the raw identifiers. Map ``old.token(v)`` to ``new.token(v)`` for
    each of them, and raise ValueError if the table holds a token that maps to nothing
    (leaving it under the retired key would silently break joins). Missing values stay
    missing; ``table`` is not changed.
    """
    # TODO(student): build the old-token -> new-token map and apply it.
    raise NotImplementedError("TODO(student): implement rekey_table")
