"""Task 1: the least-privilege policy of a training job."""

from __future__ import annotations

from typing import Any

__all__ = ["DESTRUCTIVE_ACTIONS", "training_job_policy"]

# What no job may ever do to its buckets, whatever else the role is granted later.
DESTRUCTIVE_ACTIONS = [
    # Destroy data: a versioned delete removes the copy that versioning kept; an
    # expiration rule or suspended versioning deletes later, without a Delete call.
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
    "s3:DeleteBucket",
    "s3:PutLifecycleConfiguration",
    "s3:PutBucketVersioning",
    # Change who may read: a policy or an ACL can open the bucket to the world.
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketAcl",
    "s3:PutObjectAcl",
]


def training_job_policy(data_bucket: str, artifacts_bucket: str, job_id: str) -> dict[str, Any]:
    """Return the IAM policy document of one training job."""
    buckets = (data_bucket, artifacts_bucket)
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadTrainingData",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                # The trailing "/" matters: "train*" would also match "train-holdout/".
                "Resource": f"arn:aws:s3:::{data_bucket}/train*",
            },
            {
                "Sid": "WriteThisJobsModel",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{artifacts_bucket}/models/{job_id}/*",
            },
            {
                # An explicit Deny wins over any Allow, in any policy attached to the role.
                "Sid": "NeverDestroyDataOrChangeWhoMayRead",
                "Effect": "Deny",
                "Action": DESTRUCTIVE_ACTIONS,
                "Resource": [
                    arn for b in buckets for arn in (f"arn:aws:s3:::{b}", f"arn:aws:s3:::{b}/*")
                ],
            },
        ],
    }
