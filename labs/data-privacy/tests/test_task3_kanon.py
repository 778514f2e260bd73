"""Task 3: k-anonymity by generalisation and bounded suppression.

``kanon`` is your ``privacy_lab.kanon`` in the worker. A table is sent there with
``in_worker`` (a DataFrame crosses as Arrow IPC bytes) and read back with ``here``.
"""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.task(3)

QI = ["age", "zip", "visit_date"]


@pytest.fixture
def kanon(learner, bridge):
    return bridge.plain(learner.module("privacy_lab.kanon"))


def _patients(n: int = 400, seed: int = 11):
    """A clinic table in which almost every row is unique on (age, zip, visit_date)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    prefixes = ["021", "100", "606", "941", "981", "303", "773", "850"]
    return pd.DataFrame(
        {
            "patient": [f"p{i:04d}" for i in range(n)],
            "age": rng.integers(18, 90, n),
            "zip": [f"{rng.choice(prefixes)}{rng.integers(0, 100):02d}" for _ in range(n)],
            "visit_date": pd.to_datetime("2024-01-01")
            + pd.to_timedelta(rng.integers(0, 366, n), unit="D"),
            "diagnosis": rng.choice(["flu", "asthma", "diabetes", "migraine", "fracture"], n),
        }
    )


def _k(table, qis) -> int:
    """The test's own k: the smallest group on the quasi-identifiers only."""
    return int(table.groupby(list(qis)).size().min()) if len(table) else 0


def test_k_of_ignores_the_sensitive_column(kanon, in_worker):
    table = in_worker(
        {
            "age": ["30-39"] * 3 + ["40-49"] * 3,
            "zip": ["021**"] * 3 + ["100**"] * 3,
            "diagnosis": ["flu", "asthma", "flu", "diabetes", "flu", "migraine"],
        }
    )
    got = kanon.k_of(table, ["age", "zip"])
    assert got == 3, (
        f"k_of(table, ['age', 'zip']) returned {got}, expected 3: both groups of quasi-"
        "identifiers hold 3 people. Group on the quasi-identifiers only; the diagnosis is the "
        "secret being protected, not something an attacker links on."
    )


def test_k_of_is_the_smallest_group(kanon, in_worker):
    table = in_worker({"age": [30, 30, 40, 40, 40, 50], "zip": ["a"] * 6})
    got = kanon.k_of(table, ["age", "zip"])
    assert got == 1, f"k_of returned {got}, expected 1: the 50-year-old is alone in their group"


@pytest.mark.parametrize(
    "columns",
    [
        {"age": ["30-39"] * 4, "zip": ["021**"] * 3 + [None]},
        {"age": [34.0, 34.0, 34.0, float("nan")], "zip": ["02139"] * 4},
    ],
    ids=["zip-None", "age-NaN"],
)
def test_k_of_counts_rows_with_a_missing_quasi_identifier(kanon, in_worker, columns):
    got = kanon.k_of(in_worker(columns), ["age", "zip"])
    assert got == 1, (
        f"k_of({columns}, ['age', 'zip']) returned {got}, expected 1: the row with a missing "
        "value is alone in its group ('not recorded' is something an attacker can link on "
        "too). pandas' groupby drops missing keys unless you pass dropna=False, and a row "
        "nobody counted is a row nobody protected."
    )


def test_generalisers_make_aligned_bands_prefixes_and_months(kanon):
    cases = [
        ("generalize_age", (37, 10), "30-39"),
        ("generalize_age", (35, 5), "35-39"),
        ("generalize_age", (7, 10), "0-9"),
        ("generalize_age", (61, 20), "60-79"),
        ("generalize_zip", ("02139", 3), "021**"),
        ("generalize_zip", ("94110", 4), "9411*"),
        ("generalize_date", ("2024-03-15", "month"), "2024-03"),
        ("generalize_date", ("2024-03-15", "year"), "2024"),
    ]
    for name, args, expected in cases:
        got = getattr(kanon, name)(*args)
        assert got == expected, f"{name}{args} returned {got!r}, expected {expected!r}"


def test_result_is_k_anonymous_on_the_quasi_identifiers(kanon, in_worker, here):
    table = _patients()
    for k in (2, 5, 10):
        result = kanon.k_anonymize(in_worker(table), QI, k=k, max_suppression=0.05)
        got = _k(here(result.table), QI)
        assert got >= k, (
            f"k_anonymize(k={k}) returned a table whose smallest group on {QI} has {got} rows; "
            f"every combination of quasi-identifiers must be shared by at least {k} people"
        )


def test_suppression_stays_within_the_budget_and_is_reported(kanon, in_worker, here):
    table = _patients()
    for budget in (0.0, 0.02, 0.1):
        result = kanon.k_anonymize(in_worker(table), QI, k=5, max_suppression=budget)
        dropped = len(table) - len(here(result.table))
        allowed = math.floor(budget * len(table))
        assert dropped <= allowed, (
            f"k_anonymize(k=5, max_suppression={budget}) dropped {dropped} of {len(table)} rows; "
            f"the budget allows {allowed}. Generalise further instead of deleting people."
        )
        reported = result.suppressed
        assert reported == dropped, (
            f"k_anonymize reported suppressed={reported} but {dropped} rows are missing; "
            "dropping rows silently hides bias from whoever uses the table"
        )


def test_suppression_budget_is_rounded_down(kanon, in_worker, here):
    # Four pairs, and two people who match nobody at full detail.
    table = {
        "age": [34, 34, 51, 51, 62, 62, 45, 45, 23, 88],
        "zip": ["02139"] * 2 + ["94110"] * 2 + ["60614"] * 2 + ["10001"] * 2 + ["30301", "98101"],
        "visit_date": ["2024-03-15"] * 2
        + ["2024-07-01"] * 2
        + ["2024-01-20"] * 2
        + ["2024-11-11"] * 2
        + ["2024-05-05", "2024-09-09"],
    }
    result = kanon.k_anonymize(in_worker(table), QI, k=2, max_suppression=0.15)
    dropped = 10 - len(here(result.table))
    assert dropped <= 1, (
        f"k_anonymize(k=2, max_suppression=0.15) on 10 rows dropped {dropped}; 0.15 × 10 is "
        "1.5 people, and half a person cannot be removed, so the budget is floor(1.5) = 1. "
        "Rounding up (or round()) lets the budget remove more people than it allows."
    )


def test_grouping_on_the_sensitive_column_is_not_needed(kanon, in_worker):
    # Already 3-anonymous on the quasi-identifiers; the diagnoses differ inside each group.
    table = in_worker(
        {
            "age": [34, 34, 34, 51, 51, 51],
            "zip": ["02139"] * 3 + ["94110"] * 3,
            "visit_date": ["2024-03-15"] * 3 + ["2024-07-01"] * 3,
            "diagnosis": ["flu", "asthma", "migraine", "flu", "diabetes", "fracture"],
        }
    )
    result = kanon.k_anonymize(table, QI, k=3, max_suppression=0.0)
    levels, suppressed = result.levels, result.suppressed
    assert levels == {"age": 0, "zip": 0, "visit_date": 0} and suppressed == 0, (
        f"k_anonymize(k=3) on a table that is already 3-anonymous returned levels "
        f"{levels} and suppressed {suppressed}; expected no generalisation. "
        "Did you group on the diagnosis too? It is the sensitive value, not a quasi-identifier."
    )


def test_sensitive_and_other_columns_are_untouched(kanon, in_worker, here):
    table = _patients()
    result = here(kanon.k_anonymize(in_worker(table), QI, k=5, max_suppression=0.05).table)
    kept = table.set_index("patient").loc[result["patient"]]
    assert result["diagnosis"].tolist() == kept["diagnosis"].tolist(), (
        "k_anonymize changed the diagnosis column; generalise only the quasi-identifiers"
    )
    assert set(result.columns) == set(table.columns), (
        f"k_anonymize returned columns {sorted(result.columns)}, expected {sorted(table.columns)}"
    )


def test_does_not_generalise_more_than_needed(kanon, in_worker, here):
    table = _patients()
    result = kanon.k_anonymize(in_worker(table), QI, k=5, max_suppression=0.05)
    generalised = here(result.table)
    stars = [q for q in QI if (generalised[q].astype(str) == "*").all()]
    groups = generalised.groupby(QI).ngroups
    assert len(stars) < len(QI) and groups >= 8, (
        f"k_anonymize(k=5) kept only {groups} distinct quasi-identifier groups (levels "
        f"{result.levels}); a table that says nothing is k-anonymous but useless. Search the "
        "levels from the least general upwards and stop at the first that works."
    )


def test_levels_are_searched_least_general_first(kanon, in_worker):
    # Pairs that share a 5-year band, a 4-digit zip and a month. People of the same exact
    # age live far apart in different years, so keeping exact ages costs the whole zip and
    # date: (0, 4, 3), a total of 7, against (1, 1, 1), a total of 3.
    table = {
        "age": [30, 31, 30, 31, 40, 41, 40, 41],
        "zip": ["02139", "02138", "94110", "94111", "60614", "60615", "30301", "30302"],
        "visit_date": [
            "2024-03-15",
            "2024-03-16",
            "2023-07-01",
            "2023-07-02",
            "2024-05-10",
            "2024-05-11",
            "2022-09-20",
            "2022-09-21",
        ],
        "diagnosis": ["flu", "asthma", "flu", "migraine", "flu", "fracture", "asthma", "flu"],
    }
    levels = kanon.k_anonymize(in_worker(table), QI, k=2, max_suppression=0.0).levels
    expected = {"age": 1, "zip": 1, "visit_date": 1}
    assert levels == expected, (
        f"k_anonymize(k=2) chose levels {levels} (total {sum(levels.values())}), but "
        f"{expected} (total 3) already makes every group at least 2. Every level you climb is "
        "detail the table's users lose: try the combinations sorted by their total level, "
        "and stop at the first that works."
    )


def test_impossible_request_raises_instead_of_returning_nothing(kanon, in_worker):
    table = in_worker(_patients(n=4))
    with pytest.raises(ValueError):
        kanon.k_anonymize(table, QI, k=5, max_suppression=0.5)
