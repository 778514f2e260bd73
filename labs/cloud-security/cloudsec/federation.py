"""Task 6: who may use the bucket's key, and who may become a role without a password.

Four policy documents, each a dict ready for ``json.dumps``:

1. the key policy of the bucket's customer-managed KMS key (task 3 made the key; this
   says who may do what with it);
2. the trust policy of the role a GitHub Actions deploy job assumes through OIDC, with no
   access key stored anywhere;
3. the trust policy of a role that an AWS service (S3 replication) assumes, with the
   confused-deputy guard;
4. the trust policy of a role that a third party assumes, with an ExternalId.

The tests store each document in moto (``create_key(Policy=...)``, ``create_role``) and
read it back. moto 5.2 evaluates none of them, so the tests then put a table of requests
to the judge's own evaluator (``tests/policy_judge.py``, documented there): the requests
your policy must allow, and the ones it must refuse.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "bucket_key_policy",
    "github_actions_trust_policy",
    "partner_trust_policy",
    "service_trust_policy",
]


def bucket_key_policy(
    account_id: str, admin_role_arn: str, user_role_arns: list[str], bucket: str, region: str
) -> dict[str, Any]:
    """The key policy of the bucket's KMS key. Three ``Allow`` statements, ``Resource "*"``
    (in a key policy, "*" means this key):

    1. the account root (``arn:aws:iam::<account_id>:root``) may do ``kms:*``, so that the
       account can never be locked out of its own key;
    2. ``admin_role_arn`` may manage the key (``kms:CreateAlias``, ``kms:Describe*``,
       ``kms:Enable*``, ``kms:List*``, ``kms:Update*``, ``kms:Revoke*``,
       ``kms:Disable*``, ``kms:Get*``, ``kms:Delete*``, ``kms:TagResource``,
       ``kms:UntagResource``, ``kms:ScheduleKeyDeletion``, ``kms:CancelKeyDeletion``,
       ``kms:RotateKeyOnDemand``) but not use it, and not rewrite the key policy
       (no ``kms:PutKeyPolicy``: with it an admin could grant itself use), nor grant
       itself use (``kms:CreateAlias``, not ``kms:Create*``, which includes
       ``kms:CreateGrant``);
    3. ``user_role_arns`` may use it (``kms:Encrypt``, ``kms:Decrypt``, ``kms:ReEncrypt*``,
       ``kms:GenerateDataKey*``, ``kms:DescribeKey``; these five, not ``kms:*``) but not
       manage it, and only when
       ``kms:ViaService`` is ``s3.<region>.amazonaws.com`` and the encryption context
       ``kms:EncryptionContext:aws:s3:arn`` is this bucket (``arn:aws:s3:::<bucket>``) or
       an object in it (``arn:aws:s3:::<bucket>/*``).
    """
    # TODO(student): three statements; the users' one has a Condition with two operators.
    raise NotImplementedError("TODO(student): write the bucket key's key policy")


def github_actions_trust_policy(
    account_id: str,
    repository: str,
    environment: str,
    owner_id: int | None = None,
    repository_id: int | None = None,
) -> dict[str, Any]:
    """The trust policy of the role that ``repository``'s deploy job (GitHub environment
    ``environment``) assumes with its OIDC token.

    - ``Principal``: ``{"Federated": <provider ARN>}``, where the provider ARN is
      ``arn:aws:iam::<account_id>:oidc-provider/token.actions.githubusercontent.com``;
    - ``Action``: ``sts:AssumeRoleWithWebIdentity``;
    - ``Condition``: the token's ``token.actions.githubusercontent.com:aud`` is
      ``sts.amazonaws.com``, and its ``token.actions.githubusercontent.com:sub`` is exactly
      the deploy job's subject: ``repo:<owner>/<repo>:environment:<environment>``, or,
      when ``owner_id`` and ``repository_id`` are given (a repository that uses GitHub's
      immutable subject claims), ``repo:<owner>@<owner_id>/<repo>@<repository_id>:
      environment:<environment>`` (no space), which a recycled name can never match.
    """
    # TODO(student): one statement; pin both claims, with no wildcard in sub.
    raise NotImplementedError("TODO(student): write the GitHub Actions OIDC trust policy")


def service_trust_policy(service: str, account_id: str, source_arn: str) -> dict[str, Any]:
    """The trust policy of a role that the AWS ``service`` (such as ``s3.amazonaws.com``)
    assumes on behalf of the resource ``source_arn`` in ``account_id``.

    ``Principal`` ``{"Service": service}``, ``Action`` ``sts:AssumeRole``, and the
    confused-deputy guard: conditions on ``aws:SourceAccount`` and ``aws:SourceArn``.
    """
    # TODO(student): one statement with both conditions.
    raise NotImplementedError("TODO(student): write the service role's trust policy")


def partner_trust_policy(partner_account_id: str, external_id: str) -> dict[str, Any]:
    """The trust policy of a role that a third party assumes from ``partner_account_id``.

    ``Principal`` the partner account's root, ``Action`` ``sts:AssumeRole``, and a
    condition that ``sts:ExternalId`` is ``external_id``.
    """
    # TODO(student): one statement with the ExternalId condition.
    raise NotImplementedError("TODO(student): write the partner role's trust policy")
