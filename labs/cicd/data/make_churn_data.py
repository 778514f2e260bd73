"""Regenerate the churn CSVs in this folder: ``python data/make_churn_data.py``.

The CSVs are shipped so that every run (tests, CLI, CI) reads the same rows; this script
documents where they came from. Enterprise customers churn for different reasons than
everyone else (support calls matter, price does not), so a model that never saw enough
enterprise rows does badly on that slice while looking fine on average.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

SEGMENTS = ("consumer", "smb", "enterprise")


def make_churn_data(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    segment = rng.choice(3, size=n, p=[0.6, 0.28, 0.12])
    tenure = rng.integers(1, 73, size=n).astype(float)
    charges = np.round(rng.uniform(20, 120, size=n), 2)
    calls = rng.poisson(1.5, size=n).astype(float)
    logit = (
        -0.6
        + 2.0 * np.exp(-tenure / 8.0)
        + 0.03 * (charges - 70)
        + 0.45 * (calls - 1.5)
        - 0.02 * (tenure - 36)
    )
    ent = segment == 2
    logit[ent] = -0.5 + 0.9 * (calls[ent] - 1.5) - 0.04 * (charges[ent] - 70)
    churned = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame(
        {
            "customer_id": [f"c{seed}-{i:05d}" for i in range(n)],
            "tenure_months": tenure,
            "monthly_charges": charges,
            "support_calls": calls,
            "segment_code": segment,
            "segment": np.array(SEGMENTS)[segment],
            "churned": churned,
        }
    )


if __name__ == "__main__":
    here = Path(__file__).parent
    make_churn_data(3000, seed=1).to_csv(here / "churn_train.csv", index=False)
    make_churn_data(1500, seed=2).to_csv(here / "churn_holdout.csv", index=False)
