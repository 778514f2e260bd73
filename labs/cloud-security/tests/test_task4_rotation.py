"""Task 4: rotating a model endpoint's API key in Secrets Manager (moto), without downtime.

moto runs the Secrets Manager side for real: versions, staging labels, idempotency tokens.
The endpoint is cloudsec.endpoint.ModelEndpoint, a service that accepts a set of keys, as a
real model server or API gateway would. It lives in the tests' process: your code (in the
worker) gets a ModelEndpoint whose key operations come back to it
(``cloudsec_bridge.JudgeEndpoint``), so the tests know which keys it really accepts. Your
code gets a Secrets Manager client made in the worker; the tests read the secret back with
their own.

Step 5, retire_previous (added in round two): each requirement of its docstring and of
the lesson, and the test that fails when that sentence alone is broken:

- after the grace period, the AWSPREVIOUS key is revoked at the endpoint (not just its
  label), measured by the clock it is given, and it returns True
  -> test_previous_key_never_retired_is_rejected
- before it, nothing changes and it returns False
  -> test_previous_key_retired_before_the_grace_period_is_rejected
- the grace period runs from the AWSCURRENT version's CreatedDate (not the old version's)
  -> test_grace_measured_from_the_previous_version_is_rejected
- the grace period defaults to 24 hours
  -> test_grace_period_that_is_not_a_day_by_default_is_rejected
- exactly the AWSPREVIOUS version, never AWSCURRENT or AWSPENDING
  -> test_retire_of_a_version_other_than_awsprevious_is_rejected
- no AWSPREVIOUS: nothing to retire, False
  -> test_retire_with_no_previous_version_changes_nothing
- calling it again changes nothing -> test_retire_called_again_changes_nothing
"""

from __future__ import annotations

import json
import math
import random
import re
import string
import tomllib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cloudsec.endpoint import ModelEndpoint
from conftest import LAB_DIR, Aws, JudgeMoto, learner_function

pytestmark = pytest.mark.task(4)

SECRET_ID = "prod/churn-endpoint/api-key"
TOKEN = "6f0e8a4e-2b1c-4c55-9d3e-0a1b2c3d4e5f"
TOKEN_2 = "0d9c8b7a-6f5e-4d3c-8b2a-1f0e9d8c7b6a"
TOKEN_3 = "3e2d1c0b-9a8f-4e7d-a6c5-b4a3f2e1d0c9"
FEATURES = (0.2, 0.4)


@dataclass
class Setup:
    sm: Any  # the learner's client, in the worker
    admin: Any  # the tests' own client
    endpoint: ModelEndpoint  # the tests' endpoint, here
    remote_endpoint: Any  # the same endpoint, as your code sees it
    predict: Any  # lambda key: endpoint.predict(key, FEATURES), in the worker
    old_value: str
    learner: Any
    bridge: Any
    gate: JudgeMoto  # the judge's moto server, which counts the worker's requests

    def step(self, name: str) -> Any:
        return learner_function(self.learner, "rotation", name)


def _random_key(seed: int) -> str:
    rng = random.Random(seed)  # fixed seed: the same "old" key on every run
    return "".join(rng.choices(string.ascii_letters + string.digits, k=40))


@pytest.fixture
def setup(aws: Aws, bridge: Any, learner: Any, moto_gate: JudgeMoto) -> Setup:
    old = _random_key(4)
    aws.secretsmanager.create_secret(Name=SECRET_ID, SecretString=old)
    endpoint = ModelEndpoint([old])
    remote_endpoint = bridge.JudgeEndpoint(endpoint)
    return Setup(
        sm=bridge.client("secretsmanager"),
        admin=aws.secretsmanager,
        endpoint=endpoint,
        remote_endpoint=remote_endpoint,
        predict=bridge.predictor(remote_endpoint, list(FEATURES)),
        old_value=old,
        learner=learner,
        bridge=bridge,
        gate=moto_gate,
    )


def _stages(sm: Any) -> dict[str, list[str]]:
    return dict(sm.describe_secret(SecretId=SECRET_ID)["VersionIdsToStages"])


def _value(sm: Any, stage: str) -> str:
    return str(sm.get_secret_value(SecretId=SECRET_ID, VersionStage=stage)["SecretString"])


def _pending(sm: Any, token: str = TOKEN) -> str:
    response = sm.get_secret_value(SecretId=SECRET_ID, VersionId=token, VersionStage="AWSPENDING")
    return str(response["SecretString"])


def _state(sm: Any) -> tuple[dict[str, list[str]], str, str]:
    return (_stages(sm), _value(sm, "AWSCURRENT"), _value(sm, "AWSPREVIOUS"))


class _Reads:
    """``reads["GetSecretValue"]``: how many requests of that operation, signed with the
    worker's key, the judge's moto server has received since this was made (counted by the
    server in the judge, not by anything in the worker)."""

    def __init__(self, gate: JudgeMoto) -> None:
        self._gate = gate
        self._since = gate.mark()

    def __getitem__(self, operation: str) -> int:
        return self._gate.operations(operation, self._since)


def _count_reads(setup: Setup) -> _Reads:
    return _Reads(setup.gate)


def _exception_text(exc: BaseException) -> str:
    """The message of the exception and of everything chained to it.

    An exception from your code arrives with its traceback as text, chained causes
    included.
    """
    parts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(parts) < 10:
        parts.append(f"{type(seen).__name__}: {seen!s} {seen!r}")
        parts.append(str(getattr(seen, "learner_traceback", "")))
        seen = seen.__cause__ or seen.__context__
    return "\n".join(parts)


def test_create_pending_does_not_replace_awscurrent(setup: Setup) -> None:
    setup.step("create_pending")(setup.sm, SECRET_ID, TOKEN)
    stages = _stages(setup.admin)
    assert stages.get(TOKEN) == ["AWSPENDING"], (
        f"After create_pending, version {TOKEN} has labels {stages.get(TOKEN)}; expected "
        "['AWSPENDING']. Pass ClientRequestToken=token and VersionStages=['AWSPENDING'] to "
        "put_secret_value."
    )
    assert _value(setup.admin, "AWSCURRENT") == setup.old_value, (
        "After create_pending, AWSCURRENT no longer holds the old key: clients would read a "
        "key the endpoint does not accept yet. That is an outage."
    )


def test_pending_key_is_random_and_long(setup: Setup) -> None:
    create = setup.step("create_pending")
    create(setup.sm, SECRET_ID, TOKEN)
    first = _pending(setup.admin, TOKEN)
    create(setup.sm, SECRET_ID, TOKEN_2)  # AWSPENDING moves to the second version
    second = _pending(setup.admin, TOKEN_2)
    assert len(first) >= 32 and first != setup.old_value, (
        f"The new key has {len(first)} characters (or equals the old key); make at least 32 "
        "random characters with the secrets module or get_random_password."
    )
    assert first != second, "Two rotations produced the same key: it must be random each time."


def test_create_pending_is_idempotent_for_the_same_token(setup: Setup) -> None:
    create = setup.step("create_pending")
    create(setup.sm, SECRET_ID, TOKEN)
    first = _pending(setup.admin)
    create(setup.sm, SECRET_ID, TOKEN)
    assert _pending(setup.admin) == first, (
        "Calling create_pending twice with the same token replaced the pending key. A retried "
        "step must change nothing: if setSecret already gave the first key to the endpoint, "
        "the second one would never work. Return early when version `token` exists."
    )
    assert len(_stages(setup.admin)) == 2, f"Expected 2 versions, found {_stages(setup.admin)}."


def test_set_pending_does_not_revoke_the_current_key(setup: Setup) -> None:
    setup.step("create_pending")(setup.sm, SECRET_ID, TOKEN)
    setup.step("set_pending")(setup.sm, SECRET_ID, TOKEN, setup.remote_endpoint)
    new = _pending(setup.admin)
    assert setup.endpoint.accepts(new), "After set_pending the endpoint refuses the new key."
    assert setup.endpoint.accepts(setup.old_value), (
        "set_pending revoked the old key. Clients still hold it until they re-read the "
        "secret; during a rotation both keys must work."
    )


def test_verify_pending_is_not_a_no_op(setup: Setup) -> None:
    setup.step("create_pending")(setup.sm, SECRET_ID, TOKEN)
    new = _pending(setup.admin)
    # setSecret was skipped, so the endpoint does not know the new key.
    with pytest.raises(Exception) as caught:
        setup.step("verify_pending")(setup.sm, SECRET_ID, TOKEN, setup.remote_endpoint)
    assert not isinstance(caught.value, NotImplementedError), str(caught.value)
    text = _exception_text(caught.value)
    assert new not in text and setup.old_value not in text, (
        "verify_pending raised an exception whose message (or chained cause) contains the "
        "API key. Exception text ends up in logs, alerts and tickets: name the secret and the "
        "token instead."
    )


def test_rotation_leaves_current_previous_and_no_pending(setup: Setup) -> None:
    setup.step("rotate")(setup.sm, SECRET_ID, TOKEN, setup.remote_endpoint)
    stages = _stages(setup.admin)
    current, previous = _value(setup.admin, "AWSCURRENT"), _value(setup.admin, "AWSPREVIOUS")
    assert stages.get(TOKEN) == ["AWSCURRENT"], (
        f"After rotate, version {TOKEN} has labels {stages.get(TOKEN)}; expected only "
        "['AWSCURRENT']. Remove AWSPENDING in finishSecret (update_secret_version_stage with "
        "RemoveFromVersionId only): a version left pending makes the next rotation fail."
    )
    assert not [v for v, labels in stages.items() if "AWSPENDING" in labels], stages
    assert previous == setup.old_value and current != setup.old_value, (
        "After rotate, AWSPREVIOUS should hold the old key and AWSCURRENT the new one."
    )
    assert setup.endpoint.accepts(current), "The endpoint refuses the new AWSCURRENT key."


def test_retried_rotation_changes_nothing(setup: Setup) -> None:
    rotate = setup.step("rotate")
    rotate(setup.sm, SECRET_ID, TOKEN, setup.remote_endpoint)
    before = (
        _stages(setup.admin),
        _value(setup.admin, "AWSCURRENT"),
        _value(setup.admin, "AWSPREVIOUS"),
    )
    rotate(setup.sm, SECRET_ID, TOKEN, setup.remote_endpoint)
    after = (
        _stages(setup.admin),
        _value(setup.admin, "AWSCURRENT"),
        _value(setup.admin, "AWSPREVIOUS"),
    )
    assert after == before, (
        f"Running rotate again with the same token changed the secret: stages {before[0]} "
        f"became {after[0]}. Each step must check what is already done (a Lambda is retried)."
    )


def test_new_token_rotates_again(setup: Setup) -> None:
    rotate = setup.step("rotate")
    rotate(setup.sm, SECRET_ID, TOKEN, setup.remote_endpoint)
    first = _value(setup.admin, "AWSCURRENT")
    rotate(setup.sm, SECRET_ID, TOKEN_2, setup.remote_endpoint)
    assert _value(setup.admin, "AWSPREVIOUS") == first and _value(
        setup.admin, "AWSCURRENT"
    ) not in (
        first,
        setup.old_value,
    ), (
        "A second rotation with a new token did not produce a new AWSCURRENT with the first "
        "rotation's key as AWSPREVIOUS. Is the idempotency check too broad (any pending "
        "version, rather than version `token`)?"
    )


class DeafEndpoint(ModelEndpoint):
    """An endpoint that never learns a new key: the deploy of the key did not reach it."""

    def add_key(self, key: str) -> None:
        return None


def test_rotation_that_promotes_a_key_the_endpoint_never_learned_is_rejected(
    setup: Setup,
) -> None:
    deaf = DeafEndpoint([setup.old_value])
    remote = setup.bridge.JudgeEndpoint(deaf)
    with pytest.raises(Exception) as caught:
        setup.step("rotate")(setup.sm, SECRET_ID, TOKEN, remote)
    assert not isinstance(caught.value, NotImplementedError), str(caught.value)
    stages = _stages(setup.admin)
    assert _value(setup.admin, "AWSCURRENT") == setup.old_value and "AWSCURRENT" not in (
        stages.get(TOKEN) or []
    ), (
        f"The endpoint never learned the new key, and rotate still made version {TOKEN} "
        f"AWSCURRENT (stages now {stages}). Every client that re-reads the secret now gets "
        "a key the endpoint refuses: an outage. testSecret must call the endpoint with the "
        "pending key and raise when it is refused, before finishSecret runs."
    )
    assert deaf.accepts(setup.old_value), "The failed rotation revoked the key that still works."


def test_rotation_that_fails_quietly_is_rejected(setup: Setup) -> None:
    remote = setup.bridge.JudgeEndpoint(DeafEndpoint([setup.old_value]))
    try:
        setup.step("rotate")(setup.sm, SECRET_ID, TOKEN, remote)
    except NotImplementedError:
        raise
    except Exception:
        return
    pytest.fail(
        "rotate() returned normally although the endpoint refused the new key. A rotation "
        "that fails must raise, so that the Lambda run fails and someone is alerted; the "
        "next scheduled rotation is blocked by the version it left pending.",
        pytrace=False,
    )


def _cached(setup: Setup) -> Any:
    try:
        cls = setup.learner.module("cloudsec.rotation").CachedApiKey
    except AttributeError:
        cls = None
    if cls is None:
        pytest.fail("MISSING CLASS: cloudsec/rotation.py has no CachedApiKey.", pytrace=False)
    return cls(setup.sm, SECRET_ID)


def test_cached_key_is_not_read_on_every_call(setup: Setup) -> None:
    reads = _count_reads(setup)
    client = _cached(setup)
    assert reads["GetSecretValue"] == 0, "CachedApiKey() read the secret in its constructor."
    results = [client.call(setup.predict) for _ in range(10)]
    assert results == [0.3] * 10
    assert reads["GetSecretValue"] == 1, (
        f"10 calls made {reads['GetSecretValue']} GetSecretValue requests; expected 1. Reading "
        "Secrets Manager per request adds latency, costs money and hits API rate limits."
    )


def test_cached_key_reads_awscurrent_not_pending(setup: Setup) -> None:
    setup.step("create_pending")(setup.sm, SECRET_ID, TOKEN)
    assert _cached(setup).get() == setup.old_value, (
        "During a rotation CachedApiKey.get() returned something other than AWSCURRENT. "
        "Read with VersionStage='AWSCURRENT': the pending key may not work yet."
    )


def test_cached_key_survives_rotation(setup: Setup) -> None:
    client = _cached(setup)
    assert client.call(setup.predict) == 0.3
    setup.step("rotate")(setup.sm, SECRET_ID, TOKEN, setup.remote_endpoint)
    setup.endpoint.revoke_key(setup.old_value)  # the grace period is over
    reads = _count_reads(setup)
    result = client.call(setup.predict)
    assert result == 0.3, f"After the rotation the call returned {result!r}."
    assert reads["GetSecretValue"] == 1, (
        f"After the old key was revoked, one call made {reads['GetSecretValue']} reads; "
        "expected exactly 1: on Unauthorized, re-read AWSCURRENT once and retry."
    )


def test_cached_key_does_not_retry_forever(setup: Setup) -> None:
    client = _cached(setup)
    reads = _count_reads(setup)
    attempts: list[str] = []

    def note(key: str) -> None:
        attempts.append(key)
        if len(attempts) > 5:  # stop a retry loop here rather than at the time limit
            raise AssertionError("call() retried more than 5 times on Unauthorized")

    # Tells `note` each key it is given, then raises cloudsec.endpoint.Unauthorized.
    always_refused = setup.bridge.refusing(note)
    with setup.learner.raises("cloudsec.endpoint.Unauthorized") as caught:
        client.call(always_refused)
    assert len(attempts) == 2 and reads["GetSecretValue"] == 2, (
        f"With an endpoint that refuses every key, call() tried {len(attempts)} times and read "
        f"the secret {reads['GetSecretValue']} times; expected 2 and 2 (first try, one refresh, "
        "one retry), then the Unauthorized raised to the caller."
    )
    assert setup.old_value not in _exception_text(caught.value), (
        "The exception raised by call() contains the API key."
    )


def test_no_secret_in_logs(setup: Setup) -> None:
    # caplog, in the worker: every record, with the cloudsec loggers at DEBUG.
    capture = setup.bridge.capture_logs("cloudsec")
    try:
        client = _cached(setup)
        client.call(setup.predict)
        setup.step("rotate")(setup.sm, SECRET_ID, TOKEN, setup.remote_endpoint)
        setup.endpoint.revoke_key(setup.old_value)
        client.call(setup.predict)
        records = capture.records()
    finally:
        capture.stop()
    new = _value(setup.admin, "AWSCURRENT")
    ours = [r for r in records if r["name"].startswith("cloudsec")]
    assert sum(TOKEN in r["message"] for r in ours) >= 4, (
        f"The rotation logged {len(ours)} line(s) from cloudsec, and fewer than 4 name the "
        "token. Log each step (secret id and token) so that a failed rotation can be traced."
    )
    for record in records:
        text = f"{record['message']} {record['args']} {record['exc_text']}"
        for secret in (setup.old_value, new):
            assert secret not in text, (
                f"A log record from {record['name']} contains an API key: "
                f"{record['message'][:80]!r}... Log the secret id, version and step, never "
                "the value: logs are copied to many systems and kept for years."
            )


KEY_SHAPES = {
    "AWS access key id": re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA)[A-Z0-9]{16}\b"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "hex secret (32+ hex digits)": re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{32,}(?![0-9A-Za-z])"),
}
TOKEN_LIKE = re.compile(r"""["']([A-Za-z0-9+/=_\-]{24,})["']""")


def _looks_random(text: str) -> bool:
    # Random base64 of this length almost surely mixes digits and both cases; identifiers
    # such as "ApplyServerSideEncryptionByDefault" have no digits.
    mixed = all(any(test(c) for c in text) for test in (str.isdigit, str.isupper, str.islower))
    return mixed and _entropy(text) > 4.0


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def test_no_key_shaped_strings_in_submission(learner: Any) -> None:
    # Read as text from the folder your code runs from; nothing is imported here.
    root = Path(learner.root)
    manifest = tomllib.loads((LAB_DIR / "lab.toml").read_text("utf-8"))
    files = sorted(
        {
            p
            for pattern in manifest["submission"]["files"]
            for p in root.glob(pattern)
            if p.is_file()
        }
    )
    assert files, "No submission files found; the scan would prove nothing."
    problems: list[str] = []
    for path in files:
        for lineno, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
            where = f"{path.relative_to(root)}:{lineno}"
            problems += [
                f"{where}: looks like an {kind}"
                for kind, rx in KEY_SHAPES.items()
                if rx.search(line)
            ]
            # A long string literal with high entropy (a base64 secret or API key).
            problems += [
                f"{where}: a {len(m)}-character high-entropy string literal"
                for m in TOKEN_LIKE.findall(line)
                if _looks_random(m)
            ]
    assert not problems, (
        "These lines look like credentials written into the code:\n  "
        + "\n  ".join(problems)
        + "\nSecrets belong in Secrets Manager or the environment, never in source: code is "
        "copied, pushed and logged, and git keeps every version."
    )


@pytest.mark.parametrize("error", ["TimeoutError", "ConnectionError"])
def test_refresh_and_retry_on_a_non_authorisation_error_is_rejected(
    setup: Setup, error: str
) -> None:
    client = _cached(setup)
    reads = _count_reads(setup)
    attempts: list[str] = []

    def note(key: str) -> None:
        attempts.append(key)
        if len(attempts) > 5:
            raise AssertionError(f"call() retried more than 5 times on {error}")

    # Tells `note` each key it is given, then raises the builtin `error`.
    broken = setup.bridge.failing(note, error)
    with setup.learner.raises(error):
        client.call(broken)
    assert len(attempts) == 1 and reads["GetSecretValue"] == 1, (
        f"When the call failed with {error}, call() tried {len(attempts)} time(s) and read "
        f"the secret {reads['GetSecretValue']} time(s); expected 1 and 1, then the {error} "
        "raised to the caller. Only Unauthorized says the key is stale: refreshing on any "
        "other error re-reads the secret for nothing and resends a request that may not be "
        "safe to send twice."
    )


def test_cached_key_reread_on_every_call_after_rotation_is_rejected(setup: Setup) -> None:
    client = _cached(setup)
    assert client.call(setup.predict) == 0.3
    setup.step("rotate")(setup.sm, SECRET_ID, TOKEN, setup.remote_endpoint)
    setup.endpoint.revoke_key(setup.old_value)
    reads = _count_reads(setup)
    results = [client.call(setup.predict) for _ in range(5)]
    assert results == [0.3] * 5, f"After the rotation, five calls returned {results}."
    assert reads["GetSecretValue"] == 1, (
        f"After the rotation, five calls made {reads['GetSecretValue']} GetSecretValue "
        "requests; expected 1. The key read after the first Unauthorized must replace the "
        "cached one, or every later call fails once and reads the secret again."
    )


def test_key_from_a_seeded_prng_is_rejected(setup: Setup) -> None:
    create = setup.step("create_pending")
    setup.bridge.seed_random(2026)
    create(setup.sm, SECRET_ID, TOKEN)
    first = _pending(setup.admin, TOKEN)
    setup.bridge.seed_random(2026)  # the same seed again, as after a restart
    create(setup.sm, SECRET_ID, TOKEN_2)
    second = _pending(setup.admin, TOKEN_2)
    assert first != second, (
        "With random.seed(2026) before each rotation, create_pending made the same key "
        "twice. The random module is a Mersenne Twister: predictable from its seed or from "
        "624 outputs. Make keys with the secrets module (secrets.token_urlsafe(32)) or "
        "Secrets Manager's get_random_password, which read the OS CSPRNG."
    )


class FakeClock:
    """The clock retire_previous() is given: epoch seconds, set by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


HOUR = 3600.0


def _current_created(setup: Setup) -> float:
    """When the AWSCURRENT version was created (epoch seconds), read by the tests' client."""
    versions = setup.admin.list_secret_version_ids(SecretId=SECRET_ID)["Versions"]
    current = next(v for v in versions if "AWSCURRENT" in v.get("VersionStages", []))
    return float(current["CreatedDate"].timestamp())


def _rotated(setup: Setup, token: str, seed: int) -> str:
    """A finished rotation, done by the tests' own client (retire_previous is tested on its
    own): version ``token`` becomes AWSCURRENT, Secrets Manager moves AWSPREVIOUS to the
    old one, and the endpoint accepts the new key as well. Returns the new key."""
    new = _random_key(seed)
    setup.admin.put_secret_value(
        SecretId=SECRET_ID,
        ClientRequestToken=token,
        SecretString=new,
        VersionStages=["AWSCURRENT"],
    )
    setup.endpoint.add_key(new)
    return new


def _retire(setup: Setup, at: float, **kwargs: Any) -> Any:
    retire = setup.step("retire_previous")
    return retire(setup.sm, SECRET_ID, setup.remote_endpoint, FakeClock(at), **kwargs)


def test_previous_key_never_retired_is_rejected(setup: Setup) -> None:
    current = _rotated(setup, TOKEN, 5)
    result = _retire(setup, _current_created(setup) + HOUR + 1, grace_seconds=HOUR)
    assert not setup.endpoint.accepts(setup.old_value), (
        "An hour and a second after the rotation, with grace_seconds=3600, "
        "retire_previous() left the AWSPREVIOUS key working at the endpoint. Until it is "
        "revoked a leaked old key still opens the endpoint: the rotation is not finished. "
        "Revoke it with endpoint.revoke_key (taking a label off the version revokes "
        "nothing). Measure time with the clock you are given, not the wall clock."
    )
    assert setup.endpoint.accepts(current), "retire_previous() revoked the AWSCURRENT key."
    assert result is True, f"retire_previous() revoked the old key and returned {result!r}."


def test_previous_key_retired_before_the_grace_period_is_rejected(setup: Setup) -> None:
    _rotated(setup, TOKEN, 5)
    result = _retire(setup, _current_created(setup) + HOUR - 60, grace_seconds=HOUR)
    assert setup.endpoint.accepts(setup.old_value), (
        "59 minutes after the rotation, with grace_seconds=3600, retire_previous() revoked "
        "the old key. Clients that have not re-read the secret yet still send it: wait "
        "out the grace period (measured from the AWSCURRENT version's CreatedDate)."
    )
    assert result is False, f"retire_previous() changed nothing and returned {result!r}."


@pytest.fixture
def created_dates_as_stored(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto 5 answers ListSecretVersionIds with the time of the call as every version's
    CreatedDate; AWS gives the time each version was stored. For this test the judge's
    (in-process) moto server answers as AWS does, from the dates it stored."""
    from moto.secretsmanager.models import SecretsManagerBackend

    listed_by_moto = SecretsManagerBackend.list_secret_version_ids

    def list_secret_version_ids(self: Any, secret_id: str) -> str:
        listed = json.loads(listed_by_moto(self, secret_id))
        stored = self.secrets[secret_id].versions
        for version in listed["Versions"]:
            version["CreatedDate"] = stored[version["VersionId"]]["createdate"]
        return json.dumps(listed)

    monkeypatch.setattr(SecretsManagerBackend, "list_secret_version_ids", list_secret_version_ids)


def _backdate_every_version(aws: Aws, seconds: int) -> None:
    """Make every version of the secret ``seconds`` older, in the judge's own moto backend
    (moto stamps CreatedDate with its clock and offers no API to set it)."""
    from moto.secretsmanager.models import secretsmanager_backends

    secret = secretsmanager_backends[aws.account_id][aws.region].secrets[SECRET_ID]
    for version in secret.versions.values():
        version["createdate"] -= seconds


@pytest.mark.usefixtures("created_dates_as_stored")
def test_grace_measured_from_the_previous_version_is_rejected(aws: Aws, setup: Setup) -> None:
    # The key in use for a month, then rotated: AWSPREVIOUS is 30 days old, AWSCURRENT new.
    _backdate_every_version(aws, 30 * 24 * 3600)
    _rotated(setup, TOKEN, 5)
    result = _retire(setup, _current_created(setup) + HOUR - 60, grace_seconds=HOUR)
    assert setup.endpoint.accepts(setup.old_value) and result is False, (
        "59 minutes after the rotation of a key that had been in use for a month, with "
        "grace_seconds=3600, retire_previous() revoked the old key (it returned "
        f"{result!r}). The grace period is the time clients have to notice the new key, so "
        "it starts when the new version became AWSCURRENT: measure it from the AWSCURRENT "
        "version's CreatedDate, not the AWSPREVIOUS one's (that is how old the old key is)."
    )


def test_grace_period_that_is_not_a_day_by_default_is_rejected(setup: Setup) -> None:
    _rotated(setup, TOKEN, 5)
    created = _current_created(setup)
    _retire(setup, created + 23 * HOUR)
    assert setup.endpoint.accepts(setup.old_value), (
        "23 hours after the rotation retire_previous() with its default grace period "
        "revoked the old key; the default is 24 hours (GRACE_SECONDS)."
    )
    _retire(setup, created + 25 * HOUR)
    assert not setup.endpoint.accepts(setup.old_value), (
        "25 hours after the rotation retire_previous() with its default grace period left "
        "the old key working; the default is 24 hours (GRACE_SECONDS)."
    )


def test_retire_of_a_version_other_than_awsprevious_is_rejected(setup: Setup) -> None:
    first = _rotated(setup, TOKEN, 5)
    current = _rotated(setup, TOKEN_2, 6)
    # The third rotation is under way: its key is pending, and the endpoint already has it.
    pending = _random_key(7)
    setup.admin.put_secret_value(
        SecretId=SECRET_ID,
        ClientRequestToken=TOKEN_3,
        SecretString=pending,
        VersionStages=["AWSPENDING"],
    )
    setup.endpoint.add_key(pending)
    _retire(setup, _current_created(setup) + 2 * 24 * HOUR)
    assert setup.endpoint.accepts(pending) and setup.endpoint.accepts(current), (
        "During a rotation, retire_previous() revoked the AWSPENDING or the AWSCURRENT key. "
        "Retire exactly the version labelled AWSPREVIOUS."
    )
    assert not setup.endpoint.accepts(first), (
        "After two rotations, retire_previous() left the AWSPREVIOUS key (the first "
        "rotation's) working. The secret keeps older versions without a label too: pick "
        "the one labelled AWSPREVIOUS, not any version that is not AWSCURRENT."
    )


def test_retire_with_no_previous_version_changes_nothing(setup: Setup) -> None:
    result = _retire(setup, _current_created(setup) + 30 * 24 * HOUR)
    assert setup.endpoint.accepts(setup.old_value) and result is False, (
        "On a secret that was never rotated (no AWSPREVIOUS version), retire_previous() "
        f"returned {result!r} and the endpoint accepts the only key: "
        f"{setup.endpoint.accepts(setup.old_value)}. There is nothing to retire: return "
        "False and revoke nothing."
    )


def test_retire_called_again_changes_nothing(setup: Setup) -> None:
    _rotated(setup, TOKEN, 5)
    later = _current_created(setup) + 2 * 24 * HOUR
    _retire(setup, later)
    before = _state(setup.admin)
    _retire(setup, later + HOUR)
    assert _state(setup.admin) == before and setup.endpoint.accepts(before[1]), (
        "A second retire_previous() changed the secret or revoked the current key; a "
        "scheduled job runs again, and must find nothing left to do."
    )
