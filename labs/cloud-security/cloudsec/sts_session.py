"""Task 5: temporary credentials from STS, scoped down with a session policy.

Long-lived access keys leak: they end up in laptops, CI logs and container images. A job
should instead assume a role and get credentials that expire on their own. A *session
policy* passed to ``AssumeRole`` narrows them further: the session can do only what both
the role's policies **and** the session policy allow.

Here the shared role ``ml-training`` may read ``train/`` and write under ``models/`` for
every job. Each job's session must be narrowed to its own ``models/<job_id>/`` prefix.
"""

from __future__ import annotations

from typing import Any

__all__ = ["SESSION_SECONDS", "assume_job_role", "job_session_policy", "s3_client_for"]

SESSION_SECONDS = 900  # the shortest session STS grants; a training step fits in it


def job_session_policy(data_bucket: str, artifacts_bucket: str, job_id: str) -> dict[str, Any]:
    """The session policy of one job: GetObject on ``train/*`` in ``data_bucket`` and
    PutObject on ``models/<job_id>/*`` in ``artifacts_bucket``, nothing else."""
    # TODO(student): a policy document, like task 1's Allow statements.
    raise NotImplementedError("TODO(student): write the job's session policy")


def assume_job_role(
    sts: Any, role_arn: str, job_id: str, data_bucket: str, artifacts_bucket: str
) -> dict[str, Any]:
    """Assume ``role_arn`` for one job and return the ``Credentials`` dict STS returns.

    * ``RoleSessionName`` must contain ``job_id``: it shows up in CloudTrail and in the
      caller's ARN, so every call can be traced to the job that made it.
    * ``DurationSeconds=SESSION_SECONDS``.
    * ``Policy`` is :func:`job_session_policy`, as JSON text.
    """
    # TODO(student): sts.assume_role(...)["Credentials"]
    raise NotImplementedError("TODO(student): assume the role with a session policy")


def s3_client_for(credentials: dict[str, Any], region: str) -> Any:
    """A boto3 S3 client that signs with the temporary ``credentials``.

    Temporary credentials are three values: AccessKeyId, SecretAccessKey **and**
    SessionToken. Without the token AWS rejects the key.
    """
    # TODO(student): boto3.client("s3", region_name=region, aws_access_key_id=..., ...)
    raise NotImplementedError("TODO(student): build an S3 client from temporary credentials")
