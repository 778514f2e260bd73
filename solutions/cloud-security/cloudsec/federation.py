"""Task 6: who may use the bucket's key, and who may become a role without a password."""

from __future__ import annotations

from typing import Any

__all__ = [
    "GITHUB_OIDC",
    "bucket_key_policy",
    "github_actions_trust_policy",
    "partner_trust_policy",
    "service_trust_policy",
]

GITHUB_OIDC = "token.actions.githubusercontent.com"

# Manage the key, never use it: an administrator who could also decrypt would hold both
# locks. kms:RotateKeyOnDemand is here because new key material is an admin decision.
# No kms:Put* (kms:PutKeyPolicy): with it an admin rewrites this policy to let itself
# decrypt. Policy changes go through the account (statement 1 and IAM), behind a guardrail
# outside this policy: an SCP that denies kms:PutKeyPolicy to all but a break-glass role,
# and an alarm on every PutKeyPolicy in CloudTrail.
KEY_ADMIN_ACTIONS = [
    "kms:CreateAlias",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
]
# Use the key, never manage it. ReEncrypt* and GenerateDataKey* are what S3 calls.
KEY_USER_ACTIONS = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
]


def bucket_key_policy(
    account_id: str, admin_role_arn: str, user_role_arns: list[str], bucket: str, region: str
) -> dict[str, Any]:
    """The key policy of the bucket's customer-managed KMS key."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                # Without this, deleting the admin role would leave a key nobody in the
                # account can manage; getting it back means a case with AWS Support. It
                # also lets IAM policies grant access to the key.
                "Sid": "AccountRootCanAlwaysManageTheKey",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account_id}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "KeyAdministratorsManageButCannotUse",
                "Effect": "Allow",
                "Principal": {"AWS": admin_role_arn},
                "Action": KEY_ADMIN_ACTIONS,
                "Resource": "*",
            },
            {
                "Sid": "KeyUsersOnlyThroughTheBucket",
                "Effect": "Allow",
                "Principal": {"AWS": list(user_role_arns)},
                "Action": KEY_USER_ACTIONS,
                "Resource": "*",
                "Condition": {
                    # Only S3 may call KMS on their behalf: a stolen role session cannot
                    # decrypt a data key it copied out of the bucket.
                    "StringEquals": {"kms:ViaService": f"s3.{region}.amazonaws.com"},
                    # With a Bucket Key, S3 puts the bucket ARN in the encryption context
                    # (the object ARN without one). No "bucket*": that would also match
                    # every bucket whose name merely starts the same.
                    "StringLike": {
                        "kms:EncryptionContext:aws:s3:arn": [
                            f"arn:aws:s3:::{bucket}",
                            f"arn:aws:s3:::{bucket}/*",
                        ]
                    },
                },
            },
        ],
    }


def _github_subject(
    repository: str,
    environment: str,
    owner_id: int | None = None,
    repository_id: int | None = None,
) -> str:
    """The ``sub`` claim of ``repository``'s deploy job in ``environment``: the name-based
    form, or, given both IDs, the immutable form GitHub gives new repositories."""
    if owner_id is None or repository_id is None:
        return f"repo:{repository}:environment:{environment}"
    owner, name = repository.split("/", 1)
    # IDs are never reused: a deleted owner or repository whose name someone claims
    # later gets new IDs, so its tokens never match.
    return f"repo:{owner}@{owner_id}/{name}@{repository_id}:environment:{environment}"


def github_actions_trust_policy(
    account_id: str,
    repository: str,
    environment: str,
    owner_id: int | None = None,
    repository_id: int | None = None,
) -> dict[str, Any]:
    """The trust policy of the role a GitHub Actions deploy job assumes, with no stored key."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "OneRepositoryOneEnvironment",
                "Effect": "Allow",
                "Principal": {
                    "Federated": f"arn:aws:iam::{account_id}:oidc-provider/{GITHUB_OIDC}"
                },
                "Action": "sts:AssumeRoleWithWebIdentity",
                "Condition": {
                    "StringEquals": {
                        # The token was minted for STS, not for another service.
                        f"{GITHUB_OIDC}:aud": "sts.amazonaws.com",
                        # Exact: no wildcard, so no other repository, branch, pull
                        # request or environment gets in.
                        f"{GITHUB_OIDC}:sub": _github_subject(
                            repository, environment, owner_id, repository_id
                        ),
                    }
                },
            }
        ],
    }


def service_trust_policy(service: str, account_id: str, source_arn: str) -> dict[str, Any]:
    """The trust policy of a role that an AWS service assumes on behalf of one resource."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ThisServiceForThisResourceOnly",
                "Effect": "Allow",
                "Principal": {"Service": service},
                "Action": "sts:AssumeRole",
                # The confused-deputy guard: the service acts for many customers, so name
                # the account and the resource it must be acting for.
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": account_id},
                    "ArnEquals": {"aws:SourceArn": source_arn},
                },
            }
        ],
    }


def partner_trust_policy(partner_account_id: str, external_id: str) -> dict[str, Any]:
    """The trust policy of a role that a third party's account assumes for us."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PartnerWithOurExternalId",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{partner_account_id}:root"},
                "Action": "sts:AssumeRole",
                # The partner serves many customers from one account; the ExternalId we
                # gave them proves the request is made on our behalf.
                "Condition": {"StringEquals": {"sts:ExternalId": external_id}},
            }
        ],
    }
