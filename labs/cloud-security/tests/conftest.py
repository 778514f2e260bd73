"""Fixtures for the cloud-security lab.

This lab is sealed: the tests never import your code. It runs in a worker process of its
own, and the tests reach it through the ``learner`` fixture
(``learner.module("cloudsec.iam_policy").training_job_policy(...)`` runs there, and only
plain data comes back). ``cloudsec_bridge`` (provided) builds boto3 clients in the worker
and turns findings and datetimes into plain data.

Every AWS call goes to a moto server that these tests own (127.0.0.1, a free port): your
code's boto3 reaches it through ``AWS_ENDPOINT_URL``, set in the worker with fake
credentials, and the tests read moto's state back with their own boto3 clients. Nothing
reaches the internet, and the host's ~/.aws is never read.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

LAB_DIR = Path(__file__).resolve().parent.parent
POLICIES_DIR = LAB_DIR / "data" / "policies"
# Answer keys live with the tests: the worker's tree holds data/, never tests/.
ANSWERS = LAB_DIR / "tests" / "answers"
REGION = "eu-west-1"
# The judge's admin clients sign with a key id made fresh for each run, which the worker
# never sees; the worker's boto3 signs with WORKER_ACCESS_KEY. The judge's moto server
# counts every request not signed with the judge's key as the learner's, so a learner's
# client that signs with any other key id (or none) is counted all the same.
JUDGE_ACCESS_KEY = "JUDGE" + secrets.token_hex(8).upper()
WORKER_ACCESS_KEY = "LEARNERWORKERKEY"


def pytest_configure(config: pytest.Config) -> None:
    # The grader's plugin registers this marker too; this lets the suite run without it.
    config.addinivalue_line("markers", "task(n): the lab task this test belongs to")


class JudgeMoto:
    """The judge's moto server, behind a gate the worker cannot open.

    The worker's boto3 must reach moto, so the server listens on the loopback the worker
    shares. What the gate keeps from it:

    - ``/moto-api/*`` (reset, reset-auth, the state dump, the recorder) answers 403 to
      everyone: with it the worker could switch IAM enforcement off or read the judge's
      state. The judge resets moto in its own process (:func:`reset_moto`).
    - Every request is logged here, in the judge, with the access key that signed it:
      the judge's admin clients sign with :data:`JUDGE_ACCESS_KEY` (fresh each run, never
      given to the worker), so :meth:`operations` counts every other request (such as the
      learner's ``GetSecretValue``) from what the server received, not from a counter in
      the worker.
    """

    def __init__(self) -> None:
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self._app = DomainDispatcherApplication(create_backend_app)
        self._lock = threading.Lock()
        self._log: list[tuple[str, str]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        path = " ".join(str(environ.get(k, "")) for k in ("PATH_INFO", "RAW_URI", "REQUEST_URI"))
        if "moto-api" in path.lower():
            start_response("403 Forbidden", [("Content-Type", "text/plain")])
            return [b"The judge's moto administration API is closed to the learner's code."]
        found = re.search(r"Credential=([^/,\s]+)/", str(environ.get("HTTP_AUTHORIZATION", "")))
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        with self._lock:
            self._log.append((found.group(1) if found else "", target.rsplit(".", 1)[-1]))
        return self._app(environ, start_response)

    def mark(self) -> int:
        """A position in the request log; pass it to :meth:`operations`."""
        with self._lock:
            return len(self._log)

    def operations(self, operation: str, since: int) -> int:
        """How many ``operation`` requests (JSON protocol: Secrets Manager, KMS) not signed
        by the judge the server received after ``since``."""
        with self._lock:
            return sum(
                1 for k, op in self._log[since:] if k != JUDGE_ACCESS_KEY and op == operation
            )


def _check_the_gate(url: str) -> None:
    """Refuse to judge if moto's administration API answers on the shared loopback."""
    for path in ("/moto-api/reset-auth", "/moto-api/reset", "/Moto-Api/data.json"):
        request = urllib.request.Request(f"{url}{path}", data=b"inf", method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30):
                status = 200
        except urllib.error.HTTPError as exc:
            status = exc.code
        if status != 403:  # the lab's bug, not the learner's
            raise RuntimeError(f"{path} answered {status} on the judge's moto server")


@pytest.fixture(scope="session")
def judge_moto() -> Iterator[tuple[str, JudgeMoto]]:
    """moto as a server in this (the judge's) process, behind :class:`JudgeMoto`."""
    from moto.moto_server.werkzeug_app import MotoRequestHandler
    from werkzeug.serving import make_server

    gate = JudgeMoto()
    server = make_server("127.0.0.1", 0, gate, True, request_handler=MotoRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    host, port = server.server_address[:2]
    url = f"http://{host}:{port}"
    _check_the_gate(url)
    try:
        yield url, gate
    finally:
        server.shutdown()
        thread.join()


@pytest.fixture(scope="session")
def moto_server(judge_moto: tuple[str, JudgeMoto]) -> str:
    """The URL of the judge's moto server."""
    return judge_moto[0]


@pytest.fixture(scope="session")
def moto_gate(judge_moto: tuple[str, JudgeMoto]) -> JudgeMoto:
    return judge_moto[1]


def _environment(home: Path, endpoint: str) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": JUDGE_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_CONFIG_FILE": str(home / "config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": endpoint,
    }


@pytest.fixture(scope="session", autouse=True)
def fake_aws_environment(
    tmp_path_factory: pytest.TempPathFactory, moto_server: str
) -> Iterator[dict[str, str]]:
    """Fake credentials and region, no shared config, and boto3 pointed at the moto server."""
    home = tmp_path_factory.mktemp("aws-home")
    env = _environment(home, moto_server)
    with pytest.MonkeyPatch.context() as mp:
        for name in (
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        ):
            mp.delenv(name, raising=False)
        for name, value in env.items():
            mp.setenv(name, value)
        yield env


@pytest.fixture(scope="session")
def worker_environment(fake_aws_environment: dict[str, str]) -> dict[str, str]:
    """The worker's AWS environment: the judge's, but signing with its own key id."""
    return {**fake_aws_environment, "AWS_ACCESS_KEY_ID": WORKER_ACCESS_KEY}


@pytest.fixture
def bridge(learner: Any, worker_environment: dict[str, str]) -> Any:
    """``cloudsec_bridge`` in the worker, with boto3 there pointed at the moto server.

    The environment is set again for each test: a worker replaced after a timeout starts
    with none of it.
    """
    module = learner.module("cloudsec_bridge")
    module.setenv(**worker_environment)
    return module


@pytest.fixture(scope="module")
def module_bridge(learner: Any, worker_environment: dict[str, str]) -> Any:
    module = learner.module("cloudsec_bridge")
    module.setenv(**worker_environment)
    return module


def reset_moto(url: str) -> None:
    """Empty every account on the moto server, here in the judge (the server's
    ``/moto-api/reset`` is closed to everyone)."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


def cloudsec(learner: Any, module: str) -> Any:
    """A handle on ``cloudsec.<module>`` (the learner's code, imported in the worker)."""
    return learner.module(f"cloudsec.{module}")


def learner_function(learner: Any, module: str, name: str) -> Any:
    """A handle on ``cloudsec.<module>.<name>``, failing with a readable message if missing."""
    handle = cloudsec(learner, module)
    try:
        found = getattr(handle, name)
    except AttributeError:
        found = None
    if found is None:
        pytest.fail(
            f"MISSING FUNCTION: cloudsec/{module}.py has no {name}(); did you rename it?",
            pytrace=False,
        )
    return found


@pytest.fixture(scope="session")
def boto_session(fake_aws_environment: None) -> boto3.Session:
    """One session for the whole run: it caches the service models, so a client costs
    milliseconds instead of ~0.4 s. Clients with other credentials pass them as arguments."""
    return boto3.Session(region_name=REGION)


class Aws:
    """Admin clients on the mocked account, for setting up and reading back state.

    Clients are made on first use, so a test pays only for the services it touches.
    """

    region = REGION

    def __init__(self, session: boto3.Session) -> None:
        self.session = session

    @cached_property
    def s3(self) -> Any:
        return self.session.client("s3")

    @cached_property
    def iam(self) -> Any:
        return self.session.client("iam")

    @cached_property
    def sts(self) -> Any:
        return self.session.client("sts")

    @cached_property
    def kms(self) -> Any:
        return self.session.client("kms")

    @cached_property
    def secretsmanager(self) -> Any:
        return self.session.client("secretsmanager")

    @cached_property
    def account_id(self) -> str:
        return str(self.sts.get_caller_identity()["Account"])

    def client_with(self, service: str, credentials: dict[str, Any]) -> Any:
        """A client that signs with the ``Credentials`` dict from STS."""
        return self.session.client(
            service,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials.get("SessionToken"),
        )


@contextmanager
def mocked_account(session: boto3.Session, url: str) -> Iterator[Aws]:
    """A fresh, empty account on the moto server."""
    reset_moto(url)
    yield Aws(session)


@pytest.fixture
def aws(boto_session: boto3.Session, moto_server: str) -> Iterator[Aws]:
    """A fresh account for each test."""
    with mocked_account(boto_session, moto_server) as account:
        yield account


@pytest.fixture(scope="module")
def module_aws(boto_session: boto3.Session, moto_server: str) -> Iterator[Aws]:
    """One account shared by a test module whose tests only read its state."""
    with mocked_account(boto_session, moto_server) as account:
        yield account


def _iam_backend() -> Any:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.iam.models import iam_backends

    return iam_backends[DEFAULT_ACCOUNT_ID]["aws"]


def _documents(policies: dict[str, Any]) -> dict[str, Any]:
    return {name: json.loads(text) for name, text in policies.items()}


def check_judges_iam(
    *,
    roles: dict[str, dict[str, Any]],
    users: dict[str, dict[str, Any]] | None = None,
    keys: set[str] | frozenset[str] = frozenset(),
) -> None:
    """Fail unless IAM holds exactly what the judge put there: for each role and user, these
    inline policies and no others, no managed policy and no group; and no access key
    (user or temporary) in any account but ``keys``.

    Read from moto's state here, in the judge, with IAM enforcement already on: outside
    those windows moto takes any key as an admin's, so the worker could have attached a
    Deny that the graded policy lacks, or made itself a key to do it later.
    """
    from moto.iam.models import iam_backends

    problems: list[str] = []
    backend = _iam_backend()
    for kind, wanted in (("role", roles), ("user", users or {})):
        for name, inline in wanted.items():
            found = backend.get_role(name) if kind == "role" else backend.get_user(name)
            if _documents(found.policies) != inline:
                problems.append(f"{kind} {name} has inline policies {sorted(found.policies)}")
            if found.managed_policies:
                problems.append(
                    f"{kind} {name} has managed policies {sorted(found.managed_policies)}"
                )
            if kind == "user" and backend.get_groups_for_user(name):
                problems.append(f"user {name} is in a group")
    for account_id, account in list(iam_backends.items()):
        for backend in list(account.values()):
            foreign = sorted(set(backend.access_keys) - set(keys))
            if foreign:
                problems.append(f"account {account_id} has access keys the judge did not make")
    if problems:
        pytest.fail(
            "IAM is not as the judge set it up: "
            + "; ".join(problems)
            + ". Only the judge changes the roles and keys it checks your policy with.",
            pytrace=False,
        )


def denied(call: Callable[[], Any]) -> tuple[bool, str]:
    """Run an AWS call; return (True, code) if it was refused, (False, "OK") if it worked.

    moto reports some refusals with code '403' and an XML message, so HTTP 403 counts
    as well as an AccessDenied code. A call made in the worker (the learner's client)
    fails with a LearnerError named like botocore's ClientError, whose message carries
    the code.
    """
    try:
        call()
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = str(error.get("Code", ""))
        if status == 403 or "AccessDenied" in code or "AccessDenied" in str(exc):
            return True, code
        raise
    except Exception as exc:  # the learner's ClientError, as a LearnerError
        is_a = getattr(exc, "is_a", None)
        if callable(is_a) and is_a("botocore.exceptions.ClientError"):
            message = str(getattr(exc, "message", exc))
            code = message.split("(", 1)[-1].split(")", 1)[0]
            if "AccessDenied" in message or code == "403":
                return True, code
        raise
    return False, "OK"


def load_policy(relative: str) -> dict[str, Any]:
    return json.loads((POLICIES_DIR / relative).read_text(encoding="utf-8"))


def policy_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list) else [value]
