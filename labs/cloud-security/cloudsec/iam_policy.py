"""Task 1: the least-privilege policy of a training job.

The job reads its training data from ``s3://<data_bucket>/train/`` and writes its model
to ``s3://<artifacts_bucket>/models/<job_id>/``. That is all it may do: no other prefix,
no other bucket, no deletes, no bucket settings, no IAM.

The tests attach your policy to a role in moto, assume the role, and make real calls
with moto's IAM enforcement switched on: the two permitted calls must succeed, and a long
list of forbidden ones must come back AccessDenied, even after AmazonS3FullAccess is
attached to the same role.
"""

from __future__ import annotations

from typing import Any

__all__ = ["training_job_policy"]


def training_job_policy(data_bucket: str, artifacts_bucket: str, job_id: str) -> dict[str, Any]:
    """Return the IAM policy document (a dict ready for ``json.dumps``) of one training job.

    It needs three statements:

    1. Allow ``s3:GetObject`` on the objects under ``train/`` in ``data_bucket``.
    2. Allow ``s3:PutObject`` on the objects under ``models/<job_id>/`` in
       ``artifacts_bucket``.
    3. An explicit **Deny** on both buckets and every object in them, so that no broader
       policy attached to the role later can ever let the job destroy data or change who
       may read it:

       - destroy data: ``s3:DeleteObject``, ``s3:DeleteObjectVersion`` (a delete with a
         VersionId), ``s3:DeleteBucket``, ``s3:PutLifecycleConfiguration`` (an expiration
         rule deletes later) and ``s3:PutBucketVersioning`` (suspending it makes deletes
         permanent);
       - change who may read: ``s3:PutBucketPolicy``, ``s3:DeleteBucketPolicy``,
         ``s3:PutBucketAcl`` and ``s3:PutObjectAcl``.

    S3 ARNs look like ``arn:aws:s3:::bucket`` (the bucket) and ``arn:aws:s3:::bucket/key``
    (an object); ``*`` in a resource matches any characters, ``/`` included.
    """
    # TODO(student): build and return {"Version": "2012-10-17", "Statement": [...]}.
    # Name each action exactly (no "s3:*"), and give every Allow the narrowest ARN:
    # a prefix that ends in "/*", never the whole bucket and never "*".
    raise NotImplementedError("TODO(student): write the training job's least-privilege policy")
