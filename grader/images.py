"""What goes into a lab image, and the host-side steps that prepare its build.

An image is cached under a tag derived from a hash of its inputs: the base image, the
Dockerfile, the lab's Python requirements and the repository's ``constraints.txt``. Tests
are never baked in, so editing a test never rebuilds anything.

No registry is needed. The base image is Debian bookworm from ``debootstrap`` (imported
with ``docker import``), or ``python:3.11-slim-bookworm`` where a registry answers; Python
packages come from a wheelhouse built on the host with ``pip wheel``.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from grader.errors import ImageBuildError
from grader.lab import repo_root

__all__ = [
    "BASE_PACKAGES",
    "DOCKERFILE",
    "ImagePlan",
    "base_packages",
    "base_tag",
    "cache_dir",
    "debootstrap",
    "dockerfile",
    "plan_for",
    "prepare_context",
    "registry_base_dockerfile",
    "rootfs_dir",
]

# Always in a lab image: the test runner, and the grader's own needs for compose.
ALWAYS = ("pytest", "rich")
BASE_PACKAGES = "python3,python3-venv,ca-certificates,openjdk-17-jre-headless,procps"
BASE_SUITE = "bookworm"
REGISTRY_BASE = "python:3.11-slim-bookworm"
LEARNER_UID = 1000  # the learner's worker processes
JUDGE_UID = 2000  # pytest, the tests and the results

# The venv is built in one stage and copied into a clean one, so no wheel stays behind.
DOCKERFILE = f"""\
ARG BASE
FROM ${{BASE}} AS build
COPY wheels /wheels
RUN python3 -m venv /opt/venv \\
 && /opt/venv/bin/pip install --no-index --no-cache-dir --find-links /wheels \\
      -r /wheels/requirements.txt -c /wheels/constraints.txt

FROM ${{BASE}}
RUN useradd --uid {LEARNER_UID} --no-create-home --home-dir /tmp/learner learner \\
 && useradd --uid {JUDGE_UID} --no-create-home --home-dir /judge-tmp judge \\
 && mkdir -p /workspace /judge
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    HOME=/tmp PYTHONDONTWRITEBYTECODE=1 MPLBACKEND=Agg SPARK_LOCAL_IP=127.0.0.1 \\
    LANG=C.UTF-8
WORKDIR /workspace
"""

# A lab's build hook (lab.toml [image] build): its folder is copied in and the script runs
# last, as root, with no network.
HOOK_DIR = "lab-image"
HOOK_STEP = """\
COPY {hook_dir} /{hook_dir}
RUN /bin/sh /{hook_dir}/{script}
"""


def dockerfile(build: str | None = None) -> str:
    """The lab image's Dockerfile; ``build`` is the lab's hook script (lab-relative)."""
    if build is None:
        return DOCKERFILE
    return DOCKERFILE + HOOK_STEP.format(hook_dir=HOOK_DIR, script=Path(build).name)


# Used where a registry answers: the same base, pulled instead of bootstrapped.
REGISTRY_BASE_DOCKERFILE = f"""\
FROM {REGISTRY_BASE}
RUN apt-get update \\
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless procps{{extra}} \\
 && rm -rf /var/lib/apt/lists/*
"""


def registry_base_dockerfile(debian: tuple[str, ...] = ()) -> str:
    return REGISTRY_BASE_DOCKERFILE.format(extra="".join(f" {p}" for p in sorted(debian)))


def base_packages(debian: tuple[str, ...] = ()) -> str:
    """debootstrap's --include: the common base plus a lab's own Debian packages."""
    return ",".join([BASE_PACKAGES, *sorted(set(debian))])


def cache_dir() -> Path:
    """Host-side build cache (wheelhouses, rootfs); ``MLSKILLS_CACHE`` overrides it."""
    env = os.environ.get("MLSKILLS_CACHE")
    return Path(env) if env else repo_root() / ".cache"


def _digest(*parts: str) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()[:16]


def base_tag(source: str, debian: tuple[str, ...] = ()) -> str:
    """``source`` is 'debootstrap' or 'registry'; ``debian``, a lab's extra packages."""
    recipe = (
        f"{BASE_SUITE} {base_packages(debian)}"
        if source == "debootstrap"
        else registry_base_dockerfile(debian)
    )
    return f"mlskills-base:{source}-{_digest(recipe)}"


@dataclass(frozen=True)
class ImagePlan:
    requirements: tuple[str, ...]
    base: str  # the base image's id
    digest: str  # hash of every input
    hook: Path | None = None  # the lab's build hook script, if it has one

    @property
    def tag(self) -> str:
        """Labs that need the same packages share one image."""
        return f"mlskills-lab:{self.digest}"


def _constraints() -> str:
    path = repo_root() / "constraints.txt"
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ImageBuildError(f"{path} is missing; it pins the versions in lab images.") from None


def _folder_digest(folder: Path) -> str:
    """Every file's path and bytes under ``folder``, so an edited hook rebuilds."""
    h = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def plan_for(python: tuple[str, ...], base_id: str, hook: Path | None = None) -> ImagePlan:
    requirements = tuple(sorted({*ALWAYS, *python}))
    parts = [base_id, dockerfile(hook.name if hook else None), "\n".join(requirements)]
    parts.append(_constraints())
    if hook is not None:
        parts.append(_folder_digest(hook.parent))
    return ImagePlan(requirements=requirements, base=base_id, digest=_digest(*parts), hook=hook)


def _wheelhouse(plan: ImagePlan) -> Path:
    """Wheels for exactly these requirements, built once per set of inputs."""
    folder = cache_dir() / "wheels" / plan.digest
    stamp = folder / ".complete"
    if stamp.exists():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    requirements = folder / "requirements.txt"
    requirements.write_text("\n".join(plan.requirements) + "\n", encoding="utf-8")
    constraints = folder / "constraints.txt"
    constraints.write_text(_constraints(), encoding="utf-8")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--wheel-dir",
            str(folder),
            "-r",
            str(requirements),
            "-c",
            str(constraints),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise ImageBuildError(
            "Could not build the Python wheels for the lab image (pip wheel failed; is the "
            f"package index reachable?):\n{proc.stderr.strip()[-2000:]}"
        )
    stamp.touch()
    return folder


def prepare_context(plan: ImagePlan, dest: Path) -> Path:
    """A docker build context: the Dockerfile plus hard links to the wheelhouse."""
    wheels = _wheelhouse(plan)
    dest.mkdir(parents=True, exist_ok=True)
    build = plan.hook.name if plan.hook else None
    (dest / "Dockerfile").write_text(dockerfile(build), encoding="utf-8")
    if plan.hook is not None:
        shutil.copytree(plan.hook.parent, dest / HOOK_DIR)
    target = dest / "wheels"
    target.mkdir()
    for item in wheels.iterdir():
        if item.name.startswith(".complete"):
            continue
        try:
            os.link(item, target / item.name)
        except OSError:
            shutil.copyfile(item, target / item.name)
    return dest


def rootfs_dir(debian: tuple[str, ...] = ()) -> Path:
    """Where the base's root filesystem is bootstrapped: one folder per package set."""
    name = "rootfs" if not debian else f"rootfs-{_digest(base_packages(debian))}"
    return cache_dir() / name


def debootstrap(rootfs: Path, debian: tuple[str, ...] = ()) -> None:
    """Bootstrap a Debian root filesystem with Python 3.11, a JRE and ``debian``."""
    if shutil.which("debootstrap") is None:
        raise ImageBuildError(
            "No registry answered and debootstrap is not installed, so the base image "
            "cannot be built. Install it (apt-get install debootstrap) or use --runner local."
        )
    if os.geteuid() != 0:
        raise ImageBuildError(
            "Building the base image with debootstrap needs root; run "
            "'sudo make image lab=<slug>' once, or use --runner local."
        )
    shutil.rmtree(rootfs, ignore_errors=True)
    rootfs.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [
            "debootstrap",
            "--variant=minbase",
            f"--include={base_packages(debian)}",
            BASE_SUITE,
            str(rootfs),
            os.environ.get("MLSKILLS_DEBIAN_MIRROR", "http://deb.debian.org/debian"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        shutil.rmtree(rootfs, ignore_errors=True)
        raise ImageBuildError(f"debootstrap failed:\n{proc.stdout[-1500:]}{proc.stderr[-1500:]}")
