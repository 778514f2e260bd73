"""Task 6: the KMS key policy and three trust policies.

Your functions build the documents (in the worker; plain dicts come back). The tests
store them in moto (``create_key(Policy=...)``, ``create_role``) and read them back with
their own clients, so every document went through the AWS API shape.

moto 5.2 enforces none of these policies: it lets any caller use a key whatever its key
policy says, and AssumeRoleWithWebIdentity hands out credentials for any token. So each
test puts a table of requests to the judge's own evaluator, ``policy_judge.py`` (in this
folder; its docstring says what it implements), and checks the decisions. Before any
test runs, the evaluator is checked against the corpus in ``data/policies/federation/``:
good policies it must accept, bad ones whose mistake it must catch.

Each requirement in the docstrings of cloudsec/federation.py and in the lesson's task 6,
and the test that fails when that sentence alone is broken:

bucket_key_policy
- the account root may do kms:* (never locked out)
  -> test_key_policy_that_locks_out_the_account_root_is_rejected
- the admin role may manage the key (the listed management actions)
  -> test_key_administrators_who_cannot_manage_the_key_are_rejected
- ... but not use it -> test_key_administrators_who_can_use_the_key_are_rejected
- ... and not rewrite the key policy (no kms:PutKeyPolicy)
  -> test_key_administrators_who_can_rewrite_the_key_policy_are_rejected
- ... and not grant themselves use (kms:CreateAlias, not kms:Create*)
  -> test_key_administrators_who_can_create_grants_are_rejected
- the user roles may use it (Encrypt, Decrypt, ReEncrypt*, GenerateDataKey*) through S3,
  for the bucket (Bucket Key context) or an object in it
  -> test_key_users_who_cannot_use_it_through_s3_are_rejected
- ... but not manage it -> test_key_users_who_can_manage_the_key_are_rejected
- ... not even through S3 (the five use actions, not kms:* under the conditions)
  -> test_key_users_granted_kms_star_under_the_s3_conditions_are_rejected
- ... only when kms:ViaService is s3.<region>.amazonaws.com
  -> test_key_use_outside_s3_is_rejected
- ... only with this bucket's encryption context (no prefix match)
  -> test_encryption_context_not_pinned_to_the_bucket_is_rejected
- nobody else (named principals only) -> test_key_use_by_other_principals_is_rejected
github_actions_trust_policy
- Principal the GitHub OIDC provider, Action sts:AssumeRoleWithWebIdentity, the deploy job
  gets in -> test_github_trust_that_refuses_its_own_deploy_job_is_rejected
- sub exactly repo:<owner>/<repo>:environment:<env>, no other provider
  -> test_github_trust_with_a_wildcard_sub_is_rejected
- aud is sts.amazonaws.com -> test_github_trust_without_aud_is_rejected
- with owner_id and repository_id, the immutable sub and nothing else
  -> test_github_trust_pinned_by_name_when_ids_are_given_is_rejected
service_trust_policy
- the service, acting for this resource, gets in
  -> test_service_trust_that_refuses_its_own_resource_is_rejected
- aws:SourceAccount and aws:SourceArn pinned
  -> test_service_trust_without_the_confused_deputy_guard_is_rejected
partner_trust_policy
- the partner with our ExternalId gets in
  -> test_partner_trust_that_refuses_the_partner_is_rejected
- sts:ExternalId pinned -> test_partner_trust_without_external_id_is_rejected
all four
- built from the arguments -> test_documents_that_ignore_their_arguments_are_rejected
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest
from conftest import ANSWERS, POLICIES_DIR, Aws, learner_function
from policy_judge import ALLOW, Request, Unsupported, decide

pytestmark = pytest.mark.task(6)

ACCOUNT = "123456789012"  # moto's account
REGION = "eu-west-1"
BUCKET = "ml-training-data"
ADMIN = f"arn:aws:iam::{ACCOUNT}:role/kms-key-admin"
USERS = [f"arn:aws:iam::{ACCOUNT}:role/ml-training-job", f"arn:aws:iam::{ACCOUNT}:role/ml-serving"]
ROOT = f"arn:aws:iam::{ACCOUNT}:root"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
REPOSITORY = "acme/churn-model"
ENVIRONMENT = "production"
GITHUB = "token.actions.githubusercontent.com"
PROVIDER = f"arn:aws:iam::{ACCOUNT}:oidc-provider/{GITHUB}"
SOURCE = f"arn:aws:s3:::{BUCKET}"
PARTNER = "999988887777"
EXTERNAL_ID = "acme-7f3c1e"
OWNER_ID, REPOSITORY_ID = 1029384, 56473829  # acme's and churn-model's immutable IDs

# The same documents for other arguments: nothing may be hard-coded.
OTHER = {
    "account": "210987654321",
    "bucket": "team-b-data",
    "region": "us-east-2",
    "repository": "team-b/fraud-model",
    "environment": "prod-eu",
    "partner": "111122223333",
    "external_id": "team-b-42",
    "owner_id": "5544123",
    "repository_id": "821093847",
}


@dataclass(frozen=True)
class Documents:
    key_policy: dict[str, Any]
    github: dict[str, Any]
    service: dict[str, Any]
    partner: dict[str, Any]
    github_ids: dict[str, Any]  # the same repository, with its immutable owner and repo IDs


def _build(learner: Any, a: dict[str, str]) -> Documents:
    def call(name: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        document = learner_function(learner, "federation", name)(*args, **kwargs)
        assert isinstance(document, dict) and "Statement" in document, (
            f"{name}{args!r} returned {type(document).__name__} {str(document)[:80]}; "
            "expected a policy document, {'Version': '2012-10-17', 'Statement': [...]}."
        )
        return document

    account = a["account"]
    return Documents(
        key_policy=call(
            "bucket_key_policy",
            account,
            f"arn:aws:iam::{account}:role/kms-key-admin",
            [
                f"arn:aws:iam::{account}:role/ml-training-job",
                f"arn:aws:iam::{account}:role/ml-serving",
            ],
            a["bucket"],
            a["region"],
        ),
        github=call("github_actions_trust_policy", account, a["repository"], a["environment"]),
        service=call(
            "service_trust_policy", "s3.amazonaws.com", account, f"arn:aws:s3:::{a['bucket']}"
        ),
        partner=call("partner_trust_policy", a["partner"], a["external_id"]),
        github_ids=call(
            "github_actions_trust_policy",
            account,
            a["repository"],
            a["environment"],
            owner_id=int(a["owner_id"]),
            repository_id=int(a["repository_id"]),
        ),
    )


@pytest.fixture(scope="module")
def stored(module_aws: Aws, learner: Any) -> Documents:
    """The four documents, stored in moto and read back from it."""
    aws = module_aws
    built = _build(
        learner,
        {
            "account": ACCOUNT,
            "bucket": BUCKET,
            "region": REGION,
            "repository": REPOSITORY,
            "environment": ENVIRONMENT,
            "partner": PARTNER,
            "external_id": EXTERNAL_ID,
            "owner_id": str(OWNER_ID),
            "repository_id": str(REPOSITORY_ID),
        },
    )
    try:
        key_id = aws.kms.create_key(Policy=json.dumps(built.key_policy))["KeyMetadata"]["KeyId"]
        key_policy = json.loads(
            aws.kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
        )
        aws.iam.create_open_id_connect_provider(
            Url=f"https://{GITHUB}", ClientIDList=["sts.amazonaws.com"]
        )
        trusts = {}
        for name, document in [
            ("github", built.github),
            ("service", built.service),
            ("partner", built.partner),
            ("github_ids", built.github_ids),
        ]:
            aws.iam.create_role(
                RoleName=f"task6-{name}", AssumeRolePolicyDocument=json.dumps(document)
            )
            trusts[name] = aws.iam.get_role(RoleName=f"task6-{name}")["Role"][
                "AssumeRolePolicyDocument"
            ]
    except Exception as exc:
        pytest.fail(f"moto refused one of your documents: {exc}", pytrace=False)
    return Documents(key_policy=key_policy, **trusts)


@pytest.fixture(scope="module")
def judge_checked() -> None:
    """Refuse to judge with an evaluator that misjudges the lab's own corpus."""
    corpus = POLICIES_DIR / "federation"
    cases = json.loads((ANSWERS / "federation.json").read_text("utf-8"))
    for name, case in cases.items():
        if name.startswith("_"):
            continue
        policy = json.loads((corpus / name).read_text("utf-8"))
        for request in case["allow"] + case["deny"]:
            want = request in case["allow"]
            got = decide(policy, _request(request)) == ALLOW
            if got != want:  # the lab's bug, not the learner's
                raise RuntimeError(f"policy_judge misjudges {name} on {request}")


def _request(plain: dict[str, Any]) -> Request:
    kind, who = next(iter(plain["principal"].items()))
    return Request(
        principal=(kind, who),
        action=plain["action"],
        resource=plain.get("resource", "*"),
        context=plain.get("context", {}),
    )


def _check(
    policy: dict[str, Any],
    requests: list[tuple[str, Request]],
    expect_allowed: bool,
    mistake: str,
    what: str,
) -> None:
    for label, request in requests:
        try:
            decision = decide(policy, request)
        except Unsupported as exc:
            pytest.fail(
                f"The judge cannot evaluate your {what}: it uses {exc}, which "
                "tests/policy_judge.py does not implement. Use the forms the lesson shows.",
                pytrace=False,
            )
        allowed = decision == ALLOW
        assert allowed == expect_allowed, (
            f"Your {what} gives '{decision}' to {label}; it must "
            f"{'allow' if expect_allowed else 'refuse'} it. {mistake} "
            f"The document: {json.dumps(policy)}"
        )


def _s3_use(principal: str, action: str, context_arn: str | None, via: str | None) -> Request:
    context: dict[str, str | list[str]] = {"kms:CallerAccount": ACCOUNT}
    if via is not None:
        context["kms:ViaService"] = via
    if context_arn is not None:
        context["kms:EncryptionContext:aws:s3:arn"] = context_arn
    return Request(("AWS", principal), action, KEY, context)


VIA_S3 = f"s3.{REGION}.amazonaws.com"
ADMIN_ACTIONS = [
    "kms:EnableKeyRotation",
    "kms:RotateKeyOnDemand",
    "kms:DisableKey",
    "kms:ScheduleKeyDeletion",
]
USE_ACTIONS = ["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"]


def test_key_policy_that_locks_out_the_account_root_is_rejected(
    stored: Documents, judge_checked: None
) -> None:
    _check(
        stored.key_policy,
        [
            (f"the account root calling {a}", Request(("AWS", ROOT), a, KEY))
            for a in [*ADMIN_ACTIONS, "kms:PutKeyPolicy"]
        ],
        True,
        "Without a statement for the account root, the key belongs to whoever the policy "
        "names: delete or break the admin role and nobody in the account can manage the key "
        "again; only AWS Support can help you regain access (KMS refuses such a policy "
        "unless you bypass its lockout check).",
        "key policy",
    )


def test_key_administrators_who_cannot_manage_the_key_are_rejected(
    stored: Documents, judge_checked: None
) -> None:
    _check(
        stored.key_policy,
        [(f"the admin role calling {a}", Request(("AWS", ADMIN), a, KEY)) for a in ADMIN_ACTIONS],
        True,
        "The key administrators run the key's life: rotation, aliases, disabling it in an "
        "incident, its deletion.",
        "key policy",
    )


def test_key_administrators_who_can_use_the_key_are_rejected(
    stored: Documents, judge_checked: None
) -> None:
    _check(
        stored.key_policy,
        [
            (
                f"the admin role calling {a} through S3 on s3://{BUCKET}",
                _s3_use(ADMIN, a, SOURCE, VIA_S3),
            )
            for a in USE_ACTIONS
        ],
        False,
        "Key administrators manage the key and never use it: separate duties mean that no "
        "single role both controls the key and reads the data. Give them no kms:* and no "
        "Encrypt/Decrypt/GenerateDataKey.",
        "key policy",
    )


def test_key_administrators_who_can_rewrite_the_key_policy_are_rejected(
    stored: Documents, judge_checked: None
) -> None:
    _check(
        stored.key_policy,
        [
            (
                "the admin role calling kms:PutKeyPolicy",
                Request(("AWS", ADMIN), "kms:PutKeyPolicy", KEY),
            )
        ],
        False,
        "An administrator who may call kms:PutKeyPolicy (kms:Put*) can rewrite the policy to "
        "let itself decrypt: the separation of duties lasts one API call. Leave PutKeyPolicy "
        "to the account (the root statement and IAM), guarded outside the key policy by an "
        "SCP that denies it to all but a break-glass role and an alarm on every call.",
        "key policy",
    )


def test_key_administrators_who_can_create_grants_are_rejected(
    stored: Documents, judge_checked: None
) -> None:
    _check(
        stored.key_policy,
        [
            (
                "the admin role calling kms:CreateGrant",
                Request(("AWS", ADMIN), "kms:CreateGrant", KEY),
            ),
            (
                "the admin role calling kms:CreateGrant through S3",
                _s3_use(ADMIN, "kms:CreateGrant", SOURCE, VIA_S3),
            ),
        ],
        False,
        "kms:Create* (from the key administrators' statement of AWS's default key policy) "
        "includes kms:CreateGrant: an administrator grants its own role Decrypt and reads "
        "the data, the separation of duties undone in one call. Name kms:CreateAlias.",
        "key policy",
    )


def test_key_users_granted_kms_star_under_the_s3_conditions_are_rejected(
    stored: Documents, judge_checked: None
) -> None:
    _check(
        stored.key_policy,
        [
            (
                f"the user role {u.rsplit('/', 1)[1]} calling {a} through S3 on s3://{BUCKET}",
                _s3_use(u, a, SOURCE, VIA_S3),
            )
            for u in USERS
            for a in [*ADMIN_ACTIONS, "kms:CreateGrant", "kms:PutKeyPolicy"]
        ],
        False,
        "The conditions limit where the users' calls come from, not what they may do: "
        "with kms:* a user whose request carries the S3 context may also rewrite the key "
        "policy, create grants or delete the key. Give users the use actions only "
        "(Encrypt, Decrypt, ReEncrypt*, GenerateDataKey*, DescribeKey).",
        "key policy",
    )


def test_key_users_who_can_manage_the_key_are_rejected(
    stored: Documents, judge_checked: None
) -> None:
    _check(
        stored.key_policy,
        [
            (f"the user role {u.rsplit('/', 1)[1]} calling {a}", Request(("AWS", u), a, KEY))
            for u in USERS
            for a in [*ADMIN_ACTIONS, "kms:CreateGrant"]
        ],
        False,
        "Key users encrypt and decrypt; a user that can change the policy, create grants or "
        "schedule the key's deletion can give itself (or anyone) more, or destroy the data.",
        "key policy",
    )


def test_key_users_who_cannot_use_it_through_s3_are_rejected(
    stored: Documents, judge_checked: None
) -> None:
    _check(
        stored.key_policy,
        [
            (
                f"the user role {u.rsplit('/', 1)[1]} calling {a} through S3 on {context}",
                _s3_use(u, a, context, VIA_S3),
            )
            for u in USERS
            for a in [
                "kms:Decrypt",
                "kms:GenerateDataKey",
                "kms:Encrypt",
                "kms:ReEncryptFrom",
                "kms:GenerateDataKeyWithoutPlaintext",
            ]
            for context in [SOURCE, f"{SOURCE}/train/part-0.csv"]
        ],
        True,
        f"These are the calls S3 makes for the bucket's readers and writers: kms:ViaService "
        f"is {VIA_S3} and the encryption context aws:s3:arn is {SOURCE} (with a Bucket Key) "
        "or the object's ARN (without one). Users get Encrypt, Decrypt, ReEncrypt* and "
        "GenerateDataKey*.",
        "key policy",
    )


def test_key_use_outside_s3_is_rejected(stored: Documents, judge_checked: None) -> None:
    user = USERS[0]
    _check(
        stored.key_policy,
        [
            (
                "the user role calling kms:Decrypt directly (no kms:ViaService)",
                _s3_use(user, "kms:Decrypt", SOURCE, None),
            ),
            (
                "the user role calling kms:Decrypt through Secrets Manager",
                _s3_use(user, "kms:Decrypt", SOURCE, f"secretsmanager.{REGION}.amazonaws.com"),
            ),
            (
                "the user role calling kms:GenerateDataKey through S3 in another region",
                _s3_use(user, "kms:GenerateDataKey", SOURCE, "s3.us-east-1.amazonaws.com"),
            ),
        ],
        False,
        f"Limit use to S3 with the condition kms:ViaService = {VIA_S3}: a stolen session "
        "then cannot decrypt a data key it copied, or encrypt anything else with your key.",
        "key policy",
    )


def test_encryption_context_not_pinned_to_the_bucket_is_rejected(
    stored: Documents, judge_checked: None
) -> None:
    user = USERS[0]
    _check(
        stored.key_policy,
        [
            (
                f"the user role calling kms:Decrypt through S3 for s3://{bucket}",
                _s3_use(user, "kms:Decrypt", f"arn:aws:s3:::{bucket}", VIA_S3),
            )
            for bucket in ["ml-other-team", f"{BUCKET}-shadow", f"{BUCKET}-shadow/train/x.csv"]
        ]
        + [
            (
                "the user role calling kms:Decrypt through S3 with no encryption context",
                _s3_use(user, "kms:Decrypt", None, VIA_S3),
            )
        ],
        False,
        "Pin kms:EncryptionContext:aws:s3:arn to the bucket (arn:aws:s3:::<bucket>, and "
        "arn:aws:s3:::<bucket>/* for objects without a Bucket Key): 'arn:aws:s3:::<bucket>*' "
        "also matches every bucket whose name starts the same, and no pin at all lets the "
        "key encrypt any bucket.",
        "key policy",
    )


def test_key_use_by_other_principals_is_rejected(stored: Documents, judge_checked: None) -> None:
    _check(
        stored.key_policy,
        [
            (
                "another account's root",
                _s3_use(f"arn:aws:iam::{PARTNER}:root", "kms:Decrypt", SOURCE, VIA_S3),
            ),
            (
                "a role the policy does not name",
                _s3_use(f"arn:aws:iam::{ACCOUNT}:role/intern", "kms:Decrypt", SOURCE, VIA_S3),
            ),
            (
                "anyone",
                _s3_use(
                    "arn:aws:sts::444455556666:assumed-role/x/y", "kms:Decrypt", SOURCE, VIA_S3
                ),
            ),
        ],
        False,
        "Name the principals: a key policy with Principal '*' (or another account) hands "
        "the key to them.",
        "key policy",
    )


def _token(sub: str, aud: str = "sts.amazonaws.com") -> Request:
    return Request(
        ("Federated", PROVIDER),
        "sts:AssumeRoleWithWebIdentity",
        context={f"{GITHUB}:sub": sub, f"{GITHUB}:aud": aud},
    )


def test_github_trust_that_refuses_its_own_deploy_job_is_rejected(
    stored: Documents, judge_checked: None
) -> None:
    sub = f"repo:{REPOSITORY}:environment:{ENVIRONMENT}"
    _check(
        stored.github,
        [(f"the deploy job's token (sub {sub}, aud sts.amazonaws.com)", _token(sub))],
        True,
        f"Principal Federated {PROVIDER}, Action sts:AssumeRoleWithWebIdentity, and the two "
        "claims pinned with StringEquals.",
        "GitHub Actions trust policy",
    )


def test_github_trust_with_a_wildcard_sub_is_rejected(
    stored: Documents, judge_checked: None
) -> None:
    subs = [
        f"repo:{REPOSITORY}:pull_request",
        f"repo:{REPOSITORY}:ref:refs/heads/main",
        f"repo:{REPOSITORY}:ref:refs/heads/feature/try-this",
        f"repo:{REPOSITORY}:environment:staging",
        f"repo:{REPOSITORY}-fork:environment:{ENVIRONMENT}",
        f"repo:mallory/churn-model:environment:{ENVIRONMENT}",
    ]
    right = f"repo:{REPOSITORY}:environment:{ENVIRONMENT}"
    other_provider = Request(
        ("Federated", f"arn:aws:iam::{ACCOUNT}:oidc-provider/gitlab.com"),
        "sts:AssumeRoleWithWebIdentity",
        context={f"{GITHUB}:sub": right, f"{GITHUB}:aud": "sts.amazonaws.com"},
    )
    _check(
        stored.github,
        [(f"a token with sub {sub}", _token(sub)) for sub in subs]
        + [("a token from another OIDC provider (gitlab.com)", other_provider)],
        False,
        "Pin sub exactly, with StringEquals, to repo:<owner>/<repo>:environment:<env>. A "
        "wildcard sub ('repo:owner/repo:*', 'repo:owner/*', or no sub at all) lets any "
        "branch, any pull request (a fork's too) or any repository on GitHub deploy as you.",
        "GitHub Actions trust policy",
    )


def test_github_trust_pinned_by_name_when_ids_are_given_is_rejected(
    stored: Documents, judge_checked: None
) -> None:
    owner, name = REPOSITORY.split("/")
    immutable = f"repo:{owner}@{OWNER_ID}/{name}@{REPOSITORY_ID}:environment:{ENVIRONMENT}"
    _check(
        stored.github_ids,
        [(f"the deploy job's token with the immutable sub {immutable}", _token(immutable))],
        True,
        "Given owner_id and repository_id, the repository's tokens carry the immutable "
        "sub repo:<owner>@<owner_id>/<repo>@<repository_id>:environment:<env>: pin that.",
        "GitHub Actions trust policy (with IDs)",
    )
    _check(
        stored.github_ids,
        [
            (f"a token with sub {sub}", _token(sub))
            for sub in [
                f"repo:{REPOSITORY}:environment:{ENVIRONMENT}",
                f"repo:{owner}@{OWNER_ID + 1}/{name}@{REPOSITORY_ID + 7}:environment:{ENVIRONMENT}",
                f"repo:{owner}@{OWNER_ID}/{name}@{REPOSITORY_ID}:environment:staging",
            ]
        ],
        False,
        "A name can be recycled: when an owner or repository is deleted or renamed, someone "
        "else can claim the name, and their tokens carry the same name-based sub. The IDs "
        "are never reused, so a trust policy that pins them never trusts a stranger.",
        "GitHub Actions trust policy (with IDs)",
    )


def test_github_trust_without_aud_is_rejected(stored: Documents, judge_checked: None) -> None:
    sub = f"repo:{REPOSITORY}:environment:{ENVIRONMENT}"
    _check(
        stored.github,
        [
            (f"a token for the audience {aud}", _token(sub, aud))
            for aud in ["sigstore", "https://example.com"]
        ],
        False,
        "Pin token.actions.githubusercontent.com:aud to sts.amazonaws.com: a token minted "
        "for another audience (signing, another cloud) must not open your account.",
        "GitHub Actions trust policy",
    )


def _service(service: str, account: str | None, source: str | None) -> Request:
    context: dict[str, str | list[str]] = {}
    if account is not None:
        context["aws:SourceAccount"] = account
    if source is not None:
        context["aws:SourceArn"] = source
    return Request(("Service", service), "sts:AssumeRole", context=context)


def test_service_trust_that_refuses_its_own_resource_is_rejected(
    stored: Documents, judge_checked: None
) -> None:
    _check(
        stored.service,
        [(f"S3 acting for {SOURCE} in {ACCOUNT}", _service("s3.amazonaws.com", ACCOUNT, SOURCE))],
        True,
        "Principal {'Service': 's3.amazonaws.com'}, Action sts:AssumeRole, with aws:SourceAccount "
        "and aws:SourceArn.",
        "service role trust policy",
    )


def test_service_trust_without_the_confused_deputy_guard_is_rejected(
    stored: Documents, judge_checked: None
) -> None:
    _check(
        stored.service,
        [
            (
                "S3 acting for another account's bucket arn:aws:s3:::mallory-bucket",
                _service("s3.amazonaws.com", PARTNER, "arn:aws:s3:::mallory-bucket"),
            ),
            (
                f"S3 acting for another bucket of this account, arn:aws:s3:::{BUCKET}-shadow",
                _service("s3.amazonaws.com", ACCOUNT, f"arn:aws:s3:::{BUCKET}-shadow"),
            ),
            ("S3 with no source at all", _service("s3.amazonaws.com", None, None)),
            (
                "another service, SNS, acting for this bucket",
                _service("sns.amazonaws.com", ACCOUNT, SOURCE),
            ),
        ],
        False,
        "A service acts for every customer. Without aws:SourceAccount and aws:SourceArn "
        "anyone can point S3 (in their account) at your role, and S3 will assume it for "
        "them: the confused deputy.",
        "service role trust policy",
    )


def _partner(account: str, external_id: str | None) -> Request:
    context: dict[str, str | list[str]] = {}
    if external_id is not None:
        context["sts:ExternalId"] = external_id
    return Request(("AWS", f"arn:aws:iam::{account}:root"), "sts:AssumeRole", context=context)


def test_partner_trust_that_refuses_the_partner_is_rejected(
    stored: Documents, judge_checked: None
) -> None:
    _check(
        stored.partner,
        [("the partner with our ExternalId", _partner(PARTNER, EXTERNAL_ID))],
        True,
        "Principal the partner account's root, Action sts:AssumeRole, Condition "
        "StringEquals sts:ExternalId.",
        "partner role trust policy",
    )


def test_partner_trust_without_external_id_is_rejected(
    stored: Documents, judge_checked: None
) -> None:
    _check(
        stored.partner,
        [
            ("the partner with no ExternalId", _partner(PARTNER, None)),
            ("the partner with another customer's ExternalId", _partner(PARTNER, "other-customer")),
            ("another account with our ExternalId", _partner("444455556666", EXTERNAL_ID)),
        ],
        False,
        "The partner's one account works for many customers; without the ExternalId "
        "condition, any of them can ask the partner to act on your role.",
        "partner role trust policy",
    )


def test_documents_that_ignore_their_arguments_are_rejected(learner: Any) -> None:
    other = _build(learner, OTHER)
    account = OTHER["account"]
    checks = [
        (
            other.key_policy,
            _s3_use(
                f"arn:aws:iam::{account}:role/ml-serving",
                "kms:Decrypt",
                f"arn:aws:s3:::{OTHER['bucket']}",
                f"s3.{OTHER['region']}.amazonaws.com",
            ),
            "bucket_key_policy for another account, bucket and region: a user role's "
            "Decrypt through S3",
        ),
        (
            other.github,
            Request(
                ("Federated", f"arn:aws:iam::{account}:oidc-provider/{GITHUB}"),
                "sts:AssumeRoleWithWebIdentity",
                context={
                    f"{GITHUB}:sub": (
                        f"repo:{OTHER['repository']}:environment:{OTHER['environment']}"
                    ),
                    f"{GITHUB}:aud": "sts.amazonaws.com",
                },
            ),
            "github_actions_trust_policy for another account, repository and environment",
        ),
        (
            other.github_ids,
            Request(
                ("Federated", f"arn:aws:iam::{account}:oidc-provider/{GITHUB}"),
                "sts:AssumeRoleWithWebIdentity",
                context={
                    f"{GITHUB}:sub": "repo:team-b@{owner_id}/fraud-model@{repository_id}"
                    ":environment:{environment}".format(**OTHER),
                    f"{GITHUB}:aud": "sts.amazonaws.com",
                },
            ),
            "github_actions_trust_policy for another repository, with its owner and repository IDs",
        ),
        (
            other.service,
            Request(
                ("Service", "s3.amazonaws.com"),
                "sts:AssumeRole",
                context={
                    "aws:SourceAccount": account,
                    "aws:SourceArn": f"arn:aws:s3:::{OTHER['bucket']}",
                },
            ),
            "service_trust_policy for another account and bucket",
        ),
        (
            other.partner,
            _partner(OTHER["partner"], OTHER["external_id"]),
            "partner_trust_policy for another partner and ExternalId",
        ),
    ]
    for policy, request, label in checks:
        decision = decide(policy, request)
        assert decision == ALLOW, (
            f"{label}: the request it exists for got '{decision}'. Build every ARN, claim "
            f"and id from the arguments. The document: {json.dumps(policy)}"
        )
    text = json.dumps([other.key_policy, other.github, other.service, other.partner])
    for stale in (ACCOUNT, BUCKET, REPOSITORY, PARTNER, EXTERNAL_ID, str(REPOSITORY_ID)):
        assert stale not in text, f"The documents for other arguments still mention {stale!r}."
