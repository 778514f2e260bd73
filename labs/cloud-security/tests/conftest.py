"""Fixtures for the cloud-security lab.

Every AWS call goes to moto's in-process mock (``mock_aws``): nothing reaches the
internet, and the host's ~/.aws is never read, because the environment is replaced with
fake credentials and config paths under tmp_path before any client is created.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

LAB_DIR = Path(__file__).resolve().parent.parent
POLICIES_DIR = LAB_DIR / "data" / "policies"
REGION = "eu-west-1"


def pytest_configure(config: pytest.Config) -> None:
    # The grader's plugin registers this marker too; this lets the suite run without it.
    config.addinivalue_line("markers", "task(n): the lab task this test belongs to")


@pytest.fixture(scope="session", autouse=True)
def fake_aws_environment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Fake credentials and region, and no shared config or credentials file."""
    home = tmp_path_factory.mktemp("aws-home")
    with pytest.MonkeyPatch.context() as mp:
        for name in (
            "AWS_PROFILE",
            "AWS_DEFAULT_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_SECURITY_TOKEN",
            "AWS_ROLE_ARN",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_ENDPOINT_URL",
            "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        ):
            mp.delenv(name, raising=False)
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", REGION)
        mp.setenv("AWS_REGION", REGION)
        mp.setenv("AWS_CONFIG_FILE", str(home / "config"))
        mp.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / "credentials"))
        mp.setenv("AWS_EC2_METADATA_DISABLED", "true")
        yield


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
def mocked_account(session: boto3.Session) -> Iterator[Aws]:
    """A fresh, empty mocked AWS account, torn down on exit."""
    with mock_aws():
        yield Aws(session)


@pytest.fixture
def aws(boto_session: boto3.Session) -> Iterator[Aws]:
    """A fresh account for each test."""
    with mocked_account(boto_session) as account:
        yield account


@pytest.fixture(scope="module")
def module_aws(boto_session: boto3.Session) -> Iterator[Aws]:
    """One account shared by a test module whose tests only read its state."""
    with mocked_account(boto_session) as account:
        yield account


def learner(module: str) -> ModuleType:
    """Import ``cloudsec.<module>`` (the learner's code), failing with a readable message."""
    try:
        return importlib.import_module(f"cloudsec.{module}")
    except Exception as exc:  # a syntax error or a bad import in the learner's file
        pytest.fail(
            f"Could not import cloudsec/{module}.py: {type(exc).__name__}: {exc}", pytrace=False
        )


def learner_function(module: str, name: str) -> Callable[..., Any]:
    fn = getattr(learner(module), name, None)
    if not callable(fn):
        pytest.fail(
            f"MISSING FUNCTION: cloudsec/{module}.py has no {name}(); did you rename it?",
            pytrace=False,
        )
    return fn


def denied(call: Callable[[], Any]) -> tuple[bool, str]:
    """Run an AWS call; return (True, code) if it was refused, (False, "OK") if it worked.

    moto reports some refusals with code '403' and an XML message, so HTTP 403 counts
    as well as an AccessDenied code.
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
