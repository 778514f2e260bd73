"""Task 5: the right to be forgotten, everywhere the data went, and retention.

Each world is a small product these tests write into a folder both processes can reach:
raw event files (Parquet), a derived feature table (Parquet), and a Feast store whose SQLite
online store serves two feature views. ``forget`` is your ``privacy_lab.forget`` in the
worker, and ``world.system`` your ``DataSystem`` over those files. What your code leaves
behind is read here as plain bytes, with these tests' own pyarrow and sqlite3.
"""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest

pytestmark = pytest.mark.task(5)


# Importing Feast takes ~6 s; a call that does so must not time out.
TIMEOUT_S = 120


def _forget(learner):
    """Your privacy_lab.forget, in the worker."""
    bridge = learner.module("privacy_bridge", timeout=TIMEOUT_S)
    return bridge.plain(learner.module("privacy_lab.forget", timeout=TIMEOUT_S))


@pytest.fixture
def forget(learner, make_world):
    # Asked for each test: a worker replaced after a failure needs a fresh handle. It
    # depends on make_world, which loads Feast in both processes at once.
    return _forget(learner)


@pytest.fixture(scope="module")
def erased(learner, make_world):
    """One world in which the subject has been forgotten, the counts the call returned, and
    what Feast served for every user right after it."""
    world = make_world()
    before = world.served([world.subject])
    assert before["total_amount"][0] is not None, "test setup: the subject should be served"
    report = _forget(learner).forget_subject(
        world.system, world.subject, request_id="DSR-0042", now=world.now_for_learner
    )
    counts = (report.raw_rows, report.feature_rows, report.online_rows)
    # What Feast serves right after the erasure, before any test re-materialises.
    served = world.served(sorted(set(world.events["user_id"])))
    return world, counts, served


@pytest.fixture
def bridge_for_feast(learner, make_world):
    return learner.module("privacy_bridge", timeout=TIMEOUT_S)


@pytest.fixture
def fresh(make_world):
    return make_world()


def test_raw_store_holds_no_row_of_the_subject(erased):
    world, _, _ = erased
    raw = world.raw()
    left = int((raw["user_id"] == world.subject).sum())
    assert left == 0, f"after forget_subject the raw Parquet files still hold {left} of its events"
    others = world.events[world.events.user_id != world.subject]
    assert len(raw) == len(others), (
        f"the raw store holds {len(raw)} events, expected the other users' {len(others)}: "
        "erasing one person must not lose anyone else's data"
    )


def test_derived_feature_table_holds_no_row_of_the_subject(erased):
    world, _, _ = erased
    features = world.features()
    assert world.subject not in set(features["user_id"]), (
        "the derived feature table still has a row for the erased subject; derived tables are "
        "copies too"
    )
    assert len(features) == world.events["user_id"].nunique() - 1, "other users' features are gone"


def test_feast_online_store_no_longer_serves_the_subject(erased):
    world, _, served = erased
    at = served["user_id"].index(world.subject)
    values = {name: v[at] for name, v in served.items() if name != "user_id"}
    assert all(v is None for v in values.values()), (
        f"Feast still serves {values} for the erased subject. Deleting the source rows is not "
        "enough: the online store is a copy, and Feast 0.67 has no per-entity delete, so delete "
        "the rows from the SQLite tables of every view in system.feature_views."
    )


def test_rematerialising_does_not_bring_the_subject_back(erased):
    world, _, _ = erased
    served = world.served_after_materializing([world.subject])
    assert served["total_amount"][0] is None, (
        "after materialize() the subject is served again: the derived feature table, the "
        "source Feast materialises from, still holds them"
    )


def test_other_users_are_still_served(erased):
    world, _, served = erased
    missing = [
        u
        for u, v in zip(served["user_id"], served["total_amount"], strict=True)
        if v is None and u != world.subject
    ]
    assert not missing, (
        f"after erasing one user, Feast no longer serves {len(missing)} other users; delete the "
        "subject's rows, not the table"
    )


def test_no_bytes_of_the_subject_remain_on_disk(erased):
    world, _, _ = erased
    needles = {world.subject.encode(), world.subject_email.encode()}
    found = []
    for path in world.files():
        data = world.read(path)
        found += [f"{path}: {n.decode()}" for n in needles if n in data]
    assert not found, (
        f"the subject's identifiers are still in these files: {found}. Old Parquet files, "
        "temporary copies and free pages of a SQLite file are all places data outlives a delete."
    )


def test_report_counts_what_was_erased(erased):
    world, (raw_rows, feature_rows, online_rows), _ = erased
    events = int((world.events["user_id"] == world.subject).sum())
    assert raw_rows == events and feature_rows == 1 and online_rows > 0, (
        f"forget_subject returned raw_rows={raw_rows}, feature_rows={feature_rows}, "
        f"online_rows={online_rows}; expected raw_rows={events}, feature_rows=1 and "
        "online_rows > 0. The report is the evidence that the request was honoured."
    )


def test_audit_log_holds_no_pii(erased):
    world, _, _ = erased
    text = world.audit_text()
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


def test_forgetting_twice_is_harmless(fresh, forget):
    forget.forget_subject(
        fresh.system, fresh.subject, request_id="DSR-1", now=fresh.now_for_learner
    )
    again = forget.forget_subject(
        fresh.system, fresh.subject, request_id="DSR-1", now=fresh.now_for_learner
    )
    counts = (again.raw_rows, again.feature_rows, again.online_rows)
    assert counts == (0, 0, 0), (
        f"a second forget_subject for the same subject returned (raw_rows, feature_rows, "
        f"online_rows) = {counts}; it must succeed and find nothing left, because requests "
        "are retried"
    )
    lines = fresh.audit_text().splitlines()
    assert len(lines) == 2, f"expected one audit line per call, found {len(lines)}"
    others = fresh.events[fresh.events.user_id != fresh.subject]
    assert len(fresh.raw()) == len(others), "the second call removed other users' events"


def test_retention_purge_removes_only_expired_rows(fresh, forget):
    days = fresh.retention_days
    removed = forget.purge_expired(fresh.system, days, now=fresh.now_for_learner)
    cutoff = fresh.now - timedelta(days=days)
    expired = int((fresh.events["event_ts"] < cutoff).sum())
    raw = fresh.raw()
    assert removed == expired and len(raw) == len(fresh.events) - expired, (
        f"purge_expired({days} days) reported {removed} and left {len(raw)} events; expected "
        f"{expired} removed and {len(fresh.events) - expired} kept"
    )
    assert (raw["event_ts"] >= cutoff).all(), (
        f"events older than {days} days are still in the raw store"
    )
    assert forget.purge_expired(fresh.system, days, now=fresh.now_for_learner) == 0, (
        "a second purge found more to remove"
    )


def test_an_event_exactly_at_the_cutoff_stays(fresh, forget):
    days = fresh.retention_days
    cutoff = fresh.now - timedelta(days=days)
    on_it = fresh.events[fresh.events["event_ts"] == cutoff]
    assert len(on_it) == 1, "test setup: one event sits exactly on the cutoff"
    forget.purge_expired(fresh.system, days, now=fresh.now_for_learner)
    raw = fresh.raw()
    kept = int((raw["event_ts"] == cutoff).sum())
    older = int((raw["event_ts"] < cutoff).sum())
    assert kept == 1 and older == 0, (
        f"purge_expired({days} days) kept {kept} event(s) from exactly {days} days ago and "
        f"{older} older ones; the event on the cutoff stays (it is not older than "
        f"{days} days) and the one a second before it goes. Compare with >= cutoff, on full "
        "timestamps."
    )


def test_a_crash_half_way_through_loses_no_one_elses_data(fresh, forget, bridge_for_feast):
    crashed = bridge_for_feast.crash_during(
        forget.forget_subject,
        fresh.system,
        fresh.subject,
        request_id="DSR-7",
        now=fresh.now_for_learner,
    )
    assert crashed, (
        "test setup: forget_subject never wrote a Parquet file through pyarrow, so the crash "
        "this test injects never happened"
    )
    others = fresh.events[fresh.events.user_id != fresh.subject]
    unreadable, raw = [], []
    for path in fresh.raw_files():
        if not path.endswith(".parquet"):
            continue
        try:
            raw.append(fresh.read_parquet(path))
        except Exception as exc:  # a file the crash left half-written
            unreadable.append(f"{path} ({type(exc).__name__})")
    kept = sum(int((part["user_id"] != fresh.subject).sum()) for part in raw)
    assert not unreadable and kept == len(others), (
        f"forget_subject died while writing a Parquet file, and afterwards the raw files hold "
        f"{kept} of the other users' {len(others)} events"
        + (f"; these can no longer be read: {unreadable}" if unreadable else "")
        + ". Writing over the original (or deleting it first) loses everyone in it when the "
        "process dies half-way. Write a temporary file next to it, then os.replace it over the "
        "original: the rename is atomic, so a crash leaves the old file or the new one."
    )
    features = fresh.features()
    assert int((features["user_id"] != fresh.subject).sum()) == others["user_id"].nunique(), (
        "after a crash half-way through forget_subject, other users' rows are missing from "
        "the derived feature table; rewrite it through a temporary file too"
    )
    forget.forget_subject(
        fresh.system, fresh.subject, request_id="DSR-7", now=fresh.now_for_learner
    )
    raw_after = fresh.raw()
    assert fresh.subject not in set(raw_after["user_id"]) and len(raw_after) == len(others), (
        "retrying forget_subject after the crash did not finish the job: requests are retried, "
        "and the retry must leave the subject gone and everyone else in place"
    )
