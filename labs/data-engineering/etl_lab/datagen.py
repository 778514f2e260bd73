"""A seeded generator for the raw event log this lab cleans. Not part of your submission.

The log is JSON lines, one event per line, in the order the events were ingested, the
way a Kafka topic dumped to a file looks. Each line carries:

    event_id       "e0000042"                     the business key
    user_id        17, or "17" as a string        an integer, whatever its JSON type
    event_type     "view" | "click" | "purchase"
    amount         12.5, "12.50" or null          only purchases have an amount
    event_ts       "2024-03-05T14:22:01+05:30"    when it happened, with the sender's offset
    ingest_ts      "2024-03-05T08:52:09Z"         when the pipeline received it (UTC)
    source_offset  4711                           position in the source, strictly increasing

and the defects real logs have, planted at fixed rates:

- malformed lines (truncated JSON, garbage)
- missing event ids, null or non-numeric user ids, unparseable amounts
- bad timestamps (Feb 30, hour 25, US dates, empty, null, missing)
- the same instant written with different UTC offsets
- late events, ingested days after they happened
- duplicates: redeliveries, corrections with a later ingest_ts, and corrections with the
  *same* ingest_ts that only the source offset orders
- amounts outside the valid range (negative), which parse fine but fail quality checks

Run it by hand to look at the data:

    python -m etl_lab.datagen --events 2000 --out /tmp/events.jsonl
"""

from __future__ import annotations

import argparse
import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

START = datetime(2024, 3, 1, tzinfo=UTC)
DAYS = 28
EVENT_TYPES = (("view", 0.7), ("click", 0.2), ("purchase", 0.1))
OFFSETS = (0, 0, 0, 1, 2, -5, 5.5, -8)  # hours; UTC is the most common sender zone

BAD_TIMESTAMPS = (
    "2024-02-30T10:00:00Z",
    "2024-03-05T25:10:00Z",
    "03/05/2024 14:22:01",
    "not a timestamp",
    "",
)


@dataclass(frozen=True)
class GenStats:
    """What was written: line count and how many of each planted defect."""

    lines: int
    events: int
    malformed: int
    missing_event_id: int
    bad_user_id: int
    bad_event_ts: int
    bad_amount: int
    negative_amount: int
    late: int
    redeliveries: int
    corrections: int
    tie_corrections: int


def _fmt_ts(ts: datetime, offset_hours: float) -> str:
    local = ts.astimezone(timezone(timedelta(hours=offset_hours)))
    text = local.strftime("%Y-%m-%dT%H:%M:%S")
    if offset_hours == 0:
        return text + "Z"
    return text + local.strftime("%z")[:3] + ":" + local.strftime("%z")[3:]


def _utc(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _pick_type(rng: random.Random) -> str:
    x = rng.random()
    for name, p in EVENT_TYPES:
        if x < p:
            return name
        x -= p
    return EVENT_TYPES[-1][0]


def generate(
    path: str | Path,
    n_events: int = 4000,
    *,
    seed: int = 7,
    n_users: int | None = None,
    start: datetime = START,
    days: int = DAYS,
) -> GenStats:
    """Write a raw event log of about ``n_events`` base events to ``path``; return stats.

    The same arguments always write byte-identical files.
    """
    rng = random.Random(seed)
    n_users = n_users or max(20, n_events // 100)
    span = days * 86_400
    counts = dict.fromkeys(
        (
            "malformed",
            "missing_event_id",
            "bad_user_id",
            "bad_event_ts",
            "bad_amount",
            "negative_amount",
            "late",
            "redeliveries",
            "corrections",
            "tie_corrections",
        ),
        0,
    )

    # (ingest_ts, tie-break, record-or-raw-line). The file is written in ingest order.
    entries: list[tuple[datetime, int, dict[str, object] | str]] = []
    tick = 0

    def emit(ingest: datetime, payload: dict[str, object] | str) -> None:
        nonlocal tick
        tick += 1
        entries.append((ingest, tick, payload))

    for i in range(n_events):
        # Skewed users: half the events pick a user uniformly, half favour low ids
        # (the busiest user has about (1/n_users)^(1/3) / 2 of all events), so there
        # are heavy users and sparse ones with days without events.
        skewed = rng.random() < 0.5
        user = int(n_users * rng.random() ** 3) if skewed else rng.randrange(n_users)
        event_ts = start + timedelta(seconds=rng.randrange(span))
        etype = _pick_type(rng)
        amount: object = round(rng.lognormvariate(3.0, 1.0), 2) if etype == "purchase" else None
        if amount is not None and rng.random() < 0.3:
            amount = f"{amount:.2f}"  # some senders quote numbers
        rec: dict[str, object] = {
            "event_id": f"e{i:08d}",
            "user_id": str(user) if rng.random() < 0.1 else user,
            "event_type": etype,
            "amount": amount,
            "event_ts": _fmt_ts(event_ts, rng.choice(OFFSETS)),
        }
        if rng.random() < 0.03:
            counts["late"] += 1
            ingest = event_ts + timedelta(days=rng.uniform(1, 5))
        else:
            ingest = event_ts + timedelta(seconds=rng.randrange(1, 600))
        ingest = ingest.replace(microsecond=0)

        roll = rng.random()
        if roll < 0.006:
            counts["malformed"] += 1
            line = json.dumps({**rec, "ingest_ts": _utc(ingest), "source_offset": 0})
            bad = line[: rng.randrange(5, len(line) - 5)] if rng.random() < 0.7 else "#corrupt#"
            emit(ingest, bad)
            continue
        if roll < 0.010:
            counts["missing_event_id"] += 1
            if rng.random() < 0.5:
                del rec["event_id"]
            else:
                rec["event_id"] = ""
        elif roll < 0.016:
            counts["bad_user_id"] += 1
            rec["user_id"] = rng.choice([None, f"u_{user}", "n/a"])
        elif roll < 0.026:
            counts["bad_event_ts"] += 1
            choice = rng.randrange(len(BAD_TIMESTAMPS) + 2)
            if choice < len(BAD_TIMESTAMPS):
                rec["event_ts"] = BAD_TIMESTAMPS[choice]
            elif choice == len(BAD_TIMESTAMPS):
                rec["event_ts"] = None
            else:
                del rec["event_ts"]
        elif roll < 0.030:
            counts["bad_amount"] += 1
            rec["event_type"] = "purchase"
            rec["amount"] = rng.choice(["12,50", "N/A", "$4.99"])
        elif roll < 0.034:
            counts["negative_amount"] += 1
            rec["event_type"] = "purchase"
            rec["amount"] = -round(rng.uniform(1, 50), 2)
        emit(ingest, rec)

        if not rec.get("event_id") or roll < 0.034:
            continue  # duplicates are only planted on clean events
        dup = rng.random()
        if dup < 0.03:
            counts["redeliveries"] += 1
            emit(ingest + timedelta(seconds=rng.randrange(1, 3600)), dict(rec))
        elif dup < 0.06:
            # A correction: a new amount for a purchase, a reclassified type otherwise.
            if etype == "purchase":
                fixed = {**rec, "amount": round(rng.uniform(1, 200), 2)}
            else:
                fixed = {**rec, "event_type": "click" if etype == "view" else "view"}
            if dup < 0.045:
                counts["corrections"] += 1
                emit(ingest + timedelta(seconds=rng.randrange(60, 7200)), fixed)
            else:
                # Same ingest second: only source_offset says which one came last.
                counts["tie_corrections"] += 1
                emit(ingest, fixed)

    entries.sort(key=lambda e: (e[0], e[1]))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for offset, (ingest, _, payload) in enumerate(entries, start=1000):
            if isinstance(payload, str):
                fh.write(payload + "\n")
                continue
            rec = {**payload, "ingest_ts": _utc(ingest), "source_offset": offset}
            fh.write(json.dumps(rec, separators=(",", ":")) + "\n")
    return GenStats(lines=len(entries), events=n_events, **counts)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    print(generate(args.out, args.events, seed=args.seed))


if __name__ == "__main__":
    main()
