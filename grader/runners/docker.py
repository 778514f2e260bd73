"""Run the suite in a sandboxed container. The only module that imports ``docker``.

The sandbox: network ``none`` (loopback only), read-only root with size-capped tmpfs
areas, hostname ``localhost``, a memory limit with no swap, a CPU quota, a pids limit,
``no-new-privileges``, and a ``mlskills.job`` label. PID 1 is the boundary's supervisor,
as root with only SETUID, SETGID and KILL: it starts pytest (the judge) as one user and,
for a sealed lab, each learner worker as another. The workspace goes in by
``put_archive`` into an anonymous volume, owners and modes set in the tar, and the
results come out by ``get_archive``: no host path is mounted, and never the Docker
socket. The container is always removed.
"""

from __future__ import annotations

import fcntl
import io
import json
import logging
import os
import re
import secrets
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import docker
import requests
from docker.errors import APIError, BuildError, DockerException, ImageNotFound, NotFound
from docker.types import LogConfig, Mount

from grader import images
from grader.errors import ImageBuildError, RunnerUnavailable
from grader.lab import Lab
from grader.runners.base import (
    BulkRequest,
    OutputCapture,
    RunOutcome,
    RunRequest,
    echo_to_stderr,
)
from grader.workspace import (
    BOUNDARY_PACKAGE,
    Workspace,
    grading_env,
    pytest_command,
    supervised,
)

__all__ = [
    "COMPOSE_IMAGE",
    "DockerRunner",
    "build_images",
    "engine_problem",
    "ensure_image",
    "ensure_lab_image",
]

log = logging.getLogger(__name__)

JOB_LABEL = "mlskills.job"
COMPOSE_IMAGE = "mlskills-grader"  # every lab's packages, for docker-compose.yml
RESULTS_LIMIT = 16 * 1024 * 1024
LOG_TAIL_LINES = 500


def _client(timeout: int = 120) -> docker.DockerClient:
    return docker.from_env(timeout=timeout)


def _unix_socket_answers(path: str) -> bool:
    """Whether something accepts connections on ``path``, using a socket we always close.

    The SDK leaves its socket open when ``connect`` fails, so a dead socket is probed here.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(5)
        try:
            probe.connect(path)
        except OSError:
            return False
    return True


def engine_problem() -> str | None:
    """``None`` when an engine answers, otherwise a sentence saying which one did not."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if host.startswith("unix://") and not _unix_socket_answers(host.removeprefix("unix://")):
        return f"No Docker engine answered at {host}."
    try:
        client = _client(timeout=5)
    except (DockerException, requests.RequestException, OSError):
        return f"No Docker engine answered at {host}."
    try:
        client.ping()
    except (DockerException, requests.RequestException, OSError):
        return f"No Docker engine answered at {host}."
    finally:
        client.close()
    return None


@contextmanager
def _build_lock() -> Iterator[None]:
    """One image build at a time per machine, so parallel grades don't race."""
    path = images.cache_dir() / "build.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _image_id(client: docker.DockerClient, tag: str) -> str | None:
    try:
        return str(client.images.get(tag).id)
    except ImageNotFound:
        return None


def _ensure_base(client: docker.DockerClient, debian: tuple[str, ...] = ()) -> tuple[str, str]:
    """(tag, id) of the base image with ``debian`` in it: reused, pulled where a registry
    answers, or bootstrapped. Labs with the same Debian packages share one base."""
    choice = os.environ.get("MLSKILLS_BASE", "auto")
    for source in ("debootstrap", "registry"):
        tag = images.base_tag(source, debian)
        found = _image_id(client, tag)
        if found and choice in ("auto", source):
            return tag, found
    if choice in ("auto", "registry"):
        try:
            client.images.pull(images.REGISTRY_BASE)
        except (DockerException, requests.RequestException) as exc:
            if choice == "registry":
                raise ImageBuildError(f"Could not pull {images.REGISTRY_BASE}: {exc}") from None
            log.info("no registry (%s); bootstrapping the base image", exc)
        else:
            tag = images.base_tag("registry", debian)
            with tempfile.TemporaryDirectory() as ctx:
                Path(ctx, "Dockerfile").write_text(images.registry_base_dockerfile(debian))
                _build(client, path=ctx, tag=tag)
            return tag, str(client.images.get(tag).id)
    tag = images.base_tag("debootstrap", debian)
    rootfs = images.rootfs_dir(debian)
    images.debootstrap(rootfs, debian)
    repository, version = tag.split(":")
    with tempfile.TemporaryDirectory(dir=images.cache_dir()) as tmp:
        tarball = Path(tmp) / "rootfs.tar"
        subprocess.run(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], check=True)
        client.api.import_image_from_file(str(tarball), repository=repository, tag=version)
    return tag, str(client.images.get(tag).id)


def _build(client: docker.DockerClient, **kwargs: Any) -> None:
    try:
        client.images.build(rm=True, forcerm=True, pull=False, network_mode="none", **kwargs)
    except BuildError as exc:
        lines = [str(chunk.get("stream") or chunk.get("error") or "") for chunk in exc.build_log]
        raise ImageBuildError(
            f"The image build failed: {exc.msg}\n{''.join(lines)[-3000:]}"
        ) from None


def ensure_image(
    client: docker.DockerClient,
    name: str,
    python: tuple[str, ...],
    *,
    debian: tuple[str, ...] = (),
    hook: Path | None = None,
) -> str:
    """The tag of an image with ``python`` (and ``debian``, and ``hook`` run) in it, built
    only if its inputs changed."""
    with _build_lock():
        base_tag, base_id = _ensure_base(client, debian)
        plan = images.plan_for(python, base_id, hook)
        if _image_id(client, plan.tag) is None:
            log.info("building %s", plan.tag)
            with tempfile.TemporaryDirectory(dir=images.cache_dir()) as tmp:
                context = images.prepare_context(plan, Path(tmp) / "context")
                _build(
                    client,
                    path=str(context),
                    tag=plan.tag,
                    buildargs={"BASE": base_tag},
                    labels={"mlskills.requirements": " ".join(plan.requirements)},
                )
        client.images.get(plan.tag).tag(name, "latest")
        return plan.tag


def ensure_lab_image(client: docker.DockerClient, lab: Lab) -> str:
    hook = lab.root / lab.image.build if lab.image.build else None
    return ensure_image(
        client, f"mlskills-lab-{lab.slug}", lab.image.python, debian=lab.image.debian, hook=hook
    )


def build_images(labs: list[Lab], *, compose: bool = False) -> list[str]:
    """Build (or reuse) the images of ``labs``; with ``compose``, one image for them all."""
    client = _client()
    try:
        if compose:
            union = tuple(sorted({pkg for lab in labs for pkg in lab.image.python}))
            debian = tuple(sorted({pkg for lab in labs for pkg in lab.image.debian}))
            return [ensure_image(client, COMPOSE_IMAGE, union, debian=debian)]
        return [ensure_lab_image(client, lab) for lab in labs]
    finally:
        client.close()


# Where the workspace lives in the container: one volume, filled by put_archive before
# the container starts. The learner's side is root-owned and read-only to everyone; the
# judge's side is a 0700 folder of the judge's user, which no other user can even list.
GRADING = "/grading"
LEARNER_DIR = f"{GRADING}/workspace/lab"
GRADER_DIR = f"{GRADING}/workspace/grader"
JUDGE_DIR = f"{GRADING}/judge/lab"
RESULTS_DIR = f"{GRADING}/judge/results"
JUDGE_TMP = "/judge-tmp"


def _tar_of(
    workspace: Workspace, judge_uid: int, learners: Sequence[tuple[Path, str]] = ()
) -> bytes:
    """The workspace as laid out under ``GRADING``, with owners and modes set in the tar.

    Docker keeps them when it unpacks, so nothing in the container needs to chown.
    ``learners`` (bulk grading) are more learner folders, each at its own path under
    ``workspace/``, instead of the workspace's own.
    """
    buffer = io.BytesIO()

    def read_only(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mode = 0o755 if info.isdir() else 0o644
        return info

    def private_dir(name: str) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type = tarfile.DIRTYPE
        if workspace.sealed:
            info.uid = info.gid = judge_uid
            info.mode = 0o700
        else:  # the judge is the learner: nothing to hide, and nothing of it to own
            info.mode = 0o755
        return info

    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.addfile(read_only(_dir_info("workspace")))
        tar.add(workspace.grader_dir, arcname="workspace/grader", filter=read_only)
        for folder, arcname in learners:
            tar.add(folder, arcname=arcname, filter=read_only)
        if workspace.sealed and not learners:
            tar.add(workspace.learner_dir, arcname="workspace/lab", filter=read_only)
        tar.addfile(private_dir("judge"))
        tar.add(workspace.judge_dir, arcname="judge/lab", filter=read_only)
        results = private_dir("judge/results")
        if not workspace.sealed:
            # The in-process judge is the learner: it may create the results file by the
            # name it was given, but not list the folder to find it.
            results.uid = results.gid = 0
            results.mode = 0o1733
        tar.addfile(results)
    return buffer.getvalue()


def _dir_info(name: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    return info


class _Chunks(io.RawIOBase):
    """A file-like view of the chunks ``get_archive`` streams, so nothing is held whole."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._left = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._left:
            try:
                self._left = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._left))
        buffer[:size] = self._left[:size]
        self._left = self._left[size:]
        return size


def _read_results(container: Any, path: str) -> tuple[str | None, str]:
    """(the results, '') or (None, why not); the size cap is checked before reading."""
    try:
        stream, _ = container.get_archive(path)
    except NotFound:
        return None, ""
    with tarfile.open(fileobj=io.BufferedReader(_Chunks(iter(stream))), mode="r|") as tar:
        member = tar.next()
        if member is None or not member.isfile():
            return None, ""
        if member.size > RESULTS_LIMIT:
            return None, (
                f"The results file grew to {member.size:,} bytes, over the "
                f"{RESULTS_LIMIT:,}-byte limit, so it was not read."
            )
        handle = tar.extractfile(member)
        if handle is None:
            return None, ""
        return handle.read(RESULTS_LIMIT).decode("utf-8", "replace"), ""


def _read_results_dir(container: Any, path: str) -> dict[str, tuple[str | None, str]]:
    """Every file in the folder ``path``: name -> (its text, '') or (None, why not)."""
    try:
        stream, _ = container.get_archive(path)
    except NotFound:
        return {}
    found: dict[str, tuple[str | None, str]] = {}
    with tarfile.open(fileobj=io.BufferedReader(_Chunks(iter(stream))), mode="r|") as tar:
        for member in tar:
            if not member.isfile():
                continue
            name = member.name.rsplit("/", 1)[-1]
            if member.size > RESULTS_LIMIT:
                found[name] = (
                    None,
                    f"The results file grew to {member.size:,} bytes, over the "
                    f"{RESULTS_LIMIT:,}-byte limit, so it was not read.",
                )
                continue
            handle = tar.extractfile(member)
            if handle is not None:
                found[name] = (handle.read(RESULTS_LIMIT).decode("utf-8", "replace"), "")
    return found


def _status_events(text: str | None) -> dict[int, dict[str, Any]]:
    """The bulk driver's last word on each session: start, done or timeout."""
    events: dict[int, dict[str, Any]] = {}
    for line in (text or "").splitlines():
        with suppress(ValueError):
            record = json.loads(line)
            if isinstance(record, dict) and type(record.get("index")) is int:
                events[record["index"]] = record
    return events


_SEGMENT = re.compile(rb"^=== mlskills bulk submission (\d+) ===$", re.MULTILINE)


class _FullLog(OutputCapture):
    """A bulk container's whole output (up to a cap), cut into each session's part."""

    LIMIT = 32 * 1024 * 1024

    def __init__(self) -> None:
        super().__init__()
        self._all = bytearray()

    def feed(self, chunk: bytes) -> None:
        super().feed(chunk)
        room = self.LIMIT - len(self._all)
        if room > 0:
            self._all += chunk[:room]

    def segments(self) -> dict[int, str]:
        """Each session's output, capped as a single grade's is."""
        data = bytes(self._all)
        marks = list(_SEGMENT.finditer(data))
        parts: dict[int, str] = {}
        for n, mark in enumerate(marks):
            end = marks[n + 1].start() if n + 1 < len(marks) else len(data)
            capture = OutputCapture()
            capture.feed(data[mark.end() : end].lstrip(b"\n"))
            parts[int(mark.group(1))] = capture.text()
        return parts


class DockerRunner:
    name = "docker"

    def __init__(self, *, fork_server: bool = True) -> None:
        self.notices: tuple[str, ...] = ()
        # Bulk runs only: workers forked from one that imported the lab's libraries.
        self.fork_server = fork_server

    def run(self, request: RunRequest) -> RunOutcome:
        lab = request.lab
        try:
            client = _client()
        except DockerException as exc:
            raise RunnerUnavailable(f"Docker is not usable: {exc}") from None
        try:
            image = ensure_lab_image(client, lab)
            return self._run_container(client, image, request)
        finally:
            client.close()

    def _run_container(
        self, client: docker.DockerClient, image: str, request: RunRequest
    ) -> RunOutcome:
        lab = request.lab
        workspace = request.workspace
        token = secrets.token_hex(16)
        results_path = f"{RESULTS_DIR}/{token}.jsonl"
        # A sealed lab's judge is a user of its own; an in-process lab's tests import the
        # learner's code, so they run as the learner.
        judge_uid = images.JUDGE_UID if workspace.sealed else images.LEARNER_UID
        learner_dir = LEARNER_DIR if workspace.sealed else JUDGE_DIR
        environment = grading_env(
            grader_dir=GRADER_DIR,
            judge_dir=JUDGE_DIR,
            learner_dir=learner_dir,
            results=results_path,
        )
        command = supervised(
            pytest_command(
                "python", GRADER_DIR, JUDGE_DIR, request.tasks, fail_fast=request.fail_fast
            ),
            environment,
            python="python",
            grader_dir=GRADER_DIR,
            judge_dir=JUDGE_DIR,
            learner_dir=learner_dir,
            judge_tmp=JUDGE_TMP,
            judge_uid=judge_uid,
            learner_uid=images.LEARNER_UID,
            max_file_mb=lab.limits.memory_mb // 2,
        )
        container = _create(client, image, lab, command, environment, judge_uid, token)
        capture = OutputCapture(echo=echo_to_stderr if request.live else None)
        started = time.monotonic()
        timed_out = False
        exit_code: int | None = None
        try:
            container.put_archive(GRADING, _tar_of(workspace, judge_uid))
            container.start()
            reader = threading.Thread(target=_pump_logs, args=(container, capture), daemon=True)
            reader.start()
            try:
                exit_code = int(container.wait(timeout=lab.limits.time_limit_s)["StatusCode"])
            except (requests.RequestException, OSError):
                timed_out = True
                _quietly(container.kill)
            duration = time.monotonic() - started
            reader.join(timeout=10)
            _settle_tail(container, capture)
            container.reload()
            oom = bool(container.attrs["State"].get("OOMKilled"))
            results, results_problem = _read_results(container, results_path)
        finally:
            _quietly(lambda: container.remove(v=True, force=True))
        error = results_problem
        notices = self.notices
        finished = results is not None and '"kind": "session"' in results
        if oom and not timed_out and workspace.sealed and finished:
            # The learner's processes go first when memory runs out, and the judge
            # recorded what that cost them.
            notices = (
                *notices,
                f"Your code ran out of memory (this lab allows {lab.limits.memory_mb} MB) "
                "and was killed; the tests that needed it failed.",
            )
        elif oom and not timed_out:
            error = error or (
                f"The tests ran out of memory (this lab allows {lab.limits.memory_mb} MB) "
                "and were killed."
            )
        return RunOutcome(
            runner=self.name,
            exit_code=exit_code,
            results=results,
            output=capture.text(),
            duration_s=duration,
            timed_out=timed_out,
            error=error,
            notices=notices,
        )

    # -- bulk: several submissions, one judge -------------------------------------------

    def run_bulk(self, request: BulkRequest) -> list[RunOutcome]:
        """Grade each of ``request.workspaces`` as :meth:`run` would, with one judge.

        One container runs the judge's ``bulk`` driver (see ``grader/boundary/bulk.py``):
        a pytest session per submission, each with fresh session fixtures and a fresh
        worker started in that submission's own folder (forked from a process that
        imported the lab's libraries once, with ``fork_server``). A session that runs past the
        lab's time limit ends the container; what finished keeps its outcome, the
        submission in progress gets a timeout, and the rest go to a new container. An
        in-process lab's tests import the learner's code, so each of its submissions
        gets a container of its own.
        """
        workspaces = request.workspaces
        if not all(w.sealed for w in workspaces):
            return [
                self.run(RunRequest(request.lab, w, request.tasks, request.fail_fast))
                for w in workspaces
            ]
        try:
            client = _client()
        except DockerException as exc:
            raise RunnerUnavailable(f"Docker is not usable: {exc}") from None
        try:
            image = ensure_lab_image(client, request.lab)
            outcomes: list[RunOutcome] = []
            while len(outcomes) < len(workspaces):
                outcomes += self._run_bulk_container(client, image, request, len(outcomes))
            return outcomes
        finally:
            client.close()

    def _run_bulk_container(
        self, client: docker.DockerClient, image: str, request: BulkRequest, first: int
    ) -> list[RunOutcome]:
        """Outcomes for ``request.workspaces[first:]``, or for as many of them as this
        container got through (always at least one)."""
        lab = request.lab
        workspaces = request.workspaces
        roots = {i: f"{GRADING}/workspace/lab-{i}" for i in range(first, len(workspaces))}
        token = secrets.token_hex(16)
        prefix = f"{RESULTS_DIR}/{token}"
        per_session = lab.limits.time_limit_s
        judge_uid = images.JUDGE_UID
        environment = grading_env(
            grader_dir=GRADER_DIR,
            judge_dir=JUDGE_DIR,
            learner_dir=roots[first],
            results=f"{prefix}-none.jsonl",  # each session gets its own from the driver
        )
        tests = pytest_command(
            "python", GRADER_DIR, JUDGE_DIR, request.tasks, fail_fast=request.fail_fast
        )
        assert tests[1:3] == ["-m", "pytest"], tests
        judge = [
            "python",
            "-m",
            f"{BOUNDARY_PACKAGE}.bulk",
            f"--status={prefix}-status.jsonl",
            f"--results-prefix={prefix}",
            f"--time-limit={per_session}",
            f"--first={first}",
            *(f"--root={root}" for root in roots.values()),
            "--",
            *tests[3:],
        ]
        command = supervised(
            judge,
            environment,
            python="python",
            grader_dir=GRADER_DIR,
            judge_dir=JUDGE_DIR,
            learner_dir=roots[first],
            judge_tmp=JUDGE_TMP,
            judge_uid=judge_uid,
            learner_uid=images.LEARNER_UID,
            max_file_mb=lab.limits.memory_mb // 2,
        )
        split = command.index("--")
        command[split:split] = [f"--learner-root={root}" for root in list(roots.values())[1:]]
        if self.fork_server:
            command.insert(split, f"--fork-server={','.join(lab.image.python)}")
        learners = [
            (workspaces[i].learner_dir, root.removeprefix(f"{GRADING}/"))
            for i, root in roots.items()
        ]
        container = _create(client, image, lab, command, environment, judge_uid, token)
        log_ = _FullLog()
        started = time.monotonic()
        timed_out = False
        try:
            container.put_archive(GRADING, _tar_of(workspaces[first], judge_uid, learners))
            container.start()
            reader = threading.Thread(target=_pump_logs, args=(container, log_), daemon=True)
            reader.start()
            try:
                # Every session's own limit is kept by the driver; this one is for the driver.
                container.wait(timeout=per_session * len(roots) + 120)
            except (requests.RequestException, OSError):
                timed_out = True
                _quietly(container.kill)
            reader.join(timeout=10)
            container.reload()
            oom = bool(container.attrs["State"].get("OOMKilled"))
            files = _read_results_dir(container, RESULTS_DIR)
        finally:
            _quietly(lambda: container.remove(v=True, force=True))
        elapsed = time.monotonic() - started
        events = _status_events(files.get(f"{token}-status.jsonl", ("", ""))[0])
        outputs = log_.segments()
        outcomes: list[RunOutcome] = []
        for i in roots:
            results, problem = files.get(f"{token}-{i}.jsonl", (None, ""))
            event = events.get(i)
            if event is None:
                break  # never started: the next container grades it
            done = event.get("event") == "done"
            over = event.get("event") == "timeout" or (not done and timed_out)
            error = problem
            if not done and not over:
                error = error or (
                    "The tests ran out of memory and were killed."
                    if oom
                    else "The judge ended while these tests ran."
                )
            outcomes.append(
                RunOutcome(
                    runner=self.name,
                    exit_code=int(event.get("exitstatus", -1)) if done else None,
                    results=results,
                    output=outputs.get(i, ""),
                    duration_s=float(event.get("duration_s", per_session if over else 0.0)),
                    timed_out=over,
                    error=error,
                    notices=self.notices,
                )
            )
            if not done:
                break
        if not outcomes:  # the container never got to a session: nothing to retry here
            text = log_.text()[-2000:]
            why = f"The grading container ended before any test ran ({elapsed:.0f} s). {text}"
            outcomes = [
                RunOutcome(self.name, None, None, text, elapsed, timed_out, why, self.notices)
                for _ in roots
            ]
        return outcomes


def _create(
    client: docker.DockerClient,
    image: str,
    lab: Lab,
    command: list[str],
    environment: dict[str, str],
    judge_uid: int,
    token: str,
) -> Any:
    """The sandbox container (see the module docstring), created and not yet started."""
    # Both tmpfs count against the memory limit, so each gets half: filling them is a
    # "no space left" for the code that did it, not an out-of-memory kill.
    tmp = f"rw,exec,nosuid,nodev,size={lab.limits.memory_mb // 2}m"
    memory = f"{lab.limits.memory_mb}m"
    return client.containers.create(
        image,
        command=command,
        working_dir=f"{GRADING}/workspace",
        user="0:0",  # the supervisor, which starts the judge and the workers as others
        hostname="localhost",
        network_mode="none",
        read_only=True,
        tmpfs={
            "/tmp": tmp,
            JUDGE_TMP: f"{tmp},uid={judge_uid},gid={judge_uid},mode=0700",
        },
        mounts=[Mount(GRADING, None, type="volume")],
        mem_limit=memory,
        memswap_limit=memory,
        nano_cpus=int(lab.limits.cpus * 1e9),
        pids_limit=lab.limits.pids,
        cap_drop=["ALL"],
        cap_add=["SETUID", "SETGID", "KILL"],
        security_opt=["no-new-privileges"],
        labels={JOB_LABEL: token, "mlskills.lab": lab.slug},
        environment=environment,
        log_config=LogConfig(type="json-file", config={"max-size": "8m", "max-file": "1"}),
        detach=True,
    )


# Docker 20.10's json-file follower can fall behind a flood and lose the file when the
# log rotates: the stream then ends early, sometimes with this line instead of the rest.
_LOG_FOLLOW_ERROR = b"Error grabbing logs:"


def _pump_logs(container: Any, capture: OutputCapture) -> None:
    """Stream the container's output into ``capture`` (its head is only seen here)."""
    try:
        stream = container.logs(stream=True, follow=True)
    except (DockerException, requests.RequestException):
        return
    try:
        for chunk in stream:
            broken_at = chunk.find(_LOG_FOLLOW_ERROR)
            if broken_at >= 0:
                capture.feed(chunk[:broken_at])
                return
            capture.feed(chunk)
    except (DockerException, requests.RequestException):
        pass
    finally:
        with suppress(Exception):  # the response's socket, also when we stop early
            stream.close()


def _settle_tail(container: Any, capture: OutputCapture) -> None:
    """Make the tail the output's true end, read back from the (rotated) log."""
    if capture.cut:
        with suppress(DockerException, requests.RequestException):
            capture.settle_tail(container.logs(tail=LOG_TAIL_LINES))


def _quietly(action: Any) -> None:
    with suppress(APIError, NotFound, requests.RequestException):
        action()
