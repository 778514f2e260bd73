"""Task 2: pseudonymisation with keyed HMAC tokens.

``pseudo`` is your ``privacy_lab.pseudonym`` in the worker. Tables are built there
(``in_worker``) and read back here (``here``); your code reads its key from the worker's
environment, which ``worker_env`` sets.
"""

from __future__ import annotations

import hashlib
import random
import re
import time

import pytest

pytestmark = pytest.mark.task(2)

KEY_A = "a" * 16 + "0123456789abcdef0123456789abcdef"
KEY_B = "b" * 16 + "fedcba9876543210fedcba9876543210"
PREFIX = "+14155"  # the attacker knows the area code and exchange block: 10**6 suffixes


@pytest.fixture
def pseudo(learner):
    return learner.module("privacy_lab.pseudonym")


@pytest.fixture
def from_env(pseudo, worker_env):
    def make(key: str = KEY_A):
        worker_env(pseudo.ENV_VAR, key)
        return pseudo.Pseudonymizer.from_env()

    return make


def _fingerprints(tokens: list[str]) -> set[bytes]:
    """The first 8 bytes of every run of 16+ hex digits in the tokens, so that a prefix
    like 'k1:' or a truncated digest does not hide a plain hash."""
    prints = set()
    for token in tokens:
        for run in re.findall(r"[0-9a-f]{16,}", str(token).lower()):
            prints.add(bytes.fromhex(run[:16]))
    return prints


def test_tokens_are_not_a_plain_hash_that_a_brute_force_reverses(from_env):
    r = random.Random(7)
    phones = [f"{PREFIX}{r.randrange(10**6):06d}" for _ in range(20)]
    p = from_env()
    learner_prints = _fingerprints([p.token(phone) for phone in phones])
    control_prints = _fingerprints([hashlib.sha256(p.encode()).hexdigest() for p in phones])

    targets = learner_prints | control_prints
    started = time.perf_counter()
    recovered = {}
    sha256, prefix = hashlib.sha256, PREFIX.encode()
    for suffix in range(10**6):
        candidate = b"%s%06d" % (prefix, suffix)
        fingerprint = sha256(candidate).digest()[:8]
        if fingerprint in targets:
            recovered[fingerprint] = candidate.decode()
    seconds = time.perf_counter() - started
    from_control = {recovered[f] for f in control_prints if f in recovered}
    from_learner = {recovered[f] for f in learner_prints if f in recovered}

    assert from_control == set(phones), "the brute force itself is broken; please report this"
    assert not from_learner, (
        f"Hashing every one of the 10**6 numbers {PREFIX}XXXXXX took {seconds:.1f} s and recovered "
        f"{len(from_learner)} of {len(phones)} phone numbers from your tokens. A plain, unsalted "
        "hash is not anonymisation: the input space is small enough to enumerate. Use "
        "hmac.new(key, value, hashlib.sha256) with a secret key."
    )


def test_tokens_are_deterministic_and_join_across_tables(pseudo, from_env, in_worker, here):
    p = from_env()
    customers = in_worker(
        {"email": ["ana@example.org", "bo@example.com", "cy@example.net"], "plan": ["a", "b", "c"]}
    )
    # The same people, written the way another system writes them.
    orders = in_worker(
        {
            "email": [" Ana@Example.org", "bo@example.com", "BO@EXAMPLE.COM", "zed@example.com"],
            "total": [10, 20, 30, 40],
        }
    )
    c = here(pseudo.pseudonymize_table(customers, ["email"], p))
    o = here(pseudo.pseudonymize_table(orders, ["email"], p))
    joined = c.merge(o, on="email")
    assert sorted(joined["total"]) == [10, 20, 30], (
        f"joining the pseudonymised tables on email matched totals {sorted(joined['total'])}, "
        "expected [10, 20, 30]. Tokens must be deterministic, and the value is normalised "
        "(strip, casefold) before hashing so ' Ana@Example.org' and 'ana@example.org' agree."
    )
    assert not c["email"].str.contains("@").any(), "pseudonymize_table left raw emails in place"
    assert p.token("ana@example.org") == from_env().token("ana@example.org"), (
        "two Pseudonymizers built from the same key gave different tokens; "
        "tokens must be deterministic to stay joinable"
    )


def test_token_depends_on_the_key_not_on_a_constant_in_code(from_env):
    a = from_env(KEY_A).token("ana@example.org")
    b = from_env(KEY_B).token("ana@example.org")
    assert a != b, (
        "Pseudonymizer.from_env() with two different keys gave the same token; the token must "
        "be computed from the key in the environment, not from a salt or key written in code"
    )


def test_missing_key_is_an_error_not_a_default_key(pseudo, worker_env, learner):
    worker_env(pseudo.ENV_VAR, None)
    with learner.raises("Exception") as info:  # any exception your code raises
        pseudo.Pseudonymizer.from_env()
    assert not isinstance(info.value, NotImplementedError), "from_env is not implemented yet"


def test_short_key_is_rejected(pseudo, worker_env):
    worker_env(pseudo.ENV_VAR, "hunter2")
    with pytest.raises(ValueError):
        pseudo.Pseudonymizer.from_env()
    with pytest.raises(ValueError):
        pseudo.Pseudonymizer(b"short")


def test_key_does_not_leak_through_repr(from_env, learner):
    p = from_env()
    builtins = learner.module("builtins")  # repr() and str() as the worker computes them
    shown, text = builtins.repr(p), builtins.str(p)
    assert KEY_A not in shown and KEY_A not in text, (
        f"repr(Pseudonymizer) shows the key: {shown}. Objects end up in logs and tracebacks."
    )


def test_missing_values_stay_missing(pseudo, from_env, in_worker, here):
    p = from_env()
    left = here(pseudo.pseudonymize_table(in_worker({"email": ["a@x.org", None]}), ["email"], p))
    assert left["email"].isna().tolist() == [False, True], (
        f"pseudonymize_table turned a missing email into {left['email'].iloc[1]!r}; keep it "
        "missing, or every unknown row joins every other unknown row"
    )


def test_nan_is_missing_too(pseudo, from_env, in_worker, here):
    # NaN is how pandas marks a missing value read from CSV or Parquet, or in a float column.
    table = in_worker({"email": ["a@x.org", None, float("nan")]})
    left = here(pseudo.pseudonymize_table(table, ["email"], from_env()))
    assert left["email"].isna().tolist() == [False, True, True], (
        f"pseudonymize_table turned a NaN into {left['email'].iloc[2]!r}; NaN is missing too "
        "(test with pd.isna, not `is None`), or every row without an email gets the token of "
        "the string 'nan' and joins every other one"
    )


def test_tokens_are_not_truncated_into_collisions(from_env, bridge):
    p = from_env()
    ids = [f"user-{i:06d}" for i in range(200_000)]
    tokens: list[str] = []
    for start in range(0, len(ids), 50_000):  # in chunks: one reply stays well under its cap
        tokens += bridge.each(p.token, ids[start : start + 50_000])
    collisions = len(ids) - len(set(tokens))
    assert collisions == 0, (
        f"{len(ids):,} distinct ids got only {len(set(tokens)):,} distinct tokens ({collisions} "
        f"collisions; a token looks like {tokens[0]!r}). Two people with one pseudonym have "
        "their data merged. Keep the whole HMAC-SHA256 digest: a token cut to 32 bits "
        "collides within about 10**5 ids (the birthday bound), and at 256 bits never."
    )


def test_pseudonymize_table_does_not_mutate_its_input(pseudo, from_env, in_worker, here):
    table = in_worker({"email": ["a@x.org"], "n": [1]})
    pseudo.pseudonymize_table(table, ["email"], from_env())
    after = here(table)["email"].tolist()
    assert after == ["a@x.org"], f"pseudonymize_table changed its input table to {after}"


def test_rekey_matches_fresh_tokens_under_the_new_key(pseudo, from_env, in_worker, here):
    import pandas as pd

    emails = ["ana@example.org", "bo@example.com", "cy@example.net"]
    old, new = from_env(KEY_A), from_env(KEY_B)
    table = pseudo.pseudonymize_table(
        in_worker({"email": [*emails, None], "n": [1, 2, 3, 4]}), ["email"], old
    )
    rekeyed = here(pseudo.rekey_table(table, ["email"], old, new, known_values=emails))
    expected = [new.token(e) for e in emails]
    assert rekeyed["email"].tolist()[:3] == expected, (
        "rekey_table did not give the tokens the new key gives; after rotation a re-keyed "
        "table must join with data tokenised fresh under the new key"
    )
    assert pd.isna(rekeyed["email"].iloc[3]), "rekey_table filled in a missing value"
    assert rekeyed["n"].tolist() == [1, 2, 3, 4], "rekey_table changed other columns"
    assert here(table)["email"].iloc[0] == old.token(emails[0]), (
        "rekey_table changed its input table"
    )


def test_rekey_refuses_tokens_it_cannot_map(pseudo, from_env, in_worker):
    old, new = from_env(KEY_A), from_env(KEY_B)
    table = pseudo.pseudonymize_table(
        in_worker({"email": ["ana@example.org", "ghost@example.org"]}), ["email"], old
    )
    with pytest.raises(ValueError):
        pseudo.rekey_table(table, ["email"], old, new, known_values=["ana@example.org"])
