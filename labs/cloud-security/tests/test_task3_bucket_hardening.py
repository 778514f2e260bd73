"""Task 3: bucket hardening, read back through the S3 and KMS configuration APIs.

moto stores every setting faithfully, but it does not evaluate policy conditions such as
aws:SecureTransport: it treats a conditional Deny in a bucket policy as unconditional, so
once the policy is on, every object request to the bucket is refused (403), secure or not.
The tests therefore read the configuration back instead of sending requests, and ask the
judge's own policy evaluator (tests/policy_judge.py, as task 6 does) what the bucket
policy decides for a table of uploads.

Each requirement in the docstrings of cloudsec/bucket.py and in the lesson's task 3, and
the test that fails when that sentence alone is broken:

- a customer-managed symmetric key with the alias -> test_key_is_a_symmetric_key_with_the_alias
- automatic rotation on -> test_key_rotation_is_enabled
- all four public access flags -> test_three_of_four_public_access_flags_is_not_enough
- default encryption SSE-KMS -> test_aes256_is_not_kms
- ... with your key, not aws/s3 -> test_aws_managed_key_is_not_customer_managed
- ... and the Bucket Key -> test_bucket_key_not_enabled_is_rejected
- versioning on -> test_versioning_is_enabled
- every s3:* request without TLS refused, bucket and objects, for everyone, and only
  those (evaluated, so BoolIfExists or Principal {"AWS": "*"} pass too)
  -> test_bucket_policy_denies_insecure_transport
- an upload that asks for another algorithm refused
  -> test_encryption_deny_that_accepts_sse_s3_is_rejected
- an upload that asks for SSE-KMS under another key refused
  -> test_condition_keys_anded_in_one_block_is_rejected
- ... or under no named key (aws/s3) -> test_kms_upload_without_key_id_is_rejected
- an upload under your key's ARN not refused -> test_upload_under_your_key_is_not_denied
- the policy allows nothing -> test_bucket_policy_allows_nothing
- (an upload that names no encryption may be refused or not: no test, by design)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from botocore.exceptions import ClientError
from conftest import Aws, learner_function, policy_statements
from policy_judge import EXPLICIT_DENY, Request, Unsupported, decide

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


# Who calls (someone in the account, someone outside it): the guardrails must hold for
# everyone, on every object.
WRITERS = ["arn:aws:iam::123456789012:role/ingest", "arn:aws:iam::999988887777:user/partner"]
TLS_CALLS = [
    ("s3:GetObject", f"arn:aws:s3:::{BUCKET}/train/part-0.csv"),
    ("s3:PutObject", f"arn:aws:s3:::{BUCKET}/train/part-9.csv"),
    ("s3:DeleteObject", f"arn:aws:s3:::{BUCKET}/train/part-0.csv"),
    ("s3:ListBucket", f"arn:aws:s3:::{BUCKET}"),
    ("s3:GetBucketPolicy", f"arn:aws:s3:::{BUCKET}"),
]


def _decisions(h: Hardened, action: str, resource: str, context: dict[str, str]) -> list[Any]:
    policy = _bucket_policy(h)
    found = []
    for writer in WRITERS:
        try:
            found.append(
                (writer, decide(policy, Request(("AWS", writer), action, resource, context)))
            )
        except Unsupported as exc:
            pytest.fail(
                f"The judge cannot evaluate your bucket policy: it uses {exc}, which "
                "tests/policy_judge.py does not implement. Use the forms the lesson shows.",
                pytrace=False,
            )
    return found


def test_bucket_policy_denies_insecure_transport(hardened: Hardened) -> None:
    for action, resource in TLS_CALLS:
        for who, decision in _decisions(
            hardened, action, resource, {"aws:SecureTransport": "false"}
        ):
            assert decision == EXPLICIT_DENY, (
                f"{action} on {resource} by {who} over plain HTTP gets '{decision}' from your "
                "bucket policy; it must be an explicit deny. Deny s3:* on the bucket and its "
                'objects for everyone with {"Bool": {"aws:SecureTransport": "false"}}: '
                "without it a client may send data and signed requests in the clear. The "
                f"policy: {json.dumps(_bucket_policy(hardened))}"
            )
    for action, resource in TLS_CALLS[:1] + TLS_CALLS[3:]:
        for who, decision in _decisions(
            hardened, action, resource, {"aws:SecureTransport": "true"}
        ):
            assert decision != EXPLICIT_DENY, (
                f"{action} on {resource} by {who} over TLS is denied by your bucket policy. "
                "The TLS Deny must apply only when aws:SecureTransport is false."
            )


ALGORITHM = "s3:x-amz-server-side-encryption"
KEY_ID = "s3:x-amz-server-side-encryption-aws-kms-key-id"
OTHER_KEY = "arn:aws:kms:eu-west-1:999988887777:key/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
OBJECTS = ["train/part-9.csv", "models/job-42/model.bin"]


def _upload_decisions(h: Hardened, headers: dict[str, str]) -> list[tuple[str, str]]:
    """(who and where, decision) of the bucket policy for a PutObject over TLS carrying
    ``headers``, evaluated by the judge's policy evaluator (tests/policy_judge.py): moto
    stores a bucket policy but does not evaluate its conditions.

    The condition keys hold what the request asked for: S3 evaluates the bucket policy
    before default encryption, so an upload that names no encryption has neither key.
    """
    policy = _bucket_policy(h)
    decisions = []
    for writer in WRITERS:
        for key in OBJECTS:
            request = Request(
                ("AWS", writer),
                "s3:PutObject",
                f"arn:aws:s3:::{BUCKET}/{key}",
                {"aws:SecureTransport": "true", **headers},
            )
            try:
                decisions.append((f"{writer} to {key}", decide(policy, request)))
            except Unsupported as exc:
                pytest.fail(
                    f"The judge cannot evaluate your bucket policy: it uses {exc}, which "
                    "tests/policy_judge.py does not implement. Use the forms the lesson shows.",
                    pytrace=False,
                )
    return decisions


def _check_upload_denied(h: Hardened, headers: dict[str, str], mistake: str) -> None:
    for who, decision in _upload_decisions(h, headers):
        assert decision == EXPLICIT_DENY, (
            f"An upload with {headers} by {who} gets '{decision}' from your bucket policy; "
            f"it must be an explicit deny. {mistake} The policy: {json.dumps(_bucket_policy(h))}"
        )


def test_encryption_deny_that_accepts_sse_s3_is_rejected(hardened: Hardened) -> None:
    _check_upload_denied(
        hardened,
        {ALGORITHM: "AES256"},
        "SSE-S3 (AES256) encrypts under a key S3 holds, which nobody can restrict or audit: "
        "anyone with s3:GetObject reads the data. Only aws:kms may pass the algorithm check.",
    )


def test_condition_keys_anded_in_one_block_is_rejected(hardened: Hardened) -> None:
    _check_upload_denied(
        hardened,
        {ALGORITHM: "aws:kms", KEY_ID: OTHER_KEY},
        "The upload asks for KMS, under someone else's key: one you cannot use, or one they "
        "can delete, which makes your data unreadable. Keys under one condition operator "
        "(and operators in one Condition block) are ANDed, so a single Deny that tests the "
        "algorithm and the key id fires only when both are wrong; each mistake needs a Deny "
        "of its own.",
    )


def test_kms_upload_without_key_id_is_rejected(hardened: Hardened) -> None:
    _check_upload_denied(
        hardened,
        {ALGORITHM: "aws:kms"},
        "An upload that asks for aws:kms and names no key is encrypted under the AWS-managed "
        "key aws/s3, not under the bucket default: a missing key id is not your key.",
    )


def test_upload_under_your_key_is_not_denied(hardened: Hardened) -> None:
    headers = {ALGORITHM: "aws:kms", KEY_ID: hardened.key_arn}
    for who, decision in _upload_decisions(hardened, headers):
        assert decision != EXPLICIT_DENY, (
            f"An upload with {headers} by {who} is denied by your bucket policy, but it is "
            "exactly what the policy is for. S3 compares the key id condition with the key's "
            "ARN, so an alias or a bare key id in the policy never matches: pin the ARN that "
            "create_bucket_key() returned."
        )


def test_bucket_policy_allows_nothing(hardened: Hardened) -> None:
    allows = [s for s in policy_statements(_bucket_policy(hardened)) if s.get("Effect") != "Deny"]
    assert not allows, (
        f"The bucket policy has non-Deny statements {allows}. This policy is a guardrail; "
        "access is granted by the IAM policies of the roles that need it."
    )
