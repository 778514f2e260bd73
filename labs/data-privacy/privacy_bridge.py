"""Provided, not yours to edit: how the tests reach ``privacy_lab`` across the process boundary.

The grader never imports your code into the process that judges it. Your code runs in a
worker process of its own (in the sandbox, as another user), and the tests call it through
handles that read like imports. Only plain data crosses between the two processes: None,
bool, int, float, str, bytes, and lists, tuples and dicts of them. Everything else stays in
the worker, and the tests get a handle on it.

This module is the worker's half of that arrangement. It is not a submission file: the
grader always uses this copy, and nothing in it decides a grade. It only converts:

- ``plain``: numpy numbers (``np.float64``, ``np.int64``) come back as Python numbers, and
  numpy arrays as lists of them, so a solution may return either.
- ``frame`` and ``ipc``: tables cross as Arrow IPC bytes (or a dict of columns) and become
  pandas DataFrames here; the tests rebuild them with their own pyarrow.
- ``repeat``, ``each``, ``trials``, ``spans_of``, ``with_arguments`` and ``output_of`` run many
  calls in one request, or watch what a call does to its input and what it logs and prints.
- Task 5: your ``DataSystem`` over the files the tests wrote in a folder both users can
  reach, SQLite with ``secure_delete`` off, and a Parquet write that crashes.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sqlite3
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

__all__ = [
    "Plain",
    "SimulatedCrash",
    "crash_during",
    "each",
    "frame",
    "ipc",
    "open_system",
    "output_of",
    "plain",
    "repeat",
    "setenv",
    "share",
    "spans_of",
    "trials",
    "with_arguments",
]

_PLAIN_TYPES = (type(None), bool, int, float, str, bytes)


class Plain:
    """Stands for one of your objects; what its attributes and calls give back is ``plain``."""

    __slots__ = ("_target",)

    def __init__(self, target: Any) -> None:
        self._target = target

    def __getattr__(self, name: str) -> Any:
        return plain(getattr(self._target, name))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return plain(self._target(*_unwrap(list(args)), **_unwrap(kwargs)))

    def __repr__(self) -> str:
        return repr(self._target)

    def __str__(self) -> str:
        return str(self._target)


def plain(value: Any) -> Any:
    """``value`` with numpy numbers and arrays made Python ones; other objects in ``Plain``."""
    if type(value) in _PLAIN_TYPES or isinstance(value, Plain):
        return value
    if isinstance(value, np.generic):  # np.float64, np.int64, np.bool_
        return value.item()
    if isinstance(value, np.ndarray):  # weights, losses: a list of Python numbers
        return value.tolist()
    if type(value) is list:
        return [plain(v) for v in value]
    if type(value) is tuple:
        return tuple(plain(v) for v in value)
    if type(value) is dict:
        return {plain(k): plain(v) for k, v in value.items()}
    return Plain(value)


def _unwrap(value: Any) -> Any:
    """Your objects as themselves again, before they are passed back to your code."""
    if isinstance(value, Plain):
        return value._target
    if type(value) is list:
        return [_unwrap(v) for v in value]
    if type(value) is tuple:
        return tuple(_unwrap(v) for v in value)
    if type(value) is dict:
        return {k: _unwrap(v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------- tables


def frame(data: bytes | dict[str, list[Any]]) -> Any:
    """A pandas DataFrame from Arrow IPC stream bytes, or from a dict of columns.

    A dict of columns keeps what Arrow would not: ``None`` and ``NaN`` side by side in one
    column of strings, as a real table often has them.
    """
    import pandas as pd

    if isinstance(data, bytes):
        import pyarrow as pa

        return pa.ipc.open_stream(data).read_all().to_pandas()
    return pd.DataFrame(data)


def ipc(table: Any) -> bytes:
    """The DataFrame ``table`` as Arrow IPC stream bytes (the index is dropped)."""
    import pandas as pd
    import pyarrow as pa

    table = _unwrap(table)
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"expected a pandas DataFrame, got {type(table).__name__}")
    arrow = pa.Table.from_pandas(table, preserve_index=False)
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, arrow.schema) as writer:
        writer.write_table(arrow)
    return bytes(sink.getvalue().to_pybytes())


# --------------------------------------------------------------------------- many calls at once


def repeat(times: int, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Any]:
    """``[fn(*args, **kwargs) for _ in range(times)]``: thousands of draws in one request."""
    call = _unwrap(fn)
    args, kwargs = _unwrap(list(args)), _unwrap(kwargs)
    return [plain(call(*args, **kwargs)) for _ in range(times)]


def each(fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
    """``[fn(item) for item in items]`` in one request."""
    call = _unwrap(fn)
    return [plain(call(item)) for item in _unwrap(items)]


def trials(
    fn: Callable[..., Any], arguments: list[list[Any]], fields: list[str], **kwargs: Any
) -> list[tuple[Any, ...]]:
    """``fn(*args, **kwargs)`` for each ``args`` in one request; of each result, ``fields``.

    A hundred runs of an experiment cost one round trip, and only the numbers the tests read
    come back: ``trials(audit.membership_advantage, [[m, n], ...], ["value", "low"], rng=rng)``.
    """
    call, kwargs = _unwrap(fn), _unwrap(kwargs)
    results = [call(*_unwrap(list(args)), **kwargs) for args in arguments]
    return [tuple(plain(getattr(r, name)) for name in fields) for r in results]


def spans_of(find: Callable[[str], Any], texts: list[str]) -> list[list[tuple[Any, ...]]]:
    """For each text, the spans ``find(text)`` returns, as ``(kind, start, end)`` tuples."""
    call = _unwrap(find)
    return [[plain((s.kind, s.start, s.end)) for s in call(text)] for text in texts]


def with_arguments(fn: Callable[..., Any], *args: Any) -> tuple[Any, list[Any]]:
    """``fn(*args)``, and the arguments as they are after the call: did it change its input?"""
    result = _unwrap(fn)(*args)
    return plain(result), plain(list(args))


def output_of(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> str:
    """Everything logged (at any level) or printed while ``fn(*args, **kwargs)`` runs.

    Logs go through a handler on the root logger, set to DEBUG for the call. Output is
    caught at the file descriptors as well, so a handler that holds the original
    ``sys.stderr`` is heard too.
    """
    root = logging.getLogger()
    logged = io.StringIO()
    handler = logging.StreamHandler(logged)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    level = root.level
    printed = io.StringIO()
    with tempfile.TemporaryFile() as sink:
        with _descriptors_to(sink):
            root.addHandler(handler)
            root.setLevel(logging.DEBUG)
            try:
                with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
                    _unwrap(fn)(*_unwrap(list(args)), **_unwrap(kwargs))
            finally:
                root.removeHandler(handler)
                root.setLevel(level)
        sink.seek(0)
        raw = sink.read().decode("utf-8", "replace")
    return logged.getvalue() + printed.getvalue() + raw


@contextlib.contextmanager
def _descriptors_to(sink: Any) -> Iterator[None]:
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        os.dup2(sink.fileno(), 1)
        os.dup2(sink.fileno(), 2)
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)


# --------------------------------------------------------------------------- environment


def setenv(name: str, value: str | None) -> str | None:
    """Set (or, with None, remove) an environment variable here; return its old value."""
    old = os.environ.get(name)
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
    return old


# --------------------------------------------------------------------------- task 5


def share(folder: str) -> None:
    """Let the tests' user read (and Feast rewrite) what your code wrote under ``folder``.

    A temporary file from ``tempfile`` is mode 0600, readable by your user only; the tests
    read every file you leave behind, so the ones you own are opened up here. Symlinks are
    left alone.
    """
    for path in [Path(folder), *Path(folder).rglob("*")]:
        info = path.lstat()
        if info.st_uid != os.getuid() or stat.S_ISLNK(info.st_mode):
            continue
        wanted = 0o777 if stat.S_ISDIR(info.st_mode) else 0o666
        with contextlib.suppress(OSError):
            os.chmod(path, stat.S_IMODE(info.st_mode) | wanted)


_connect = sqlite3.connect


def _connect_with_secure_delete_off(*args: Any, **kwargs: Any) -> sqlite3.Connection:
    connection = _connect(*args, **kwargs)
    connection.execute("PRAGMA secure_delete = OFF")
    return connection


def open_system(
    *,
    raw_dir: str,
    features_path: str,
    feast_repo: str,
    feature_views: list[str],
    audit_log: str,
) -> Any:
    """Your ``DataSystem`` over the files the tests wrote, with a Feast store of its own.

    Whether SQLite zeroes deleted rows (``secure_delete``) is a compile-time default, and
    builds differ: Debian's is on, many others are off. A new connection here starts with it
    off, so erasure is tested as on a build that keeps deleted bytes in free pages.
    """
    sqlite3.connect = _connect_with_secure_delete_off  # type: ignore[assignment]
    sqlite3.dbapi2.connect = _connect_with_secure_delete_off  # type: ignore[assignment]
    from feast import FeatureStore
    from privacy_lab.forget import DataSystem

    return DataSystem(
        raw_dir=Path(raw_dir),
        features_path=Path(features_path),
        store=FeatureStore(repo_path=feast_repo),
        feature_views=tuple(feature_views),
        audit_log=Path(audit_log),
    )


class SimulatedCrash(BaseException):
    """The process died half-way through writing a Parquet file (a kill, a full disk)."""


def crash_during(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
    """Call ``fn`` with the first Parquet write dying after its file was opened.

    pandas' ``to_parquet`` and pyarrow's ``write_table`` both write through
    ``pyarrow.parquet.ParquetWriter``: by the time its ``write_table`` runs, the target file
    has been created (or truncated). A ``BaseException``, like a kill, is not caught by an
    ``except Exception``. Returns whether the crash happened.
    """
    import pyarrow.parquet as pq

    original = pq.ParquetWriter.write_table

    def dies(self: Any, *args: Any, **kwargs: Any) -> None:
        raise SimulatedCrash("the process died half-way through writing a Parquet file")

    pq.ParquetWriter.write_table = dies  # type: ignore[method-assign]
    try:
        _unwrap(fn)(*_unwrap(list(args)), **_unwrap(kwargs))
    except SimulatedCrash:
        return True
    finally:
        pq.ParquetWriter.write_table = original  # type: ignore[method-assign]
    return False
