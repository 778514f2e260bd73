"""Provided, not yours to edit: how the tests reach ``cicd_lab`` across the process boundary.

The grader never imports your code into the process that judges it. Your code runs in a
worker process of its own (in the sandbox, as another user), and the tests call it through
handles that read like imports. Only plain data crosses: None, bool, int, float, str, bytes,
and lists, tuples and dicts of them. Everything else (a DataFrame, a model, a Sample, a
GateResult) stays in the worker and the tests get a handle on it.

This module is the worker's half of that arrangement. It is not a submission file: the
grader always uses this copy, and nothing in it decides a grade. It only:

- makes a folder both users can use, and an MLflow tracking store in it (``registry``):
  your code writes the registry here, the tests read it back with their own MlflowClient.
  ``warm_up`` makes that store at the start of the session: a copy of the empty store
  built into the grading image (``TEMPLATE``), or, without one, a new store built in a
  process of its own while the first tests run;
- loads the lab's data and trains the fixed-seed models the tests hand to your gate and
  registry (``frame``, ``model``): the tests train their own copies to know the answers;
- returns what a model predicts, and what your objects hold, as plain data (``predict``,
  ``plain``);
- runs many calls in one request (``route_all``), or in a fresh interpreter
  (``route_in_subprocess``);
- wraps the tests' scripted deployment for ``run_rollout`` (``Scripted``);
- runs your workflow's gate step with the shell GitHub would use (``run_step``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import json
import os
import stat
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "FEATURES",
    "LABEL",
    "MODELS",
    "Scripted",
    "calls",
    "fit",
    "frame",
    "model",
    "path",
    "plain",
    "predict",
    "read_text",
    "registry",
    "route_all",
    "route_in_subprocess",
    "run_step",
    "share",
    "shared_folder",
    "training_copy",
    "warm_up",
]

LAB_DIR = Path(__file__).resolve().parent
FEATURES = ["tenure_months", "monthly_charges", "support_calls", "segment_code"]
LABEL = "churned"
MODELS = ("champion", "good", "sliced", "weaker", "overfit", "clueless", "lr_v1", "lr_v2")
_MAX_TEXT = 1024 * 1024
_FRAMES: dict[str, Any] = {}
_MODELS: dict[str, Any] = {}
_WARMING: dict[str, subprocess.Popen[bytes]] = {}
_STORE = "mlflow.db"
# An empty MLflow store, built once per grading image by image/build.sh.
TEMPLATE = Path("/opt/cicd-lab/mlflow-template.db")


# --------------------------------------------------------------------------- folders


def shared_folder(prefix: str = "cicd-lab-") -> str:
    """A new folder that both the tests' user and yours can read and write.

    This process's TMPDIR is private to your user, so the tests could not reach a folder
    inside it. Its parent (``/tmp`` in the sandbox) is open to both users.
    """
    parent = os.path.dirname(tempfile.gettempdir().rstrip(os.sep)) or tempfile.gettempdir()
    folder = tempfile.mkdtemp(prefix=prefix, dir=parent)
    os.chmod(folder, 0o777)
    return folder


def share(folder: str) -> None:
    """Let the tests' user read (and SQLite lock) what your code wrote under ``folder``."""
    if not Path(folder).is_dir():
        return
    for item in [Path(folder), *Path(folder).rglob("*")]:
        info = item.lstat()
        if info.st_uid != os.getuid() or stat.S_ISLNK(info.st_mode):
            continue
        wanted = 0o777 if stat.S_ISDIR(info.st_mode) else 0o666
        with contextlib.suppress(OSError):
            os.chmod(item, stat.S_IMODE(info.st_mode) | wanted)


def training_copy(folder: str, name: str, flip: list[int] | None = None) -> str:
    """A copy of ``data/churn_train.csv`` in ``folder``: the same bytes, or with the label
    of the rows in ``flip`` flipped (a data fix, or a bug). Returns its path."""
    target = Path(folder) / name
    target.parent.mkdir(parents=True, exist_ok=True)
    lines = (LAB_DIR / "data" / "churn_train.csv").read_bytes().split(b"\n")
    for row in flip or []:
        head, _, label = lines[row + 1].rpartition(b",")
        lines[row + 1] = head + b"," + (b"0" if label.strip() == b"1" else b"1")
    target.write_bytes(b"\n".join(lines))
    share(folder)
    return str(target)


def path(text: str) -> Path:
    """``Path(text)`` here, for the arguments your functions take as paths."""
    return Path(text)


def read_text(relative: str) -> str | None:
    """A file of your submission (such as ``workflows/model-ci.yml``), or None if missing."""
    target = Path.cwd() / relative
    if not target.is_file():
        return None
    return target.read_bytes()[:_MAX_TEXT].decode("utf-8", errors="replace")


def warm_up(folder: str) -> None:
    """Start making the MLflow store in ``folder``, and return; ``registry(folder)`` finishes.

    A new store costs seconds of schema migrations, in every session. The grading image
    holds an empty one (``TEMPLATE``): copied, it costs nothing. Without it (a local run)
    the store is built in a process of its own, on the other core while the first tests
    run. Either way the store is made under another name and linked into place only when
    complete, so a process cut short leaves no half-made store behind.
    """
    os.umask(0)
    os.makedirs(folder, exist_ok=True)
    if (Path(folder) / _STORE).exists() or folder in _WARMING:
        return
    if TEMPLATE.is_file():
        partial = Path(folder) / f"{_STORE}.{os.getpid()}.partial"
        partial.write_bytes(TEMPLATE.read_bytes())
        _link_into_place(partial, folder)
        return
    script = "import sys, cicd_bridge; cicd_bridge._build_store(sys.argv[1])"
    _WARMING[folder] = subprocess.Popen(
        [sys.executable, "-c", script, folder],
        cwd=LAB_DIR,
        env={**os.environ, "PYTHONPATH": str(LAB_DIR)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _build_store(folder: str) -> None:
    """Build a complete store as ``<folder>/mlflow.db`` (run by ``warm_up``'s process)."""
    partial = Path(folder) / f"{_STORE}.{os.getpid()}.partial"
    _open_store(folder, f"sqlite:///{partial}")
    _link_into_place(partial, folder)


def _link_into_place(partial: Path, folder: str) -> None:
    with contextlib.suppress(FileExistsError):  # someone else made it first: keep theirs
        os.link(partial, Path(folder) / _STORE)
    partial.unlink()


def _open_store(folder: str, uri: str) -> None:
    """Point MLflow at ``uri`` (creating its schema if new) and at the lab's experiment."""
    import logging
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import mlflow

        logging.getLogger("alembic").setLevel(logging.WARNING)
        mlflow.set_tracking_uri(uri)
        found = mlflow.get_experiment_by_name("cicd-lab")
        # Without an artifact location, runs would write ./mlruns into the lab folder.
        experiment = (
            found.experiment_id
            if found is not None
            else mlflow.create_experiment(
                "cicd-lab", artifact_location=Path(folder, "artifacts").as_uri()
            )
        )
        mlflow.set_experiment(experiment_id=experiment)


def registry(folder: str) -> str:
    """An MLflow tracking store and registry in ``folder`` (SQLite, artifacts beside it).

    Safe to call again (a replaced worker needs it again). Sets ``MLFLOW_TRACKING_URI``
    here, as CI would, and returns the URI the tests open with their own client. The umask
    lets the tests' user take SQLite's locks.
    """
    os.umask(0)
    os.makedirs(folder, exist_ok=True)
    building = _WARMING.get(folder)
    if building is not None:  # warm_up's process: wait for it rather than race it
        with contextlib.suppress(subprocess.TimeoutExpired):
            building.wait(timeout=300)
    elif TEMPLATE.is_file():
        warm_up(folder)  # a copy of the template, at once
    uri = f"sqlite:///{folder}/{_STORE}"
    os.environ["MLFLOW_TRACKING_URI"] = uri
    _open_store(folder, uri)
    share(folder)
    return uri


# --------------------------------------------------------------------------- data, models


def frame(name: str | None = None, columns: dict[str, list[Any]] | None = None) -> Any:
    """``data/<name>.csv`` as a DataFrame (cached), or a DataFrame of these columns."""
    import pandas as pd

    if columns is not None:
        return pd.DataFrame(columns)
    if name not in _FRAMES:
        if name not in ("churn_train", "churn_holdout"):
            raise ValueError(f"no data set {name!r}")
        _FRAMES[name] = pd.read_csv(LAB_DIR / "data" / f"{name}.csv")
    return _FRAMES[name].copy()


def fit(kind: str, train: Any) -> Any:
    """The fixed-seed model ``kind`` fitted on ``train`` (the tests train the same ones).

    champion   GBM on the first 1,000 training rows
    good       GBM on all 3,000 rows
    sliced     GBM on all rows but 70 % of enterprise dropped (a join bug)
    weaker     logistic regression
    overfit    unpruned decision tree
    clueless   predicts the base rate
    lr_v1/v2   small, quick-to-log models for the registry (first 1,000 rows / all)
    """
    import pandas as pd
    from sklearn.dummy import DummyClassifier
    from sklearn.ensemble import GradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    def gbm(data: pd.DataFrame) -> Any:
        model = GradientBoostingClassifier(
            random_state=0, max_depth=3, n_estimators=150, learning_rate=0.05
        )
        return model.fit(data[FEATURES], data[LABEL])

    X, y = train[FEATURES], train[LABEL]
    if kind == "champion":
        return gbm(train.iloc[:1000])
    if kind == "good":
        return gbm(train)
    if kind == "sliced":
        enterprise = train[train["segment"] == "enterprise"]
        kept = [
            train[train["segment"] != "enterprise"],
            enterprise.iloc[: int(len(enterprise) * 0.3)],
        ]
        return gbm(pd.concat(kept))
    if kind == "weaker":
        return LogisticRegression(max_iter=1000).fit(X, y)
    if kind == "overfit":
        return DecisionTreeClassifier(random_state=0).fit(X, y)
    if kind == "clueless":
        return DummyClassifier(strategy="prior").fit(X, y)
    if kind == "lr_v1":
        return LogisticRegression(max_iter=1000).fit(X.iloc[:1000], y.iloc[:1000])
    if kind == "lr_v2":
        return LogisticRegression(max_iter=1000).fit(X, y)
    raise ValueError(f"no model {kind!r}; one of {MODELS}")


def model(kind: str) -> Any:
    """The fixed-seed model ``kind`` trained here on the lab's training data (cached)."""
    if kind not in _MODELS:
        _MODELS[kind] = fit(kind, frame("churn_train"))
    return _MODELS[kind]


def predict(served: Any, data: Any, rows: int | None = None) -> list[Any]:
    """``served.predict(data[FEATURES])`` (the first ``rows`` rows) as a plain list."""
    X = data[FEATURES] if rows is None else data[FEATURES].head(rows)
    return plain(list(served.predict(X)))


# --------------------------------------------------------------------------- plain data


def plain(value: Any) -> Any:
    """``value`` as plain data: numpy values as numbers and lists, enums as their value,
    dataclasses as dicts, paths as text."""
    if value is None or type(value) in (bool, int, float, str, bytes):
        return value
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if type(value).__module__ == "numpy":
        return plain(value.tolist()) if hasattr(value, "tolist") else value
    if isinstance(value, Path):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {plain(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, str):  # a str subclass that is not an enum
        return str(value)
    return repr(value)[:200]


# --------------------------------------------------------------------------- routing


def route_all(router: Any, users: list[str]) -> list[str]:
    """``[router.route(u) for u in users]``, in one request."""
    return [plain(router.route(u)) for u in users]


def route_in_subprocess(
    users: list[str], hash_seed: str, weight: int = 50, salt: str | None = None
) -> dict[str, Any]:
    """Route ``users`` with ``Router(weight)`` in a fresh interpreter with this PYTHONHASHSEED."""
    args = f"{weight}" if salt is None else f"{weight}, salt={salt!r}"
    script = (
        "import json, sys\n"
        "from cicd_lab.router import Router\n"
        f"r = Router({args})\n"
        "print(json.dumps([r.route(u) for u in json.load(sys.stdin)]))\n"
    )
    env = {**os.environ, "PYTHONHASHSEED": hash_seed, "PYTHONPATH": str(LAB_DIR)}
    proc = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(users),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=LAB_DIR,
    )
    routes = json.loads(proc.stdout) if proc.returncode == 0 else []
    return {"returncode": proc.returncode, "stderr": proc.stderr[-2000:], "routes": routes}


# --------------------------------------------------------------------------- rollout


class Scripted:
    """The tests' scripted deployment, as ``run_rollout`` sees it.

    ``set_weight``, ``observe`` and ``promote`` go back to the tests' object; ``observe``
    then hands your code a Sample, and ``judge`` turns the tests' scripted verdict into
    your ``Judgement``.
    """

    def __init__(self, remote: Any, latency_ms: list[float], error: list[bool]) -> None:
        from cicd_lab import judge

        self._remote = remote
        self._judge = judge
        self._window = judge.Sample.of(latency_ms, error)

    def set_weight(self, weight: int) -> None:
        self._remote.set_weight(plain(weight))

    def observe(self, weight: int) -> tuple[Any, Any]:
        self._remote.observe(plain(weight))
        return self._window, self._window

    def promote(self) -> None:
        self._remote.promote()

    def judge(self, baseline: Any, canary: Any) -> Any:
        verdict, reasons = self._remote.verdict()
        return self._judge.Judgement(self._judge.Verdict(verdict), list(reasons))

    def run(self, pipeline: Any, config: dict[str, Any], event_log: str | None) -> dict[str, Any]:
        """``pipeline.run_rollout`` with this deployment; the result as plain data."""
        if event_log is not None:
            Path(event_log).parent.mkdir(parents=True, exist_ok=True)
        result = pipeline.run_rollout(
            set_weight=self.set_weight,
            observe=self.observe,
            promote=self.promote,
            judge=self.judge,
            config=pipeline.RolloutConfig(**config),
            event_log=None if event_log is None else Path(event_log),
        )
        return plain(result)


def run_step(plan: dict[str, Any]) -> dict[str, Any]:
    """Run a workflow step's script as GitHub would (the tests' ``gha.step_plan``), in a
    fresh folder here, with a stand-in ``python``; its exit status and the calls made."""
    import shutil

    root = Path(tempfile.mkdtemp(prefix="cicd-step-"))
    try:
        bin_dir = root / "bin"
        bin_dir.mkdir()
        for name in ("python", "python3", "python3.11", "pip", "pip3"):
            tool = bin_dir / name
            tool.write_text(str(plan["fake_python"]), encoding="utf-8")
            tool.chmod(0o755)
        calls_file = root / "calls.txt"
        calls_file.write_text("", encoding="utf-8")
        folder = root / "repo" / str(plan["working_directory"])
        folder.mkdir(parents=True, exist_ok=True)
        script = root / "step.sh"
        script.write_text(str(plan["script"]), encoding="utf-8")
        command = [str(part).replace("{0}", str(script)) for part in plan["command"]]
        env = {
            "PATH": f"{bin_dir}{os.pathsep}/usr/bin{os.pathsep}/bin",
            "HOME": str(root),
            "FAKE_CALLS": str(calls_file),
            **{str(k): str(v) for k, v in dict(plan["env"]).items()},
        }
        try:
            proc = subprocess.run(
                command, cwd=folder, env=env, capture_output=True, timeout=30, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return {"status": -1, "calls": [], "output": f"{type(exc).__name__}: {exc}"}
        return {
            "status": proc.returncode,
            "calls": calls_file.read_text(encoding="utf-8").splitlines(),
            "output": (proc.stdout + proc.stderr).decode("utf-8", "replace")[-2000:],
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)


def calls(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``fn(*args, **kwargs)`` with the result as plain data."""
    return plain(fn(*args, **kwargs))
