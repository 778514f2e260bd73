"""Task 1: detect and scrub PII in free text and records.

Detectors are regular expressions that find *candidates*, followed by validators that
throw away candidates which cannot be real: a card number must pass Luhn and start with a
known issuer prefix, an SSN (or ITIN) must pass the rules Presidio applies, an IBAN must pass
mod-97, a phone number must have a plausible number of digits. The regex gives recall;
the validators give precision.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "KINDS",
    "ScrubResult",
    "Span",
    "find_pii",
    "iban_valid",
    "luhn_valid",
    "scrub",
    "scrub_record",
    "ssn_valid",
]

log = logging.getLogger(__name__)

KINDS = ("EMAIL", "PHONE", "SSN", "CREDIT_CARD", "IBAN", "IPV4")


@dataclass(frozen=True, order=True)
class Span:
    """``text[start:end]`` is a piece of PII of type ``kind`` (one of ``KINDS``)."""

    start: int
    end: int
    kind: str


@dataclass(frozen=True)
class ScrubResult:
    """The scrubbed text, and the spans (offsets into the *original* text) that were replaced."""

    text: str
    spans: list[Span]


def luhn_valid(number: str) -> bool:
    """True if the digits of ``number`` (spaces and dashes allowed) pass the Luhn check."""
    digits = [int(c) for c in number if c.isdigit()]
    if len(digits) < 2 or any(c not in "0123456789 -" for c in number):
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# Published numbers that thousands of people copied, so they identify nobody: 078-05-1120
# came printed in Woolworth wallets in 1938, 219-09-9999 in an SSA leaflet; 123-45-6789 and
# 987-65-432x are what people type into a form to get past it. Presidio rejects the same.
_SAMPLE_SSNS = ("078051120", "219099999", "123456789", "98765432")


def ssn_valid(ssn: str) -> bool:
    """True if ``ssn`` is nine digits, bare or 3-2-4 with one delimiter (``-``, space or
    ``.``, never mixed), that could be a real taxpayer number.

    Area 9xx is never an SSN, but it is an ITIN (or an ATIN), and those are as personal:
    a scrubber keeps them, since a miss is the expensive error.
    """
    m = re.fullmatch(r"(\d{3})([-. ]?)(\d{2})\2(\d{4})", ssn)
    if not m:
        return False
    area, _, group, serial = m.groups()
    digits = area + group + serial
    return not (
        area in ("000", "666")
        or group == "00"
        or serial == "0000"
        or len(set(digits)) == 1
        or digits.startswith(_SAMPLE_SSNS)
    )


def iban_valid(iban: str) -> bool:
    """True if ``iban`` (spaces allowed) has a sane shape and passes the ISO 13616 mod-97 check."""
    compact = iban.replace(" ", "")
    if not re.fullmatch(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}", compact):
        return False
    rearranged = compact[4:] + compact[:4]
    as_digits = "".join(str(int(c, 36)) for c in rearranged)
    return int(as_digits) % 97 == 1


# Issuer prefixes (IIN ranges) of the big networks: Visa, Mastercard, Amex, Discover, JCB,
# UnionPay and Diners. Luhn alone passes one random number in ten; a prefix check removes
# ISBNs, timestamps and order numbers that happen to pass.
_CARD_PREFIX = re.compile(
    r"4|5[1-5]|2(?:2[2-9]|[3-6]\d|7[01]|720)|3[47]|6(?:011|4[4-9]|5)"
    r"|35(?:2[89]|[3-8]\d)|62|3(?:0[0-5]|[689])"
)

_EMAIL = re.compile(
    r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,}(?![\w-])"
)
_CARD = re.compile(
    r"(?<![\w+-])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{4}(?:\1\d{1,3})?"
    r"|\d{4}([ -])\d{6}\2\d{4,5})"  # Amex 4-6-5 and Diners 4-6-4
    r"(?![\w-])"
)
# Nine digits, bare or grouped 3-2-4 with one delimiter; not part of a longer number.
_SSN = re.compile(r"(?<![\w.-])\d{3}([-. ]?)\d{2}\1\d{4}(?![\w-]|\.\d)")
_IBAN = re.compile(
    r"(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?(?![A-Za-z0-9])"
)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\.?\d)(?!\w)")
# North American numbers: optional country code 1, then area and exchange codes that
# cannot start with 0 or 1 (NANP rules), checked in _phone_valid.
_US_PHONE = re.compile(
    r"(?<![\w+-])(?:1[ .-])?(?:\((\d{3})\) ?|(\d{3})[ .-])(\d{3})[ .-]\d{4}(?![\w-])"
)
# International numbers must carry their "+": without it, any run of digit groups
# (order ids, timestamps) would look like a phone number.
_INTL_PHONE = re.compile(r"(?<![\w+])\+\d{1,3}(?:[ .-]?(?:\(\d{1,4}\)|\d{1,4})){2,6}(?![\w])")


def _us_phone_valid(m: re.Match[str]) -> bool:
    area = m.group(1) or m.group(2)
    return area[0] in "23456789" and m.group(3)[0] in "23456789"


def _digit_count_ok(candidate: str) -> bool:
    return 8 <= sum(c.isdigit() for c in candidate) <= 15  # E.164 allows at most 15


def _card_valid(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    return bool(_CARD_PREFIX.match(digits)) and luhn_valid(digits)


def _shrinking(text: str, m: re.Match[str], valid: Callable[[str], bool]) -> Iterator[Span]:
    """Yield the longest prefix of a match, cut at a space, that validates.

    "GB82 WEST 1234 5698 7654 32 EUR" matches with "EUR" glued on; trimming trailing groups
    recovers the real IBAN instead of discarding the whole candidate.
    """
    candidate = m.group()
    while candidate:
        if valid(candidate):
            yield Span(m.start(), m.start() + len(candidate), "")
            return
        cut = max(candidate.rfind(" "), candidate.rfind("-"), candidate.rfind("."))
        candidate = candidate[:cut] if cut > 0 else ""


def _candidates(text: str) -> Iterator[Span]:
    # Cheap substring tests skip a regex scan on most lines of a log.
    if "@" in text:
        for m in _EMAIL.finditer(text):
            yield Span(m.start(), m.end(), "EMAIL")
    for m in _IBAN.finditer(text):
        for s in _shrinking(text, m, iban_valid):
            yield Span(s.start, s.end, "IBAN")
    for m in _CARD.finditer(text):
        if _card_valid(m.group()):
            yield Span(m.start(), m.end(), "CREDIT_CARD")
    for m in _SSN.finditer(text):
        if ssn_valid(m.group()):
            yield Span(m.start(), m.end(), "SSN")
    for m in _IPV4.finditer(text):
        yield Span(m.start(), m.end(), "IPV4")
    for m in _US_PHONE.finditer(text):
        if _us_phone_valid(m):
            yield Span(m.start(), m.end(), "PHONE")
    if "+" in text:
        for m in _INTL_PHONE.finditer(text):
            for s in _shrinking(text, m, _digit_count_ok):
                yield Span(s.start, s.end, "PHONE")


def find_pii(text: str) -> list[Span]:
    """All PII spans in ``text``, sorted and non-overlapping (the longest wins a clash)."""
    chosen: list[Span] = []
    for span in sorted(_candidates(text), key=lambda s: (s.start, s.start - s.end)):
        if chosen and span.start < chosen[-1].end:
            continue
        chosen.append(span)
    return chosen


def scrub(text: str) -> ScrubResult:
    """Replace every PII span with its placeholder, ``<EMAIL>``, ``<PHONE>``, …"""
    spans = find_pii(text)
    parts: list[str] = []
    pos = 0
    for span in spans:
        parts.append(text[pos : span.start])
        parts.append(f"<{span.kind}>")
        pos = span.end
    parts.append(text[pos:])
    if spans:
        # Counts only: the matched values are exactly what must never reach a log.
        log.debug("scrubbed %s", dict(Counter(s.kind for s in spans)))
    return ScrubResult("".join(parts), spans)


def scrub_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``record`` with every string scrubbed, nested dicts and lists included."""
    return {key: _scrub_value(value) for key, value in record.items()}


def _scrub_value(value: Any) -> Any:
    if isinstance(value, str):
        return scrub(value).text
    if isinstance(value, Mapping):
        return scrub_record(value)
    if isinstance(value, list | tuple):
        return type(value)(_scrub_value(v) for v in value)
    return value
