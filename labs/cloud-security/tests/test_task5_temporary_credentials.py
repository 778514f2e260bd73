"""Task 5: temporary credentials from STS with a session policy.

What moto enforces here, with enable_iam_authentication on: the caller's right to assume
the role (its identity policy and the role's trust policy), the validity of the temporary
key and session token, and the role's own policies on every S3 and IAM call.

What moto 5.2 does NOT enforce: the session policy. It stores the ``Policy`` passed to
AssumeRole but evaluates requests against the role's policies only. So the judge reads
what the learner's AssumeRole call sent from moto's own record of the session (moto runs
in the judge's process: its STS backend keeps each session's policy, name and expiry), and
evaluates that policy with moto's own IAM policy engine
(``moto.iam.access_control.IAMPolicy``), the same code that judges the requests. Nothing
the worker records or reports is evidence here: the worker only gets the launcher's key,
and every check runs with IAM enforcement on, after the judge has checked that IAM holds
only its own roles, policies and keys (``conftest.check_judges_iam``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import Aws, check_judges_iam, denied, learner_function
from moto.core import enable_iam_authentication
from moto.iam.access_control import IAMPolicy, PermissionResult

pytestmark = pytest.mark.task(5)

DATA = "ml-training-data"
ARTIFACTS = "ml-model-artifacts"
OTHER = "ml-other-team"
JOB = "job-42"
ROLE = "ml-training"


@dataclass
class World:
    aws: Any
    role_arn: str
    launcher_sts: Any  # a client in the worker, signing as the launcher
    launcher_key: str
    role_policy: dict[str, Any]
    launcher_policy: dict[str, Any]
    bridge: Any
    learner: Any
    # Keys that may exist in a window: the launcher's, and sessions made in earlier windows
    # (with enforcement on, so by the launcher).
    issued: set[str] = field(default_factory=set)


def _sessions() -> dict[str, Any]:
    """Every STS session moto has issued, by access key id: read from moto's state here, in
    the judge (what AssumeRole was really sent), never from the worker."""
    from moto.sts.models import sts_backends

    return {
        role.access_key_id: role
        for account in list(sts_backends.values())
        for backend in list(account.values())
        for role in list(backend.assumed_roles)
    }


@pytest.fixture(scope="module")
def world(module_aws: Aws, module_bridge: Any, learner: Any) -> World:
    """A shared training role (every job's prefix) and a launcher user allowed to assume it."""
    aws = module_aws
    for bucket in (DATA, ARTIFACTS, OTHER):
        aws.s3.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": aws.region}
        )
    aws.s3.put_object(Bucket=DATA, Key="train/part-0.csv", Body=b"1,2,3\n")
    aws.s3.put_object(Bucket=OTHER, Key="train/part-0.csv", Body=b"1,2,3\n")
    aws.s3.put_object(Bucket=ARTIFACTS, Key="models/job-7/model.bin", Body=b"weights")

    launcher = aws.iam.create_user(UserName="job-launcher")["User"]["Arn"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": launcher}, "Action": "sts:AssumeRole"}
        ],
    }
    role_arn = aws.iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]["Arn"]
    role_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{DATA}/train/*",
            },
            {
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{ARTIFACTS}/models/*",
            },
        ],
    }
    aws.iam.put_role_policy(
        RoleName=ROLE, PolicyName="all-training-jobs", PolicyDocument=json.dumps(role_policy)
    )
    launcher_policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role_arn}],
    }
    aws.iam.put_user_policy(
        UserName="job-launcher",
        PolicyName="assume-training",
        PolicyDocument=json.dumps(launcher_policy),
    )
    key = aws.iam.create_access_key(UserName="job-launcher")["AccessKey"]
    launcher_sts = module_bridge.client("sts", key["AccessKeyId"], key["SecretAccessKey"])
    return World(
        aws=aws,
        role_arn=role_arn,
        launcher_sts=launcher_sts,
        launcher_key=key["AccessKeyId"],
        role_policy=role_policy,
        launcher_policy=launcher_policy,
        bridge=module_bridge,
        learner=learner,
        issued={key["AccessKeyId"]},
    )


@dataclass
class Session:
    left: timedelta  # how long moto will honour the session's credentials, from now
    params: dict[str, Any]  # what AssumeRole was sent, as moto recorded it
    s3: Any
    caller_arn: str
    access_key_id: str


@pytest.fixture(scope="module")
def job_session(world: World) -> Iterator[Callable[[], Any]]:
    """Run the learner's assume_job_role as the launcher, with IAM enforcement on."""

    @contextmanager
    def open_session() -> Iterator[Session]:
        assume = learner_function(world.learner, "sts_session", "assume_job_role")
        client_for = learner_function(world.learner, "sts_session", "s3_client_for")
        with enable_iam_authentication():
            # With enforcement on, only the launcher's key (and sessions made with it) work:
            # check that IAM holds what the judge set up and no key of the worker's making.
            before = _sessions()
            check_judges_iam(
                roles={ROLE: {"all-training-jobs": world.role_policy}},
                users={"job-launcher": {"assume-training": world.launcher_policy}},
                keys=world.issued,
            )
            try:
                credentials = assume(world.launcher_sts, world.role_arn, JOB, DATA, ARTIFACTS)
            finally:
                world.issued.update(key for key in _sessions() if key not in before)
            assert isinstance(credentials, dict) and {
                "AccessKeyId",
                "SecretAccessKey",
                "SessionToken",
            } <= set(credentials), (
                f"assume_job_role() returned {type(credentials).__name__} with keys "
                f"{sorted(credentials) if isinstance(credentials, dict) else '-'}; return "
                "assume_role(...)['Credentials']."
            )
            new = [s for key, s in _sessions().items() if key not in before]
            assert len(new) == 1, f"Expected one AssumeRole call, moto saw {len(new)}."
            made = new[0]
            assert credentials["AccessKeyId"] == made.access_key_id, (
                "assume_job_role() returned credentials other than those its AssumeRole call "
                "got back; return assume_role(...)['Credentials']."
            )
            caller = world.aws.client_with("sts", credentials).get_caller_identity()["Arn"]
            yield Session(
                made.expiration.replace(tzinfo=UTC) - datetime.now(UTC),
                {"Policy": made.policy, "RoleSessionName": made.session_name},
                client_for(credentials, world.aws.region),
                caller,
                str(credentials["AccessKeyId"]),
            )

    yield open_session


def test_credentials_expire_within_15_minutes(job_session: Callable[[], Any]) -> None:
    with job_session() as s:
        assert s.access_key_id.startswith("ASIA"), s.access_key_id
        assert s.left <= timedelta(minutes=15, seconds=30), (
            f"The credentials are valid for {s.left}; the default is 1 hour. Ask for "
            "DurationSeconds=900: a leaked temporary key is useless once it expires."
        )


def test_session_name_is_not_constant(job_session: Callable[[], Any]) -> None:
    with job_session() as s:
        assert JOB in s.caller_arn.rsplit("/", 1)[-1], (
            f"The session's caller ARN is {s.caller_arn}; its last part (RoleSessionName) "
            f"should contain the job id {JOB!r}, so CloudTrail shows which job made each call."
        )


def test_job_can_work_with_the_temporary_credentials(job_session: Callable[[], Any]) -> None:
    with job_session() as s:
        for what, call in [
            (
                "GetObject train/part-0.csv",
                lambda: s.s3.get_object(Bucket=DATA, Key="train/part-0.csv"),
            ),
            (
                f"PutObject models/{JOB}/model.bin",
                lambda: s.s3.put_object(
                    Bucket=ARTIFACTS, Key=f"models/{JOB}/model.bin", Body=b"weights"
                ),
            ),
        ]:
            try:
                refused, code = denied(call)
            except Exception as exc:
                refused, code = True, str(exc)
            assert not refused, (
                f"{what} with the client from s3_client_for() failed ({code}). If the error is "
                "InvalidAccessKeyId, the client lacks the SessionToken: temporary credentials "
                "are three values, not two."
            )


@pytest.mark.parametrize(
    ("name", "bucket", "key"),
    [
        ("PutObject", OTHER, f"models/{JOB}/model.bin"),
        ("GetObject", OTHER, "train/part-0.csv"),
        ("DeleteObject", ARTIFACTS, "models/job-7/model.bin"),
    ],
)
def test_role_limits_still_apply(
    job_session: Callable[[], Any], name: str, bucket: str, key: str
) -> None:
    with job_session() as s:
        call = {
            "PutObject": lambda: s.s3.put_object(Bucket=bucket, Key=key, Body=b"x"),
            "GetObject": lambda: s.s3.get_object(Bucket=bucket, Key=key),
            "DeleteObject": lambda: s.s3.delete_object(Bucket=bucket, Key=key),
        }[name]
        refused, _ = denied(call)
        assert refused, (
            f"{name} s3://{bucket}/{key} worked with the session's credentials, but the role "
            "does not allow it. A session policy can only narrow a role, never widen it; "
            "are you signing with the launcher's or the test's credentials instead?"
        )


def _session_policy(s: Session) -> str:
    policy = s.params.get("Policy")
    assert policy, (
        "assume_role was called without a Policy, so the credentials can do everything the "
        "shared role can, including writing every other job's models. Pass "
        "Policy=json.dumps(job_session_policy(...))."
    )
    return str(policy)


@pytest.mark.parametrize(
    ("action", "resource", "allowed"),
    [
        ("s3:PutObject", f"arn:aws:s3:::{ARTIFACTS}/models/{JOB}/model.bin", True),
        ("s3:GetObject", f"arn:aws:s3:::{DATA}/train/part-0.csv", True),
        ("s3:PutObject", f"arn:aws:s3:::{ARTIFACTS}/models/job-7/model.bin", False),
        ("s3:PutObject", f"arn:aws:s3:::{ARTIFACTS}/models/{JOB}-shadow/model.bin", False),
        ("s3:GetObject", f"arn:aws:s3:::{ARTIFACTS}/models/job-7/model.bin", False),
    ],
    ids=["own-model", "train-data", "other-job", "prefix-without-slash", "read-other-model"],
)
def test_session_policy_is_not_the_whole_role(
    job_session: Callable[[], Any], action: str, resource: str, allowed: bool
) -> None:
    with job_session() as s:
        result = IAMPolicy(_session_policy(s)).is_action_permitted(action, resource)
    assert (result == PermissionResult.PERMITTED) == allowed, (
        f"The session policy {'does not allow' if allowed else 'allows'} {action} on "
        f"{resource}. It should allow exactly this job's work: GetObject on train/* and "
        f"PutObject on models/{JOB}/*. (moto does not apply session policies to requests, "
        "so this is judged by moto's policy engine on the policy you sent.)"
    )
