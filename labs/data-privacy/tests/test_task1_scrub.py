"""Task 1: PII detection and scrubbing.

``scrubber`` is your ``privacy_lab.scrub``, imported in the worker: each call runs there and
only plain data comes back (a Span comes back as a handle whose fields you read).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

pytestmark = pytest.mark.task(1)

# At most this share of the hard negatives may be flagged. The reference flags 1 of them
# (a firmware version shaped like an IPv4 address).
FALSE_POSITIVE_CEILING = 0.03


@pytest.fixture
def scrubber(learner):
    return learner.module("privacy_lab.scrub")


def _found(spans: Any, text: str) -> list[tuple[str, str]]:
    """Spans as (kind, the text they cover), for assertions and their messages."""
    return [(s.kind, text[s.start : s.end]) for s in spans]


def test_luhn_rejects_a_changed_check_digit(scrubber):
    assert scrubber.luhn_valid("4111 1111 1111 1111") is True, (
        "luhn_valid('4111 1111 1111 1111') should be True: it is the classic Visa test number"
    )
    assert scrubber.luhn_valid("378282246310005") is True, "luhn_valid of the Amex test number"
    for bad in ("4111 1111 1111 1112", "378282246310006", "1234567812345678"):
        assert scrubber.luhn_valid(bad) is False, (
            f"luhn_valid({bad!r}) returned True; the Luhn checksum of this number is wrong, "
            "so it cannot be a real card number"
        )


@pytest.mark.parametrize(
    ("network", "number"),
    [
        ("JCB", "3530 1113 3330 0000"),
        ("UnionPay", "6200 0000 0000 0005"),
        ("Diners Club, grouped 4-6-4", "3056 930902 5904"),
        ("Diners Club, 14 digits", "36227206271667"),
    ],
)
def test_card_networks_beyond_visa_and_mastercard_are_found(scrubber, network, number):
    text = f"paid with {number} yesterday"
    found = _found(scrubber.find_pii(text), text)
    assert found == [("CREDIT_CARD", number)], (
        f"find_pii({text!r}) returned {found}; a {network} card number passes Luhn and is "
        "as personal as a Visa one. An issuer list with only Visa, Mastercard and Amex lets "
        "the others through: add JCB (3528-3589), UnionPay (62) and Diners (300-305, 36, 38)."
    )


@pytest.mark.parametrize(
    ("ssn", "why"),
    [
        ("000-12-3456", "area 000 is never issued"),
        ("666-12-3456", "area 666 is never issued"),
        ("123-00-4567", "group 00 is never issued"),
        ("123-45-0000", "serial 0000 is never issued"),
        ("536-00-8471", "group 00 is never issued"),
        ("536220000", "serial 0000 is never issued, bare digits too"),
        ("000228471", "area 000 is never issued, bare digits too"),
        ("078-05-1120", "the Woolworth wallet sample, used by thousands of people"),
        ("219-09-9999", "the sample printed in an SSA leaflet"),
        ("123456789", "a sample number people type to get past a form"),
        ("987-65-4320", "987-65-432x are sample numbers people type to get past a form"),
        ("536-22 8471", "mixed delimiters are not an SSN"),
        ("536.22-8471", "mixed delimiters are not an SSN"),
        ("111-11-1111", "all the same digit"),
        ("5362284710", "ten digits are not an SSN"),
        ("536-228-471", "an SSN is grouped 3-2-4"),
    ],
)
def test_ssn_rules_reject_numbers_that_were_never_issued(scrubber, ssn, why):
    assert scrubber.ssn_valid("536-22-8471") is True, "ssn_valid('536-22-8471') should be True"
    assert scrubber.ssn_valid("536 22 8471") is True, "ssn_valid('536 22 8471') should be True"
    assert scrubber.ssn_valid(ssn) is False, f"ssn_valid({ssn!r}) returned True, but {why}"


@pytest.mark.parametrize(
    ("ssn", "shape"),
    [
        ("536.22.8471", "grouped with dots"),
        ("536228471", "nine bare digits, as a form field or a database column holds them"),
        ("912-70-1234", "an ITIN: area 9xx is never an SSN, but an ITIN is just as personal"),
        ("900 93 1234", "an ATIN (area 9xx, group 93): a taxpayer number too"),
    ],
)
def test_ssn_rules_keep_every_taxpayer_number_a_scrubber_must_catch(scrubber, ssn, shape):
    assert scrubber.ssn_valid(ssn) is True, (
        f"ssn_valid({ssn!r}) returned False, but it is {shape}. In a scrubber a miss is the "
        "expensive error: a false alarm masks a harmless number, a miss leaks a person's. "
        "Presidio rejects area 000 and 666, group 00, serial 0000, mixed delimiters, one "
        "repeated digit and published samples, and nothing else."
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("ITIN 912-70-1234 on the W-7 form.", "912-70-1234"),
        ("ssn=536228471;", "536228471"),
        ("Tax id 950 81 4402 (ITIN)", "950 81 4402"),
        ("SSN 536.22.8471 on file", "536.22.8471"),
    ],
)
def test_itins_and_bare_ssns_are_scrubbed(scrubber, bridge, text, value):
    found = [(k, text[a:b]) for k, a, b in bridge.spans_of(scrubber.find_pii, [text])[0]]
    assert found == [("SSN", value)], (
        f"find_pii({text!r}) returned {found}, expected [('SSN', {value!r})]. An ITIN (area "
        "9xx) and an SSN typed without delimiters are taxpayer numbers all the same: a "
        "scrubber that needs dashes, or rejects area 9xx as 'never issued', lets them through."
    )


@pytest.mark.parametrize(
    "text",
    [
        "Event ts=1650000000 logged",
        "Card 4111111111111111 on file",
        "Version 1.536.22.8471 shipped",
        "Account 12536228471 closed",
        "Parcel 536228471-7 delivered",
    ],
)
def test_nine_digits_inside_a_longer_number_are_not_an_ssn(scrubber, bridge, text):
    found = [(k, text[a:b]) for k, a, b in bridge.spans_of(scrubber.find_pii, [text])[0]]
    assert not [f for f in found if f[0] == "SSN"], (
        f"find_pii({text!r}) returned {found}: nine bare digits are an SSN only on their own, "
        "not as a piece of a longer number (a timestamp, a card, a dotted version, an id)."
    )


def test_iban_check_is_mod_97(scrubber):
    for good in ("GB82 WEST 1234 5698 7654 32", "DE89370400440532013000"):
        assert scrubber.iban_valid(good) is True, f"iban_valid({good!r}) should be True"
    for bad in ("GB82 WEST 1234 5698 7654 33", "DE89370400440532013001", "GB82"):
        assert scrubber.iban_valid(bad) is False, (
            f"iban_valid({bad!r}) returned True; its mod-97 remainder is not 1"
        )


# The false-positive ceiling leaves room for a validator that misses one rule, so each rule
# is also tested on its own: these must come back with no span at all.
@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("Lot number 123-456-7890", "a NANP area code never starts with 1"),
        ("Batch 023-456-7890 shipped", "a NANP area code never starts with 0"),
        ("Ref (415) 155-2671 closed", "a NANP exchange code never starts with 1"),
        ("Ref 415.055.2671 closed", "a NANP exchange code never starts with 0"),
    ],
)
def test_phone_area_and_exchange_codes_never_start_with_0_or_1(scrubber, text, why):
    found = _found(scrubber.find_pii(text), text)
    assert not found, (
        f"find_pii({text!r}) returned {found}, but {why}: this is an order or lot number. "
        "Without the NANP rules every dashed 10-digit id becomes a phone number."
    )


@pytest.mark.parametrize(
    "text",
    [
        "Address 256.10.0.1 is not routable",
        "Address 10.0.0.300 is not routable",
        "Address 10.300.0.1 is not routable",
        "Address 999.999.999.999 is not routable",
    ],
)
def test_ipv4_octets_never_exceed_255(scrubber, text):
    found = _found(scrubber.find_pii(text), text)
    assert not found, (
        f"find_pii({text!r}) returned {found}, but an IPv4 octet is 0-255: four groups of "
        "digits are not an address unless each one fits in a byte."
    )


def test_recall_is_total_on_the_labelled_corpus(scrubber, bridge, corpus):
    missed: Counter[str] = Counter()
    total: Counter[str] = Counter()
    examples: dict[str, str] = {}
    # One request for the whole corpus: (kind, start, end) for every span find_pii returns.
    found = bridge.spans_of(scrubber.find_pii, [case.text for case in corpus.positives])
    for case, spans in zip(corpus.positives, found, strict=True):
        for kind, start, end in case.pii:
            total[kind] += 1
            covered = any(
                s_kind == kind
                and s_start <= start
                and s_end >= end
                # a span may take a few characters of context, not half the sentence
                and start - s_start <= 3
                and s_end - end <= 3
                for s_kind, s_start, s_end in spans
            )
            if not covered:
                missed[kind] += 1
                examples.setdefault(kind, f"{case.text[start:end]!r} in {case.text!r}")
    assert not missed, (
        "find_pii missed labelled PII: "
        + "; ".join(
            f"{kind}: {missed[kind]} of {total[kind]}, e.g. {examples[kind]}" for kind in missed
        )
        + ". Recall must be 1.0 on this corpus: one missed SSN is one leaked SSN."
    )


def test_hard_negatives_stay_under_the_false_positive_ceiling(scrubber, bridge, corpus):
    flagged = []
    found = bridge.spans_of(scrubber.find_pii, [case.text for case in corpus.negatives])
    for case, spans in zip(corpus.negatives, found, strict=True):
        if spans:
            flagged.append((case.text, case.why, [(k, case.text[a:b]) for k, a, b in spans]))
    allowed = int(FALSE_POSITIVE_CEILING * len(corpus.negatives))
    assert len(flagged) <= allowed, (
        f"find_pii flagged {len(flagged)} of {len(corpus.negatives)} hard negatives; at most "
        f"{allowed} ({FALSE_POSITIVE_CEILING:.0%}) are allowed. Validate candidates (Luhn and "
        "issuer prefix for cards, SSN allocation rules, IBAN mod-97, NANP area codes). "
        "Flagged: " + "; ".join(f"{t!r} ({why}) -> {s}" for t, why, s in flagged[:8])
    )


def test_placeholders_are_typed(scrubber):
    text = "Mail jo@example.com, call +44 20 7946 0958, SSN 536-22-8471, from 10.0.0.7."
    result = scrubber.scrub(text)
    expected = "Mail <EMAIL>, call <PHONE>, SSN <SSN>, from <IPV4>."
    assert result.text == expected, (
        f"scrub({text!r}).text returned {result.text!r}, expected {expected!r}: each value "
        "becomes a placeholder naming its type, and the text around it stays as it was"
    )
    card = scrubber.scrub("card 4111 1111 1111 1111 iban DE89370400440532013000").text
    assert card == "card <CREDIT_CARD> iban <IBAN>", f"scrub(...) returned {card!r}"


def test_spans_point_into_the_original_text(scrubber):
    text = "From 192.168.0.9: Ana <ana@example.org> paid with 5555555555554444."
    found = sorted(_found(scrubber.scrub(text).spans, text))
    expected = sorted(
        [("IPV4", "192.168.0.9"), ("EMAIL", "ana@example.org"), ("CREDIT_CARD", "5555555555554444")]
    )
    assert found == expected, (
        f"scrub(...).spans sliced out of the original text give {found}, expected {expected}. "
        "Spans are the audit trail: offsets into the input, not into the scrubbed output."
    )


def test_scrubbing_twice_changes_nothing(scrubber, corpus):
    for case in corpus.positives[:100]:
        once = scrubber.scrub(case.text).text
        twice = scrubber.scrub(once)
        again, spans = twice.text, twice.spans
        assert again == once and not spans, (
            f"scrub is not idempotent: scrub(scrub(x).text) gave {again!r} with spans "
            f"{_found(spans, once)}, but the first pass gave {once!r}. Placeholders must not "
            "look like PII, and a second pass must find nothing."
        )


def test_no_raw_pii_reaches_the_logs(scrubber, bridge):
    values = ["jo.doe@example.com", "(415) 555-2671", "536-22-8471", "4111 1111 1111 1111"]
    # What the worker logged at any level, printed, or wrote to its stdout and stderr.
    logged = bridge.output_of(
        scrubber.scrub, f"{values[0]} / {values[1]} / {values[2]} / {values[3]}"
    ) + bridge.output_of(scrubber.scrub_record, {"contact": values[0], "notes": [values[1]]})
    leaked = [v for v in values if v in logged or v.replace(" ", "") in logged]
    assert not leaked, (
        f"scrubbing logged raw PII {leaked}; log counts and types, never the matched values. "
        "Logs are copied, shipped and kept for years: a scrubber that logs what it removed "
        "moves the PII to a worse place."
    )


def test_scrub_record_scrubs_nested_strings_and_keeps_the_rest(scrubber, bridge):
    record = {
        "id": 42,
        "email": "ana@example.org",
        "profile": {"phone": "+1 415 555 2671", "age": 37},
        "notes": ["call 415-555-2671", "VIP"],
        "score": 0.5,
    }
    # The record crosses as a copy, so it is the worker's copy that must stay unchanged.
    out, (after,) = bridge.with_arguments(scrubber.scrub_record, record)
    expected = {
        "id": 42,
        "email": "<EMAIL>",
        "profile": {"phone": "<PHONE>", "age": 37},
        "notes": ["call <PHONE>", "VIP"],
        "score": 0.5,
    }
    assert out == expected, f"scrub_record({record!r}) returned {out!r}, expected {expected!r}"
    assert after == record, "scrub_record changed its input; return a scrubbed copy instead"
