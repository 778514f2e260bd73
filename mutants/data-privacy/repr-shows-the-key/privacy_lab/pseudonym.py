"""Task 2: pseudonymise identifiers with keyed HMAC tokens.

A token is HMAC-SHA256(key, normalised value). The same value gives the same token in
every table, so tables still join; without the key nobody can recompute a token from a
guess, which is exactly what breaks a plain hash of a phone number or an email.
"""

from __future__ import annotations

import hashlib
import hmac
import os
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
    """The canonical form that is tokenised: NFKC, outer whitespace stripped, case-folded."""
    return unicodedata.normalize("NFKC", value).strip().casefold()


class Pseudonymizer:
    """Turns identifiers into keyed tokens. Build it from a secret, never from a literal."""

    def __init__(self, key: bytes) -> None:
        if len(key) < MIN_KEY_BYTES:
            raise ValueError(
                f"the HMAC key has {len(key)} bytes; use at least {MIN_KEY_BYTES} random bytes "
                "(python -c 'import secrets; print(secrets.token_hex(32))')"
            )
        self._key = key

    @classmethod
    def from_env(cls, var: str = ENV_VAR) -> Pseudonymizer:
        """Read the key from the environment variable ``var``; fail loudly if it is not set."""
        value = os.environ.get(var)
        if not value:
            # No fallback key: a default in code is a key every reader of the repo has.
            raise KeyError(f"set {var} to a secret of at least {MIN_KEY_BYTES} characters")
        return cls(value.encode("utf-8"))

    def token(self, value: str) -> str:
        """The hex HMAC-SHA256 token of ``normalize(value)``."""
        data = normalize(value).encode("utf-8")
        return hmac.new(self._key, data, hashlib.sha256).hexdigest()

    def __repr__(self) -> str:
        return f"Pseudonymizer(key={self._key!r})"


def _tokenise(series: pd.Series, p: Pseudonymizer) -> pd.Series:
    # Missing stays missing: a token of "None" or "nan" would join every unknown row
    # to every other one.
    return series.map(lambda v: p.token(str(v)) if pd.notna(v) else None)


def pseudonymize_table(
    table: pd.DataFrame, columns: Sequence[str], pseudonymizer: Pseudonymizer
) -> pd.DataFrame:
    """A copy of ``table`` with each of ``columns`` replaced by its tokens."""
    out = table.copy()
    for column in columns:
        out[column] = _tokenise(out[column], pseudonymizer)
    return out


def rekey_table(
    table: pd.DataFrame,
    columns: Sequence[str],
    old: Pseudonymizer,
    new: Pseudonymizer,
    known_values: Iterable[str],
) -> pd.DataFrame:
    """Re-issue the tokens of ``columns`` under ``new``.

    An HMAC cannot be reversed, so rotation goes back to the source of truth: every raw
    identifier (``known_values``) is tokenised under both keys to map old tokens to new
    ones. A token that maps to nothing is an error; leaving it under the retired key
    would silently break joins.
    """
    mapping = {}
    for value in known_values:
        mapping[old.token(value)] = new.token(value)
    out = table.copy()
    for column in columns:
        present = out[column].dropna()
        unknown = set(present) - mapping.keys()
        if unknown:
            raise ValueError(
                f"{len(unknown)} token(s) in column {column!r} match none of the known values; "
                "re-key from a complete source of truth"
            )
        out[column] = out[column].map(lambda t: mapping[t] if pd.notna(t) else None)
    return out
