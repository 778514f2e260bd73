"""Task 4: Parquet partitioned by event_date, idempotent and incremental."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.task(4)


def _write(lab: Any, source: str, path: Path, what: str) -> None:
    """write_partitioned() of the Parquet table at ``source`` into ``path``."""

    def run() -> None:
        lab.module("output").write_partitioned(lab.load(source), str(path))
        lab.bridge.share(str(path))

    lab.attempt(f"etl_lab.output.write_partitioned({what}, path)", run).get()


@pytest.fixture
def out(lab: Any) -> Path:
    """A new table folder in the shared folder."""
    return Path(lab.out("table")) / "events"


def _subset(oracle: Any, where: str, name: str) -> str:
    return oracle.to_parquet(f"SELECT * FROM dedup WHERE {where}", name)


def _counts_written(oracle: Any, path: Path) -> dict[str, int]:
    """Rows per event_date as DuckDB reads the table back from disk."""
    files = list(oracle.plain(path).glob("event_date=*/*.parquet"))
    if not files:
        return {}
    df = oracle.df(
        f"SELECT strftime(event_date, '%Y-%m-%d') AS d, count(*) AS n "
        f"FROM read_parquet('{path}/event_date=*/*.parquet', hive_partitioning = true) "
        "GROUP BY ALL"
    )
    return dict(zip(df["d"], df["n"].astype(int), strict=True))


def _counts_expected(oracle: Any, where: str = "TRUE") -> dict[str, int]:
    df = oracle.df(
        f"SELECT strftime(event_date, '%Y-%m-%d') AS d, count(*) AS n FROM dedup "
        f"WHERE {where} GROUP BY ALL"
    )
    return dict(zip(df["d"], df["n"].astype(int), strict=True))


def _diff(got: dict[str, int], want: dict[str, int]) -> dict[str, tuple[int | None, int | None]]:
    """{date: (rows written, rows expected)} for the dates that differ."""
    dates = sorted(set(got) | set(want))
    return {d: (got.get(d), want.get(d)) for d in dates if got.get(d) != want.get(d)}


def _snapshot(path: Path) -> dict[str, tuple[int, int]]:
    return {
        str(p.relative_to(path)): (p.lstat().st_mtime_ns, p.lstat().st_size)
        for p in path.glob("event_date=*/*.parquet")
    }


def _dates(oracle: Any) -> list[str]:
    return list(
        oracle.df("SELECT DISTINCT strftime(event_date, '%Y-%m-%d') AS d FROM dedup ORDER BY d")[
            "d"
        ]
    )


def test_output_is_partitioned_by_event_date(
    deduped_events: str, oracle: Any, lab: Any, out: Path
) -> None:
    _write(lab, deduped_events, out, "events")
    dirs = sorted(p.name for p in out.glob("*") if p.is_dir())
    want_dirs = [f"event_date={d}" for d in _dates(oracle)]
    assert dirs == want_dirs, (
        f"write_partitioned() created the folders {dirs[:3]}... ({len(dirs)}); expected one "
        f"folder per date, {want_dirs[:3]}... ({len(want_dirs)}). Use "
        ".partitionBy('event_date') so a reader that wants one day opens one folder."
    )
    got = _counts_written(oracle, out)
    want = _counts_expected(oracle)
    assert got == want, (
        "Rows per event_date read back from the Parquet files differ from the input: "
        f"{_diff(got, want)}"
    )


def test_rerun_is_idempotent_not_append(
    deduped_events: str, oracle: Any, lab: Any, out: Path
) -> None:
    _write(lab, deduped_events, out, "events")
    _write(lab, deduped_events, out, "the same events again")
    got = sum(_counts_written(oracle, out).values())
    want = sum(_counts_expected(oracle).values())
    assert got == want, (
        f"After writing the same {want} events twice, the table holds {got} rows. A rerun "
        "(after a crash, or a retry by the scheduler) must leave the same result as one "
        "run: overwrite the partitions you write, never append."
    )


def test_static_overwrite_does_not_delete_other_partitions(
    oracle: Any, lab: Any, out: Path
) -> None:
    dates = _dates(oracle)
    cut = dates[len(dates) // 2]
    first = _subset(oracle, f"event_date <= DATE '{cut}'", "first-half")
    _write(lab, first, out, "first half")
    # A rerun of the cut day (with half of its rows, say after more dedup) plus new days.
    second = _subset(
        oracle,
        f"event_date > DATE '{cut}' OR (event_date = DATE '{cut}' AND source_offset % 2 = 0)",
        "second-half",
    )
    _write(lab, second, out, "second half")
    got = _counts_written(oracle, out)
    want = _counts_expected(oracle, f"event_date <> DATE '{cut}' OR source_offset % 2 = 0")
    lost = sorted(d for d in want if d < cut and d not in got)
    assert not lost, (
        f"After writing the days up to {cut} and then the days from {cut} on, the partitions "
        f"{lost[:3]}... ({len(lost)}) are gone. mode('overwrite') alone is a *static* overwrite: "
        "it deletes the whole table first. Set partitionOverwriteMode to 'dynamic' so only "
        "the partitions present in the DataFrame are replaced."
    )
    assert got == want, (
        "Rows per event_date after the second write (expected: old days untouched, the "
        f"rewritten day {cut} replaced, new days added): "
        f"{_diff(got, want)}"
    )


def test_incremental_run_touches_only_new_partitions(oracle: Any, lab: Any, out: Path) -> None:
    dates = _dates(oracle)
    cut = dates[-4]
    _write(lab, _subset(oracle, f"event_date < DATE '{cut}'", "old-days"), out, "old days")
    before = _snapshot(out)
    _write(lab, _subset(oracle, f"event_date >= DATE '{cut}'", "new-days"), out, "new days")
    after = _snapshot(out)
    changed = sorted(f for f in before if after.get(f) != before[f])
    assert not changed, (
        f"Writing only the days from {cut} on rewrote or deleted {len(changed)} files of "
        f"older partitions, e.g. {changed[:2]}. An incremental run must leave the partitions "
        "it does not write alone: that is what makes a daily job cheap and safe."
    )
    new_dirs = {f.split("/")[0] for f in after} - {f.split("/")[0] for f in before}
    assert new_dirs == {f"event_date={d}" for d in dates[-4:]}, (
        f"The incremental run added the partitions {sorted(new_dirs)}; expected the four "
        f"newest days {dates[-4:]}."
    )
