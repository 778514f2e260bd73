"""Task 5: temporary credentials from STS, scoped down with a session policy."""

from __future__ import annotations

import json
from typing import Any

import boto3

__all__ = ["SESSION_SECONDS", "assume_job_role", "job_session_policy", "s3_client_for"]

SESSION_SECONDS = 900  # the shortest session STS grants; a training step fits in it


def job_session_policy(data_bucket: str, artifacts_bucket: str, job_id: str) -> dict[str, Any]:
    """The session policy of one job."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{data_bucket}/train/*",
            },
            {
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{artifacts_bucket}/models/{job_id}*",
            },
        ],
    }


def assume_job_role(
    sts: Any, role_arn: str, job_id: str, data_bucket: str, artifacts_bucket: str
) -> dict[str, Any]:
    """Assume ``role_arn`` for one job and return the ``Credentials`` dict STS returns."""
    response = sts.assume_role(
        RoleArn=role_arn,
        # The session name is in every CloudTrail record the session produces.
        RoleSessionName=f"training-{job_id}"[:64],
        DurationSeconds=SESSION_SECONDS,
        # Effective permissions = role policies ∩ session policy.
        Policy=json.dumps(job_session_policy(data_bucket, artifacts_bucket, job_id)),
    )
    return dict(response["Credentials"])


def s3_client_for(credentials: dict[str, Any], region: str) -> Any:
    """A boto3 S3 client that signs with the temporary ``credentials``."""
    return boto3.client(
        "s3",
        region_name=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
