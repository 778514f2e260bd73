"""Task 4: differential privacy with the Laplace mechanism and a budget accountant.

The statistical tests use a seeded generator and accept anything within 4 standard errors
of the expected value, so a correct mechanism passes and a wrong scale fails by a wide
margin. For Laplace noise of scale b: E|X| = b and sd|X| = b.

``dp`` is your ``privacy_lab.dp`` in the worker, and ``rng_factory(seed)`` a numpy generator
there. ``bridge.repeat(n, fn, *args)`` makes n calls in one request, so 20,000 draws cost
one round trip; numpy numbers come back as Python numbers.
"""

from __future__ import annotations

import math

import pytest

pytestmark = pytest.mark.task(4)

BUDGET_EXCEEDED = "privacy_lab.dp.BudgetExceeded"  # your exception, raised in the worker


@pytest.fixture
def dp(learner, bridge):
    return bridge.plain(learner.module("privacy_lab.dp"))


def _queries(dp, values, rng, budget=1e9):
    return dp.PrivateQueries(values, dp.PrivacyAccountant(budget), rng)


# A correct solution that draws its noise in another order must not fail by bad luck:
# five checks at 3σ fail a correct answer about 1% of the time, at 4σ about 0.03%. The wrong
# answers (ε/Δ, no clipping, sensitivity 1 on sums) miss by many times that.
SIGMAS = 4


def _mad(draws, center):
    return sum(abs(d - center) for d in draws) / len(draws)


@pytest.mark.parametrize(("sensitivity", "epsilon"), [(1.0, 0.5), (4.0, 1.0), (1.0, 4.0)])
def test_noise_scale_is_sensitivity_over_epsilon(dp, bridge, rng_factory, sensitivity, epsilon):
    rng = rng_factory()
    n = 20_000
    draws = bridge.repeat(n, dp.laplace_mechanism, 100.0, sensitivity, epsilon, rng)
    b = sensitivity / epsilon
    mad = _mad(draws, 100.0)
    tolerance = SIGMAS * b / math.sqrt(n)
    assert abs(mad - b) <= tolerance, (
        f"laplace_mechanism(100, sensitivity={sensitivity}, epsilon={epsilon}) has mean absolute "
        f"noise {mad:.3f} over {n} draws; Laplace noise of scale sensitivity/epsilon = {b:g} "
        f"has mean absolute value {b:g} (± {tolerance:.3f}). "
        + (
            "It looks like epsilon/sensitivity."
            if abs(mad - epsilon / sensitivity) < tolerance
            else ""
        )
    )
    mean = sum(draws) / n
    assert abs(mean - 100.0) <= SIGMAS * b * math.sqrt(2 / n), (
        f"the noisy answers average {mean:.3f}, expected 100: the noise must be centred on zero"
    )


def test_count_noise_has_scale_one_over_epsilon(dp, bridge, rng_factory):
    q = _queries(dp, list(range(250)), rng_factory())
    n, epsilon = 5_000, 0.5
    mad = _mad(bridge.repeat(n, q.count, epsilon), 250)
    b = 1 / epsilon
    assert abs(mad - b) <= SIGMAS * b / math.sqrt(n), (
        f"count(epsilon=0.5) over 250 values has mean absolute error {mad:.3f}, expected "
        f"{b:g}: one person changes a count by 1, so the sensitivity is 1 and the scale 1/ε"
    )


def test_sum_clips_each_value_to_the_bounds(dp, rng_factory):
    values = [10.0] * 99 + [1_000_000.0]
    q = _queries(dp, values, rng_factory())
    got = q.sum(epsilon=1e4, lower=0.0, upper=100.0)
    assert abs(got - 1090.0) < 1.0, (
        f"sum(ε=10000, lower=0, upper=100) over 99×10 and one 1,000,000 returned {got:.1f}, "
        "expected about 1090 (the outlier clipped to 100). Without clipping one person can move "
        "the sum without limit, and no finite noise hides them."
    )


def test_sum_noise_scale_comes_from_the_clipping_bound(dp, bridge, rng_factory):
    values = [float(v % 50) for v in range(300)]
    q = _queries(dp, values, rng_factory())
    n, epsilon, upper = 4_000, 1.0, 50.0
    true = sum(min(max(v, 0.0), upper) for v in values)
    mad = _mad(bridge.repeat(n, q.sum, epsilon, lower=0.0, upper=upper), true)
    b = upper / epsilon
    assert abs(mad - b) <= SIGMAS * b / math.sqrt(n), (
        f"sum(ε=1, lower=0, upper=50) has mean absolute error {mad:.2f}, expected {b:g}: after "
        "clipping to [0, 50] one person moves the sum by at most 50, so the scale is 50/ε"
    )


class OneScaleNoise:
    """A stand-in ``numpy.random.Generator`` of these tests' own: your code gets a handle
    whose calls come back here. ``laplace(loc, scale)`` returns ``loc + scale``, so the
    answer minus the true value is the scale the mechanism used, with no statistics
    involved; ``scales`` is every scale your code asked for, as this process received it."""

    def __init__(self):
        self.scales = []

    def laplace(self, loc=0.0, scale=1.0, size=None):
        self.scales.append(scale)
        if size is None:
            return float(loc + scale)
        return [float(loc + scale)] * int(size)


@pytest.mark.parametrize(
    ("lower", "upper", "sensitivity"),
    [(-50.0, 20.0, 50.0), (10.0, 50.0, 50.0)],
    ids=["lower-below-zero", "lower-above-zero"],
)
def test_sum_sensitivity_is_the_largest_absolute_bound(dp, bridge, lower, upper, sensitivity):
    values = [-100.0, -30.0, 0.0, 15.0, 40.0]
    q = _queries(dp, values, OneScaleNoise())
    true = sum(min(max(v, lower), upper) for v in values)
    got = q.sum(1.0, lower=lower, upper=upper)
    assert got == pytest.approx(true + sensitivity), (
        f"sum(ε=1, lower={lower:g}, upper={upper:g}) over {values} drew noise of scale "
        f"{got - true:g} (a draw of one scale unit returned {got:g}; the clipped sum is "
        f"{true:g}). Adding or removing one person moves a clipped sum by at most "
        f"max(|lower|, |upper|) = {sensitivity:g}: that is the sensitivity. upper alone is too "
        "small when lower is negative, and upper - lower is the bound for changing a "
        "person's value, not for adding or removing them."
    )


def test_mean_divides_by_a_noisy_count(dp, bridge):
    values = [50.0] * 10
    q = _queries(dp, values, OneScaleNoise())
    got = q.mean(1.0, lower=0.0, upper=100.0)
    # ε/2 each: the sum's scale is 100/(1/2) = 200, the count's 1/(1/2) = 2.
    expected = (500.0 + 200.0) / (10 + 2.0)
    assert got == pytest.approx(expected), (
        f"mean(ε=1, lower=0, upper=100) over ten 50s, with every Laplace draw one scale unit "
        f"high, returned {got:g}; a noisy sum (500 + 200) over a noisy count (10 + 2) is "
        f"{expected:.2f}. "
        + (
            "70 is the noisy sum over the exact count: that publishes how many people are in "
            "the data with no noise at all."
            if got == pytest.approx(70.0)
            else ""
        )
    )


def test_mean_is_clipped_and_charges_epsilon_once(dp, rng_factory):
    values = [20.0] * 999 + [1e9]
    accountant = dp.PrivacyAccountant(1e4)
    q = dp.PrivateQueries(values, accountant, rng_factory())
    got = q.mean(1e4, lower=0.0, upper=100.0)
    expected = (20.0 * 999 + 100.0) / 1000
    assert abs(got - expected) < 0.5, (
        f"mean(ε=10000, lower=0, upper=100) returned {got:.3f}, expected about {expected:.2f}: "
        "clip every value before averaging"
    )
    remaining = accountant.remaining
    assert remaining == pytest.approx(0.0, abs=1e-6), (
        f"after mean(ε=10000) on a budget of 10000 the accountant has {remaining} left; "
        "a mean that splits ε between its sum and its count spends ε in total, not more or less"
    )


def test_repeated_calls_do_not_reuse_the_same_noise(dp, rng_factory):
    rng = rng_factory()
    people = [float(v) for v in range(100)]
    with_alice = _queries(dp, people, rng)
    without_alice = _queries(dp, people[:-1], rng)
    first, second = with_alice.count(0.1), with_alice.count(0.1)
    assert first != second, (
        f"two calls to count(0.1) returned the same value {first}; each answer needs fresh noise "
        "from the generator, or repeating a query gives the attacker nothing new while the "
        "accountant still charges for it, and differencing attacks become exact"
    )
    difference = with_alice.count(0.1) - without_alice.count(0.1)
    assert abs(difference - 1.0) > 1e-9, (
        "count with Alice minus count without Alice is exactly 1: the same noise was added to "
        "both answers, which reveals that Alice is in the data"
    )


def test_the_generator_is_injected_and_used(dp, rng_factory):
    a = _queries(dp, [1.0] * 50, rng_factory(7)).count(1.0)
    b = _queries(dp, [1.0] * 50, rng_factory(7)).count(1.0)
    c = _queries(dp, [1.0] * 50, rng_factory(8)).count(1.0)
    assert a == b, f"the same seed gave {a} and {b}; draw all noise from the rng you are given"
    assert a != c, f"seeds 7 and 8 both gave {a}; the noise does not come from the given rng"


def test_answering_after_the_budget_is_spent_is_refused(dp, rng_factory, learner):
    accountant = dp.PrivacyAccountant(1.0)
    q = dp.PrivateQueries([1.0, 2.0, 3.0], accountant, rng_factory())
    q.count(0.4)
    q.sum(0.4, lower=0.0, upper=5.0)
    with learner.raises(BUDGET_EXCEEDED):
        q.mean(0.3, lower=0.0, upper=5.0)
    spent = accountant.spent
    assert spent == pytest.approx(0.8), (
        f"after a refused query the accountant shows spent={spent}, expected 0.8: "
        "a refused query reveals nothing and must cost nothing"
    )
    q.count(0.2)
    with learner.raises(BUDGET_EXCEEDED):
        q.count(0.01)


def test_budget_tolerates_float_rounding(dp, learner):
    accountant = dp.PrivacyAccountant(0.3)
    accountant.spend(0.1)
    accountant.spend(0.2)  # 0.1 + 0.2 == 0.30000000000000004 in floating point
    assert accountant.remaining == pytest.approx(0.0, abs=1e-9)
    ten = dp.PrivacyAccountant(1.0)
    for _ in range(10):
        ten.spend(0.1)
    with learner.raises(BUDGET_EXCEEDED):
        ten.spend(0.1)


def test_non_positive_epsilon_is_rejected(dp):
    accountant = dp.PrivacyAccountant(1.0)
    for bad in (0.0, -0.5):
        with pytest.raises(ValueError):
            accountant.spend(bad)
    assert accountant.spent == 0.0, "a rejected epsilon changed the amount spent"
