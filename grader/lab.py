"""Load and validate ``labs/<slug>/lab.toml`` into frozen dataclasses.

The manifest format is documented field by field in ``docs/authoring-labs.md``. A bad
manifest raises :class:`~grader.errors.ManifestError` naming the file, the field and what
is allowed.
"""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.errors import LabNotFound, ManifestError

__all__ = [
    "COURSE_ORDER",
    "FORMAT_VERSION",
    "ImageNeeds",
    "Lab",
    "Limits",
    "Task",
    "find_lab",
    "in_git_history",
    "labs_dir",
    "list_labs",
    "load_lab",
    "repo_root",
]

FORMAT_VERSION = 1
NETWORK_POLICIES = ("none",)
# sealed: the tests reach learner code only through the ``learner`` fixture, in a worker
# process of another user. in-process: the tests import it (the older labs, until ported).
MODES = ("sealed", "in-process")
MANIFEST = "lab.toml"


@dataclass(frozen=True)
class Task:
    id: str
    title: str
    points: int
    hint: str
    hints: tuple[str, ...] = ()
    partial: bool = False

    @property
    def hint_levels(self) -> tuple[str, ...]:
        """The first hint, then the progressively more specific ones."""
        return (self.hint, *self.hints)


@dataclass(frozen=True)
class Limits:
    time_limit_s: float
    memory_mb: int
    cpus: float
    pids: int = 512


@dataclass(frozen=True)
class ImageNeeds:
    """What the lab image must contain beyond Python and a JRE."""

    python: tuple[str, ...] = ()
    # Debian packages (bookworm) installed into the lab's base image, and the commands from
    # them that the tests run: a local grade checks those are on PATH.
    debian: tuple[str, ...] = ()
    commands: tuple[str, ...] = ()
    # A script in the lab folder run as root at the end of the image build (network none,
    # /opt/venv in place, the script's folder at /lab-image): e.g. a JVM class archive.
    build: str | None = None


@dataclass(frozen=True)
class Lab:
    slug: str
    title: str
    blurb: str
    root: Path
    tasks: tuple[Task, ...]
    submission: tuple[str, ...]
    limits: Limits
    network: str
    image: ImageNeeds
    mode: str = "in-process"
    format_version: int = FORMAT_VERSION

    @property
    def max_score(self) -> int:
        return sum(t.points for t in self.tasks)

    def task(self, task_id: str) -> Task | None:
        return next((t for t in self.tasks if t.id == task_id), None)


def repo_root() -> Path:
    """The checkout the grader runs from (``MLSKILLS_ROOT`` overrides it)."""
    env = os.environ.get("MLSKILLS_ROOT")
    return Path(env).resolve() if env else Path(__file__).resolve().parent.parent


def labs_dir() -> Path:
    return repo_root() / "labs"


class _Table:
    """One TOML table being validated; every error names file, field and what is allowed."""

    def __init__(self, data: dict[str, Any], path: Path, prefix: str) -> None:
        self.data = data
        self.path = path
        self.prefix = prefix

    def fail(self, key: str, allowed: str) -> ManifestError:
        field = f"{self.prefix}{key}" if key else self.prefix.rstrip(".")
        return ManifestError(f"{self.path}: field '{field}' is invalid: {allowed}.")

    def only(self, *keys: str) -> None:
        unknown = sorted(set(self.data) - set(keys))
        if unknown:
            raise self.fail(unknown[0], "unknown field; allowed fields are " + ", ".join(keys))

    def _get(self, key: str, default: Any) -> Any:
        if key not in self.data:
            if default is _REQUIRED:
                raise self.fail(key, "it is required")
            return default
        return self.data[key]

    def text(self, key: str, default: Any = None, *, non_empty: bool = True) -> str:
        value = self._get(key, _REQUIRED if default is None else default)
        if not isinstance(value, str) or (non_empty and not value.strip()):
            raise self.fail(key, "must be a non-empty string")
        return value.strip()

    def integer(self, key: str, *, minimum: int, default: int | None = None) -> int:
        value = self._get(key, _REQUIRED if default is None else default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(key, f"must be a whole number of at least {minimum}")
        return value

    def number(self, key: str, *, minimum: float, default: float | None = None) -> float:
        value = self._get(key, _REQUIRED if default is None else default)
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= minimum:
            raise self.fail(key, f"must be a number greater than {minimum:g}")
        return float(value)

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false")
        return value

    def strings(self, key: str, *, default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        value = self._get(key, _REQUIRED if default is None else list(default))
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(key, "must be a list of non-empty strings")
        return tuple(v.strip() for v in value)

    def table(self, key: str, *, required: bool = True) -> _Table:
        value = self._get(key, _REQUIRED if required else {})
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table")
        return _Table(value, self.path, f"{self.prefix}{key}.")


_REQUIRED = object()
_DEBIAN_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]+")


def load_lab(root: Path) -> Lab:
    """Load and validate the manifest of the lab folder ``root``."""
    path = root / MANIFEST
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ManifestError(f"{path}: there is no manifest; every lab needs a lab.toml.") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: the file is not valid TOML ({exc}).") from None

    top = _Table(raw, path, "")
    top.only(
        "format_version",
        "slug",
        "title",
        "blurb",
        "submission",
        "limits",
        "sandbox",
        "image",
        "tasks",
    )
    version = top.integer("format_version", minimum=1)
    if version != FORMAT_VERSION:
        raise top.fail("format_version", f"this grader reads format_version = {FORMAT_VERSION}")
    slug = top.text("slug")
    if slug != root.name:
        raise top.fail("slug", f"it must equal the folder name '{root.name}'")

    submission = top.table("submission")
    submission.only("files")
    files = submission.strings("files")
    for pattern in files:
        first = Path(pattern).parts[0] if Path(pattern).parts else ""
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise submission.fail("files", f"'{pattern}' must be relative to the lab folder")
        if first in ("tests", "data") or pattern == MANIFEST:
            raise submission.fail("files", f"'{pattern}' may not match tests/, data/ or lab.toml")

    limits = top.table("limits")
    limits.only("time_limit_s", "memory_mb", "cpus", "pids")
    sandbox = top.table("sandbox", required=False)
    sandbox.only("network", "mode")
    network = sandbox.text("network", default="none")
    if network not in NETWORK_POLICIES:
        raise sandbox.fail("network", "allowed values are " + ", ".join(NETWORK_POLICIES))
    mode = sandbox.text("mode", default="in-process")
    if mode not in MODES:
        raise sandbox.fail("mode", "allowed values are " + ", ".join(MODES))
    image = top.table("image", required=False)
    image.only("python", "debian", "commands", "build")
    debian = image.strings("debian", default=())
    bad = next((p for p in debian if not _DEBIAN_PACKAGE.fullmatch(p)), None)
    if bad is not None:
        raise image.fail("debian", f"'{bad}' is not a Debian package name")
    build = image.text("build", default="-")
    if build == "-":
        build_script = None
    else:
        script = (root / build).resolve()
        if not script.is_relative_to(root.resolve()) or not script.is_file():
            raise image.fail("build", f"'{build}' is not a file inside the lab folder")
        if script.parent == root.resolve():
            raise image.fail("build", "the script must sit in a folder of its own (image/)")
        build_script = build

    lab = Lab(
        slug=slug,
        title=top.text("title"),
        blurb=top.text("blurb"),
        root=root,
        tasks=_load_tasks(top),
        submission=files,
        limits=Limits(
            time_limit_s=limits.number("time_limit_s", minimum=0),
            memory_mb=limits.integer("memory_mb", minimum=64),
            cpus=limits.number("cpus", minimum=0),
            pids=limits.integer("pids", minimum=16, default=512),
        ),
        network=network,
        mode=mode,
        image=ImageNeeds(
            python=image.strings("python", default=()),
            debian=debian,
            commands=image.strings("commands", default=()),
            build=build_script,
        ),
        format_version=version,
    )
    for pattern in files:
        plain = not any(c in pattern for c in "*?[")
        if plain and not (root / pattern).is_file() and not in_git_history(root, pattern):
            # The starter is what a learner edits: a declared file it lacks is a typo. One
            # that git knows is the learner's deletion, graded as such (grader reset).
            raise submission.fail("files", f"'{pattern}' is not a file of the lab's starter")
    return lab


def in_git_history(folder: Path, rel: str) -> bool:
    """Whether git's history of the checkout holding ``folder`` has ever had ``folder/rel``."""
    try:
        proc = subprocess.run(
            ["git", "log", "-1", "--format=%H", "--", rel],
            cwd=folder,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return proc.returncode == 0 and bool(proc.stdout.strip())


def _load_tasks(top: _Table) -> tuple[Task, ...]:
    raw = top.data.get("tasks")
    if not isinstance(raw, list) or not raw:
        raise top.fail("tasks", "declare at least one [[tasks]] table")
    tasks = []
    for index, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise top.fail("tasks", "each entry must be a [[tasks]] table")
        table = _Table(item, top.path, f"tasks[{index}].")
        table.only("id", "title", "points", "hint", "hints", "partial")
        task_id = table.integer("id", minimum=1)
        if task_id != index:
            raise table.fail("id", f"tasks are numbered 1, 2, 3 … in order; expected {index}")
        tasks.append(
            Task(
                id=str(task_id),
                title=table.text("title"),
                points=table.integer("points", minimum=1),
                hint=table.text("hint"),
                hints=table.strings("hints", default=()),
                partial=table.boolean("partial", default=False),
            )
        )
    return tuple(tasks)


# The order the course is taught in: each lab builds on the ones before it (data-privacy's
# erasure task uses Feast, which data-engineering introduces). Labs not named here follow,
# by slug.
COURSE_ORDER = (
    "networking",
    "cloud-security",
    "data-engineering",
    "data-privacy",
    "cicd",
    "monitoring",
)


def list_labs(root: Path | None = None) -> list[Path]:
    """Folders under ``labs/`` that hold a manifest, in course order."""
    base = root or labs_dir()

    def position(folder: Path) -> tuple[int, str]:
        name = folder.name
        rank = COURSE_ORDER.index(name) if name in COURSE_ORDER else len(COURSE_ORDER)
        return rank, name

    return sorted((p.parent for p in base.glob(f"*/{MANIFEST}")), key=position)


def find_lab(slug: str, root: Path | None = None) -> Lab:
    base = root or labs_dir()
    folder = base / slug
    if not (folder / MANIFEST).is_file() or "/" in slug or slug.startswith("."):
        known = ", ".join(p.name for p in list_labs(base)) or "none"
        raise LabNotFound(f"There is no lab called '{slug}'. Known labs: {known}.")
    return load_lab(folder)
