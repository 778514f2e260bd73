"""The data-privacy reference solution: scrubber throughput, and a privacy audit of a model.

1. Generates a seeded corpus of at least 50 MB of log-like lines (about a third carry PII),
   scrubs it line by line, the way an ingestion job scrubs records, and reports MB/s of
   UTF-8 input.
2. Audits logistic regressions trained on synthetic customers (task 6): test accuracy and
   the loss-threshold attack's advantage (TPR - FPR, mean and 95% interval over repeated
   runs), without DP and with (epsilon, delta)-DP output perturbation, for a model that
   overfits and one that is well regularised, next to a fully grown decision tree.

Prints both and writes bench/out/data-privacy.json.

    python bench/data-privacy.py [--mb 50] [--seed 20240515] [--runs 20]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path
from typing import Any

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


AUDIT_SETTINGS = [
    # name, rows per group, features, l2
    ("overfit", 200, 50, 1e-3),
    ("regularised", 2000, 10, 0.05),
]
EPSILONS = [None, 1.0, 0.5, 0.1]
DELTA = 1e-5


def customers(rng: Any, n: int, d: int) -> tuple[Any, Any]:
    """Synthetic customers: d features, label 1 = churned, 10% of labels flipped."""
    import numpy as np

    truth = np.linspace(-1.0, 1.0, d) * 2.0
    x = rng.normal(size=(n, d)) * 3.0 / np.sqrt(d)
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(x @ truth)))).astype(int)
    flip = rng.random(n) < 0.1
    return x, np.where(flip, 1 - y, y)


def audit(seed: int, runs: int) -> list[dict[str, Any]]:
    """Accuracy and membership advantage per model and epsilon, over ``runs`` repetitions.

    Each run draws fresh members, non-members and test rows, trains, and attacks: the
    interval is over runs, so it covers the sampling of the data as well as the noise.
    """
    import numpy as np
    from privacy_lab import audit as A
    from sklearn.tree import DecisionTreeClassifier

    def one_run(rng: Any, n: int, d: int, train: Any) -> tuple[float, float]:
        x, y = customers(rng, 2 * n + 5000, d)
        parts = {"member": slice(0, n), "nonmember": slice(n, 2 * n), "test": slice(2 * n, None)}
        p1 = train(x[parts["member"]], y[parts["member"]], rng)
        p = {k: np.asarray(p1(x[s])) for k, s in parts.items()}
        losses = {
            k: A.example_losses(np.column_stack([1 - p[k], p[k]]), y[s].tolist())
            for k, s in parts.items()
        }
        accuracy = float(np.mean((p["test"] > 0.5) == y[parts["test"]]))
        attack = A.membership_advantage(losses["member"], losses["nonmember"], rng)
        return accuracy, attack.value

    rows = []
    for name, n, d, l2 in AUDIT_SETTINGS:
        for epsilon in EPSILONS:
            rng = np.random.default_rng(seed)

            def logistic(x: Any, y: Any, rng: Any, eps: Any = epsilon, l2: float = l2) -> Any:
                if eps is None:
                    w = A.train_logistic(x, y, l2=l2)
                else:
                    w = A.train_dp_logistic(x, y, l2=l2, epsilon=eps, delta=DELTA, rng=rng)
                return lambda rows: A.predict_proba(w, rows)

            runs_out = [one_run(rng, n, d, logistic) for _ in range(runs)]
            label = f"logistic, {name} (n={n}, d={d}, l2={l2:g})"
            rows.append(_row(label, epsilon, runs_out))
        if name == "overfit":
            rng = np.random.default_rng(seed)

            def tree(x: Any, y: Any, rng: Any) -> Any:
                model = DecisionTreeClassifier(random_state=seed).fit(x, y)
                return lambda rows: model.predict_proba(rows)[:, 1]

            runs_out = [one_run(rng, n, d, tree) for _ in range(runs)]
            rows.append(_row(f"decision tree, fully grown (n={n}, d={d})", None, runs_out))
    return rows


def _row(model: str, epsilon: float | None, runs: list[tuple[float, float]]) -> dict[str, Any]:
    import numpy as np

    accuracy = [a for a, _ in runs]
    advantage = [v for _, v in runs]
    half = 1.959964 * float(np.std(advantage, ddof=1)) / np.sqrt(len(advantage))
    mean = float(np.mean(advantage))
    return {
        "model": model,
        "epsilon": epsilon,
        "delta": None if epsilon is None else DELTA,
        "accuracy": round(float(np.mean(accuracy)), 3),
        "advantage": round(mean, 3),
        "advantage_ci95": [round(mean - half, 3), round(mean + half, 3)],
        "runs": len(advantage),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=50.0, help="corpus size in MB (default 50)")
    parser.add_argument("--seed", type=int, default=20240515)
    parser.add_argument("--runs", type=int, default=20, help="repetitions per audit row")
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
        "privacy_audit": [],
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    started = time.perf_counter()
    result["privacy_audit"] = audit(args.seed, args.runs)
    audit_seconds = time.perf_counter() - started
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "data-privacy.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        f"data-privacy: scrubbed {result['corpus_mb']} MB ({len(lines):,} lines, {spans:,} PII "
        f"spans) in {seconds:.1f} s = {mb_per_s:.2f} MB/s "
        f"({result['mb_per_cpu_s']:.2f} MB per CPU-second)"
    )
    print(
        f"\nprivacy audit ({args.runs} runs per row, {audit_seconds:.1f} s): "
        "the loss-threshold attack's advantage, mean [95% interval]"
    )
    print(f"{'model':<48} {'epsilon':>8} {'accuracy':>9}  advantage")
    for row in result["privacy_audit"]:
        eps = "no DP" if row["epsilon"] is None else f"{row['epsilon']:g}"
        low, high = row["advantage_ci95"]
        print(
            f"{row['model']:<48} {eps:>8} {row['accuracy']:>9.3f}  "
            f"{row['advantage']:+.3f} [{low:+.3f}, {high:+.3f}]"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
