"""Scrubber throughput of the data-privacy reference solution.

Generates a seeded corpus of at least 50 MB of log-like lines (about a third carry PII),
scrubs it line by line, the way an ingestion job scrubs records, and reports MB/s of
UTF-8 input. Prints one line and writes bench/out/data-privacy.json.

    python bench/data-privacy.py [--mb 50] [--seed 20240515]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The solution holds only the submission files; the lab folder has nothing else it needs.
sys.path[:0] = [str(ROOT / "solutions" / "data-privacy"), str(ROOT / "labs" / "data-privacy")]

PII_TEMPLATES = [
    "{ts} INFO signup email={email} ip={ip} plan=pro",
    "{ts} WARN payment declined card={card} order=ORD-{order} amount={amount}",
    "{ts} INFO support ticket {order}: customer {name} calls back on {phone}",
    "{ts} INFO kyc ssn={ssn} iban={iban} status=verified",
    "{ts} ERROR login failed for {email} from {ip} after 3 attempts",
]
PLAIN_TEMPLATES = [
    "{ts} INFO GET /api/v1/items/{order} 200 {amount} ms",
    "{ts} DEBUG cache hit ratio {amount} on shard {order}",
    "{ts} INFO batch {order} processed {amount} rows, isbn {isbn}",
    "{ts} WARN retrying job {order} (attempt 2 of 5), epoch {epoch}",
]


def make_pool(seed: int, size: int = 6000) -> list[str]:
    """Distinct lines from Faker; the corpus is sampled from them (Faker is slow)."""
    from faker import Faker

    Faker.seed(seed)
    fake = Faker("en_US")
    gb = Faker("en_GB")
    gb.seed_instance(seed)
    r = random.Random(seed)
    pool = []
    for i in range(size):
        template = r.choice(PII_TEMPLATES if i % 3 == 0 else PLAIN_TEMPLATES)
        pool.append(
            template.format(
                ts=f"2024-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}T"
                f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}Z",
                email=fake.email(),
                ip=fake.ipv4_public(),
                card=fake.credit_card_number(r.choice(["visa16", "mastercard", "amex"])),
                order=r.randint(10_000, 999_999),
                amount=f"{r.uniform(1, 999):.2f}",
                name=fake.name(),
                phone=f"({r.randint(2, 9)}{r.randint(10, 99)}) {r.randint(2, 9)}{r.randint(10, 99)}"
                f"-{r.randint(0, 9999):04d}",
                ssn=f"{r.randint(1, 665):03d}-{r.randint(1, 99):02d}-{r.randint(1, 9999):04d}",
                iban=gb.iban(),
                isbn=fake.isbn13().replace("-", ""),
                epoch=r.randint(1_500_000_000_000, 1_800_000_000_000),
            )
        )
    return pool


def make_corpus(seed: int, megabytes: float) -> list[str]:
    pool = make_pool(seed)
    r = random.Random(seed + 1)
    target = int(megabytes * 1_000_000)
    lines, size = [], 0
    while size < target:
        line = r.choice(pool)
        lines.append(line)
        size += len(line.encode()) + 1
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0, help="corpus size in MB (default 50)")
    parser.add_argument("--seed", type=int, default=20240515)
    args = parser.parse_args()

    from privacy_lab.scrub import scrub

    started = time.perf_counter()
    lines = make_corpus(args.seed, args.mb)
    generated = time.perf_counter() - started
    n_bytes = sum(len(line.encode()) + 1 for line in lines)

    spans = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for line in lines:
        spans += len(scrub(line).spans)
    seconds = time.perf_counter() - started
    # CPU time as well: on a shared machine wall time also measures the neighbours.
    cpu_seconds = time.process_time() - cpu_started
    mb_per_s = n_bytes / 1_000_000 / seconds

    result = {
        "lab": "data-privacy",
        "metric": "scrubber_throughput_mb_per_s",
        "value": round(mb_per_s, 2),
        "corpus_mb": round(n_bytes / 1_000_000, 1),
        "lines": len(lines),
        "spans": spans,
        "scrub_seconds": round(seconds, 2),
        "scrub_cpu_seconds": round(cpu_seconds, 2),
        "mb_per_cpu_s": round(n_bytes / 1_000_000 / cpu_seconds, 2),
        "generate_seconds": round(generated, 2),
        "seed": args.seed,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "data-privacy.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        f"data-privacy: scrubbed {result['corpus_mb']} MB ({len(lines):,} lines, {spans:,} PII "
        f"spans) in {seconds:.1f} s = {mb_per_s:.2f} MB/s "
        f"({result['mb_per_cpu_s']:.2f} MB per CPU-second)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
