"""The judge's side: the ``learner`` fixture, and handles that read like imports.

    def test_scrub(learner):
        scrub = learner.module("privacy_lab.scrub")     # imported in the worker
        assert scrub.luhn_valid("4111 1111 1111 1111") is True   # plain True came back

A handle's attributes and calls are requests to the worker. Plain data (None, bool, int,
float, str, bytes, list, tuple, dict) comes back as itself, with its exact type; anything
else stays in the worker and comes back as another handle (:class:`Remote`). An object of
the test's own (a fake clock, a recorder) passed as an argument stays in the judge: the
worker gets a stand-in whose calls come back here, with plain data as arguments.

An exception in learner code raises :class:`LearnerError` here, with the learner's type,
message and the line that raised it; builtin exception types are kept, so
``pytest.raises(ValueError)`` works. A call that does not return within its timeout
fails the test, and the worker is replaced before the next test that needs it.

The worker is started by a spawner: in the sandbox, the root supervisor starts it as the
learner's user (``MLSKILLS_SPAWNER_FD``); anywhere else, a plain subprocess as you.
"""

from __future__ import annotations

import builtins
import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from .protocol import (
    JOB_ENV,
    ROOT_ENV,
    SPAWNER_ENV,
    Channel,
    ChannelClosed,
    ProtocolError,
    decode,
    encode,
)

__all__ = ["Learner", "LearnerError", "LearnerGone", "LearnerTimeout", "Remote"]

DEFAULT_TIMEOUT_S = 30.0
_PACKAGE = __package__ or "mlskills_boundary"
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[_PACKAGE.count(".") + 1])


class LearnerError(Exception):
    """An exception raised by the learner's code, as plain data.

    ``type_name`` is the learner's class name, ``mro`` every class it inherits from
    (``module.QualName``), ``where`` the learner's line that raised it, ``code`` and
    ``details`` a gRPC error's status and message.
    """

    def __init__(self, described: dict[str, Any], call: str = "") -> None:
        # All of it came from the learner's process: bounded here, whatever it claims.
        self.type_name = str(described.get("type", "Exception"))[:200]
        self.mro = [str(m)[:200] for m in described.get("mro", [])][:64]
        self.message = str(described.get("message", ""))[:4000]
        self.where = str(described.get("where", ""))[:300]
        self.learner_traceback = str(described.get("traceback", ""))[:8000]
        self.code = str(described["code"])[:100] if "code" in described else None
        self.details = str(described.get("details", ""))[:4000]
        self.call = call
        super().__init__(self._text())

    def _text(self) -> str:
        text = self.message
        if self.where:
            text += f"\n  raised at {self.where}"
        if self.call:
            text += f"\n  in {self.call}"
        return text

    def __str__(self) -> str:
        return self._text()

    def is_a(self, name: str) -> bool:
        """Whether the learner's exception is (a subclass of) ``name``.

        ``"httpx.TimeoutException"`` matches a class of that name in any module of ``httpx``,
        since libraries define their exceptions in private modules.
        """
        package, _, short = name.rpartition(".")
        for full in self.mro:
            module, _, qualname = full.rpartition(".")
            if qualname != short:
                continue
            if not package or module == package or module.startswith(package + "."):
                return True
        return False


class LearnerTimeout(AssertionError):
    """A call into the learner's code did not return in time."""


class LearnerGone(AssertionError):
    """The learner's process exited, crashed, or broke the protocol."""


_ERROR_CLASSES: dict[tuple[str, str], type[LearnerError]] = {}
_NOT_MAPPED = {"BaseException", "Exception", "SystemExit", "KeyboardInterrupt", "GeneratorExit"}


def _error_class(described: dict[str, Any]) -> type[LearnerError]:
    """A LearnerError subclass named like the learner's exception, so pytest shows that name.

    Where the learner's class is or inherits a builtin exception, it inherits that too, so
    ``pytest.raises(ValueError)`` catches it.
    """
    mro = [str(m) for m in described.get("mro", [])]
    module, _, name = (mro[0] if mro else "").rpartition(".")
    if not (name.isidentifier() and all(p.isidentifier() for p in module.split("."))):
        module, name = __name__, "LearnerError"
    base: type[Exception] | None = None
    for full in mro:
        owner, _, builtin = full.rpartition(".")
        candidate = getattr(builtins, builtin, None) if owner == "builtins" else None
        if (
            builtin not in _NOT_MAPPED
            and isinstance(candidate, type)
            and issubclass(candidate, Exception)
        ):
            base = candidate
            break
    key = (module, name if base is None else f"{name}/{base.__name__}")
    if key not in _ERROR_CLASSES:
        bases: tuple[type, ...] = (LearnerError,) if base is None else (LearnerError, base)
        made = type(name, bases, {"__module__": module, "__qualname__": name})
        _ERROR_CLASSES[key] = made
    return _ERROR_CLASSES[key]


def _short(value: Any, limit: int = 80) -> str:
    if isinstance(value, Remote):
        return value._label
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe_call(path: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    parts = [_short(a) for a in args] + [f"{k}={_short(v)}" for k, v in kwargs.items()]
    return f"{path}({', '.join(parts)})"


WAITING_EVERY_S = 5.0  # how often a call that has not returned says it is still waited for


def _wait_saying_so(slot: _Slot, what: str, timeout: float) -> bool:
    """Wait for ``slot`` up to ``timeout`` s, printing which call is still awaited every
    few seconds (the grade's output, and the terminal under plain pytest, show it)."""
    waited = 0.0
    while waited < timeout:
        step = min(WAITING_EVERY_S, timeout - waited)
        if slot.done.wait(step):
            return True
        waited += step
        if waited < timeout:
            print(
                f"[mlskills] waiting for {what}: {waited:g} s without a return "
                f"(it fails at {timeout:g} s)",
                file=sys.__stderr__,
                flush=True,
            )
    return slot.done.is_set()


class _Slot:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.reply: dict[str, Any] = {}


class _Process:
    """One running worker: its channel, its reader thread, and how to stop it."""

    def __init__(self, channel: Channel, kill: Callable[[], None], generation: int) -> None:
        self.channel = channel
        self.kill = kill
        self.generation = generation
        self.pending: dict[int, _Slot] = {}
        self.lock = threading.Lock()
        self.gone: str = ""


class Remote:
    """A handle on an object that lives in the learner's worker."""

    __slots__ = ("_callable", "_generation", "_id", "_label", "_learner", "_timeout", "_type")

    def __init__(
        self,
        learner: Learner,
        tag: dict[str, Any],
        generation: int,
        label: str,
        timeout: float,
    ) -> None:
        self._learner = learner
        self._id = int(tag["id"])
        self._type = str(tag.get("type", "object"))[:200]
        self._callable = bool(tag.get("callable", False))
        self._generation = generation
        self._label = label
        self._timeout = timeout

    def _ask(self, op: str, what: str, **fields: Any) -> Any:
        __tracebackhide__ = True  # pytest shows the test's line, not these frames
        return self._learner._request(
            {"op": op, "ref": self._id, **fields},
            generation=self._generation,
            what=what,
            timeout=self._timeout,
        )

    def _attr(self, name: str) -> Any:
        __tracebackhide__ = True
        return self._ask("getattr", f"{self._label}.{name}", name=name)

    def __getattr__(self, name: str) -> Any:
        __tracebackhide__ = True
        if name.startswith("__"):
            raise AttributeError(name)
        return self._attr(name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        what = _describe_call(self._label, args, kwargs)
        hung = self._learner._hung.get((_NOW["task"], self._label))
        if hung:  # the same function already hung in this task: no second wait
            raise LearnerTimeout(
                f"{hung} did not return, so {what} was not called: {self._label} hung "
                "earlier in this task. Look for a loop that never ends, a call without a "
                "timeout, or a lock that is never released."
            )
        export = self._learner._export
        try:
            return self._ask(
                "call", what, args=encode(list(args), export), kwargs=encode(kwargs, export)
            )
        except LearnerTimeout:
            self._learner._hung[(_NOW["task"], self._label)] = what
            raise

    def __iter__(self) -> Iterator[Any]:
        __tracebackhide__ = True
        return iter(self._ask("iter", f"list({self._label})"))

    def __len__(self) -> int:
        __tracebackhide__ = True
        value = self._ask("len", f"len({self._label})")
        if type(value) is not int:
            raise LearnerGone(f"len({self._label}) came back as {type(value).__name__}")
        return value

    def __getitem__(self, key: Any) -> Any:
        __tracebackhide__ = True
        return self._ask(
            "getitem", f"{self._label}[{key!r}]", key=encode(key, self._learner._export)
        )

    def __enter__(self) -> Any:
        __tracebackhide__ = True
        return self._attr("__enter__")()

    def __exit__(self, *exc: object) -> None:
        __tracebackhide__ = True
        self._attr("__exit__")(None, None, None)

    def __repr__(self) -> str:
        return self._label

    def __del__(self) -> None:
        # Only noted here (any thread, even at shutdown); sent with the next request.
        with contextlib.suppress(Exception):
            self._learner._released.append((self._generation, self._id))


class Learner:
    """Handles on the learner's code, in a worker process started on first use.

    ``learner.Error``, ``learner.Timeout`` and ``learner.Gone`` are the exception classes,
    for tests that catch them (the package's import name differs in and out of the sandbox).
    """

    Error = LearnerError
    Timeout = LearnerTimeout
    Gone = LearnerGone

    def __init__(
        self, root: Path, *, timeout: float = DEFAULT_TIMEOUT_S, env: dict[str, str] | None = None
    ) -> None:
        self.root = root
        self.timeout = timeout
        self.env = dict(env or {})
        self._process: _Process | None = None
        self._generations = itertools.count(1)
        self._ids = itertools.count(1)
        self._judge_objects: dict[int, Any] = {}
        self._judge_ids: dict[int, int] = {}
        self._lock = threading.Lock()
        # As many as the learner's threads that may wait on a test's fake at once.
        self._callbacks = ThreadPoolExecutor(max_workers=64, thread_name_prefix="judge-callback")
        self._released: list[tuple[int, int]] = []
        self._spawner: _Spawner | None = None
        # (task, function) -> the call that did not return: later calls fail at once.
        self._hung: dict[tuple[str, str], str] = {}

    # -- the public surface --------------------------------------------------------------

    def module(self, name: str, *, timeout: float | None = None) -> Remote:
        """The learner's module ``name``, imported in the worker."""
        __tracebackhide__ = True
        process = self._running()
        value = self._request(
            {"op": "import", "name": name},
            generation=process.generation,
            what=f"import {name}",
            timeout=timeout or self.timeout,
            label=name,
        )
        if not isinstance(value, Remote):
            raise LearnerGone(f"import {name} came back as {type(value).__name__}, not a module")
        return value

    @contextlib.contextmanager
    def raises(self, *names: str) -> Iterator[pytest.ExceptionInfo[LearnerError]]:
        """Like ``pytest.raises``, for an exception of the learner's called ``names``."""
        with pytest.raises(LearnerError) as info:
            yield info
        if not any(info.value.is_a(n) for n in names):
            wanted = " or ".join(names)
            raise AssertionError(f"expected {wanted}, but the learner's code raised {info.value}")

    def restart(self) -> None:
        """Stop the worker; the next ``module()`` starts a fresh one."""
        with self._lock:
            process, self._process = self._process, None
        if process is not None:
            self._stop(process, "it was restarted")

    def close(self) -> None:
        self.restart()
        self._callbacks.shutdown(wait=False, cancel_futures=True)
        if self._spawner is not None:
            self._spawner.close()

    # -- the worker ----------------------------------------------------------------------

    def _running(self) -> _Process:
        with self._lock:
            if self._process is not None and not self._process.gone:
                return self._process
            if self._spawner is None:
                self._spawner = _Spawner()
            sock, kill = self._spawner.spawn(self.root, self.env)
            process = _Process(Channel(sock), kill, next(self._generations))
            self._process = process
        threading.Thread(target=self._read, args=(process,), daemon=True).start()
        return process

    def _stop(self, process: _Process, why: str) -> None:
        with process.lock:
            if not process.gone:
                process.gone = why
            waiting = list(process.pending.values())
            process.pending.clear()
        for slot in waiting:
            slot.done.set()
        with contextlib.suppress(Exception):
            process.kill()
        process.channel.close()

    def _read(self, process: _Process) -> None:
        why = "it exited"
        try:
            while True:
                message = process.channel.recv()
                if type(message.get("cb")) is int:
                    self._callbacks.submit(self._run_callback, process, message)
                    continue
                with process.lock:
                    slot = process.pending.pop(message.get("id"), None)  # type: ignore[arg-type]
                if slot is None:
                    raise ProtocolError("a reply to a request that was never sent")
                slot.reply = message
                slot.done.set()
        except ChannelClosed:
            why = "it exited (or crashed, or was killed: out of memory?)"
        except ProtocolError as exc:
            why = f"it broke the protocol: {exc}"
        except RuntimeError:  # the callback pool was shut down: the session is over
            why = "the test session ended"
        self._stop(process, why)

    def _request(
        self,
        message: dict[str, Any],
        *,
        generation: int,
        what: str,
        timeout: float,
        label: str | None = None,
    ) -> Any:
        __tracebackhide__ = True
        process = self._process
        if process is None or process.generation != generation or process.gone:
            reason = process.gone if process and process.generation == generation else ""
            raise LearnerGone(
                f"{what}: the learner's process that held this object is gone"
                + (f" ({reason})" if reason else " (it was replaced after an earlier failure)")
            )
        self._release_handles(process)
        slot = _Slot()
        with process.lock:
            request_id = next(self._ids)
            process.pending[request_id] = slot
        try:
            process.channel.send({**message, "id": request_id})
        except (ChannelClosed, ProtocolError) as exc:
            self._stop(process, f"it could not be reached ({exc})")
            raise LearnerGone(f"{what}: the learner's process could not be reached") from None
        if not _wait_saying_so(slot, what, timeout):
            self._stop(process, f"{what} did not return within {timeout:g} s")
            raise LearnerTimeout(
                f"{what} did not return within {timeout:g} s, so the learner's process was "
                "stopped. Look for a loop that never ends, a call without a timeout, or a "
                "lock that is never released."
            )
        reply = slot.reply
        if not reply:
            raise LearnerGone(f"{what}: the learner's process went away ({process.gone})")
        if "error" in reply:
            described = reply["error"] if isinstance(reply["error"], dict) else {}
            raise _error_class(described)(described, what)
        try:
            return decode(
                reply.get("ok"),
                lambda tag: self._resolve(tag, process.generation, label or what, timeout),
            )
        except ProtocolError as exc:
            self._stop(process, f"it broke the protocol: {exc}")
            raise LearnerGone(
                f"{what}: the learner's process sent a malformed reply ({exc})"
            ) from None

    def _release_handles(self, process: _Process) -> None:
        """Tell the worker which of its objects no test holds any more (no reply)."""
        with self._lock:
            released, self._released = self._released, []
        refs = [ref for generation, ref in released if generation == process.generation]
        if refs:
            with contextlib.suppress(ChannelClosed, ProtocolError):
                process.channel.send({"op": "release", "refs": refs})

    # -- values --------------------------------------------------------------------------

    def _resolve(self, tag: dict[str, Any], generation: int, label: str, timeout: float) -> Any:
        if tag["$"] == "cb":
            try:
                return self._judge_objects[tag["id"]]
            except KeyError:
                raise ProtocolError(f"no judge object {tag['id']}") from None
        return Remote(self, tag, generation, label, timeout)

    def _export(self, value: Any) -> dict[str, Any]:
        if isinstance(value, Remote):
            if value._learner is not self or value._generation != (
                self._process.generation if self._process else -1
            ):
                raise LearnerGone(f"{value._label} belongs to a learner process that is gone")
            return {"$": "ref", "id": value._id}
        with self._lock:
            known = self._judge_ids.get(id(value))
            if known is None:
                known = next(self._ids)
                self._judge_ids[id(value)] = known
                self._judge_objects[known] = value
        return {"$": "cb", "id": known}

    def _run_callback(self, process: _Process, message: dict[str, Any]) -> None:
        number = message["cb"]
        try:
            target = self._judge_objects[message.get("target")]  # type: ignore[index]
            method = message.get("method")
            if method is not None:
                if not isinstance(method, str) or method.startswith("_"):
                    raise AttributeError(f"the worker may not call {method!r}")
                target = getattr(target, method)
            resolve = lambda tag: self._resolve(tag, process.generation, "callback", self.timeout)  # noqa: E731
            args = decode(message.get("args", []), resolve)
            kwargs = decode(message.get("kwargs", {}), resolve)
            if not isinstance(args, list) or not isinstance(kwargs, dict):
                raise ProtocolError("callback arguments of the wrong shape")
            reply = {"cbr": number, "ok": encode(target(*args, **kwargs), self._export)}
        except BaseException as exc:  # the test's own object raised: tell the worker
            reply = {
                "cbr": number,
                "error": {"type": type(exc).__name__, "message": str(exc)[:2000]},
            }
        with contextlib.suppress(ChannelClosed, ProtocolError):
            process.channel.send(reply)


_SUPERVISOR: dict[int, socket.socket] = {}
_SUPERVISOR_LOCK = threading.Lock()  # one request and its reply at a time
_SUPERVISOR_MADE = threading.Lock()


def supervisor_socket() -> socket.socket | None:
    """The judge's socket to the supervisor, one object for the process's life.

    A judge that runs several sessions (``bulk``) makes a spawner per session; each
    closing its own socket object would close the one descriptor under the next.
    """
    fd = os.environ.get(SPAWNER_ENV)
    if not fd:
        return None
    with _SUPERVISOR_MADE:
        if int(fd) not in _SUPERVISOR:
            _SUPERVISOR[int(fd)] = socket.socket(fileno=int(fd))
        return _SUPERVISOR[int(fd)]


class _Spawner:
    """Starts workers: through the sandbox's supervisor, or as a plain subprocess."""

    def __init__(self) -> None:
        self._supervisor = supervisor_socket()
        self._lock = _SUPERVISOR_LOCK
        self._children: list[subprocess.Popen[bytes]] = []

    def spawn(self, root: Path, env: dict[str, str]) -> tuple[socket.socket, Callable[[], None]]:
        mine, theirs = socket.socketpair()
        try:
            if self._supervisor is not None:
                return mine, self._through_supervisor(theirs, root, env)
            return mine, self._directly(theirs, root, env)
        finally:
            theirs.close()

    def _through_supervisor(
        self, theirs: socket.socket, root: Path, env: dict[str, str]
    ) -> Callable[[], None]:
        assert self._supervisor is not None
        request = json.dumps({"op": "spawn", "cwd": str(root), "env": env}).encode()
        with self._lock:
            socket.send_fds(self._supervisor, [request], [theirs.fileno()])
            reply = json.loads(self._supervisor.recv(65536) or b"{}")
        pid = reply.get("pid")
        if type(pid) is not int:
            raise LearnerGone(f"the sandbox could not start the learner's process: {reply}")

        def kill() -> None:
            with self._lock:
                self._supervisor.sendall(json.dumps({"op": "kill", "pid": pid}).encode())  # type: ignore[union-attr]
                self._supervisor.recv(65536)  # type: ignore[union-attr]

        return kill

    def _directly(
        self, theirs: socket.socket, root: Path, env: dict[str, str]
    ) -> Callable[[], None]:
        child_env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("MLSKILLS_") or k == JOB_ENV  # the local runner's sweep
        }
        child_env.update(env)
        child_env["PYTHONPATH"] = os.pathsep.join([str(root), _PACKAGE_PARENT])
        proc = subprocess.Popen(
            [sys.executable, "-m", f"{_PACKAGE}.worker", "--fd", str(theirs.fileno())],
            cwd=root,
            env=child_env,
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: kill() takes its servers too
        )
        self._children.append(proc)

        def kill() -> None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

        return kill

    def close(self) -> None:
        for proc in self._children:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _learner_root(session: pytest.Session) -> Path:
    """The folder the learner's code is imported from.

    The grader says where (``MLSKILLS_LEARNER_ROOT``); under plain ``pytest`` it is the
    lab folder the tests belong to: the nearest folder above them with a ``lab.toml``.
    """
    configured = os.environ.get(ROOT_ENV)
    if configured:
        return Path(configured)
    starts = [Path(item.path) for item in session.items[:1]] + [session.config.rootpath]
    for start in starts:
        for folder in [start, *start.parents]:
            if (folder / "lab.toml").is_file():
                return folder
    return session.config.rootpath


@pytest.fixture(scope="session")
def learner(request: pytest.FixtureRequest) -> Iterator[Learner]:
    """Handles on the learner's code; see this module's docstring."""
    handle = Learner(_learner_root(request.session))
    try:
        yield handle
    finally:
        handle.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "task(n): the lab task this test belongs to")


# -- what a failure says first: a call that hung, a value of the wrong type ---------------

_NOW: dict[str, str] = {"task": "", "type_note": ""}
_PLAIN_TYPES = "None, bool, int, float, str, bytes, list, tuple, dict"


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("task")
    _NOW["task"] = str(marker.args[0]) if marker is not None and marker.args else item.nodeid
    _NOW["type_note"] = ""


def _type_name(value: Any) -> str:
    if isinstance(value, Remote):
        return value._type
    if type(value).__name__.startswith("Approx") and hasattr(value, "expected"):
        value = value.expected  # pytest.approx(1.5) expects a float
    return "None" if value is None else type(value).__name__


def pytest_assertrepr_compare(config: pytest.Config, op: str, left: Any, right: Any) -> None:
    """Note a comparison whose two sides differ in type; the failure will say it first."""
    if op != "==":
        return None
    got, want = (right, left) if isinstance(right, Remote) else (left, right)
    got_type, want_type = _type_name(got), _type_name(want)
    if got_type == want_type or {got_type, want_type} <= {"int", "float"}:
        return None
    note = f"wrong type: a {got_type} came back where a {want_type} was expected"
    if isinstance(got, Remote):
        note += (
            f" ({got._label} returned it, and only plain data crosses to the tests: {_PLAIN_TYPES})"
        )
    _NOW["type_note"] = note
    return None  # pytest's own explanation stays


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    note = _NOW["type_note"]
    crash = getattr(report.longrepr, "reprcrash", None)
    error = call.excinfo.value if call.excinfo is not None else None
    assertion = isinstance(error, AssertionError) and not isinstance(error, LearnerTimeout)
    if note and report.failed and assertion and crash is not None:
        crash.message = f"{note}. {crash.message.removeprefix('AssertionError: ')}"
    if isinstance(error, LearnerTimeout | LearnerGone) and crash is not None:
        # The sentence, not "mlskills_boundary.fixture.LearnerTimeout: " before it.
        crash.message = crash.message.removeprefix(f"{type(error).__module__}.")
        crash.message = crash.message.removeprefix(f"{type(error).__name__}: ")
    if call.when == "call":
        _NOW["type_note"] = ""
    return report
