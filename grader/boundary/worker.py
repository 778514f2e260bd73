"""The learner worker: imports the submission and serves the judge's requests.

    python -m mlskills_boundary.worker --fd N      (cwd: the learner's lab folder)

Everything here runs with the learner's code, as the learner's user, so nothing here is
trusted: the judge checks every reply it gets. This module only makes the honest path
work: it keeps objects that are not plain data and hands the judge references to them,
runs each request in a thread (the judge may call from several threads at once), and
routes calls on the judge's objects (fake clocks, recorders) back to the judge.
"""

from __future__ import annotations

import argparse
import builtins
import contextlib
import importlib
import itertools
import json
import os
import re
import select
import shutil
import signal
import socket
import sys
import tempfile
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .protocol import Channel, ChannelClosed, ProtocolError, decode, encode

MESSAGE_LIMIT = 4000
TRACEBACK_LIMIT = 8000
CALLBACK_WAIT_S = 600.0


class CallbackFailed(Exception):
    """A call back into the judge's object raised; the judge's message says why."""


class _Slot:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.reply: dict[str, Any] = {}


class _JudgeObject:
    """Stands for an object of the judge's: calls and method calls go back to the judge."""

    def __init__(self, worker: Worker, target: int) -> None:
        self._worker = worker
        self._target = target

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._worker.callback(self._target, None, args, kwargs)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)

        def method(*args: Any, **kwargs: Any) -> Any:
            return self._worker.callback(self._target, name, args, kwargs)

        return method


class Worker:
    def __init__(self, channel: Channel, root: str, home: str = "") -> None:
        self.channel = channel
        self.root = root
        self.home = home
        self.objects: dict[int, Any] = {}
        self._ids = itertools.count(1)
        self._callbacks: dict[int, _Slot] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=64, thread_name_prefix="learner-call")

    def serve(self) -> None:
        try:
            while True:
                message = self.channel.recv()
                if "op" in message:
                    self._pool.submit(self._handle, message)
                elif type(message.get("cbr")) is int:
                    with self._lock:
                        slot = self._callbacks.pop(message["cbr"], None)
                    if slot is not None:
                        slot.reply = message
                        slot.done.set()
        except (ChannelClosed, ProtocolError):
            pass
        # The judge is gone: nobody is waiting for anything this process does.
        sys.stdout.flush()
        if self.home:
            shutil.rmtree(self.home, ignore_errors=True)
        os._exit(0)

    # -- values ------------------------------------------------------------------------

    def export(self, value: Any) -> dict[str, Any]:
        if isinstance(value, _JudgeObject):
            return {"$": "cb", "id": value._target}
        with self._lock:
            ref = next(self._ids)
            self.objects[ref] = value
        kind = type(value)
        try:
            text = repr(value)[:200]
        except Exception:
            text = f"<{kind.__name__}>"
        return {
            "$": "ref",
            "id": ref,
            "type": f"{kind.__module__}.{kind.__qualname__}",
            "repr": text,
            "callable": callable(value),
        }

    def resolve(self, tag: dict[str, Any]) -> Any:
        if tag["$"] == "cb":
            return _JudgeObject(self, tag["id"])
        try:
            return self.objects[tag["id"]]
        except KeyError:
            raise ProtocolError(f"no object {tag['id']} in this worker") from None

    # -- requests ----------------------------------------------------------------------

    def _handle(self, message: dict[str, Any]) -> None:
        request_id = message.get("id")
        if request_id is None:  # a notice (releasing handles): nobody waits for a reply
            with contextlib.suppress(Exception):
                self._perform(message)
            return
        try:
            value = self._perform(message)
            reply = {"id": request_id, "ok": encode(value, self.export)}
        except BaseException as exc:  # the learner's code may raise anything, SystemExit too
            reply = {"id": request_id, "error": self.describe(exc)}
        try:
            self.channel.send(reply)
        except ProtocolError as exc:
            self.channel.send({"id": request_id, "error": self.describe(exc)})
        except ChannelClosed:
            pass

    def _perform(self, message: dict[str, Any]) -> Any:
        op = message["op"]
        if op == "import":
            return importlib.import_module(str(message["name"]))
        if op == "ping":
            return os.getpid()
        if op == "release":
            with self._lock:
                for ref in message.get("refs", []):
                    self.objects.pop(ref, None)
            return None
        target = self.resolve({"$": "ref", "id": message["ref"]})
        if op == "getattr":
            return getattr(target, str(message["name"]))
        if op == "call":
            args = decode(message.get("args", []), self.resolve)
            kwargs = decode(message.get("kwargs", {}), self.resolve)
            return target(*args, **kwargs)
        if op == "iter":
            return list(target)
        if op == "len":
            return len(target)
        if op == "getitem":
            return target[decode(message["key"], self.resolve)]
        if op == "repr":
            return repr(target)[:MESSAGE_LIMIT]
        raise ProtocolError(f"unknown op {op!r}")

    def callback(
        self, target: int, method: str | None, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        slot = _Slot()
        with self._lock:
            number = next(self._ids)
            self._callbacks[number] = slot
        self.channel.send(
            {
                "cb": number,
                "target": target,
                "method": method,
                "args": encode(list(args), self.export),
                "kwargs": encode(kwargs, self.export),
            }
        )
        if not slot.done.wait(CALLBACK_WAIT_S):
            raise CallbackFailed("the judge did not answer a callback")
        if "error" in slot.reply:
            raise _callback_error(slot.reply["error"])
        return decode(slot.reply.get("ok"), self.resolve)

    def describe(self, exc: BaseException) -> dict[str, Any]:
        """An exception as plain data: its classes, message, and where the learner raised it."""
        kind = type(exc)
        mro = [f"{c.__module__}.{c.__qualname__}" for c in kind.__mro__ if c is not object]
        try:
            message = str(exc)
        except Exception:
            message = f"<{kind.__name__} whose str() failed>"
        if isinstance(exc, SyntaxError) and exc.text:  # the line, and where in it
            caret = " " * max((exc.offset or 1) - 1, 0) + "^"
            message += f"\n    {exc.text.rstrip()}\n    {caret}"
        described: dict[str, Any] = {
            "type": kind.__name__,
            "mro": mro,
            "message": message[:MESSAGE_LIMIT],
            "where": self._where(exc),
            "traceback": self._traceback(exc),
        }
        code = getattr(exc, "code", None)
        if callable(code):  # grpc.RpcError: the status code is what a test asks about
            try:
                status = code()
                described["code"] = str(getattr(status, "name", status))
                details = getattr(exc, "details", None)
                described["details"] = str(details() if callable(details) else "")[:MESSAGE_LIMIT]
            except Exception:
                pass
        return described

    def _relative(self, path: str) -> str:
        prefix = self.root.rstrip(os.sep) + os.sep
        return path[len(prefix) :] if path.startswith(prefix) else path

    def _where(self, exc: BaseException) -> str:
        frames = [
            f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(self.root)
        ]
        if isinstance(exc, SyntaxError) and exc.filename:
            return f"{self._relative(exc.filename)}:{exc.lineno}"
        if not frames:
            return ""
        last = frames[-1]
        return f"{self._relative(last.filename)}:{last.lineno} in {last.name}"

    def _traceback(self, exc: BaseException) -> str:
        text = "".join(traceback.format_exception(exc))
        text = text.replace(self.root.rstrip(os.sep) + os.sep, "")
        return text[-TRACEBACK_LIMIT:]


def _callback_error(error: Any) -> Exception:
    """The judge's exception, as a builtin type where it was one, so learner code that
    catches ``ConnectionError`` from a test's fake still catches it."""
    kind = error.get("type", "") if isinstance(error, dict) else ""
    message = str(error.get("message", "") if isinstance(error, dict) else error)
    builtin = getattr(builtins, str(kind), None)
    if isinstance(builtin, type) and issubclass(builtin, Exception):
        try:
            return builtin(message[:MESSAGE_LIMIT])
        except Exception:
            pass
    return CallbackFailed(f"{kind}: {message}"[:MESSAGE_LIMIT])


def _fresh_home(prefix: str = "mlskills-learner-") -> str:
    """A private HOME and TMPDIR, so the learner's files never mix with anyone else's."""
    home = tempfile.mkdtemp(prefix=prefix)
    os.environ["HOME"] = home
    os.environ["TMPDIR"] = home
    tempfile.tempdir = None
    return home


def _first_to_go() -> None:
    """Out of memory, the kernel kills this process before the judge."""
    try:
        with open("/proc/self/oom_score_adj", "w") as handle:
            handle.write("1000")
    except OSError:
        pass


# -- the fork server (bulk mutant grading only) -------------------------------------------


def _import_names(distributions: list[str]) -> list[str]:
    """The top-level modules of ``distributions`` (``scikit-learn`` -> ``sklearn``)."""
    from importlib.metadata import packages_distributions

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", re.split(r"[\[<>=!~; ]", name, maxsplit=1)[0]).lower()

    wanted = {norm(d) for d in distributions if d.strip()}
    return sorted(
        top
        for top, owners in packages_distributions().items()
        if top.isidentifier() and not top.startswith("_") and wanted & {norm(o) for o in owners}
    )


def template(fd: int, preload: list[str]) -> None:
    """Import the lab's libraries once, then fork a fresh worker per request.

    Runs as the learner's user, started by the supervisor, and never imports learner
    code: its children start from the libraries alone, each in its own session, folder,
    environment and HOME. Only for grading mutants in bulk; a learner's grade starts
    each worker from scratch. A request that comes while the libraries are still being
    imported is served between two imports, with what is imported so far. If an import
    left a thread running, forking would not be safe: every request is then refused,
    and the supervisor starts workers itself.
    """
    _first_to_go()
    _fresh_home("mlskills-template-")  # /tmp is cleared between mutants, but not this
    sock = socket.socket(fileno=fd)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the kernel reaps the children
    waiting = _import_names(preload)
    while True:
        if waiting and not select.select([sock], [], [], 0)[0]:
            with contextlib.suppress(BaseException):
                importlib.import_module(waiting.pop(0))
            continue
        try:
            data, fds, _, _ = socket.recv_fds(sock, 1 << 20, 1)
        except OSError:
            os._exit(0)
        if not data:
            os._exit(0)
        if threading.active_count() != 1 or len(fds) != 1:
            for extra in fds:
                os.close(extra)
            sock.sendall(json.dumps({"error": "cannot fork"}).encode())
            continue
        pid = os.fork()
        if pid == 0:
            try:
                sock.close()
                _forked(fds[0], json.loads(data))
            finally:
                os._exit(1)
        os.close(fds[0])
        sock.sendall(json.dumps({"pid": pid}).encode())


def _forked(fd: int, request: dict[str, Any]) -> None:
    """A fork-server child becomes a worker as ``main`` would start one."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    os.setsid()  # its own process group, so a kill takes its servers too
    root = str(request["root"])
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in dict(request["env"]).items()})
    os.chdir(root)
    sys.path[0] = root
    sys.path.insert(0, root)
    importlib.invalidate_caches()
    home = _fresh_home()
    Worker(Channel(socket.socket(fileno=fd)), root, home).serve()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="mlskills worker")
    parser.add_argument("--fd", type=int, required=True, help="the connected channel socket")
    parser.add_argument(
        "--template",
        metavar="DISTRIBUTIONS",
        help="be a fork server: import these distributions' modules, fork a worker per request",
    )
    args = parser.parse_args(argv)
    if args.template is not None:
        template(args.fd, args.template.split(","))
        return
    _first_to_go()
    home = _fresh_home()
    root = os.getcwd()
    sys.path.insert(0, root)
    sock = socket.socket(fileno=args.fd)
    Worker(Channel(sock), root, home).serve()


if __name__ == "__main__":
    main()
