"""PID 1 of a grading container: starts the judge and, on its request, learner workers.

    python -m mlskills_boundary.supervisor --judge-uid 2000 --learner-uid 1000 \\
        --learner-root /workspace/lab -- python -m pytest ...

It runs as root with only SETUID, SETGID, CHOWN and KILL, under ``no-new-privileges``.
The judge runs as ``--judge-uid`` and each worker as ``--learner-uid``, both with no
supplementary groups, so a worker cannot read the judge's files, its ``/proc`` entries,
or signal it. The judge asks for workers over a socket it inherited (``MLSKILLS_SPAWNER_FD``),
sending the worker's end of a socket pair with each request; a worker never sees this
socket. When the judge exits, every other process is killed and its exit code returned.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from .protocol import JOB_ENV, JUDGE_PYTHONPATH_ENV, SPAWNER_ENV

TEMPLATE_WAIT_S = 300.0  # the fork server's imports, on a loaded machine

_PACKAGE = __package__ or "mlskills_boundary"
_PACKAGE_PARENT = str(Path(__file__).resolve().parents[_PACKAGE.count(".") + 1])
# What a worker's environment is made of: nothing of the judge's leaks into it.
_LEARNER_ENV_KEEP = (
    "PATH",
    "LANG",
    "LC_ALL",
    "SPARK_LOCAL_IP",
    "MPLBACKEND",
    "NO_COLOR",
    "JAVA_HOME",
    JOB_ENV,  # the local runner's sweep finds leftover processes by it
)


class Supervisor:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workers: set[int] = set()
        self.lock = threading.Lock()
        self.judge_pid = 0
        self.template: socket.socket | None = None  # the fork server's socket, if any
        self.template_pid = 0

    def learner_root(self, request: dict[str, Any]) -> str:
        """The folder a worker starts in: the one the judge asks for, if it is a learner's
        folder this container was given (``--learner-root``, once per submission)."""
        wanted = request.get("cwd")
        roots: list[str] = self.args.learner_root
        return wanted if isinstance(wanted, str) and wanted in roots else roots[0]

    def learner_env(self, extra: dict[str, Any], root: str) -> dict[str, str]:
        env = {k: os.environ[k] for k in _LEARNER_ENV_KEEP if k in os.environ}
        env.update({str(k): str(v) for k, v in extra.items() if not str(k).startswith("MLSKILLS_")})
        env.update(
            {
                "HOME": "/tmp",
                "TMPDIR": "/tmp",
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONUNBUFFERED": "1",
                "PYTHONPATH": os.pathsep.join([root, _PACKAGE_PARENT]),
            }
        )
        return env

    def spawn(self, request: dict[str, Any], fd: int) -> dict[str, Any]:
        uid = self.args.learner_uid
        root = self.learner_root(request)
        env = self.learner_env(request.get("env") or {}, root)
        forked = self._fork(fd, root, env)
        if forked:
            with self.lock:
                self.workers.add(forked)
            return {"pid": forked}
        proc = subprocess.Popen(
            [sys.executable, "-m", f"{_PACKAGE}.worker", "--fd", str(fd)],
            cwd=root,
            env=env,
            pass_fds=[fd],
            stdin=subprocess.DEVNULL,
            user=uid,
            group=uid,
            extra_groups=[],
            start_new_session=True,
        )
        with self.lock:
            self.workers.add(proc.pid)
        threading.Thread(target=proc.wait, daemon=True).start()  # reap it when it exits
        return {"pid": proc.pid}

    def start_template(self, distributions: str) -> None:
        """The fork server (bulk grading of mutants): a process of the learner's user that
        imports the lab's libraries once and forks each worker from them."""
        mine, theirs = socket.socketpair()
        env = self.learner_env({}, self.args.learner_root[0])
        env["PYTHONPATH"] = _PACKAGE_PARENT  # no learner's folder: it imports libraries only
        uid = self.args.learner_uid
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", f"{_PACKAGE}.worker"),
                *("--fd", str(theirs.fileno()), "--template", distributions),
            ],
            cwd="/",
            env=env,
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            user=uid,
            group=uid,
            extra_groups=[],
            start_new_session=True,
        )
        theirs.close()
        mine.settimeout(TEMPLATE_WAIT_S)
        self.template, self.template_pid = mine, proc.pid
        threading.Thread(target=proc.wait, daemon=True).start()

    def _fork(self, fd: int, root: str, env: dict[str, str]) -> int:
        """A worker forked by the fork server, or 0 (then the caller starts one itself)."""
        if self.template is None:
            return 0
        try:
            request = json.dumps({"root": root, "env": env}).encode()
            socket.send_fds(self.template, [request], [fd])
            reply = json.loads(self.template.recv(65536) or b"{}")
        except (OSError, ValueError):
            reply = {}
        pid = reply.get("pid") if isinstance(reply, dict) else None
        if type(pid) is int and pid > 0:
            return pid
        self.template = None  # it cannot fork (or is gone): every worker from scratch
        return 0

    def kill(self, request: dict[str, Any]) -> dict[str, Any]:
        pid = request.get("pid")
        with self.lock:
            known = pid in self.workers
        if known and type(pid) is int:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)  # a forked worker not yet in its own group
        return {"killed": known}

    def reset(self) -> dict[str, Any]:
        """Between two submissions graded by one judge: end every process of the learner's
        user and remove its files from /tmp, so nothing of one reaches the next."""
        uid = self.args.learner_uid
        with self.lock:
            self.workers.clear()
        _kill_the_rest({uid}, only_uids=True, spare=self.template_pid)
        # Root here cannot delete another user's files (no CAP_FOWNER): the learner's
        # own user does, in a process that holds nothing else.
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            subprocess.run(
                [sys.executable, "-c", _CLEAR_TMP],
                cwd="/",
                env={"PATH": os.environ.get("PATH", "")},
                stdin=subprocess.DEVNULL,
                user=uid,
                group=uid,
                extra_groups=[],
                timeout=60,
                check=False,
            )
        _kill_the_rest({uid}, only_uids=True, spare=self.template_pid)
        self._reap_orphans()
        return {"reset": True}

    def _reap_orphans(self) -> None:
        """Reap the learner's processes that were handed to this one (PID 1) when their
        parents died: in a long run their zombies would fill the pids limit."""
        me = str(os.getpid())
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == self.judge_pid:
                continue
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if fields[0] == "Z" and fields[1] == me:
                with contextlib.suppress(ChildProcessError, OSError):
                    os.waitpid(int(entry), os.WNOHANG)

    def serve(self, channel: socket.socket) -> None:
        """Answer the judge's spawn and kill requests until it closes the socket."""
        while True:
            try:
                data, fds, _, _ = socket.recv_fds(channel, 65536, 4)
            except OSError:
                return
            if not data:
                return
            try:
                request = json.loads(data)
                if request.get("op") == "spawn" and len(fds) == 1:
                    reply = self.spawn(request, fds[0])
                elif request.get("op") == "kill":
                    reply = self.kill(request)
                elif request.get("op") == "reset":
                    reply = self.reset()
                else:
                    reply = {"error": "unknown request"}
            except (ValueError, OSError, subprocess.SubprocessError) as exc:
                reply = {"error": str(exc)}
            finally:
                for fd in fds:
                    os.close(fd)
            with contextlib.suppress(OSError):
                channel.sendall(json.dumps(reply).encode())

    def run(self, command: list[str]) -> int:
        judge_uid = self.args.judge_uid
        judge_tmp = Path(self.args.judge_tmp)
        mine, theirs = socket.socketpair()
        env = {k: v for k, v in os.environ.items() if k != JUDGE_PYTHONPATH_ENV}
        env.update(
            {
                SPAWNER_ENV: str(theirs.fileno()),
                "HOME": str(judge_tmp),
                "TMPDIR": str(judge_tmp),
                "PYTHONPATH": os.environ.get(JUDGE_PYTHONPATH_ENV, ""),
            }
        )
        cwd = self.args.judge_cwd
        if self.args.fork_server is not None:
            self.start_template(self.args.fork_server)  # imports while the judge starts
        judge = subprocess.Popen(
            command,
            env=env,
            pass_fds=[theirs.fileno()],
            stdin=subprocess.DEVNULL,
            user=judge_uid,
            group=judge_uid,
            extra_groups=[],
            # Only the judge may enter its folder, so it changes into it once it is the
            # judge (root here has no DAC override); no other thread runs yet.
            preexec_fn=lambda: os.chdir(cwd),
        )
        self.judge_pid = judge.pid
        theirs.close()
        threading.Thread(target=self.serve, args=(mine,), daemon=True).start()
        code = judge.wait()
        _kill_the_rest({judge_uid, self.args.learner_uid})
        return code


_CLEAR_TMP = """
import os, shutil
for entry in os.scandir("/tmp"):
    if entry.name.startswith("mlskills-template-"):  # the fork server's own HOME
        continue
    try:
        if entry.stat(follow_symlinks=False).st_uid != os.getuid():
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            os.unlink(entry.path)
    except OSError:
        pass
"""


def _kill_the_rest(uids: set[int], *, only_uids: bool = False, spare: int = 0) -> None:
    """Kill what the judge and the workers left running: in a container (where this is
    PID 1) every other process, and on a shared machine (or with ``only_uids``) every
    process of their users."""
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in (me, spare):
            continue
        if me != 1 or only_uids:
            try:
                with open(f"/proc/{entry}/status") as handle:
                    line = next(ln for ln in handle if ln.startswith("Uid:"))
            except (OSError, StopIteration):
                continue
            if int(line.split()[1]) not in uids:
                continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(int(entry), signal.SIGKILL)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="mlskills supervisor")
    parser.add_argument("--judge-uid", type=int, required=True)
    parser.add_argument("--learner-uid", type=int, required=True)
    parser.add_argument(
        "--learner-root",
        action="append",
        required=True,
        help="where workers start; once per submission when one judge grades several",
    )
    parser.add_argument("--judge-tmp", required=True, help="the judge's private tmpfs")
    parser.add_argument("--judge-cwd", required=True, help="the folder pytest runs in")
    parser.add_argument(
        "--max-file-mb", type=int, required=True, help="no process may write a bigger file"
    )
    parser.add_argument(
        "--fork-server",
        metavar="DISTRIBUTIONS",
        help="fork workers from a process that imported these (bulk mutant grading only)",
    )
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if os.geteuid() != 0:
        sys.exit("the supervisor must start as root (with SETUID, SETGID and KILL)")
    # Inherited by every child: a write past it fails (Python ignores SIGXFSZ: EFBIG).
    cap = args.max_file_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))
    sys.exit(Supervisor(args).run(command))


if __name__ == "__main__":
    main()
