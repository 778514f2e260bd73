"""Task 3: a hardened S3 bucket for training data."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["ROTATION_DAYS", "bucket_policy", "create_bucket_key", "harden_bucket"]

ROTATION_DAYS = 365


def create_bucket_key(kms: Any, alias: str) -> str:
    """Create a customer-managed symmetric KMS key for a bucket and return its ARN."""
    # A customer-managed key has a key policy we control, can be disabled or scheduled for
    # deletion, and its use shows in CloudTrail per key; aws/s3 allows none of that.
    metadata = kms.create_key(
        Description=f"Default encryption key for the bucket behind {alias}",
        KeySpec="SYMMETRIC_DEFAULT",
        KeyUsage="ENCRYPT_DECRYPT",
    )["KeyMetadata"]
    kms.create_alias(AliasName=alias, TargetKeyId=metadata["KeyId"])
    # New key material every ROTATION_DAYS (KMS allows 90 to 2560); the old material stays
    # to decrypt old data, and callers change nothing.
    kms.enable_key_rotation(KeyId=metadata["KeyId"], RotationPeriodInDays=ROTATION_DAYS)
    return str(metadata["Arn"])


def bucket_policy(bucket: str, kms_key_arn: str) -> dict[str, Any]:
    """Return the TLS-only, KMS-only bucket policy document for ``bucket``."""
    bucket_arn = f"arn:aws:s3:::{bucket}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                # The bucket ARN covers bucket-level calls (ListBucket, GetBucketPolicy…),
                # the "/*" ARN covers objects; one without the other leaves a hole.
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            # Since January 2023 S3 encrypts every new object, so "encrypted at all" is not
            # the question: which key is. The bucket policy is evaluated before default
            # encryption, so an upload that names no encryption has neither header here;
            # these two statements leave it alone and it gets the bucket default, our key.
            # Keys in one Condition block are ANDed; each way to get the key wrong needs
            # its own statement.
            {
                "Sid": "DenyUploadsAskingForAnotherAlgorithm",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/*",
                # The header is there (Null false) and is not aws:kms: AES256, for one.
                "Condition": {
                    "Null": {"s3:x-amz-server-side-encryption": "false"},
                    "StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
                },
            },
            {
                "Sid": "DenyKmsUploadsUnderAnotherKey",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn}/*",
                # aws:kms with another key, or with no key id at all (S3 then uses the
                # AWS-managed aws/s3 key, not the bucket default). IfExists makes a missing
                # key id count as "not our key". S3 compares the key ARN: an alias or a bare
                # key id here never matches.
                "Condition": {
                    "StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
                    "StringNotEqualsIfExists": {
                        "s3:x-amz-server-side-encryption-aws-kms-key-id": kms_key_arn
                    },
                },
            },
        ],
    }


def harden_bucket(s3: Any, bucket: str, kms_key_arn: str) -> None:
    """Apply all four layers to the existing ``bucket``."""
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": kms_key_arn,
                    },
                    # S3 asks KMS for a bucket-level key now and then and derives the
                    # object keys from it, instead of one KMS call per object: up to 99%
                    # fewer KMS requests (and their cost and throttling).
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(bucket_policy(bucket, kms_key_arn)))
