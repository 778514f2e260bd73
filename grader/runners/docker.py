"""Run the suite in a sandboxed container. The only module that imports ``docker``.

The sandbox: network ``none`` (loopback only), read-only root with a tmpfs ``/tmp``, a
non-root user, hostname ``localhost``, a memory limit with no swap, a CPU quota, a pids
limit, no capabilities, and a ``mlskills.job`` label. The workspace goes in by
``put_archive`` into an anonymous volume, and the results come out by ``get_archive``:
no host path is mounted, and never the Docker socket. The container is always removed.
"""

from __future__ import annotations

import fcntl
import io
import logging
import os
import secrets
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
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
from grader.runners.base import OutputCapture, RunOutcome, RunRequest
from grader.runners.local import sandbox_env
from grader.workspace import pytest_command

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


def _ensure_base(client: docker.DockerClient) -> tuple[str, str]:
    """(tag, id) of the base image: reused, pulled where a registry answers, or bootstrapped."""
    choice = os.environ.get("MLSKILLS_BASE", "auto")
    for source in ("debootstrap", "registry"):
        tag = images.base_tag(source)
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
            tag = images.base_tag("registry")
            with tempfile.TemporaryDirectory() as ctx:
                Path(ctx, "Dockerfile").write_text(images.REGISTRY_BASE_DOCKERFILE)
                _build(client, path=ctx, tag=tag)
            return tag, str(client.images.get(tag).id)
    tag = images.base_tag("debootstrap")
    rootfs = images.cache_dir() / "rootfs"
    images.debootstrap(rootfs)
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


def ensure_image(client: docker.DockerClient, name: str, python: tuple[str, ...]) -> str:
    """The tag of an image with ``python`` installed, built only if its inputs changed."""
    with _build_lock():
        base_tag, base_id = _ensure_base(client)
        plan = images.plan_for(python, base_id)
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
    return ensure_image(client, f"mlskills-lab-{lab.slug}", lab.image.python)


def build_images(labs: list[Lab], *, compose: bool = False) -> list[str]:
    """Build (or reuse) the images of ``labs``; with ``compose``, one image for them all."""
    client = _client()
    try:
        if compose:
            union = tuple(sorted({pkg for lab in labs for pkg in lab.image.python}))
            return [ensure_image(client, COMPOSE_IMAGE, union)]
        return [ensure_lab_image(client, lab) for lab in labs]
    finally:
        client.close()


def _tar_of(folder: Path) -> bytes:
    """The workspace as a tar owned by root and read-only to the learner's user."""

    def owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        info.mode = 0o755 if info.isdir() else 0o644
        return info

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for item in sorted(folder.iterdir()):
            tar.add(item, arcname=item.name, filter=owned_by_root)
    return buffer.getvalue()


def _read_file(container: Any, path: str) -> str | None:
    try:
        stream, _ = container.get_archive(path)
    except NotFound:
        return None
    data = b"".join(stream)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        member = tar.next()
        if member is None or not member.isfile():
            return None
        handle = tar.extractfile(member)
        return None if handle is None else handle.read(RESULTS_LIMIT).decode("utf-8", "replace")


class DockerRunner:
    name = "docker"

    def __init__(self) -> None:
        self.notices: tuple[str, ...] = ()

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
        token = secrets.token_hex(16)
        results_path = f"/results/{token}.jsonl"
        memory = f"{lab.limits.memory_mb}m"
        container = client.containers.create(
            image,
            command=pytest_command("python", "/workspace"),
            working_dir="/workspace/lab",
            user=f"{images.LEARNER_UID}:{images.LEARNER_UID}",
            hostname="localhost",
            network_mode="none",
            read_only=True,
            tmpfs={"/tmp": f"rw,exec,nosuid,size={lab.limits.memory_mb}m"},
            mounts=[
                Mount("/workspace", None, type="volume"),
                Mount("/results", None, type="volume"),
            ],
            mem_limit=memory,
            memswap_limit=memory,
            nano_cpus=int(lab.limits.cpus * 1e9),
            pids_limit=lab.limits.pids,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            labels={JOB_LABEL: token, "mlskills.lab": lab.slug},
            environment=sandbox_env("/workspace", results_path),
            log_config=LogConfig(type="json-file", config={"max-size": "8m", "max-file": "1"}),
            detach=True,
        )
        capture = OutputCapture()
        started = time.monotonic()
        timed_out = False
        exit_code: int | None = None
        try:
            container.put_archive("/workspace", _tar_of(request.workspace.root))
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
            results = _read_file(container, results_path)
        finally:
            _quietly(lambda: container.remove(v=True, force=True))
        error = ""
        if oom and not timed_out:
            error = (
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
            notices=self.notices,
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
