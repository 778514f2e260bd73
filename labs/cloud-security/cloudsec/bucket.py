"""Task 3: a hardened S3 bucket for training data.

Four layers, each of which you can read back through an S3 or KMS configuration API:

1. Block Public Access: all four flags on.
2. Default encryption: SSE-KMS with a *customer-managed* key (one you created, whose key
   policy and rotation you control), not SSE-S3 (``AES256``) and not the AWS-managed
   ``aws/s3`` key. Automatic rotation on for that key.
3. Versioning on, so an overwrite or a delete can be undone.
4. A bucket policy that denies any request not made over TLS and any upload that asks
   for another encryption or another KMS key than yours.

moto stores all of this faithfully but does not evaluate policy conditions, so the tests
read the configuration back instead of trying an insecure request, and evaluate your
bucket policy on a table of uploads with the judge's own policy evaluator.
"""

from __future__ import annotations

from typing import Any

__all__ = ["bucket_policy", "create_bucket_key", "harden_bucket"]


def create_bucket_key(kms: Any, alias: str) -> str:
    """Create a customer-managed symmetric KMS key for a bucket and return its ARN.

    ``kms`` is a boto3 KMS client; ``alias`` looks like ``"alias/ml-training-data"``.
    Give the key a description, point ``alias`` at it, and turn on automatic rotation
    (``RotationPeriodInDays`` may be anything from 90 to 2560; 365 is the default).
    """
    # TODO(student): kms.create_key(...), kms.create_alias(...), kms.enable_key_rotation(...)
    raise NotImplementedError("TODO(student): create a customer-managed key with rotation")


def bucket_policy(bucket: str, kms_key_arn: str) -> dict[str, Any]:
    """Return the bucket policy document for ``bucket``: Deny statements only, each for
    every principal (``"Principal": "*"``), that refuse

    * every ``s3:*`` request on the bucket or its objects not made over TLS
      (``aws:SecureTransport`` is ``"false"``);
    * every ``s3:PutObject`` that asks for an encryption other than SSE-KMS
      (``s3:x-amz-server-side-encryption`` is there and is not ``"aws:kms"``, e.g.
      ``"AES256"``);
    * every ``s3:PutObject`` that asks for SSE-KMS under any key but ``kms_key_arn``,
      including one that names no key id (S3 would then use the AWS-managed ``aws/s3``
      key): this pins your key, so nobody uploads under a key you do not control.

    S3 evaluates the bucket policy before default encryption, so an upload that names no
    encryption carries neither header. Your policy may let it through (it gets the bucket
    default, your key) or refuse it (every writer must then name your key); it must not
    let through any upload above. It allows nothing.
    """
    # TODO(student): Deny statements with Conditions; resources are
    # arn:aws:s3:::<bucket> and arn:aws:s3:::<bucket>/*.
    raise NotImplementedError("TODO(student): write the TLS-only, KMS-only bucket policy")


def harden_bucket(s3: Any, bucket: str, kms_key_arn: str) -> None:
    """Apply all four layers to the existing ``bucket`` with the boto3 S3 client ``s3``.

    Calls to use: ``put_public_access_block``, ``put_bucket_encryption`` (SSE-KMS with
    ``kms_key_arn``, and ``BucketKeyEnabled``: without it every object costs a KMS call),
    ``put_bucket_versioning`` and ``put_bucket_policy`` (with :func:`bucket_policy`).
    """
    # TODO(student): four configuration calls.
    raise NotImplementedError("TODO(student): harden the bucket")
