"""Task 5: serve the ETL features to training (offline) and to inference (online) with Feast.

The ETL output (task 4) is the *offline* store: every feature value with its timestamp.
Training needs, for each label row (user_id, event_timestamp), the value that was known
at that moment: a point-in-time join, never a plain join on user_id. Serving needs the
latest value per user, fast: ``materialize`` copies it into the *online* store (SQLite
here, Redis or DynamoDB in production).

Feast's file offline store has a trap: it silently drops entity rows that have data, but
none inside the TTL before the row's timestamp, and it collapses repeated
(user_id, event_timestamp) rows. Your training set must still have one row per entity
row, in order, with null features where no fresh value existed.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from feast import FeatureStore

PROJECT = "etl_lab"
FEATURE_VIEW = "user_activity"
FEATURE_COLUMNS = ("user_events_7d", "user_amount_7d")
FEATURES = [f"{FEATURE_VIEW}:{name}" for name in FEATURE_COLUMNS]
# A value older than this is stale: better no feature than last month's.
TTL = timedelta(days=3)


def build_store(repo_dir: str | Path, source_path: str | Path) -> FeatureStore:
    """Create a local Feast repo in ``repo_dir`` over the ETL output at ``source_path``.

    TODO(student):
      - RepoConfig(project=PROJECT, provider="local", registry=<repo_dir>/registry.db,
        online_store=SqliteOnlineStoreConfig(path=<repo_dir>/online.db),
        offline_store={"type": "file"}, entity_key_serialization_version=3,
        repo_path=repo_dir), then FeatureStore(config=...).
      - An Entity "user" with join key user_id (ValueType.INT64).
      - A FileSource over source_path with timestamp_field="event_ts".
      - A FeatureView named FEATURE_VIEW with ttl=TTL and the fields user_events_7d
        (Int64) and user_amount_7d (Float64), online=True.
      - store.apply([...]) and return the store.
    """
    raise NotImplementedError("TODO(student): define the entity, source and feature view")


def training_set(store: FeatureStore, entity_df: pd.DataFrame) -> pd.DataFrame:
    """Point-in-time features for each (user_id, event_timestamp) row of ``entity_df``.

    Return ``entity_df``'s rows, all of them and in the same order, with every original
    column plus one column per name in FEATURE_COLUMNS (null where no value was known
    within TTL before the row's timestamp).

    TODO(student):
      - store.get_historical_features(entity_df=..., features=FEATURES).to_df()
      - Detect the rows the file store dropped (compare counts), and restore them: join
        the result back onto entity_df by (user_id, event_timestamp).
    """
    raise NotImplementedError("TODO(student): build a point-in-time-correct training set")


def materialize(store: FeatureStore, end: datetime) -> None:
    """Load the latest value per user, as of ``end``, into the online store.

    TODO(student): store.materialize(start_date=..., end_date=end); values older than
    TTL before ``end`` are stale, so there is no need to load them.
    """
    raise NotImplementedError("TODO(student): materialize the feature view")


def online_features(store: FeatureStore, user_ids: Iterable[int]) -> pd.DataFrame:
    """Read the online store: one row per user id, with user_id and FEATURE_COLUMNS.

    TODO(student): store.get_online_features(features=FEATURES, entity_rows=[...]).to_df()
    """
    raise NotImplementedError("TODO(student): read features from the online store")
