"""Task 5: serve the ETL features to training (offline) and to inference (online) with Feast."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from feast import Entity, FeatureStore, FeatureView, Field, FileSource, RepoConfig, ValueType
from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig
from feast.types import Float64, Int64

log = logging.getLogger(__name__)

PROJECT = "etl_lab"
FEATURE_VIEW = "user_activity"
FEATURE_COLUMNS = ("user_events_7d", "user_amount_7d")
FEATURES = [f"{FEATURE_VIEW}:{name}" for name in FEATURE_COLUMNS]
# A value older than this is stale: better no feature than last month's.
TTL = timedelta(days=3)


def build_store(repo_dir: str | Path, source_path: str | Path) -> FeatureStore:
    """Create a local Feast repo in ``repo_dir`` over the ETL output at ``source_path``."""
    repo = Path(repo_dir)
    repo.mkdir(parents=True, exist_ok=True)
    config = RepoConfig(
        project=PROJECT,
        provider="local",
        registry=str(repo / "registry.db"),
        online_store=SqliteOnlineStoreConfig(path=str(repo / "online.db")),
        offline_store={"type": "file"},
        entity_key_serialization_version=3,
        repo_path=repo,
    )
    store = FeatureStore(config=config)
    user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.INT64)
    source = FileSource(name="user_events", path=str(source_path), timestamp_field="event_ts")
    view = FeatureView(
        name=FEATURE_VIEW,
        entities=[user],
        ttl=TTL,
        schema=[
            Field(name="user_id", dtype=Int64),
            Field(name="user_events_7d", dtype=Int64),
            Field(name="user_amount_7d", dtype=Float64),
        ],
        source=source,
        online=True,
    )
    store.apply([user, view])
    return store


def training_set(store: FeatureStore, entity_df: pd.DataFrame) -> pd.DataFrame:
    """Point-in-time features for each (user_id, event_timestamp) row of ``entity_df``.

    Returns ``entity_df``'s rows in the same order, plus one column per feature, NaN
    where no value was known within TTL before the row's timestamp.
    """
    return store.get_historical_features(entity_df=entity_df, features=FEATURES).to_df()


def materialize(store: FeatureStore, end: datetime) -> None:
    """Load the latest value per user, up to ``end``, into the online store."""
    store.materialize(start_date=end - TTL, end_date=end)


def online_features(store: FeatureStore, user_ids: Iterable[int]) -> pd.DataFrame:
    """Read the online store: one row per user id, with ``user_id`` and the features."""
    rows = [{"user_id": int(user_id)} for user_id in user_ids]
    return store.get_online_features(features=FEATURES, entity_rows=rows).to_df()
