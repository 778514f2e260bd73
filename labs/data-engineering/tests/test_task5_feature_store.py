"""Task 5: a Feast feature store over the ETL output, offline (training) and online."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

pytestmark = [
    pytest.mark.task(5),
    # Feast's Dask-based file store emits pandas deprecation notices that are not ours.
    pytest.mark.filterwarnings("ignore::FutureWarning"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

TTL = timedelta(days=3)
# Thirty hours after the last event (the log ends at 2024-03-29 00:00), so every value
# still inside the TTL is more than a day old: a materialize window shorter than the TTL
# misses them. Half a second past the minute: no event sits exactly on a boundary.
ONLINE_AT = datetime(2024, 3, 30, 6, 0, 0, 500_000, tzinfo=UTC)
FEATURES = ("user_events_7d", "user_amount_7d")


@pytest.fixture(scope="module")
def feature_source(oracle: Any, shared: Path) -> Path:
    """The features table laid out like the ETL output: Parquet partitioned by event_date."""
    path = shared / "in" / "feature_source" / "events"
    path.parent.mkdir()
    oracle.db.execute(
        f"""
        COPY (SELECT event_id, user_id, event_ts, user_events_7d, user_amount_7d, event_date
              FROM features)
        TO '{path}' (FORMAT parquet, PARTITION_BY (event_date))
        """
    )
    return path


@pytest.fixture(scope="module")
def labels(oracle: Any) -> pd.DataFrame:
    """Entity rows to build a training set for: (user_id, event_timestamp, label)."""
    rng = random.Random(11)
    users = sorted(oracle.df("SELECT DISTINCT user_id FROM features")["user_id"].astype(int))
    firsts = oracle.df("SELECT user_id, min(event_ts) AS first FROM features GROUP BY ALL")
    start = datetime(2024, 3, 1, tzinfo=UTC)
    rows = [
        (
            rng.choice(users),
            start + timedelta(seconds=rng.randrange(30 * 86_400), microseconds=500_000),
        )
        for _ in range(150)
    ]
    # Before the user's first event: no feature value exists yet.
    rows += [
        (int(r.user_id), r.first.to_pydatetime() - timedelta(hours=5, microseconds=500_000))
        for r in firsts.head(6).itertuples()
    ]
    # Long after the data ends: every value is older than the TTL.
    rows += [(u, datetime(2024, 4, 9, 8, 0, 0, 500_000, tzinfo=UTC)) for u in users[:5]]
    # The same (user, timestamp) twice, with different labels.
    rows += rows[:6]
    rng.shuffle(rows)
    return pd.DataFrame(
        {
            "user_id": pd.Series([u for u, _ in rows], dtype="int64"),
            "event_timestamp": pd.to_datetime([t for _, t in rows], utc=True),
            "label": range(len(rows)),
        }
    )


@pytest.fixture(scope="module")
def expected(oracle: Any, labels: pd.DataFrame) -> pd.DataFrame:
    """Point-in-time answer: the latest feature row in [t - TTL, t] for each label row."""
    oracle.db.register("labels", labels)
    return oracle.df(
        f"""
        SELECT l.label,
               arg_max(f.user_events_7d, f.event_ts) AS user_events_7d,
               arg_max(f.user_amount_7d, f.event_ts) AS user_amount_7d,
               bool_or(f.event_ts IS NOT NULL) AS in_ttl,
               (SELECT arg_max(a.user_events_7d, a.event_ts) FROM features a
                 WHERE a.user_id = l.user_id) AS latest_ever
        FROM labels l
        LEFT JOIN features f
          ON f.user_id = l.user_id
         AND f.event_ts <= l.event_timestamp
         AND f.event_ts >= l.event_timestamp - INTERVAL {int(TTL.total_seconds())} SECOND
        GROUP BY l.label, l.user_id, l.event_timestamp
        ORDER BY l.label
        """
    ).set_index("label")


@pytest.fixture(scope="module")
def repo(lab: Any) -> Path:
    """The Feast repo folder, in the shared folder: the worker writes it, the tests read it."""
    return Path(lab.out("feast_repo"))


@pytest.fixture(scope="module")
def store(feature_source: Path, repo: Path, lab: Any) -> Any:
    def build() -> Any:
        store = lab.module("feature_store").build_store(str(repo), str(feature_source))
        lab.bridge.share(str(repo))
        return store

    return lab.attempt("etl_lab.feature_store.build_store(repo_dir, source_path)", build)


def _ipc(table: pd.DataFrame) -> bytes:
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, arrow.schema) as writer:
        writer.write_table(arrow)
    return bytes(sink.getvalue().to_pybytes())


def _pandas(data: Any, what: str) -> pd.DataFrame:
    assert type(data) is bytes, f"etl_bridge.ipc({what}) returned {type(data).__name__}"
    return pa.ipc.open_stream(data).read_all().to_pandas()


@pytest.fixture(scope="module")
def training(store: Any, labels: pd.DataFrame, lab: Any) -> Any:
    def run() -> pd.DataFrame:
        bridge = lab.bridge
        entity_df = bridge.frame(_ipc(labels))
        result = lab.module("feature_store").training_set(store.get(), entity_df)
        return _pandas(bridge.ipc(result), "training_set(...)")

    return lab.attempt("etl_lab.feature_store.training_set(store, entity_df)", run)


def _value(x: Any) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) or x is pd.NA else float(x)


def _pair(df: pd.DataFrame, key: Any) -> tuple[float | None, float | None]:
    return (_value(df.at[key, "user_events_7d"]), _value(df.at[key, "user_amount_7d"]))


def _check_columns(df: pd.DataFrame) -> None:
    missing = {"user_id", "event_timestamp", "label", *FEATURES} - set(df.columns)
    assert not missing, f"training_set() returned columns {list(df.columns)}; missing {missing}."


def test_training_set_keeps_every_entity_row(training: Any, labels: pd.DataFrame) -> None:
    got = training.get()
    _check_columns(got)
    assert len(got) == len(labels), (
        f"training_set() returned {len(got)} rows for {len(labels)} entity rows. Feast's file "
        "offline store silently drops rows whose user has data, but none within the TTL "
        "before the row's timestamp, and collapses repeated (user_id, timestamp) rows. "
        "Compare the counts, and restore the missing rows (with null features) by joining "
        "the result back onto your entity rows."
    )
    assert list(got["label"]) == list(labels["label"]), (
        "training_set() returned the entity rows in a different order (compare the label "
        "column). Labels and features must stay aligned row by row: return the rows in the "
        "order they came in."
    )


def test_training_set_does_not_leak_future_values(training: Any, expected: pd.DataFrame) -> None:
    got = training.get()
    _check_columns(got)
    got = got.drop_duplicates("label").set_index("label")
    known = expected[expected["in_ttl"]]
    wrong = [
        f"label {lbl}: got user_events_7d={_value(got.at[lbl, 'user_events_7d'])}, expected "
        f"{_value(row.user_events_7d)}"
        for lbl, row in known.iterrows()
        if lbl in got.index
        and (
            _value(got.at[lbl, "user_events_7d"]) != _value(row.user_events_7d)
            or not math.isclose(
                _value(got.at[lbl, "user_amount_7d"]) or 0.0, _value(row.user_amount_7d) or 0.0
            )
        )
    ]
    leaks = sum(
        1
        for lbl, row in known.iterrows()
        if lbl in got.index
        and _value(got.at[lbl, "user_events_7d"]) == _value(row.latest_ever)
        and _value(row.latest_ever) != _value(row.user_events_7d)
    )
    assert not wrong, (
        f"{len(wrong)} of {len(known)} rows have features other than the latest value known "
        f"at the row's timestamp, e.g. {wrong[:2]}"
        + (f"; {leaks} of them hold the user's latest value ever, from the future" if leaks else "")
        + ". A plain join on user_id hands the model values it could not have seen at "
        "prediction time; use Feast's point-in-time join, get_historical_features()."
    )


def test_ttl_is_respected(training: Any, expected: pd.DataFrame) -> None:
    got = training.get()
    _check_columns(got)
    got = got.drop_duplicates("label").set_index("label")
    stale = expected[~expected["in_ttl"]]
    assert len(stale) > 5, "test data must contain rows without a value inside the TTL"
    filled = [
        lbl
        for lbl in stale.index
        if lbl in got.index and _value(got.at[lbl, "user_events_7d"]) is not None
    ]
    assert not filled, (
        f"{len(filled)} of {len(stale)} rows got feature values although the user's latest "
        "value is older than the 3-day TTL, or does not exist yet at the row's timestamp "
        f"(labels {filled[:4]}). Those rows must keep null features: a stale value is "
        "wrong in a way the model cannot see."
    )


@pytest.fixture(scope="module")
def online(store: Any, oracle: Any, lab: Any, repo: Path) -> Any:
    """materialize(store, ONLINE_AT), then online_features(store, every user): a DataFrame."""
    users = sorted(oracle.df("SELECT DISTINCT user_id FROM features")["user_id"].astype(int))

    def run() -> pd.DataFrame:
        module = lab.module("feature_store")
        fs = store.get()
        module.materialize(fs, lab.bridge.when(ONLINE_AT.isoformat()))
        lab.bridge.share(str(repo))
        got = module.online_features(fs, [int(u) for u in users])
        return _pandas(lab.bridge.ipc(got), "online_features(...)")

    return lab.attempt("etl_lab.feature_store.materialize + online_features(store, users)", run)


@pytest.fixture(scope="module")
def latest_within_ttl(oracle: Any) -> pd.DataFrame:
    return oracle.df(
        f"""
        SELECT u.user_id,
               arg_max(f.user_events_7d, f.event_ts) AS user_events_7d,
               arg_max(f.user_amount_7d, f.event_ts) AS user_amount_7d
        FROM (SELECT DISTINCT user_id FROM features) u
        LEFT JOIN features f
          ON f.user_id = u.user_id
         AND f.event_ts <= TIMESTAMPTZ '{ONLINE_AT.isoformat()}'
         AND f.event_ts >= TIMESTAMPTZ '{(ONLINE_AT - TTL).isoformat()}'
        GROUP BY u.user_id
        """
    ).set_index("user_id")


def _online_mismatches(got: pd.DataFrame, want: pd.DataFrame) -> list[str]:
    return [
        f"user {u}: online {_pair(got, u) if u in got.index else 'missing'}, "
        f"offline {(_value(row.user_events_7d), _value(row.user_amount_7d))}"
        for u, row in want.iterrows()
        if u not in got.index
        or _value(got.at[u, "user_events_7d"]) != _value(row.user_events_7d)
        or not math.isclose(
            _value(got.at[u, "user_amount_7d"]) or 0.0, _value(row.user_amount_7d) or 0.0
        )
    ]


def test_online_features_equal_latest_offline_values(
    online: Any, latest_within_ttl: pd.DataFrame
) -> None:
    got = online.get()
    _check_columns(got.assign(event_timestamp=None, label=None))
    want = latest_within_ttl
    wrong = _online_mismatches(got.set_index("user_id"), want)
    assert not wrong, (
        f"After materializing up to {ONLINE_AT}, {len(wrong)} of {len(want)} users are served "
        f"online values that differ from the latest offline value within the TTL: {wrong[:3]}. "
        "Training and serving must see the same features, or the model meets different data "
        "in production (training/serving skew)."
    )


def test_online_store_itself_holds_the_latest_values(
    online: Any, latest_within_ttl: pd.DataFrame, repo: Path
) -> None:
    """The tests' own Feast client reads the online store your materialize() filled."""
    online.get()
    from feast import FeatureStore, RepoConfig
    from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig

    for name in ("registry.db", "online.db"):
        assert (repo / name).is_file(), (
            f"The Feast repo has no {name}; build_store() must keep the registry at "
            f"<repo_dir>/registry.db and the online store at <repo_dir>/online.db."
        )
    config = RepoConfig(
        project="etl_lab",
        provider="local",
        registry=str(repo / "registry.db"),
        online_store=SqliteOnlineStoreConfig(path=str(repo / "online.db")),
        offline_store={"type": "file"},
        entity_key_serialization_version=3,
        repo_path=repo,
    )
    users = [int(u) for u in latest_within_ttl.index]
    got = (
        FeatureStore(config=config)
        .get_online_features(
            features=[f"user_activity:{name}" for name in FEATURES],
            entity_rows=[{"user_id": u} for u in users],
        )
        .to_df()
        .set_index("user_id")
    )
    wrong = _online_mismatches(got, latest_within_ttl)
    assert not wrong, (
        f"Read with Feast's own client, the online store serves values that differ from the "
        f"latest offline value within the TTL for {len(wrong)} users: {wrong[:3]}. What "
        "online_features() returns must be what the store really holds: a model server "
        "reads the store, not your function's return value."
    )
