"""Task 1: the training job's policy, enforced by moto's IAM simulation.

The policy is built by your code (in the worker) and comes back as plain data; the tests
attach it to a role on their moto server, assume the role, and real S3/IAM calls are made
with ``enable_iam_authentication``: moto then checks every request against the role's
policies (actions and resource ARNs; it honours resource scoping for S3 and IAM).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import (
    Aws,
    as_list,
    check_judges_iam,
    denied,
    learner_function,
    load_policy,
    policy_statements,
)
from moto.core import enable_iam_authentication

pytestmark = pytest.mark.task(1)

DATA = "ml-training-data"
ARTIFACTS = "ml-model-artifacts"
OTHER = "ml-other-team"
JOB = "job-42"
ROLE = "ml-training-job"


# One object per bucket, in the job's own prefix, that only the destructive-action tests
# touch: if a wrong policy lets a delete through, no other test reads what it destroyed.
VICTIMS = {DATA: "train/part-1.csv", ARTIFACTS: f"models/{JOB}/checkpoint.bin"}


@dataclass
class Job:
    s3: Any
    iam: Any


@pytest.fixture(scope="module")
def policy(learner: Any) -> dict[str, Any]:
    build = learner_function(learner, "iam_policy", "training_job_policy")
    document = build(DATA, ARTIFACTS, JOB)
    assert isinstance(document, dict), (
        f"training_job_policy() returned {type(document).__name__}; expected a dict "
        "such as {'Version': '2012-10-17', 'Statement': [...]}."
    )
    return document


@pytest.fixture(scope="module")
def job_as(module_aws: Aws, policy: dict[str, Any]) -> Callable[..., Any]:
    """Set up buckets and the role once; return a context manager yielding the job's clients.

    The account is shared by the module, so every test leaves it as it found it: extra
    policies are detached on exit, and nothing a test deletes is read by another test.
    """
    aws = module_aws
    for bucket in (DATA, ARTIFACTS, OTHER):
        aws.s3.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": aws.region}
        )
    for bucket in (DATA, ARTIFACTS):  # so that a versioned delete has a version to destroy
        aws.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for bucket, key in [
        (DATA, "train/part-0.csv"),
        (DATA, "raw/dump.csv"),
        (DATA, "train-holdout/part-0.csv"),
        (ARTIFACTS, f"models/{JOB}/old.bin"),
        (ARTIFACTS, "models/job-7/model.bin"),
        (OTHER, "train/part-0.csv"),
        (OTHER, "scratch/delete-me.csv"),
        *[(bucket, key) for bucket, key in VICTIMS.items()],
    ]:
        aws.s3.put_object(Bucket=bucket, Key=key, Body=b"1,2,3\n")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{aws.account_id}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role_arn = aws.iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=json.dumps(trust))[
        "Role"
    ]["Arn"]
    try:
        aws.iam.put_role_policy(
            RoleName=ROLE, PolicyName="training-job", PolicyDocument=json.dumps(policy)
        )
    except Exception as exc:
        pytest.fail(f"IAM refused the policy from training_job_policy(): {exc}", pytrace=False)

    issued: set[str] = set()  # the judge's own sessions on the role

    @contextmanager
    def as_job(*extra_policies: dict[str, Any]) -> Iterator[Job]:
        names = [f"extra-{n}" for n in range(len(extra_policies))]
        for name, extra in zip(names, extra_policies, strict=True):
            aws.iam.put_role_policy(
                RoleName=ROLE, PolicyName=name, PolicyDocument=json.dumps(extra)
            )
        attached = {"training-job": policy, **dict(zip(names, extra_policies, strict=True))}
        try:
            creds = aws.sts.assume_role(RoleArn=role_arn, RoleSessionName=JOB)["Credentials"]
            issued.add(creds["AccessKeyId"])
            with enable_iam_authentication():
                # Checked with enforcement on, when the worker's keys no longer work: the
                # role holds the graded policy (and the test's extras) and nothing else.
                check_judges_iam(roles={ROLE: attached}, keys=issued)
                yield Job(s3=aws.client_with("s3", creds), iam=aws.client_with("iam", creds))
                check_judges_iam(roles={ROLE: attached}, keys=issued)
        finally:
            for name in names:
                aws.iam.delete_role_policy(RoleName=ROLE, PolicyName=name)

    return as_job


def _expect_denied(call: Callable[[], Any], what: str, why: str) -> None:
    refused, _ = denied(call)
    assert refused, f"The job could {what}; it must get AccessDenied. {why}"


def test_job_can_read_train_and_write_its_model(job_as: Callable[..., Any]) -> None:
    with job_as() as job:
        for what, call in [
            (
                f"GetObject s3://{DATA}/train/part-0.csv",
                lambda: job.s3.get_object(Bucket=DATA, Key="train/part-0.csv"),
            ),
            (
                f"PutObject s3://{ARTIFACTS}/models/{JOB}/model.bin",
                lambda: job.s3.put_object(
                    Bucket=ARTIFACTS, Key=f"models/{JOB}/model.bin", Body=b"weights"
                ),
            ),
        ]:
            refused, code = denied(call)
            assert not refused, (
                f"{what} was refused ({code}). The job needs exactly this call; check the "
                "action name and that the ARN is arn:aws:s3:::<bucket>/<prefix>/*, and that "
                "your Deny statement does not cover it."
            )


@pytest.mark.parametrize(
    ("bucket", "key", "verb"),
    [
        (DATA, "raw/dump.csv", "read"),
        (DATA, "train-holdout/part-0.csv", "read"),
        (ARTIFACTS, "models/job-7/model.bin", "write"),
        (ARTIFACTS, f"models/{JOB}-shadow/model.bin", "write"),
        (ARTIFACTS, "latest.bin", "write"),
    ],
    ids=["data-raw", "data-train-holdout", "other-job", "job-prefix-without-slash", "bucket-root"],
)
def test_whole_bucket_arn_is_not_granted(
    job_as: Callable[..., Any], bucket: str, key: str, verb: str
) -> None:
    with job_as() as job:
        if verb == "read":
            call = lambda: job.s3.get_object(Bucket=bucket, Key=key)  # noqa: E731
        else:
            call = lambda: job.s3.put_object(Bucket=bucket, Key=key, Body=b"x")  # noqa: E731
        _expect_denied(
            call,
            f"{verb} s3://{bucket}/{key}",
            "Only train/ and models/<job_id>/ were asked for: scope each ARN to its "
            "prefix and end it with '/*' (a bare 'train*' also matches "
            "'train-holdout/').",
        )


@pytest.mark.parametrize("verb", ["read", "write"])
def test_resource_star_is_not_granted(job_as: Callable[..., Any], verb: str) -> None:
    with job_as() as job:
        if verb == "read":
            call = lambda: job.s3.get_object(Bucket=OTHER, Key="train/part-0.csv")  # noqa: E731
        else:
            call = lambda: job.s3.put_object(  # noqa: E731
                Bucket=OTHER, Key=f"models/{JOB}/model.bin", Body=b"x"
            )
        _expect_denied(
            call,
            f"{verb} another team's bucket s3://{OTHER}",
            "A Resource of '*' (or a bucket wildcard) reaches every bucket in the "
            "account; name the two buckets.",
        )


@pytest.mark.parametrize(
    "name",
    [
        "DeleteObject",
        "ListAllMyBuckets",
        "PutBucketPolicy",
        "GetObject-on-artifacts",
        "PutObject-on-data",
        "ListBucket",
    ],
)
def test_s3_star_is_not_granted(job_as: Callable[..., Any], name: str) -> None:
    open_policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{ARTIFACTS}/*",
                }
            ],
        }
    )
    with job_as() as job:
        call = {
            "DeleteObject": lambda: job.s3.delete_object(
                Bucket=ARTIFACTS, Key=f"models/{JOB}/old.bin"
            ),
            "ListAllMyBuckets": lambda: job.s3.list_buckets(),
            "PutBucketPolicy": lambda: job.s3.put_bucket_policy(
                Bucket=ARTIFACTS, Policy=open_policy
            ),
            "GetObject-on-artifacts": lambda: job.s3.get_object(
                Bucket=ARTIFACTS, Key=f"models/{JOB}/old.bin"
            ),
            "PutObject-on-data": lambda: job.s3.put_object(
                Bucket=DATA, Key="train/poison.csv", Body=b"x"
            ),
            "ListBucket": lambda: job.s3.list_objects_v2(Bucket=DATA),
        }[name]
        _expect_denied(
            call,
            name,
            "The job reads train/ and writes its model; 's3:*' (or any "
            "action beyond s3:GetObject and s3:PutObject) grants far more.",
        )


@pytest.mark.parametrize("name", ["ListUsers", "CreateUser", "CreateAccessKey", "PutRolePolicy"])
def test_iam_is_not_granted(job_as: Callable[..., Any], policy: dict[str, Any], name: str) -> None:
    with job_as() as job:
        call = {
            "ListUsers": lambda: job.iam.list_users(),
            "CreateUser": lambda: job.iam.create_user(UserName="backdoor"),
            "CreateAccessKey": lambda: job.iam.create_access_key(UserName="backdoor"),
            "PutRolePolicy": lambda: job.iam.put_role_policy(
                RoleName=ROLE,
                PolicyName="self-grant",
                PolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
                    }
                ),
            ),
        }[name]
        _expect_denied(
            call,
            f"call iam:{name}",
            "A training job never needs IAM; iam:PutRolePolicy on its own role "
            "would let it make itself admin.",
        )


@pytest.mark.parametrize(
    ("name", "bucket", "key"),
    [
        ("DeleteObject", DATA, "train/part-0.csv"),
        ("DeleteObject", ARTIFACTS, f"models/{JOB}/old.bin"),
        ("PutBucketPolicy", DATA, None),
        ("PutBucketPolicy", ARTIFACTS, None),
        ("DeleteObject", OTHER, "scratch/delete-me.csv"),
    ],
    ids=[
        "delete-train-data",
        "delete-model",
        "policy-on-data",
        "policy-on-artifacts",
        "delete-in-unrelated-bucket-still-allowed",
    ],
)
def test_explicit_deny_beats_a_broad_allow(
    job_as: Callable[..., Any], name: str, bucket: str, key: str | None
) -> None:
    """Someone attaches AmazonS3FullAccess to the role: the Deny must still win."""
    full_access = load_policy("bad/aws-managed-AmazonS3FullAccess.json")
    with job_as(full_access) as job:
        if name == "DeleteObject":
            call = lambda: job.s3.delete_object(Bucket=bucket, Key=key)  # noqa: E731
        else:
            call = lambda: job.s3.put_bucket_policy(  # noqa: E731
                Bucket=bucket,
                Policy=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {
                                "Effect": "Allow",
                                "Principal": "*",
                                "Action": "s3:GetObject",
                                "Resource": f"arn:aws:s3:::{bucket}/*",
                            }
                        ],
                    }
                ),
            )
        refused, code = denied(call)
        if bucket == OTHER:
            # Control: the Deny protects the two job buckets, not the whole account, so
            # AmazonS3FullAccess must still work elsewhere. If it is refused, the Deny is
            # scoped to "*" and would break every other policy attached to the role.
            assert not refused, (
                f"With AmazonS3FullAccess attached, DeleteObject in the unrelated bucket "
                f"{OTHER} was refused ({code}). Scope the Deny to the two job buckets."
            )
        else:
            assert refused, (
                f"With AmazonS3FullAccess also attached to the role, {name} on s3://{bucket} "
                "succeeded. Add an explicit Deny statement for it: a Deny beats every Allow, "
                "in any policy attached to the role, so it still protects the data after "
                "someone widens the role."
            )


def _iam_refused(call: Callable[[], Any]) -> tuple[bool, str]:
    """(True, code) if IAM refused the call; (False, what happened) if IAM let it through.

    moto checks IAM before it runs the operation, so any other error (BucketNotEmpty,
    NoSuchVersion, ...) means the policy allowed the call.
    """
    try:
        return denied(call)
    except Exception as exc:
        return False, f"allowed by IAM, then failed with {type(exc).__name__}: {exc}"


def _victim_versions(aws: Aws) -> dict[str, str]:
    """A fresh version of each bucket's victim object, written before IAM enforcement is on
    (a wrong policy may have let an earlier test destroy the last one)."""
    return {
        bucket: aws.s3.put_object(Bucket=bucket, Key=key, Body=b"1,2,3\n")["VersionId"]
        for bucket, key in VICTIMS.items()
    }


def _destructive_call(
    job: Job, versions: dict[str, str], action: str, bucket: str
) -> Callable[[], Any]:
    """The request that needs IAM action ``action`` on ``bucket`` (or its victim object)."""
    key = VICTIMS[bucket]
    if action == "DeleteObjectVersion":
        version = versions[bucket]
        return lambda: job.s3.delete_object(Bucket=bucket, Key=key, VersionId=version)
    public_read = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/*",
                }
            ],
        }
    )
    expire_everything = {
        "Rules": [
            {
                "ID": "expire-everything",
                "Status": "Enabled",
                "Filter": {"Prefix": ""},
                "Expiration": {"Days": 1},
                "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
            }
        ]
    }
    calls: dict[str, Callable[[], Any]] = {
        "DeleteObject": lambda: job.s3.delete_object(Bucket=bucket, Key=key),
        "DeleteBucket": lambda: job.s3.delete_bucket(Bucket=bucket),
        "PutLifecycleConfiguration": lambda: job.s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration=expire_everything
        ),
        "PutBucketVersioning": lambda: job.s3.put_bucket_versioning(
            Bucket=bucket, VersioningConfiguration={"Status": "Suspended"}
        ),
        "PutBucketPolicy": lambda: job.s3.put_bucket_policy(Bucket=bucket, Policy=public_read),
        "DeleteBucketPolicy": lambda: job.s3.delete_bucket_policy(Bucket=bucket),
        "PutBucketAcl": lambda: job.s3.put_bucket_acl(Bucket=bucket, ACL="public-read"),
        "PutObjectAcl": lambda: job.s3.put_object_acl(Bucket=bucket, Key=key, ACL="public-read"),
    }
    return calls[action]


WHY = {
    "DeleteObjectVersion": "a delete with a VersionId destroys the copy that versioning kept: "
    "s3:DeleteObject alone does not cover it",
    "DeleteBucket": "s3:DeleteBucket is its own action, on the bucket ARN",
    "PutLifecycleConfiguration": "an expiration rule deletes every object a day later, without "
    "a single Delete call",
    "PutBucketVersioning": "suspending versioning makes the next overwrite or delete permanent",
    "PutBucketPolicy": "a bucket policy can open the bucket to the world",
    "DeleteBucketPolicy": "deleting the bucket policy removes its guardrails (TLS-only, KMS-only)",
    "PutBucketAcl": "a public-read ACL opens the bucket to the world, bucket policy or not",
    "PutObjectAcl": "a public-read ACL opens the object to the world, bucket policy or not",
}


def _check_denied_with_full_access(
    job_as: Callable[..., Any], aws: Aws, actions: list[str], mistake: str
) -> None:
    full_access = load_policy("bad/aws-managed-AmazonS3FullAccess.json")
    versions = _victim_versions(aws)
    with job_as(full_access) as job:
        for action in actions:
            for bucket in (DATA, ARTIFACTS):
                refused, what = _iam_refused(_destructive_call(job, versions, action, bucket))
                assert refused, (
                    f"With AmazonS3FullAccess also attached to the role, s3:{action} on "
                    f"s3://{bucket} was {what}. {mistake} Add s3:{action} to the Deny, on "
                    f"both buckets: {WHY[action]}."
                )


def test_deny_without_versioned_deletes_is_rejected(
    job_as: Callable[..., Any], module_aws: Aws
) -> None:
    _check_denied_with_full_access(
        job_as,
        module_aws,
        ["DeleteObjectVersion"],
        "Your Deny lets a versioned delete through.",
    )


def test_deny_without_bucket_deletion_is_rejected(
    job_as: Callable[..., Any], module_aws: Aws
) -> None:
    _check_denied_with_full_access(
        job_as, module_aws, ["DeleteBucket"], "Your Deny lets the bucket itself be deleted."
    )


def test_deny_without_acl_writes_is_rejected(job_as: Callable[..., Any], module_aws: Aws) -> None:
    _check_denied_with_full_access(
        job_as,
        module_aws,
        ["PutBucketAcl", "PutObjectAcl"],
        "Your Deny covers the bucket policy but not ACLs, the other way to make data public.",
    )


def test_deny_without_lifecycle_and_versioning_changes_is_rejected(
    job_as: Callable[..., Any], module_aws: Aws
) -> None:
    _check_denied_with_full_access(
        job_as,
        module_aws,
        ["PutLifecycleConfiguration", "PutBucketVersioning"],
        "Your Deny stops the Delete calls, but data can be destroyed without one.",
    )


def test_deny_without_bucket_policy_deletion_is_rejected(
    job_as: Callable[..., Any], module_aws: Aws
) -> None:
    _check_denied_with_full_access(
        job_as,
        module_aws,
        ["DeleteBucketPolicy"],
        "Your Deny stops a new bucket policy but not the removal of the one in place.",
    )


@pytest.mark.parametrize("action", ["PutObjectAcl", "PutBucketAcl"])
def test_allow_that_grants_acl_writes_is_rejected(
    job_as: Callable[..., Any], module_aws: Aws, action: str
) -> None:
    versions = _victim_versions(module_aws)
    with job_as() as job:
        refused, what = _iam_refused(_destructive_call(job, versions, action, ARTIFACTS))
    assert refused, (
        f"With only your policy on the role, s3:{action} on the job's own model in "
        f"s3://{ARTIFACTS} was {what}. The job writes its model with s3:PutObject; "
        f"s3:{action} is not needed for that (the bucket owner owns every object when ACLs "
        f"are disabled), and {WHY[action]}."
    )


def test_allow_grants_more_than_get_and_put_object_is_rejected(policy: dict[str, Any]) -> None:
    granted = sorted(
        {str(a).lower() for s in _allow_statements(policy) for a in as_list(s.get("Action"))}
    )
    assert granted == ["s3:getobject", "s3:putobject"], (
        f"Your Allow statements grant {granted}; the job needs exactly s3:GetObject (on "
        "train/) and s3:PutObject (on its models/ prefix). Every extra action, such as "
        "s3:PutObjectAcl, is one more thing a leaked credential can do."
    )


def _allow_statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in policy_statements(policy) if s.get("Effect") == "Allow"]


def test_allow_has_no_wildcard_action(policy: dict[str, Any]) -> None:
    for statement in _allow_statements(policy):
        assert "NotAction" not in statement, (
            f"Allow statement {statement} uses NotAction: that grants every action except "
            "the listed ones. Name the actions in Action."
        )
        wild = [a for a in as_list(statement.get("Action")) if "*" in str(a)]
        assert not wild, (
            f"Allow statement {statement.get('Sid', statement)} grants the wildcard action(s) "
            f"{wild}. Name each action: s3:GetObject and s3:PutObject."
        )


def test_allow_has_no_resource_star(policy: dict[str, Any]) -> None:
    for statement in _allow_statements(policy):
        assert "NotResource" not in statement, (
            f"Allow statement {statement} uses NotResource: that grants every resource except "
            "the listed ones."
        )
        resources = as_list(statement.get("Resource"))
        assert resources, f"Allow statement {statement} has no Resource."
        for resource in resources:
            assert resource != "*" and not str(resource).startswith("arn:aws:s3:::*"), (
                f"Allow statement {statement.get('Sid', statement)} has Resource {resource!r}. "
                "S3 object actions can be scoped; use arn:aws:s3:::<bucket>/<prefix>/*."
            )


def test_policy_uses_its_arguments(learner: Any) -> None:
    build = learner_function(learner, "iam_policy", "training_job_policy")
    text = json.dumps(build("team-b-data", "team-b-models", "run-2026-11-23"))
    for expected in (
        "arn:aws:s3:::team-b-data/train/*",
        "arn:aws:s3:::team-b-models/models/run-2026-11-23/*",
    ):
        assert expected in text, (
            f"training_job_policy('team-b-data', 'team-b-models', 'run-2026-11-23') does not "
            f"contain the resource {expected}. Build each ARN from the arguments (not hard-coded)"
            " and scope it exactly to the prefix asked for."
        )
    for stale in (DATA, ARTIFACTS, JOB):
        assert stale not in text, f"The policy for other arguments still mentions {stale!r}."
