"""A/B test sizing, and what peeking does to false alarms (given; the lesson runs it).

python ab_sizing.py
"""

import numpy as np
from scipy import stats

# Users per arm to detect a drop in churn from 20 % to 19 % (alpha 0.05 two-sided, power 0.8).
p1, p2, alpha, power = 0.20, 0.19, 0.05, 0.80
z = stats.norm.ppf(1 - alpha / 2) + stats.norm.ppf(power)
n = z**2 * (p1 * (1 - p1) + p2 * (1 - p2)) / (p1 - p2) ** 2
print(f"users per arm: {int(np.ceil(n)):,}")

# Peeking: no real difference, a z-test at alpha 0.05 after each of 5 equal batches,
# stopping at the first "significant" look.
rng = np.random.default_rng(0)
runs, looks, batch = 4000, 5, 2000
false_alarms = 0
for _ in range(runs):
    a = rng.random((looks, batch)) < p1
    b = rng.random((looks, batch)) < p1
    for k in range(1, looks + 1):
        x, y, m = a[:k].sum(), b[:k].sum(), k * batch
        pooled = (x + y) / (2 * m)
        se = np.sqrt(2 * pooled * (1 - pooled) / m)
        if abs(x / m - y / m) / se > stats.norm.ppf(1 - alpha / 2):
            false_alarms += 1
            break
print(f"false alarms with one look: {alpha:.0%}; with {looks} looks: {false_alarms / runs:.1%}")
