"""Shared fixtures: handles on your code, tables that cross, the PII corpus, a Feast system.

This lab is sealed: the tests never import ``privacy_lab``. Your code runs in a separate
process (the worker), and the tests reach it through the ``learner`` fixture, which reads
like an import: ``learner.module("privacy_lab.scrub").luhn_valid("4111 1111 1111 1111")``
runs there and only the plain ``True`` comes back. DataFrames, numpy generators and
datetimes stay in the worker as handles; ``privacy_bridge`` (provided) turns tables into
Arrow IPC bytes and numpy numbers into Python numbers on the way back.

Task 5's files are written by these tests (the truth to compare with) in a folder of
their own that they then open to your user; your code rewrites them there, and the tests
read the result back as plain bytes (no link followed) and parse it as data: Parquet with
their own pyarrow, the online store's SQLite table with their own sqlite3. Their Feast only
ever loads a registry they built from their own definitions. Nothing is written into the
lab folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import shutil
import stat
import string
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

TESTS = Path(__file__).resolve().parent
LAB = TESTS.parent
# Importing Feast takes ~6 s in each process; one call must not time out on it.
FEAST_TIMEOUT_S = 120.0


def pytest_configure(config: pytest.Config) -> None:
    # The grader's plugin registers this marker; registering it here too lets the suite
    # run under plain pytest while the lab is being written.
    config.addinivalue_line("markers", "task(n): the lab task a test belongs to")


SEED = 20240515
FIRST_DAY, LAST_DAY = datetime(2022, 1, 1), datetime(2024, 12, 31)


@dataclass(frozen=True)
class Labelled:
    """A text and its PII: (kind, start, end) triples, offsets into ``text``."""

    text: str
    pii: list[tuple[str, int, int]] = field(default_factory=list)
    why: str = "generated"


# --------------------------------------------------------------------------- the worker


@pytest.fixture
def bridge(learner: Any) -> Any:
    """``privacy_bridge``, imported in the worker: it makes tables and numpy numbers cross."""
    return learner.module("privacy_bridge")


@pytest.fixture
def in_worker(bridge: Any) -> Callable[[Any], Any]:
    """``in_worker(table)``: a handle on a pandas DataFrame in the worker.

    ``table`` is a DataFrame (it crosses as Arrow IPC bytes, dtypes intact) or a dict of
    columns (built there with ``pd.DataFrame(columns)``, so None and NaN stay distinct).
    """

    def send(table: Any) -> Any:
        import pandas as pd

        if isinstance(table, pd.DataFrame):
            return bridge.frame(_to_ipc(table))
        return bridge.frame(table)

    return send


@pytest.fixture
def here(bridge: Any) -> Callable[[Any], Any]:
    """``here(handle)``: the worker's DataFrame rebuilt in this process from Arrow IPC."""

    def fetch(handle: Any) -> Any:
        import pyarrow as pa

        data = bridge.ipc(handle)
        assert type(data) is bytes, f"privacy_bridge.ipc returned {type(data).__name__}"
        return pa.ipc.open_stream(data).read_all().to_pandas()

    return fetch


def _to_ipc(table: Any) -> bytes:
    import pyarrow as pa

    arrow = pa.Table.from_pandas(table, preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, arrow.schema) as writer:
        writer.write_table(arrow)
    return bytes(sink.getvalue().to_pybytes())


@pytest.fixture
def worker_env(bridge: Any) -> Iterator[Callable[[str, str | None], None]]:
    """``worker_env(name, value)``: ``monkeypatch.setenv`` for the worker, where your code
    reads its environment (None removes the variable). Undone after the test."""
    saved: dict[str, str | None] = {}

    def setenv(name: str, value: str | None) -> None:
        old = bridge.setenv(name, value)
        saved.setdefault(name, old)

    yield setenv
    for name, old in saved.items():
        # An AssertionError here means the worker was replaced: its environment went with it.
        with contextlib.suppress(AssertionError):
            bridge.setenv(name, old)


@pytest.fixture
def rng_factory(learner: Any) -> Callable[..., Any]:
    """``rng_factory(seed)``: a handle on ``numpy.random.default_rng(seed)`` in the worker."""
    return lambda seed=SEED: learner.module("numpy.random").default_rng(seed)


# --------------------------------------------------------------------------- corpus


def _nanp(r: random.Random) -> tuple[str, str, str]:
    area = f"{r.randint(2, 9)}{r.randint(0, 9)}{r.randint(0, 9)}"
    exchange = f"{r.randint(2, 9)}{r.randint(0, 9)}{r.randint(0, 9)}"
    return area, exchange, f"{r.randint(0, 9999):04d}"


def _phone(r: random.Random) -> str:
    a, e, n = _nanp(r)
    styles = [
        f"({a}) {e}-{n}",
        f"{a}-{e}-{n}",
        f"{a}.{e}.{n}",
        f"+1 {a} {e} {n}",
        f"1-{a}-{e}-{n}",
    ]
    d = "".join(str(r.randint(0, 9)) for _ in range(10))
    international = [
        f"+44 20 {d[:4]} {d[4:8]}",
        f"+33 1 {d[:2]} {d[2:4]} {d[4:6]} {d[6:8]}",
        f"+49 30 {d[:8]}",
        f"+91 {r.randint(6, 9)}{d[:4]} {d[4:9]}",
        f"+81 3-{d[:4]}-{d[4:8]}",
        f"+61 2 {d[:4]} {d[4:8]}",
    ]
    return r.choice(styles + international)


def _ssn(r: random.Random) -> str:
    """An SSN, or one time in eight an ITIN (area 9xx): a scrubber must catch both."""
    while True:
        if r.random() < 0.125:
            group = r.choice([*range(50, 66), *range(70, 89), 90, 91, 92, *range(94, 100)])
            digits = f"{r.randint(900, 999)}{group:02d}{r.randint(1, 9999):04d}"
        else:
            area = r.randint(1, 899)
            if area == 666:
                continue
            digits = f"{area:03d}{r.randint(1, 99):02d}{r.randint(1, 9999):04d}"
        if len(set(digits)) > 1 and not digits.startswith(
            ("078051120", "219099999", "123456789", "98765432")
        ):
            sep = r.choice(["-", "-", " ", ".", ""])
            return f"{digits[:3]}{sep}{digits[3:5]}{sep}{digits[5:]}"


def _group_card(number: str, r: random.Random) -> str:
    sep = r.choice(["", " ", "-"])
    if not sep:
        return number
    if len(number) == 15:  # Amex prints 4-6-5
        return f"{number[:4]}{sep}{number[4:10]}{sep}{number[10:]}"
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


def _group_iban(iban: str, r: random.Random) -> str:
    if r.random() < 0.5:
        return iban
    return " ".join(iban[i : i + 4] for i in range(0, len(iban), 4))


TEMPLATES = [
    "Please contact {name} at {EMAIL} or {PHONE} about order ORD-{order}.",
    "Customer {name} (SSN {SSN}) updated their address on {date}.",
    "Refund {amount} USD to card {CREDIT_CARD} for invoice {order}.",
    "Wire transfer from {IBAN} received on {date}, reference {order}.",
    "Failed login for {EMAIL} from {IPV4} at {time}.",
    "{name} called from {PHONE}; callback requested before {date}.",
    "Ticket {order}: user {EMAIL} reports card {CREDIT_CARD} declined at {time}.",
    "KYC record: {name}, SSN {SSN}, IBAN {IBAN}, last IP {IPV4}.",
    'Support chat {order}: "my number is {PHONE} and email {EMAIL}".',
    "Session {order} opened from {IPV4}; payout account {IBAN}.",
]


def _positives(n: int) -> list[Labelled]:
    from faker import Faker

    Faker.seed(SEED)
    fake = Faker("en_US")
    ibans = [Faker(loc) for loc in ("en_GB", "de_DE", "fr_FR", "nl_NL", "es_ES")]
    for i, f in enumerate(ibans):
        f.seed_instance(SEED + i)
    r = random.Random(SEED)
    makers = {
        "EMAIL": lambda: r.choice([fake.email, fake.free_email, fake.company_email])(),
        "PHONE": lambda: _phone(r),
        "SSN": lambda: _ssn(r),
        "CREDIT_CARD": lambda: _group_card(
            fake.credit_card_number(r.choice(["visa16", "mastercard", "amex", "discover"])), r
        ),
        "IBAN": lambda: _group_iban(r.choice(ibans).iban(), r),
        "IPV4": lambda: r.choice([fake.ipv4_public, fake.ipv4_private])(),
    }
    corpus = []
    for _ in range(n):
        template = r.choice(TEMPLATES)
        text, pii = "", []
        for literal, name, _spec, _conv in string.Formatter().parse(template):
            text += literal
            if name is None:
                continue
            if name in makers:
                value = makers[name]()
                pii.append((name, len(text), len(text) + len(value)))
            else:
                value = {
                    "name": fake.name,
                    "order": lambda: f"{r.randint(10000, 99999)}-{r.randint(100, 999)}",
                    # absolute bounds: relative ones ("-2y") would change the corpus daily
                    "date": lambda: fake.date_between(FIRST_DAY, LAST_DAY).isoformat(),
                    "time": lambda: fake.date_time_between(FIRST_DAY, LAST_DAY).isoformat(" "),
                    "amount": lambda: f"{r.randint(1, 9999)}.{r.randint(0, 99):02d}",
                }[name]()
            text += value
        corpus.append(Labelled(text, pii))
    return corpus


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _generated_negatives() -> list[Labelled]:
    """Numbers that look like PII but fail a validator, plus ISBNs and timestamps."""
    from faker import Faker

    Faker.seed(SEED + 1)
    fake = Faker("en_US")
    r = random.Random(SEED + 1)
    out = []
    for _ in range(20):
        card = fake.credit_card_number(r.choice(["visa16", "mastercard", "discover"]))
        bad = card[:-1] + str((int(card[-1]) + r.randint(1, 9)) % 10)
        assert not _luhn_ok(bad)
        out.append(Labelled(f"Card {_group_card(bad, r)} was typed wrong.", why="fails Luhn"))
    invalid_ssns = [
        lambda: f"000-{r.randint(1, 99):02d}-{r.randint(1, 9999):04d}",
        lambda: f"666-{r.randint(1, 99):02d}-{r.randint(1, 9999):04d}",
        lambda: f"{r.randint(1, 665):03d}{r.randint(1, 99):02d}0000",
        lambda: f"{r.randint(1, 665):03d}-00-{r.randint(1, 9999):04d}",
        lambda: f"{r.randint(1, 665):03d}-{r.randint(1, 99):02d}-0000",
    ]
    for i in range(20):
        out.append(Labelled(f"Form field: {invalid_ssns[i % 5]()}", why="invalid SSN"))
    gb = Faker("en_GB")
    gb.seed_instance(SEED)
    for _ in range(10):
        iban = gb.iban()
        check = (int(iban[2:4]) + r.randint(1, 50)) % 100
        out.append(Labelled(f"Account {iban[:2]}{check:02d}{iban[4:]} on file.", why="bad mod-97"))
    for _ in range(10):
        isbn = fake.isbn13().replace("-", "")
        out.append(Labelled(f"Book ISBN {isbn} is out of stock.", why="ISBN-13"))
    for _ in range(10):
        ms = r.randint(1_500_000_000_000, 1_800_000_000_000)
        out.append(Labelled(f"Event ts={ms} ({r.randint(1_500_000_000, 1_800_000_000)} s)"))
    for _ in range(10):
        out.append(Labelled(f"Order ORD-{r.randint(2019, 2025)}-{r.randint(0, 999999):06d} paid"))
    return out


def _hard_cases() -> tuple[list[Labelled], list[Labelled]]:
    positives, negatives = [], []
    for line in (LAB / "data" / "hard_cases.jsonl").read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        text = case["text"]
        pii = []
        for item in case["pii"]:
            start = text.index(item["value"])
            pii.append((item["kind"], start, start + len(item["value"])))
        (positives if pii else negatives).append(Labelled(text, pii, case["why"]))
    return positives, negatives


@dataclass(frozen=True)
class Corpus:
    positives: list[Labelled]
    negatives: list[Labelled]


@pytest.fixture(scope="session")
def corpus() -> Corpus:
    hard_pos, hard_neg = _hard_cases()
    return Corpus(_positives(300) + hard_pos, hard_neg + _generated_negatives())


# --------------------------------------------------------------------------- Feast system

NOW = datetime(2025, 6, 1, tzinfo=UTC)
FEATURE_VIEWS = ("user_stats", "user_recency")
# Feature view -> its features, in the order a served dict lists them.
ONLINE_FEATURES = {"user_stats": ("total_amount", "n_events"), "user_recency": ("days_since_last",)}
PROJECT = "privacy_lab"
# The retention test's cutoff: one event sits exactly on it (it stays), one a second
# before it (it goes).
RETENTION_DAYS = 45
# No file of this small product comes near it; a bigger one is not read.
SHARED_FILE_LIMIT = 64 * 1024 * 1024


# What these tests read back from the folder your code rewrites, they read as plain bytes,
# and only through read_shared: no symlink (magic ones like /proc/self/fd/N included) is
# followed anywhere in the path, only a regular file with one link is read, and only up to
# SHARED_FILE_LIMIT bytes. The bytes are then parsed as data (Parquet, JSON lines, an SQLite
# table). Feast never opens anything your code could have written: the registry decides
# what Feast runs (an on-demand view is Python source), so these tests build their own from
# their own definitions whenever they need Feast.


def read_shared(root: Path, relative: str | Path) -> bytes:
    """The bytes of ``root / relative``, read without following any link.

    ``root`` is a folder these tests made (owned by them, in sticky ``/tmp``, so it cannot
    be swapped); every folder below it is opened relative to the one above with
    ``O_NOFOLLOW``.
    """
    parts = Path(relative).parts
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    folder = os.open(root, flags | os.O_DIRECTORY)
    try:
        if os.fstat(folder).st_uid != os.getuid():
            raise AssertionError(f"{root} is not the folder these tests made")
        for part in parts[:-1]:
            try:
                inner = os.open(part, flags | os.O_DIRECTORY, dir_fd=folder)
            except OSError as exc:
                raise AssertionError(
                    f"{relative}: {part} is not a folder (a symlink?): {exc.strerror}"
                ) from None
            os.close(folder)
            folder = inner
        try:
            fd = os.open(parts[-1], flags | os.O_NONBLOCK | os.O_NOCTTY, dir_fd=folder)
        except OSError as exc:
            raise AssertionError(
                f"{relative} cannot be opened as a plain file ({exc.strerror}); these tests "
                "follow no symlinks"
            ) from None
    finally:
        os.close(folder)
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_nlink != 1:
            raise AssertionError(f"{relative} is not a regular file with one link")
        data = handle.read(SHARED_FILE_LIMIT + 1)
    if len(data) > SHARED_FILE_LIMIT:
        raise AssertionError(f"{relative} is larger than {SHARED_FILE_LIMIT} bytes")
    return data


def shared_files(root: Path) -> list[str]:
    """Every regular file under ``root``, as paths relative to it; links are not followed."""
    found = []
    for folder, _dirs, names, dir_fd in os.fwalk(root, follow_symlinks=False):
        for name in names:
            info = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
            if stat.S_ISREG(info.st_mode):
                found.append(os.path.relpath(os.path.join(folder, name), root))
    return sorted(found)


def _parquet(data: bytes) -> Any:
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pq.read_table(pa.BufferReader(data)).to_pandas()


def _entity_key(user_id: str) -> bytes:
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    key = EntityKey(join_keys=["user_id"], entity_values=[Value(string_val=user_id)])
    return bytes(serialize_entity_key(key, entity_key_serialization_version=3))


def _value(blob: bytes) -> Any:
    from feast.protos.feast.types.Value_pb2 import Value

    value = Value.FromString(blob)
    which = value.WhichOneof("val")
    return None if which in (None, "null_val") else getattr(value, which)


def _read_only(db: Path) -> Any:
    """An SQLite connection that only reads ``db`` (a private copy), with a bounded budget
    of work, and that runs nothing the file's schema defines (``trusted_schema`` off)."""
    import sqlite3

    steps = iter(range(2_000))  # x 10,000 SQLite instructions: far more than these reads need
    connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    connection.set_progress_handler(lambda: next(steps, None) is None, 10_000)
    connection.execute("PRAGMA trusted_schema = OFF")
    return connection


def _is_table(connection: Any, table: str) -> bool:
    kind = connection.execute("SELECT type FROM sqlite_master WHERE name = ?", (table,)).fetchone()
    return bool(kind == ("table",))


def online_values(db: Path, user_ids: list[str]) -> dict[str, list[Any]]:
    """What Feast's SQLite online store serves for ``user_ids``, read as a plain table.

    ``db`` is a private copy. The rows are what Feast's own ``online_read`` selects: the
    table ``{project}_{view}``, keyed by the serialised entity key and the feature name,
    with the value a serialised ``ValueProto``. A missing row (or table) serves None.
    """
    served: dict[str, list[Any]] = {"user_id": list(user_ids)}
    connection = _read_only(db)
    try:
        for view, features in ONLINE_FEATURES.items():
            table = f"{PROJECT}_{view}"
            for name in features:
                served[name] = [None] * len(user_ids)
            if not _is_table(connection, table):
                continue
            for i, user_id in enumerate(user_ids):
                rows = connection.execute(
                    f'SELECT feature_name, value FROM "{table}" WHERE entity_key = ?',
                    (_entity_key(user_id),),
                ).fetchall()
                for name, blob in rows:
                    if name in features and isinstance(blob, bytes):
                        served[name][i] = _value(blob)
    finally:
        connection.close()
    return served


def _copy_rows(source: Path, target: Path) -> None:
    """Every row of the online tables of ``source`` into ``target``, a store these tests'
    Feast made: values only, never the source's schema (its triggers, views, indexes)."""
    import sqlite3

    reader = _read_only(source)
    writer = sqlite3.connect(target)
    try:
        for view in ONLINE_FEATURES:
            table = f"{PROJECT}_{view}"
            if not _is_table(reader, table):
                continue
            rows = reader.execute(
                f'SELECT entity_key, feature_name, value, event_ts, created_ts FROM "{table}"'
            ).fetchall()
            with writer:
                writer.executemany(
                    f'INSERT OR REPLACE INTO "{table}" (entity_key, feature_name, value, '
                    "event_ts, created_ts) VALUES (?, ?, ?, ?, ?)",
                    rows,
                )
    finally:
        reader.close()
        writer.close()


@dataclass(repr=False)
class World:
    """A small product: raw events, derived features, a materialised Feast online store.

    These tests wrote every file (``events`` is what they wrote) in a folder of their own,
    then opened it to your user; they read it back as plain bytes (``read_shared``).
    ``system`` is a handle on your ``DataSystem`` over the same files, in the worker, and
    ``now_for_learner`` a handle on ``now`` there.
    """

    root: Path
    now: datetime
    events: Any  # the raw events as written (a pandas DataFrame)
    subject: str
    subject_email: str
    system: Any  # a handle on your privacy_lab.forget.DataSystem
    now_for_learner: Any
    bridge: Any
    retention_days: int = RETENTION_DAYS

    def __repr__(self) -> str:  # short: pytest prints it in assertion messages
        return f"World({self.root})"

    def share(self) -> None:
        """Let this process read what your code wrote (it may be mode 0600)."""
        with contextlib.suppress(AssertionError):  # the worker is gone: nothing to open up
            self.bridge.share(str(self.root))

    def read(self, relative: str | Path) -> bytes:
        self.share()
        return read_shared(self.root, relative)

    def read_parquet(self, relative: str | Path) -> Any:
        """One Parquet file (a path relative to ``root``), parsed from its bytes here."""
        return _parquet(self.read(relative))

    def raw_files(self) -> list[str]:
        self.share()
        return [f for f in shared_files(self.root) if Path(f).parent == Path("raw")]

    def raw(self) -> Any:
        """Every raw event file, read with this process's pyarrow."""
        import pandas as pd

        parts = [self.read_parquet(f) for f in self.raw_files() if f.endswith(".parquet")]
        return pd.concat(parts) if parts else pd.DataFrame()

    def features(self) -> Any:
        return self.read_parquet("features/user_features.parquet")

    def audit_text(self) -> str:
        return self.read("audit.jsonl").decode("utf-8")

    def files(self) -> list[str]:
        self.share()
        return shared_files(self.root)

    def _private_copy(self, folder: Path) -> Path:
        """The online store, copied into a folder of this process's own."""
        db = folder / "online.db"
        db.write_bytes(self.read("feast/online.db"))
        with contextlib.suppress(AssertionError, FileNotFoundError):
            if "feast/online.db-wal" in self.files():
                (folder / "online.db-wal").write_bytes(self.read("feast/online.db-wal"))
        return db

    def served(self, user_ids: list[str]) -> dict[str, list[Any]]:
        """What the online store serves right now for ``user_ids`` (Feast's own lookup)."""
        with tempfile.TemporaryDirectory(prefix="privacy-judge-") as private:
            return online_values(self._private_copy(Path(private)), user_ids)

    def served_after_materializing(self, user_ids: list[str]) -> dict[str, list[Any]]:
        """Materialise the last week from your derived feature table into (a copy of) your
        online store with these tests' own Feast, then what it serves for ``user_ids``."""
        with tempfile.TemporaryDirectory(prefix="privacy-judge-") as private:
            folder = Path(private)
            (folder / "yours").mkdir()
            yours = self._private_copy(folder / "yours")
            features = folder / "user_features.parquet"
            features.write_bytes(self.read("features/user_features.parquet"))
            db = folder / "online.db"
            store = _feature_store(folder, features, db)  # creates the tables, empty
            _copy_rows(yours, db)
            store.materialize(self.now - timedelta(days=7), self.now)
            return online_values(db, user_ids)


def _events(fake: Any, r: random.Random) -> tuple[Any, list[str]]:
    import pandas as pd

    rows = []
    users = [f"user-{r.getrandbits(32):08x}" for _ in range(30)]
    for n, user in enumerate(users):
        email = fake.unique.email()
        # The subject (users[0]) has events in every monthly file.
        days = [5, 40, 70] if n == 0 else [r.randint(1, 85) for _ in range(r.randint(2, 5))]
        for d in days:
            rows.append(
                {
                    "user_id": user,
                    "email": email,
                    "ip": fake.ipv4_public(),
                    "amount": round(r.uniform(1, 500), 2),
                    "event_ts": NOW - timedelta(days=d, minutes=r.randint(0, 1000)),
                }
            )
    cutoff = NOW - timedelta(days=RETENTION_DAYS)
    for when in (cutoff, cutoff - timedelta(seconds=1)):
        rows.append(dict(rows[-1], event_ts=when, amount=10.0))
    events = pd.DataFrame(rows)
    events["event_ts"] = pd.to_datetime(events["event_ts"], utc=True)
    return events, users


def _feature_store(repo: Path, features_path: Path, online_db: Path) -> Any:
    """A Feast store in ``repo`` with these tests' own registry and definitions, applied."""
    from feast import Entity, FeatureStore, FeatureView, Field, FileSource
    from feast.types import Float64, Int64
    from feast.value_type import ValueType

    (repo / "feature_store.yaml").write_text(
        f"project: {PROJECT}\n"
        "provider: local\n"
        f"registry: {repo / 'registry.db'}\n"
        "online_store:\n"
        "  type: sqlite\n"
        f"  path: {online_db}\n"
        "offline_store:\n"
        "  type: file\n"
        "entity_key_serialization_version: 3\n",
        encoding="utf-8",
    )
    store = FeatureStore(repo_path=str(repo))
    user = Entity(name="user", join_keys=["user_id"], value_type=ValueType.STRING)
    source = FileSource(path=str(features_path), timestamp_field="event_timestamp")
    stats = FeatureView(
        name="user_stats",
        entities=[user],
        ttl=timedelta(days=365),
        schema=[Field(name="total_amount", dtype=Float64), Field(name="n_events", dtype=Int64)],
        source=source,
    )
    recency = FeatureView(
        name="user_recency",
        entities=[user],
        ttl=timedelta(days=365),
        schema=[Field(name="days_since_last", dtype=Int64)],
        source=source,
    )
    store.apply([user, stats, recency])
    return store


def _shared_parent() -> str:
    """Where a folder both users reach goes: ``/tmp``, sticky and root's in the sandbox, so
    your user can neither rename nor replace a folder these tests made there."""
    return os.environ.get("PRIVACY_LAB_SHARED_DIR", "/tmp")


def _open_to_both_users(root: Path) -> None:
    """Your code runs as another user in the sandbox: it must rewrite these files."""
    for path in [root, *root.rglob("*")]:
        path.chmod(0o777 if path.is_dir() else 0o666)


def build_world(root: Path, bridge: Any, learner: Any) -> World:
    """Write the product into ``root`` (still 0700: nobody else can enter it yet), then
    open it to your user and hand your ``DataSystem`` the paths."""
    from faker import Faker

    Faker.seed(SEED)
    fake = Faker("en_US")
    r = random.Random(SEED)
    events, users = _events(fake, r)
    raw_dir = root / "raw"
    raw_dir.mkdir(parents=True)
    for month, part in events.groupby(events["event_ts"].dt.strftime("%Y-%m")):
        part.reset_index(drop=True).to_parquet(raw_dir / f"events-{month}.parquet", index=False)

    features = (
        events.groupby("user_id")
        .agg(total_amount=("amount", "sum"), n_events=("amount", "size"), last=("event_ts", "max"))
        .reset_index()
    )
    features["days_since_last"] = (NOW - features.pop("last")).dt.days.astype("int64")
    features["event_timestamp"] = NOW - timedelta(hours=1)
    features_path = root / "features" / "user_features.parquet"
    features_path.parent.mkdir()
    features.to_parquet(features_path, index=False)

    repo = root / "feast"
    repo.mkdir()
    # This store is dropped before the folder is opened: these tests never load a registry
    # your code could have rewritten.
    _feature_store(repo, features_path, repo / "online.db").materialize(
        NOW - timedelta(days=7), NOW
    )
    _open_to_both_users(root)

    system = bridge.open_system(
        raw_dir=str(raw_dir),
        features_path=str(features_path),
        feast_repo=str(repo),
        feature_views=list(FEATURE_VIEWS),
        audit_log=str(root / "audit.jsonl"),
    )
    now_for_learner = learner.module("datetime").datetime.fromisoformat(NOW.isoformat())
    subject_email = events.loc[events.user_id == users[0], "email"].iloc[0]
    return World(root, NOW, events, users[0], subject_email, system, now_for_learner, bridge)


@pytest.fixture(scope="session")
def make_world(learner: Any) -> Iterator[Callable[[], World]]:
    """``make_world()`` builds a fresh World in a new folder (0.2 s once Feast is loaded).

    Both processes import Feast (~6 s each), so the worker starts on it while this process
    does.
    """

    def warm_up() -> None:
        # A failure here shows again, with its message, in the test that needs Feast.
        with contextlib.suppress(Exception):
            learner.module("feast", timeout=FEAST_TIMEOUT_S)

    warm = threading.Thread(target=warm_up, daemon=True)
    warm.start()
    import feast  # noqa: F401  (the ~6 s import, alongside the worker's)

    warm.join(FEAST_TIMEOUT_S)
    folders: list[tuple[Path, Any]] = []

    def make() -> World:
        bridge = learner.module("privacy_bridge", timeout=FEAST_TIMEOUT_S)
        folder = Path(tempfile.mkdtemp(prefix="privacy-lab-", dir=_shared_parent()))
        folders.append((folder, bridge))
        return build_world(folder, bridge, learner)

    yield make
    for folder, bridge in folders:
        with contextlib.suppress(AssertionError):
            bridge.share(str(folder))  # what your user wrote, this one may now remove
        shutil.rmtree(folder, ignore_errors=True)


# --------------------------------------------------------------------------- hidden tests


def _hidden(item: pytest.Item) -> bool:
    """An instructor's hidden test: the grader puts them in ``tests/hidden/``."""
    try:
        return "hidden" in Path(item.path).resolve().relative_to(TESTS).parts[:-1]
    except ValueError:  # not one of this lab's test files
        return False


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # Visible tests run first, hidden ones after, in a fresh worker (below): every message
    # you can see was written before your code was sent any hidden test's input.
    items.sort(key=_hidden)


@pytest.fixture(autouse=True)
def _fresh_worker_for_hidden_tests(request: pytest.FixtureRequest) -> None:
    if _hidden(request.node) and not getattr(request.session, "_privacy_hidden_started", False):
        request.session._privacy_hidden_started = True  # type: ignore[attr-defined]
        request.getfixturevalue("learner").restart()
