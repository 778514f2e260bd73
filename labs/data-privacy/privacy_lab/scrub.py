"""Task 1: detect and scrub PII in free text and records.

Build the detector in two layers:

1. Regular expressions find *candidates*: anything shaped like an email, a phone number,
   an SSN, a card number, an IBAN or an IPv4 address.
2. Validators throw away candidates that cannot be real: a card number must pass Luhn
   (and start with a known issuer prefix), an SSN must pass the rules Presidio applies, an
   IBAN must pass mod-97, a US phone number's area code cannot start with 0 or 1.

The regexes give you recall; the validators give you precision. The tests grade both on
a labelled corpus: every labelled value must be found, and at most 3% of the hard
negatives (order ids, timestamps, ISBNs, numbers that fail a checksum) may be flagged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
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

# The placeholder for a kind is "<KIND>": "<EMAIL>", "<PHONE>", "<CREDIT_CARD>", …
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
    """True if the digits of ``number`` (spaces and dashes allowed) pass the Luhn check.

    From the rightmost digit, double every second digit, subtract 9 from any result above
    9, and add everything up: the total of a valid number is a multiple of 10.
    ``luhn_valid("4111 1111 1111 1111")`` is True; ``"4111 1111 1111 1112"`` is not.
    """
    # TODO(student): implement the Luhn checksum.
    raise NotImplementedError("TODO(student): implement luhn_valid (the Luhn checksum)")


def ssn_valid(ssn: str) -> bool:
    """True if ``ssn`` could be a real US taxpayer number: nine digits, bare
    (``536228471``) or grouped 3-2-4 with one delimiter (``536-22-8471``, ``536 22 8471``,
    ``536.22.8471``).

    Reject: area 000 or 666; group 00; serial 0000; mixed delimiters (``123-45 6789``); one
    digit repeated nine times; published sample numbers such as 078-05-1120 (it came
    printed in Woolworth wallets in 1938), 219-09-9999, 123-45-6789 and any 987-65-432x.
    Keep area 900-999: it is never an SSN, but it is an ITIN, which is just as personal.
    """
    # TODO(student): match the shape, then apply the rules above.
    raise NotImplementedError("TODO(student): implement ssn_valid (the SSN allocation rules)")


def iban_valid(iban: str) -> bool:
    """True if ``iban`` (spaces allowed) passes the ISO 13616 mod-97 check.

    Shape: two letters, two check digits, then 11-30 letters or digits. Move the first
    four characters to the end, replace each letter by a number (A=10 … Z=35), and read
    the result as one integer: it leaves remainder 1 when divided by 97.
    """
    # TODO(student): implement the mod-97 check.
    raise NotImplementedError("TODO(student): implement iban_valid (ISO 13616 mod-97)")


def find_pii(text: str) -> list[Span]:
    """All PII spans in ``text``, sorted by start and not overlapping.

    Kinds and what the corpus contains:

    - EMAIL: ``ana@example.org``, ``Bob.Smith+billing@mail.example.co.uk``
    - PHONE: US numbers with separators, ``(415) 555-2671``, ``415-555-2671``,
      ``415.555.2671``, ``1-415-555-2671``, ``+1 415 555 2671``; international numbers
      always with their ``+``: ``+44 20 7946 0958``, ``+81 3-1234-5678``
    - SSN: ``536-22-8471``, ``536 22 8471``, ``536.22.8471`` or nine bare digits
      ``536228471`` (never part of a longer number), valid by ``ssn_valid``; ITINs
      (area 9xx) are found as SSN too
    - CREDIT_CARD: 13-19 digits, contiguous or in groups of four (Amex: 4-6-5), valid by
      ``luhn_valid`` and starting with an issuer prefix (Visa 4, Mastercard 51-55 and
      2221-2720, Amex 34/37, Discover 6011/644-649/65)
    - IBAN: compact or in groups of four, valid by ``iban_valid``
    - IPV4: four octets 0-255, not part of a longer dotted number

    When two candidates overlap, keep the longer one.
    """
    # TODO(student): one regex per kind to find candidates, then validate each candidate.
    raise NotImplementedError("TODO(student): implement find_pii (candidates, then validators)")


def scrub(text: str) -> ScrubResult:
    """Replace every span of ``find_pii(text)`` with its placeholder ``<KIND>``.

    Scrubbing must be idempotent (scrubbing the output again changes nothing), and must
    never log or print a matched value: log counts per kind if you log at all.
    """
    # TODO(student): build the output from the text between spans and the placeholders.
    raise NotImplementedError("TODO(student): implement scrub (placeholders, spans, no PII logged)")


def scrub_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``record`` with every string scrubbed, in nested dicts and lists too.

    Numbers, booleans and None stay as they are, and ``record`` itself is not changed.
    """
    # TODO(student): walk the record recursively.
    raise NotImplementedError("TODO(student): implement scrub_record (a scrubbed copy)")
