"""Task 5: the right to be forgotten, everywhere the data went, and retention.

Each test builds a small product in tmp_path: raw event files (Parquet), a derived feature
table (Parquet), and a Feast store whose SQLite online store serves two feature views.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest

pytestmark = pytest.mark.task(5)


@pytest.fixture(scope="module")
def erased(tmp_path_factory, make_world, served):
    """One world in which the subject has been forgotten, plus what the call returned."""
    from privacy_lab.forget import forget_subject

    world = make_world(tmp_path_factory.mktemp("erased"))
    before = served(world.system.store, [world.subject])
    assert before["total_amount"][0] is not None, "test setup: the subject should be served"
    report = forget_subject(world.system, world.subject, request_id="DSR-0042", now=world.now)
    return world, report


@pytest.fixture
def fresh(tmp_path, make_world):
    return make_world(tmp_path)


def _raw(world):
    import pandas as pd

    files = sorted(world.system.raw_dir.glob("*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files]) if files else pd.DataFrame()


def test_raw_store_holds_no_row_of_the_subject(erased):
    world, _ = erased
    raw = _raw(world)
    left = int((raw["user_id"] == world.subject).sum())
    assert left == 0, f"after forget_subject the raw Parquet files still hold {left} of its events"
    others = world.events[world.events.user_id != world.subject]
    assert len(raw) == len(others), (
        f"the raw store holds {len(raw)} events, expected the other users' {len(others)}: "
        "erasing one person must not lose anyone else's data"
    )


def test_derived_feature_table_holds_no_row_of_the_subject(erased):
    import pandas as pd

    world, _ = erased
    features = pd.read_parquet(world.system.features_path)
    assert world.subject not in set(features["user_id"]), (
        "the derived feature table still has a row for the erased subject; derived tables are "
        "copies too"
    )
    assert len(features) == world.events["user_id"].nunique() - 1, "other users' features are gone"


def test_feast_online_store_no_longer_serves_the_subject(erased, served):
    world, _ = erased
    served = served(world.system.store, [world.subject])
    values = {name: v[0] for name, v in served.items() if name != "user_id"}
    assert all(v is None for v in values.values()), (
        f"Feast still serves {values} for the erased subject. Deleting the source rows is not "
        "enough: the online store is a copy, and Feast 0.67 has no per-entity delete, so delete "
        f"the rows from the SQLite tables of every view in {world.system.feature_views}."
    )


def test_rematerialising_does_not_bring_the_subject_back(erased, served):
    world, _ = erased
    world.system.store.materialize(world.now - timedelta(days=7), world.now)
    served = served(world.system.store, [world.subject])
    assert served["total_amount"][0] is None, (
        "after materialize() the subject is served again: the derived feature table, the "
        "source Feast materialises from, still holds them"
    )


def test_other_users_are_still_served(erased, served):
    world, _ = erased
    others = sorted(set(world.events["user_id"]) - {world.subject})
    served = served(world.system.store, others)
    missing = [u for u, v in zip(others, served["total_amount"], strict=True) if v is None]
    assert not missing, (
        f"after erasing one user, Feast no longer serves {len(missing)} other users; delete the "
        "subject's rows, not the table"
    )


def test_no_bytes_of_the_subject_remain_on_disk(erased):
    world, _ = erased
    needles = {world.subject.encode(), world.subject_email.encode()}
    found = []
    for path in sorted(p for p in world.root.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found += [f"{path.relative_to(world.root)}: {n.decode()}" for n in needles if n in data]
    assert not found, (
        f"the subject's identifiers are still in these files: {found}. Old Parquet files, "
        "temporary copies and free pages of a SQLite file are all places data outlives a delete."
    )


def test_report_counts_what_was_erased(erased):
    world, report = erased
    events = int((world.events["user_id"] == world.subject).sum())
    assert report.raw_rows == events and report.feature_rows == 1 and report.online_rows > 0, (
        f"forget_subject returned {report}; expected raw_rows={events}, feature_rows=1 and "
        "online_rows > 0. The report is the evidence that the request was honoured."
    )


def test_audit_log_holds_no_pii(erased):
    world, _ = erased
    text = world.system.audit_log.read_text(encoding="utf-8")
    entries = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert any("DSR-0042" in json.dumps(e) for e in entries), (
        f"the audit log {entries} does not mention request DSR-0042; record which request was "
        "honoured, when, and how many rows went"
    )
    traces = []
    for secret in (world.subject, world.subject_email):
        if secret in text:
            traces.append(secret)
        for algo in ("md5", "sha1", "sha256"):
            if hashlib.new(algo, secret.encode()).hexdigest() in text:
                traces.append(f"{algo}({secret})")
    assert not traces, (
        f"the audit log contains {traces}. A log of erasures that names (or hashes) the people "
        "erased is a list of exactly the people who asked to disappear; log the request id."
    )


def test_forgetting_twice_is_harmless(fresh):
    from privacy_lab.forget import forget_subject

    forget_subject(fresh.system, fresh.subject, request_id="DSR-1", now=fresh.now)
    again = forget_subject(fresh.system, fresh.subject, request_id="DSR-1", now=fresh.now)
    assert (again.raw_rows, again.feature_rows, again.online_rows) == (0, 0, 0), (
        f"a second forget_subject for the same subject returned {again}; it must succeed and "
        "find nothing left, because requests are retried"
    )
    lines = fresh.system.audit_log.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2, f"expected one audit line per call, found {len(lines)}"
    others = fresh.events[fresh.events.user_id != fresh.subject]
    assert len(_raw(fresh)) == len(others), "the second call removed other users' events"


def test_retention_purge_removes_only_expired_rows(fresh):
    from privacy_lab.forget import purge_expired

    removed = purge_expired(fresh.system, 45, now=fresh.now)
    cutoff = fresh.now - timedelta(days=45)
    expired = int((fresh.events["event_ts"] < cutoff).sum())
    raw = _raw(fresh)
    assert removed == expired and len(raw) == len(fresh.events) - expired, (
        f"purge_expired(45 days) reported {removed} and left {len(raw)} events; expected "
        f"{expired} removed and {len(fresh.events) - expired} kept"
    )
    assert (raw["event_ts"] >= cutoff).all(), "events older than 45 days are still in the raw store"
    assert purge_expired(fresh.system, 45, now=fresh.now) == 0, (
        "a second purge found more to remove"
    )
