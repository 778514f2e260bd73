"""Task 3: k-anonymity by full-domain generalisation plus bounded suppression.

Each quasi-identifier has a ladder of generalisation levels (exact age, 5-year band,
10-year band, …). The search walks the lattice of level combinations from the least
general upwards and stops at the first one where the rows in too-small groups fit in the
suppression budget.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = [
    "LADDERS",
    "KAnonResult",
    "generalize_age",
    "generalize_date",
    "generalize_zip",
    "k_anonymize",
    "k_of",
]


def k_of(table: pd.DataFrame, quasi_identifiers: Sequence[str]) -> int:
    """The size of the smallest group of rows sharing all quasi-identifier values (0 if empty)."""
    if table.empty:
        return 0
    # Only the quasi-identifiers: the sensitive column is what an attacker wants to learn,
    # not what they use to find you.
    return int(table.groupby(list(quasi_identifiers)).size().min())


def generalize_age(age: int, width: int) -> str:
    """The band of ``width`` years holding ``age``: ``generalize_age(37, 10) == "30-39"``."""
    low = int(age) // width * width
    return f"{low}-{low + width - 1}"


def generalize_zip(zip_code: str, keep: int) -> str:
    """The first ``keep`` digits of a 5-digit zip: ``generalize_zip("02139", 3) == "021**"``."""
    digits = str(zip_code).zfill(5)
    return digits[:keep] + "*" * (5 - keep)


def generalize_date(value: Any, unit: str) -> str:
    """``"2024-03-15"`` becomes ``"2024-03"`` for unit ``"month"`` and ``"2024"`` for ``"year"``."""
    ts = pd.Timestamp(value)
    if unit == "month":
        return f"{ts.year:04d}-{ts.month:02d}"
    if unit == "year":
        return f"{ts.year:04d}"
    raise ValueError(f"unit must be 'month' or 'year', not {unit!r}")


LADDERS: dict[str, list[Callable[[Any], str]]] = {
    "age": [
        lambda a: str(int(a)),
        lambda a: generalize_age(a, 5),
        lambda a: generalize_age(a, 10),
        lambda a: generalize_age(a, 20),
        lambda a: "*",
    ],
    "zip": [
        lambda z: str(z).zfill(5),
        lambda z: generalize_zip(z, 4),
        lambda z: generalize_zip(z, 3),
        lambda z: generalize_zip(z, 2),
        lambda z: "*",
    ],
    "visit_date": [
        lambda d: pd.Timestamp(d).strftime("%Y-%m-%d"),
        lambda d: generalize_date(d, "month"),
        lambda d: generalize_date(d, "year"),
        lambda d: "*",
    ],
}


@dataclass(frozen=True)
class KAnonResult:
    table: pd.DataFrame  # generalised, with suppressed rows removed
    levels: dict[str, int]  # the LADDERS level used for each quasi-identifier
    suppressed: int  # how many rows were removed


def k_anonymize(
    table: pd.DataFrame, quasi_identifiers: Sequence[str], k: int, max_suppression: float
) -> KAnonResult:
    """Generalise ``quasi_identifiers`` along ``LADDERS`` until ``table`` is k-anonymous.

    At most ``floor(max_suppression * len(table))`` rows may be suppressed.
    """
    qis = list(quasi_identifiers)
    if k < 1 or not 0 <= max_suppression < 1:
        raise ValueError("need k >= 1 and 0 <= max_suppression < 1")
    missing = [q for q in qis if q not in LADDERS or q not in table.columns]
    if missing:
        raise ValueError(f"no generalisation ladder or no column for {missing}")
    if len(table) < k:
        raise ValueError(f"a table of {len(table)} rows cannot be {k}-anonymous")
    budget = math.floor(max_suppression * len(table))

    cache: dict[tuple[str, int], pd.Series] = {}

    def column(q: str, level: int) -> pd.Series:
        if (q, level) not in cache:
            cache[(q, level)] = table[q].map(LADDERS[q][level])
        return cache[(q, level)]

    lattice = itertools.product(*(range(len(LADDERS[q])) for q in qis))
    # Least total generalisation first: the first node that works loses the least detail.
    for levels in sorted(lattice, key=lambda lv: (sum(lv), lv)):
        generalised = table.copy()
        for q, level in zip(qis, levels, strict=True):
            generalised[q] = column(q, level)
        sizes = generalised.groupby(qis)[qis[0]].transform("size")
        too_small = sizes < k
        if int(too_small.sum()) <= budget:
            return KAnonResult(
                table=generalised[~too_small].reset_index(drop=True),
                levels=dict(zip(qis, levels, strict=True)),
                suppressed=int(too_small.sum()),
            )
    raise AssertionError("unreachable: the all-'*' level is k-anonymous when len(table) >= k")
