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
REGION = "eu-west-1"


def pytest_configure(config: pytest.Config) -> None:
    # The grader's plugin registers this marker too; this lets the suite run without it.
    config.addinivalue_line("markers", "task(n): the lab task this test belongs to")


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """moto as a server in this (the judge's) process; yields its URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _environment(home: Path, endpoint: str) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": "testing",
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


@pytest.fixture
def bridge(learner: Any, fake_aws_environment: dict[str, str]) -> Any:
    """``cloudsec_bridge`` in the worker, with boto3 there pointed at the moto server.

    The environment is set again for each test: a worker replaced after a timeout starts
    with none of it.
    """
    module = learner.module("cloudsec_bridge")
    module.setenv(**fake_aws_environment)
    return module


@pytest.fixture(scope="module")
def module_bridge(learner: Any, fake_aws_environment: dict[str, str]) -> Any:
    module = learner.module("cloudsec_bridge")
    module.setenv(**fake_aws_environment)
    return module


def reset_moto(url: str) -> None:
    """Empty every account on the moto server."""
    request = urllib.request.Request(f"{url}/moto-api/reset", data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


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
