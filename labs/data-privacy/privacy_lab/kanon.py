"""Task 3: k-anonymity by full-domain generalisation plus bounded suppression.

A table is k-anonymous when every combination of quasi-identifier values (age, zip,
visit date: things an attacker can learn elsewhere and link on) is shared by at least k
rows. You get there by generalising: exact age -> 5-year band -> 10-year band …, and by
suppressing (removing) the few rows that still stand out, within a stated budget.

Each quasi-identifier has a ladder of levels in ``LADDERS``. Search the combinations of
levels from the least general upwards and stop at the first one that works.
"""

from __future__ import annotations

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
    """The size of the smallest group of rows sharing all quasi-identifier values.

    Return 0 for an empty table. Group on the quasi-identifiers only: the sensitive column
    (a diagnosis, a salary) is what must stay hidden, not what an attacker links on. A row
    with a missing quasi-identifier is in a group too (pandas' groupby drops it by default).
    """
    # TODO(student): group by the quasi-identifiers and take the smallest group size.
    raise NotImplementedError("TODO(student): implement k_of")


def generalize_age(age: int, width: int) -> str:
    """The band of ``width`` years holding ``age``, aligned to multiples of ``width``.

    ``generalize_age(37, 10) == "30-39"``, ``generalize_age(35, 5) == "35-39"``.
    """
    # TODO(student)
    raise NotImplementedError("TODO(student): implement generalize_age")


def generalize_zip(zip_code: str, keep: int) -> str:
    """Keep the first ``keep`` digits of a 5-digit zip and star the rest.

    ``generalize_zip("02139", 3) == "021**"``.
    """
    # TODO(student)
    raise NotImplementedError("TODO(student): implement generalize_zip")


def generalize_date(value: Any, unit: str) -> str:
    """Cut a date to its month or year.

    ``generalize_date("2024-03-15", "month") == "2024-03"``, and ``"2024"`` for ``"year"``.
    """
    # TODO(student): pd.Timestamp(value) parses strings, dates and timestamps.
    raise NotImplementedError("TODO(student): implement generalize_date")


# Level 0 is the exact value; the last level says nothing at all.
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

    - Try every combination of levels (``itertools.product``), least total level first.
    - For each, generalise the quasi-identifier columns (other columns stay as they are),
      and count the rows that sit in groups smaller than k.
    - The first combination whose count fits in ``floor(max_suppression * len(table))``
      wins: drop those rows and report how many went.
    - Raise ValueError if no answer exists (a table with fewer than k rows).
    """
    # TODO(student): search the lattice of levels; never drop more rows than the budget.
    raise NotImplementedError("TODO(student): implement k_anonymize")
