"""Task 3: bucket hardening, read back through the S3 and KMS configuration APIs.

moto stores every setting faithfully, but it does not evaluate policy conditions such as
aws:SecureTransport: it treats a conditional Deny in a bucket policy as unconditional, so
once the policy is on, every object request to the bucket is refused (403), secure or not.
The tests therefore read the configuration back instead of sending requests.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import Aws, as_list, learner_function, policy_statements

pytestmark = pytest.mark.task(3)

BUCKET = "ml-training-data"
ALIAS = "alias/ml-training-data"


@dataclass
class Hardened:
    aws: Aws
    key_arn: str


@pytest.fixture(scope="module")
def hardened(module_aws: Aws, module_bridge: Any, learner: Any) -> Hardened:
    """One bucket hardened by the learner's code; the tests only read its configuration.

    Your functions get boto3 clients made in the worker, pointed at the tests' moto
    server; the tests read the result back with their own clients.
    """
    aws = module_aws
    aws.s3.create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": aws.region}
    )
    kms, s3 = module_bridge.client("kms"), module_bridge.client("s3")
    key_arn = learner_function(learner, "bucket", "create_bucket_key")(kms, ALIAS)
    assert isinstance(key_arn, str) and key_arn.startswith("arn:aws:kms:"), (
        f"create_bucket_key() returned {key_arn!r}; expected the key's ARN "
        "(create_key(...)['KeyMetadata']['Arn'])."
    )
    learner_function(learner, "bucket", "harden_bucket")(s3, BUCKET, key_arn)
    return Hardened(aws=aws, key_arn=key_arn)


def _read(call: Any, what: str) -> Any:
    try:
        return call()
    except ClientError as exc:
        pytest.fail(f"{what} failed: {exc}. harden_bucket() did not set it.", pytrace=False)


def _encryption_rule(h: Hardened) -> dict[str, Any]:
    config = _read(lambda: h.aws.s3.get_bucket_encryption(Bucket=BUCKET), "get_bucket_encryption")[
        "ServerSideEncryptionConfiguration"
    ]
    return dict(config["Rules"][0])


def _encryption_default(h: Hardened) -> dict[str, Any]:
    return dict(_encryption_rule(h)["ApplyServerSideEncryptionByDefault"])


def _bucket_policy(h: Hardened) -> dict[str, Any]:
    text = _read(lambda: h.aws.s3.get_bucket_policy(Bucket=BUCKET), "get_bucket_policy")["Policy"]
    return dict(json.loads(text))


def test_three_of_four_public_access_flags_is_not_enough(hardened: Hardened) -> None:
    config = _read(
        lambda: hardened.aws.s3.get_public_access_block(Bucket=BUCKET), "get_public_access_block"
    )["PublicAccessBlockConfiguration"]
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    off = [flag for flag in flags if config.get(flag) is not True]
    assert not off, (
        f"get_public_access_block shows {config}; {off} are not on. Each flag closes a "
        "different door (new public ACLs, existing public ACLs, new public policies, existing "
        "public policies): all four must be True."
    )


def test_aes256_is_not_kms(hardened: Hardened) -> None:
    default = _encryption_default(hardened)
    assert default.get("SSEAlgorithm") == "aws:kms", (
        f"Default encryption is {default}; expected SSEAlgorithm 'aws:kms'. AES256 (SSE-S3) "
        "encrypts with a key you cannot see, restrict or audit: anyone with s3:GetObject "
        "reads the data. With SSE-KMS a reader also needs kms:Decrypt on your key."
    )


def test_aws_managed_key_is_not_customer_managed(hardened: Hardened) -> None:
    kms = hardened.aws.kms
    configured = _encryption_default(hardened).get("KMSMasterKeyID")
    assert configured, (
        "Default encryption names no KMSMasterKeyID, so S3 uses the AWS-managed key aws/s3, "
        "whose key policy you cannot change. Name the key create_bucket_key() made."
    )
    aws_aliases = {
        a["TargetKeyId"]
        for a in kms.list_aliases()["Aliases"]
        if a["AliasName"].startswith("alias/aws/") and "TargetKeyId" in a
    }
    metadata = kms.describe_key(KeyId=configured)["KeyMetadata"]
    assert not str(configured).startswith("alias/aws/") and metadata["KeyId"] not in aws_aliases, (
        f"Default encryption uses {configured}, an AWS-managed key. Use your own key: you "
        "control its key policy (who may decrypt), can disable it, and see its use per key."
    )
    assert metadata["KeyManager"] == "CUSTOMER" and metadata["Arn"] == hardened.key_arn, (
        f"Default encryption uses key {metadata['Arn']} (KeyManager {metadata['KeyManager']}); "
        f"expected the customer-managed key returned by create_bucket_key(), "
        f"{hardened.key_arn}."
    )


def test_key_rotation_is_enabled(hardened: Hardened) -> None:
    status = hardened.aws.kms.get_key_rotation_status(KeyId=hardened.key_arn)
    assert status["KeyRotationEnabled"] is True, (
        "get_key_rotation_status says rotation is off. Call enable_key_rotation: KMS then "
        "makes new key material yearly and keeps the old material to decrypt old data."
    )


def test_bucket_key_not_enabled_is_rejected(hardened: Hardened) -> None:
    rule = _encryption_rule(hardened)
    assert rule.get("BucketKeyEnabled") is True, (
        f"The default encryption rule is {rule}; BucketKeyEnabled is not True. Without an S3 "
        "Bucket Key every object written or read is its own KMS request: at millions of "
        "objects that is real money and KMS throttling. With it, S3 derives the object keys "
        "from one short-lived bucket-level key."
    )


def test_key_is_a_symmetric_key_with_the_alias(hardened: Hardened) -> None:
    kms = hardened.aws.kms
    metadata = kms.describe_key(KeyId=hardened.key_arn)["KeyMetadata"]
    assert metadata["KeySpec"] == "SYMMETRIC_DEFAULT" and metadata["KeyUsage"] == (
        "ENCRYPT_DECRYPT"
    ), (
        f"The key is {metadata['KeySpec']}/{metadata['KeyUsage']}; S3 default encryption "
        "needs a SYMMETRIC_DEFAULT key for ENCRYPT_DECRYPT."
    )
    targets = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    assert targets.get(ALIAS) == metadata["KeyId"], (
        f"Alias {ALIAS} points at {targets.get(ALIAS)!r}, not at the new key "
        f"{metadata['KeyId']}. Aliases let people and policies name keys by purpose."
    )


def test_versioning_is_enabled(hardened: Hardened) -> None:
    status = hardened.aws.s3.get_bucket_versioning(Bucket=BUCKET).get("Status")
    assert status == "Enabled", (
        f"get_bucket_versioning says {status!r}; expected 'Enabled'. Without versions an "
        "overwrite or a delete (a bug, or ransomware) cannot be undone."
    )


def _deny_statements(policy: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in policy_statements(policy) if s.get("Effect") == "Deny"]


def _everyone(statement: dict[str, Any]) -> bool:
    principal = statement.get("Principal")
    return principal == "*" or (
        isinstance(principal, dict) and "*" in as_list(principal.get("AWS"))
    )


def test_bucket_policy_denies_insecure_transport(hardened: Hardened) -> None:
    policy = _bucket_policy(hardened)
    bucket_arn = f"arn:aws:s3:::{BUCKET}"
    for statement in _deny_statements(policy):
        condition = statement.get("Condition", {}).get("Bool", {})
        if str(condition.get("aws:SecureTransport", "")).lower() != "false":
            continue
        actions = {str(a).lower() for a in as_list(statement.get("Action"))}
        resources = set(as_list(statement.get("Resource")))
        assert _everyone(statement), f"The TLS Deny {statement} must apply to Principal '*'."
        assert actions & {"s3:*", "*"}, (
            f"The TLS Deny covers only {sorted(actions)}; use 's3:*' so that no S3 call "
            "works over plain HTTP."
        )
        assert {bucket_arn, f"{bucket_arn}/*"} <= resources, (
            f"The TLS Deny covers {sorted(resources)}; it needs both {bucket_arn} (bucket "
            f"calls such as ListBucket) and {bucket_arn}/* (objects)."
        )
        return
    pytest.fail(
        f"The bucket policy {json.dumps(policy)} has no Deny statement with Condition "
        '{"Bool": {"aws:SecureTransport": "false"}}. Without it a client may send data and '
        "credentials-signed requests over plain HTTP.",
        pytrace=False,
    )


NOT_EQUALS = ("stringnotequals", "stringnotequalsifexists")


def _upload_denies(policy: dict[str, Any], condition_key: str) -> list[tuple[dict[str, Any], Any]]:
    """(statement, values) of each Deny whose StringNotEquals[IfExists] tests ``condition_key``."""
    found = []
    for statement in _deny_statements(policy):
        for operator, tests in dict(statement.get("Condition", {})).items():
            if str(operator).lower() not in NOT_EQUALS or not isinstance(tests, dict):
                continue
            for key, values in tests.items():
                if str(key).lower() == condition_key:
                    found.append((statement, values))
    return found


def _covers_uploads(statement: dict[str, Any]) -> bool:
    actions = {str(a).lower() for a in as_list(statement.get("Action"))}
    return bool(actions & {"s3:putobject", "s3:*", "*"}) and (
        f"arn:aws:s3:::{BUCKET}/*" in as_list(statement.get("Resource"))
    )


def test_bucket_policy_denies_unencrypted_uploads(hardened: Hardened) -> None:
    policy = _bucket_policy(hardened)
    for statement, values in _upload_denies(policy, "s3:x-amz-server-side-encryption"):
        if "aws:kms" not in as_list(values):
            continue
        assert _everyone(statement), f"The upload Deny {statement} must apply to Principal '*'."
        assert _covers_uploads(statement), (
            f"The encryption Deny {statement} must cover s3:PutObject on the objects, "
            f"arn:aws:s3:::{BUCKET}/*."
        )
        return
    pytest.fail(
        f"The bucket policy {json.dumps(policy)} has no Deny of s3:PutObject with Condition "
        '{"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}}. It is '
        "what refuses an upload that asks for AES256 (an upload that asks for nothing gets "
        "the bucket default, your key).",
        pytrace=False,
    )


def test_kms_key_not_pinned_is_rejected(hardened: Hardened) -> None:
    policy = _bucket_policy(hardened)
    pins = _upload_denies(policy, "s3:x-amz-server-side-encryption-aws-kms-key-id")
    assert pins, (
        f"The bucket policy {json.dumps(policy)} requires aws:kms but not your key: anyone "
        "may upload under a KMS key of their own (one you cannot read, or one they can "
        "delete, which makes your data unreadable). Add a Deny of s3:PutObject with "
        '{"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": '
        "<your key ARN>}}."
    )
    for statement, values in pins:
        assert as_list(values) == [hardened.key_arn], (
            f"The key-id Deny compares s3:x-amz-server-side-encryption-aws-kms-key-id with "
            f"{values!r}; S3 puts the key ARN, {hardened.key_arn}, in that condition key, "
            "so an alias or a bare key id never matches and every upload that names the key "
            "would be denied. Use the ARN that create_bucket_key() returned."
        )
        assert _everyone(statement) and _covers_uploads(statement), (
            f"The key-id Deny {statement} must apply to Principal '*' and cover "
            f"s3:PutObject on arn:aws:s3:::{BUCKET}/*."
        )


def test_bucket_policy_allows_nothing(hardened: Hardened) -> None:
    allows = [s for s in policy_statements(_bucket_policy(hardened)) if s.get("Effect") != "Deny"]
    assert not allows, (
        f"The bucket policy has non-Deny statements {allows}. This policy is a guardrail; "
        "access is granted by the IAM policies of the roles that need it."
    )
