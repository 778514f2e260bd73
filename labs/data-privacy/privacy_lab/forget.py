"""Task 5: the right to be forgotten, and retention.

One person's data lives in several places: the raw event files, the derived feature
table, and the Feast online store that serves those features to models. Erasure must
reach every copy. Two facts about Feast 0.67 shape the job:

- There is no API to delete one entity from the SQLite online store.
- Re-materialising after you delete the source rows does not remove anything: it only
  writes the rows it finds.

So the online rows are deleted with SQL. The SQLite table of a feature view is named
``f"{store.project}_{view_name}"``; its ``entity_key`` column holds
``feast.infra.key_encoding_utils.serialize_entity_key(EntityKey(...), version)``, with
``EntityKey`` from ``feast.protos.feast.types.EntityKey_pb2`` and ``Value`` from
``feast.protos.feast.types.Value_pb2``. The file is ``store.config.online_store.path``
(relative paths are relative to ``store.config.repo_path``).

Import feast inside your functions, not at the top of the module: it takes seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from feast import FeatureStore

__all__ = ["DataSystem", "ErasureReport", "forget_subject", "purge_expired"]


@dataclass(frozen=True)
class DataSystem:
    """Where one product keeps user data. Every table is keyed by the ``user_id`` column."""

    raw_dir: Path  # raw events: *.parquet with user_id, email, ip, amount, event_ts
    features_path: Path  # derived per-user features (Parquet), also Feast's batch source
    store: FeatureStore  # Feast store with a SQLite online store
    feature_views: tuple[str, ...]  # online feature views keyed by the "user" entity
    audit_log: Path  # JSON lines


@dataclass(frozen=True)
class ErasureReport:
    raw_rows: int  # rows removed from the raw event files
    feature_rows: int  # rows removed from the derived feature table
    online_rows: int  # rows removed from the Feast online store's tables


def forget_subject(
    system: DataSystem, user_id: str, *, request_id: str, now: datetime
) -> ErasureReport:
    """Erase every row of ``user_id`` from the raw files, the feature table and Feast.

    - Parquet files are immutable: rewrite each affected file without the subject's rows
      (write a new file, then ``os.replace`` it over the old one), and delete a file left
      empty. Leave no stray copies behind.
    - Delete the subject's rows from the SQLite table of every view in
      ``system.feature_views``. Deleted rows can linger in SQLite's free pages: turn on
      ``PRAGMA secure_delete`` and ``VACUUM`` afterwards.
    - Append one JSON line to ``system.audit_log`` with the request id, the time and the
      counts. It must not contain the user id, their email, or a hash of either.
    - Calling it again for the same subject succeeds and reports zeros.
    """
    # TODO(student): erase from all three stores, audit, and return the counts.
    raise NotImplementedError("TODO(student): implement forget_subject")


def purge_expired(system: DataSystem, max_age_days: int, *, now: datetime) -> int:
    """Delete raw events whose ``event_ts`` is older than ``now - max_age_days``.

    Events exactly at the cutoff stay. Return how many rows were removed.
    """
    # TODO(student): rewrite the raw files without the expired rows.
    raise NotImplementedError("TODO(student): implement purge_expired")
