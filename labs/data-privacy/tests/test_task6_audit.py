"""Task 6: audit a model for privacy leaks.

``audit`` is your ``privacy_lab.audit`` in the worker. Everything that decides a grade is
computed here, with this process's own numpy and scikit-learn: the data, the models whose
leakage is known (a fully grown tree that memorises its training rows, a model that never
saw the "members"), the exact non-private weights, and the noise the Gaussian mechanism
must add. Only plain lists of numbers cross.

The statistical tests repeat an experiment many times with fixed seeds and accept a wide
band around the right answer: a correct solution that draws its randomness in another
order passes, and the wrong ones miss by many standard errors. No test compares your
numbers with ours to more digits than the sampling error allows.

Each sentence of the starter's docstrings and of the lesson that states a requirement, and
the tests that fail when that sentence alone is broken:

example_losses
- "-log(probability the model gave its *true* label)"
    test_loss_is_of_the_true_label_not_the_predicted_class
- "Clip each probability to at least 1e-12 first"
    test_a_confident_mistake_has_a_large_finite_loss
membership_advantage
- "'member' when loss <= threshold" (lesson: "at or below")
    test_member_means_a_loss_at_or_below_the_threshold
    test_attack_finds_what_a_memorising_model_leaks (a high loss called member)
- "Shuffle each group with rng.permutation"
    test_the_split_is_the_seeded_shuffle (one seed replays, other seeds differ)
    test_losses_that_arrive_sorted_are_shuffled_before_the_split
- "split it into halves (the first len // 2 to choose with, the rest to score)" and
  "measure TPR and FPR of that threshold on the scoring halves only"
    test_threshold_is_not_tuned_on_the_losses_it_scores
- "Choose the threshold, among the choosing halves' losses, that maximises TPR - FPR there"
    test_member_means_a_loss_at_or_below_the_threshold (a grid's threshold is no loss)
    test_threshold_maximises_tpr_minus_fpr_not_accuracy
    test_attack_finds_what_a_memorising_model_leaks
- "value ± 1.96 * sqrt(tpr*(1-tpr)/m + fpr*(1-fpr)/n), m and n the scored counts"
    test_interval_is_not_narrower_than_the_sampling_error
    test_interval_covers_the_true_advantage_of_the_chosen_threshold
    test_interval_covers_no_leak_when_there_is_none
- "clipped to [-1, 1]"
    test_interval_is_clipped_to_minus_one_and_one
- Advantage: "TPR - FPR on the scoring half" (value = tpr - fpr, with tpr and fpr)
    test_reported_rates_are_the_scoring_halves
    test_member_means_a_loss_at_or_below_the_threshold
clip_rows
- "scaled down to L2 norm at most 1 (rows inside the ball are unchanged)"
    test_clip_rows_leaves_short_rows_alone
    test_rows_are_clipped_to_norm_one_before_training
train_logistic
- "mean log-loss + (l2 / 2) * ||w||^2"
    test_l2_is_scaled_by_the_number_of_rows
- "over clipped rows"
    test_rows_are_clipped_to_norm_one_before_training
- "no intercept"
    test_there_is_no_unpenalised_intercept
- "Raise ValueError if l2 is not positive"
    test_train_logistic_refuses_a_non_positive_l2
gaussian_sigma
- "sensitivity * sqrt(2 ln(1.25 / delta)) / epsilon"
    test_gaussian_sigma_is_not_the_laplace_scale
- "proven for 0 < epsilon <= 1 only: raise ValueError outside that", "a delta outside (0, 1)"
    test_gaussian_mechanism_refuses_what_it_cannot_prove
- "for a sensitivity that is not positive"
    test_gaussian_mechanism_refuses_a_non_positive_sensitivity
train_dp_logistic
- "train_logistic plus Gaussian noise" (centred on it), sensitivity 2/(n*l2) (lesson)
    test_dp_noise_is_scaled_to_two_over_n_l2
- "on each weight", "rng.normal(0.0, sigma, size=len(weights))"
    test_each_weight_gets_its_own_noise_draw
- drawn from the given rng, fresh on every call
    test_dp_noise_comes_from_the_given_generator
exposure
- "log2(|R|) - log2(rank)", rank 1 for the lowest loss, in bits
    test_exposure_is_log2_of_the_rank_from_the_lowest_loss
- "a tie counts against the canary"
    test_a_tie_is_no_evidence_of_memorisation
canary_exposure
- "Train with the canary inserted", "Score the canary and every candidate with canary_label"
    test_canary_is_exposed_when_it_was_trained_on
- "DP when epsilon is given"
    test_dp_training_hides_the_canary
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytestmark = pytest.mark.task(6)

SEED = 20240515
D = 8
Z_95 = 1.959963984540054
FLOOR = 1e-12


@pytest.fixture
def audit(learner, bridge):
    # scikit-learn's import takes a second or two on a loaded machine.
    return bridge.plain(learner.module("privacy_lab.audit", timeout=60))


def _population(seed: int, n: int, *, spread: float = 1.0, base_rate: float = 0.8):
    """Synthetic customers: D features, heavy-tailed row norms, label 1 = churned."""
    rng = np.random.default_rng(seed)
    size = np.exp(spread * rng.normal(size=(n, 1)))
    x = rng.normal(size=(n, D)) * size * 1.5 / math.sqrt(D)
    truth = np.linspace(-1.0, 1.0, D) * 2.0
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-(x @ truth) - base_rate))).astype(int)
    return x, y


def _clip(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1.0)


def _fit(x, y, l2, *, clip=True, per_row=True, intercept=False):
    """The objective of the lesson, solved to 1e-12; the flags give the usual wrong ones."""
    from sklearn.linear_model import LogisticRegression

    rows = _clip(x) if clip else x
    c = 1.0 / (len(x) * l2) if per_row else 1.0 / l2
    model = LogisticRegression(
        C=c, fit_intercept=intercept, solver="newton-cg", tol=1e-12, max_iter=1000
    )
    return model.fit(rows, y).coef_[0]


def _losses(weights, x, y):
    p1 = 1.0 / (1.0 + np.exp(-np.clip(_clip(x) @ weights, -500, 500)))
    p_true = np.clip(np.where(y == 1, p1, 1.0 - p1), FLOOR, 1.0)
    return -np.log(p_true)


def _sigma(sensitivity, epsilon, delta):
    return sensitivity * math.sqrt(2.0 * math.log(1.25 / delta)) / epsilon


def _floats(values):
    return [float(v) for v in values]


# --------------------------------------------------------------------------- losses


def test_loss_is_of_the_true_label_not_the_predicted_class(audit):
    probabilities = [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]
    labels = [1, 1, 0]
    got = audit.example_losses(probabilities, labels)
    want = [-math.log(0.1), -math.log(0.8), -math.log(0.6)]
    assert type(got) is list and len(got) == 3, f"example_losses returned {got!r}"
    assert all(abs(g - w) < 1e-9 for g, w in zip(got, want, strict=True)), (
        f"example_losses({probabilities}, {labels}) returned {got}; expected {want}: "
        "-log of the probability of the TRUE label. The loss of a confident mistake (0.9 on "
        "class 0 for a row labelled 1) is high, and that is what the attack reads; the "
        "predicted class's probability makes every confident answer look like a member."
    )


def test_a_confident_mistake_has_a_large_finite_loss(audit):
    got = audit.example_losses([[1.0, 0.0], [0.0, 1.0]], [1, 1])
    assert all(type(v) is float for v in got), f"example_losses returned {got!r}"
    floor = -math.log(1e-12)
    assert math.isfinite(got[0]) and abs(got[0] - floor) < 1e-6, (
        f"example_losses([[1.0, 0.0]], [1]) returned {got[0]}, expected -log(1e-12) = "
        f"{floor:.4f}: a probability of 0 for the true label must be clipped to 1e-12 before "
        "the log, or the loss is infinite (a memorising model gives 0 to every non-member it "
        "gets wrong). Another floor (scikit-learn's old 1e-15) moves every such loss."
    )
    assert abs(got[1]) < 1e-9, f"a probability of 1 for the true label has loss 0, got {got[1]}"


# --------------------------------------------------------------------------- the attack


def test_attack_finds_what_a_memorising_model_leaks(audit, rng_factory):
    from sklearn.tree import DecisionTreeClassifier

    x, y = _population(SEED, 21_000)
    members, nonmembers, fresh = slice(0, 500), slice(500, 1000), slice(1000, None)
    tree = DecisionTreeClassifier(random_state=0).fit(x[members], y[members])
    # Every member is predicted right with probability 1 (loss 0); a non-member only when
    # the tree is right, so the best threshold's advantage is the tree's test error.
    known = 1.0 - float(tree.score(x[fresh], y[fresh]))
    member_losses = audit.example_losses(
        tree.predict_proba(x[members]).tolist(), y[members].tolist()
    )
    nonmember_losses = audit.example_losses(
        tree.predict_proba(x[nonmembers]).tolist(), y[nonmembers].tolist()
    )
    result = audit.membership_advantage(member_losses, nonmember_losses, rng_factory(SEED))
    value, low, high = result.value, result.low, result.high
    assert abs(value - known) <= 0.12 and low > 0.1, (
        f"On a fully grown decision tree, which memorises its 500 training rows, your attack "
        f"reported an advantage of {value:.3f} [{low:.3f}, {high:.3f}]. Its leakage is known: "
        f"{known:.3f}, its error on 20,000 fresh rows (members have loss 0, non-members only "
        "when the tree is right). Say 'member' when the loss is LOW: at or below the threshold."
    )


FIELDS = ["value", "low", "high", "threshold"]


@pytest.fixture(scope="module")
def null_trials(learner):
    """100 attacks on a model that never saw the 'members': the true advantage is exactly 0.

    A logistic regression trained on other rows; each trial's 'members' and non-members are
    fresh rows of one kind. Computed once for the two tests that read it.
    """
    from sklearn.linear_model import LogisticRegression

    trials, half = 100, 500
    x, y = _population(SEED + 1, 2000 + trials * 2 * half)
    model = LogisticRegression().fit(x[:2000], y[:2000])
    rows = np.arange(len(x) - 2000)
    losses = -np.log(np.clip(model.predict_proba(x[2000:])[rows, y[2000:]], FLOOR, 1.0))
    chunks = [losses[t * 2 * half : (t + 1) * 2 * half] for t in range(trials)]
    return _run_trials(learner, [[_floats(c[:half]), _floats(c[half:])] for c in chunks])


def _run_trials(learner, arguments):
    audit = learner.module("privacy_lab.audit", timeout=60)
    rng = learner.module("numpy.random").default_rng(SEED)
    bridge = learner.module("privacy_bridge")
    return bridge.trials(audit.membership_advantage, arguments, FIELDS, rng=rng)


def test_threshold_is_not_tuned_on_the_losses_it_scores(null_trials):
    mean = sum(value for value, *_ in null_trials) / len(null_trials)
    # 100 trials of 250 + 250 scored losses: the mean of an honest attack is 0 +- 0.004.
    assert mean <= 0.02, (
        f"Against a model that never saw the 'members' (the true advantage is exactly 0), "
        f"your attack's advantage averaged {mean:.3f} over {len(null_trials)} trials. The best "
        "of hundreds of thresholds, scored on the same losses it was picked on, always finds a "
        "gap in pure noise (about 0.04 here). Pick the threshold on one half of each group, "
        "and score it on the other half."
    )


def test_interval_covers_no_leak_when_there_is_none(null_trials):
    covered = sum(low <= 0.0 <= high for _, low, high, _ in null_trials) / len(null_trials)
    assert covered >= 0.85, (
        f"Against a model that cannot leak, your 95% interval contained 0 in only "
        f"{covered:.0%} of {len(null_trials)} trials. It should about 95% of the time."
    )


@pytest.fixture(scope="module")
def exponential_trials(learner):
    """200 attacks on losses of a known law: members ~ Exp(rate 2), non-members ~ Exp(rate 1).

    The true advantage of a threshold t is then e^-t - e^-2t, and the width a 95% Wald
    interval must have at t is known too.
    """
    trials, half = 200, 500
    draws = np.random.default_rng(SEED + 3)
    arguments = [
        [_floats(draws.exponential(0.5, half)), _floats(draws.exponential(1.0, half))]
        for _ in range(trials)
    ]
    out = []
    for _value, low, high, t in _run_trials(learner, arguments):
        tpr, fpr = 1 - math.exp(-2 * t), 1 - math.exp(-t)
        scored = half - half // 2
        width = 2 * Z_95 * math.sqrt(tpr * (1 - tpr) / scored + fpr * (1 - fpr) / scored)
        out.append((low, high, tpr - fpr, width))
    return out


def test_interval_covers_the_true_advantage_of_the_chosen_threshold(exponential_trials):
    results = exponential_trials
    covered = sum(low <= true <= high for low, high, true, _ in results) / len(results)
    assert covered >= 0.84, (
        f"Member losses ~ Exp(2) and non-member losses ~ Exp(1): the true advantage of a "
        f"threshold t is e^-t - e^-2t. Your 95% interval contained the true advantage of the "
        f"threshold you chose in only {covered:.0%} of {len(results)} trials (about 95% "
        "expected). Centre it on TPR - FPR measured on the scoring halves."
    )


def test_interval_is_not_narrower_than_the_sampling_error(exponential_trials):
    results = exponential_trials
    ratio = sum(high - low for low, high, _, _ in results) / sum(w for *_, w in results)
    # The reference's ratio is 0.997; a 90% interval (z = 1.645) is 0.84, a 99% one 1.31.
    assert 0.9 <= ratio <= 1.12, (
        f"Your 95% intervals were {ratio:.2f} times as wide as the sampling error allows: "
        "1.96 * sqrt(TPR(1-TPR)/m + FPR(1-FPR)/n), with m and n the members and non-members "
        "you SCORED (half of each). "
        + (
            "Too narrow: each proportion has its own count, not the pooled total, and a "
            "two-sided 95% interval is +- 1.96 standard errors (1.645 is the one-sided "
            "quantile, a 90% interval)."
            if ratio < 0.9
            else "Too wide: an interval that says nothing cannot be wrong either."
        )
    )


def _exponential_losses(seed, half=500):
    draws = np.random.default_rng(seed)
    return draws.exponential(0.5, half), draws.exponential(1.0, half)


def test_the_split_is_the_seeded_shuffle(audit, rng_factory):
    members, nonmembers = (_floats(v) for v in _exponential_losses(SEED + 4, 60))

    def run(seed):
        result = audit.membership_advantage(members, nonmembers, rng_factory(seed))
        return result.value, result.threshold

    first, again = run(SEED), run(SEED)
    assert first == again, (
        f"Two audits with generators seeded alike gave {first} and {again} (advantage, "
        "threshold): shuffle with the rng you are given (rng.permutation), not numpy's "
        "global state or a generator of your own, so an audit can be replayed from its seed."
    )
    others = {run(SEED + k) for k in range(1, 9)}
    assert others != {first}, (
        f"Nine differently seeded generators all gave {first} (advantage, threshold): the "
        "split never used the rng. Shuffle each group with rng.permutation before taking the "
        "first len // 2 to choose with; a split by position (first half, or every other loss) "
        "inherits whatever order the losses came in."
    )


@pytest.fixture(scope="module")
def sorted_trials(learner):
    """100 attacks on Exp(2) member and Exp(1) non-member losses passed in ascending order,
    as a table of losses often is: (low, high, the chosen threshold's true advantage)."""
    arguments = []
    for t in range(100):
        members, nonmembers = _exponential_losses(SEED + 100 + t)
        arguments.append([_floats(np.sort(members)), _floats(np.sort(nonmembers))])
    return [
        (low, high, math.exp(-t) - math.exp(-2 * t))
        for _v, low, high, t in _run_trials(learner, arguments)
    ]


def test_losses_that_arrive_sorted_are_shuffled_before_the_split(sorted_trials):
    covered = sum(low <= true <= high for low, high, true in sorted_trials) / len(sorted_trials)
    assert covered >= 0.84, (
        f"With the losses passed in ascending order, your 95% interval contained the true "
        f"advantage of the threshold you chose in only {covered:.0%} of {len(sorted_trials)} "
        "trials (about 95% expected, as for shuffled input). Splitting in the order the "
        "losses came picks the threshold on the lowest losses and scores it on the highest: "
        "shuffle each group with rng.permutation first."
    )


def test_member_means_a_loss_at_or_below_the_threshold(audit, rng_factory):
    # Half the members share one loss, half a lower one; every non-member's is far above.
    members = [0.01] * 5 + [0.37] * 5
    nonmembers = [1.0 + 0.5 * k for k in range(10)]
    got = audit.membership_advantage(members, nonmembers, rng_factory(SEED))
    fields = {name: getattr(got, name) for name in ("value", "threshold", "tpr", "fpr")}
    assert fields == {"value": 1.0, "threshold": 0.37, "tpr": 1.0, "fpr": 0.0}, (
        f"membership_advantage({members}, {nonmembers}) returned {fields}; expected threshold "
        "0.37 (the members' own loss, one of the choosing halves' losses), tpr 1, fpr 0 and "
        "value = tpr - fpr = 1. 'Member' means loss <= threshold: with a strict <, a "
        "threshold equal to the members' loss flags none of them. Choose among the losses "
        "themselves, not a grid of thresholds between them."
    )


def test_threshold_maximises_tpr_minus_fpr_not_accuracy(learner):
    # 200 members ~ Exp(2) and 2,000 non-members ~ Exp(1): e^-t - e^-2t peaks at t = ln 2.
    # Accuracy, with ten non-members to each member, is best when nobody is called a member.
    arguments = []
    for t in range(30):
        draws = np.random.default_rng(SEED + 300 + t)
        arguments.append(
            [_floats(draws.exponential(0.5, 200)), _floats(draws.exponential(1.0, 2000))]
        )
    mean = float(np.mean([t for *_, t in _run_trials(learner, arguments)]))
    # The reference's mean is 0.61 (the empirical argmax sits a little below ln 2), with a
    # standard error of about 0.035 over 30 trials.
    assert 0.4 <= mean <= 0.9, (
        f"With 200 members (losses ~ Exp(2)) and 2,000 non-members (~ Exp(1)) your threshold "
        f"averaged {mean:.3f} over 30 trials; TPR - FPR = e^-t - e^-2t is largest at t = "
        "ln 2 = 0.69. Choose the threshold that maximises TPR - FPR on the choosing halves: "
        "accuracy counts records, so when non-members outnumber members it prefers calling "
        "nobody a member, and the advantage measures nothing."
    )


def test_reported_rates_are_the_scoring_halves(learner):
    # Odd group sizes: the scoring halves (the rest after len // 2) hold 251 and 301
    # losses, the choosing halves 250 and 300, so a rate says which half it was counted on.
    arguments = []
    for t in range(5):
        draws = np.random.default_rng(SEED + 400 + t)
        arguments.append(
            [_floats(draws.exponential(0.5, 501)), _floats(draws.exponential(1.0, 601))]
        )
    audit = learner.module("privacy_lab.audit", timeout=60)
    bridge = learner.module("privacy_bridge")
    rng = learner.module("numpy.random").default_rng(SEED)
    fields = ["value", "tpr", "fpr"]
    for value, tpr, fpr in bridge.trials(audit.membership_advantage, arguments, fields, rng=rng):
        counts = (tpr * 251, fpr * 301)
        assert all(abs(c - round(c)) < 1e-6 for c in counts) and abs(value - (tpr - fpr)) < 1e-9, (
            f"membership_advantage returned value={value}, tpr={tpr}, fpr={fpr} for 501 "
            "members and 601 non-members: tpr and fpr must be the rates measured on the "
            "scoring halves (251 and 301 losses, the rest after the first len // 2), and "
            "value = tpr - fpr."
        )


def test_interval_is_clipped_to_minus_one_and_one(learner):
    # 19 members at loss 0 and one at 5: the threshold is 0, TPR on the scoring half is
    # 0.9 or 1, and 0.9 + 1.96 * sqrt(0.09 / 10) is above 1.
    arguments = [[[0.0] * 19 + [5.0], [3.0] * 20] for _ in range(20)]
    audit = learner.module("privacy_lab.audit", timeout=60)
    bridge = learner.module("privacy_bridge")
    rng = learner.module("numpy.random").default_rng(SEED)
    got = bridge.trials(audit.membership_advantage, arguments, ["low", "high"], rng=rng)
    outside = [(low, high) for low, high in got if not -1.0 <= low <= high <= 1.0]
    assert not outside, (
        f"membership_advantage returned intervals {outside[:3]} for an advantage near 1: an "
        "advantage TPR - FPR lies in [-1, 1], so clip the interval's ends to it."
    )


def test_clip_rows_leaves_short_rows_alone(audit):
    got = audit.clip_rows([[3.0, 4.0], [0.3, 0.4], [0.0, 0.0]])
    want = [[0.6, 0.8], [0.3, 0.4], [0.0, 0.0]]
    assert np.allclose(np.asarray(got, dtype=float), want, atol=1e-12), (
        f"clip_rows([[3, 4], [0.3, 0.4], [0, 0]]) returned {got}; expected {want}: a row "
        "longer than 1 is scaled down to norm 1, a row inside the ball (a zero row too) is "
        "left as it is. Divide by max(norm, 1), not by the norm."
    )


@pytest.mark.parametrize("l2", [0.0, -0.05])
def test_train_logistic_refuses_a_non_positive_l2(audit, learner, l2):
    x, y = _population(SEED + 13, 50, spread=0.3, base_rate=0.0)
    with learner.raises("ValueError"):
        audit.train_logistic(x.tolist(), y.tolist(), l2=l2)


@pytest.mark.parametrize("sensitivity", [0.0, -1.0])
def test_gaussian_mechanism_refuses_a_non_positive_sensitivity(audit, learner, sensitivity):
    with learner.raises("ValueError"):
        audit.gaussian_sigma(sensitivity, 0.5, 1e-5)


# --------------------------------------------------------------------------- training


MISTAKES = {
    "clip": (
        {"clip": False},
        "Rows longer than 1 must be scaled down to norm 1 first: the sensitivity 2/(n*l2) "
        "assumes every row has norm at most 1, and a long row is one person with more say.",
    ),
    "per_row": (
        {"per_row": False},
        "scikit-learn minimises C * sum(loss) + ||w||^2/2, a SUM of losses: the lesson's mean "
        "loss + (l2/2)||w||^2 is C = 1/(n*l2), not 1/l2.",
    ),
    "intercept": (
        {"intercept": True},
        "LogisticRegression fits an intercept by default and leaves it out of the penalty, "
        "so the sensitivity bound does not hold. Pass fit_intercept=False (add a constant "
        "column if you want one: it is then clipped and penalised like any weight).",
    ),
}


def _weights_match(audit, x, y, l2, mistake):
    """train_logistic against the exact minimiser; the message names the mistake it matches."""
    got = audit.train_logistic(x.tolist(), y.tolist(), l2=l2)
    assert type(got) is list and len(got) == D, f"train_logistic returned {got!r}"
    gap = float(np.max(np.abs(np.asarray(got) - _fit(x, y, l2))))
    if gap <= 0.005:
        return
    # This data set is built so that `mistake` moves the weights; say which one you made.
    seen = [
        why
        for flags, why in MISTAKES.values()
        if float(np.max(np.abs(np.asarray(got) - _fit(x, y, l2, **flags)))) <= 0.005
    ]
    raise AssertionError(
        f"train_logistic(l2={l2}) weights differ from the minimiser of mean log-loss + "
        f"(l2/2)||w||^2 over rows clipped to norm 1, with no intercept, by up to {gap:.4f}. "
        + (
            ("Your weights are exactly those of this mistake: " + seen[0])
            if seen
            else MISTAKES[mistake][1]
        )
    )


def test_rows_are_clipped_to_norm_one_before_training(audit):
    x, y = _population(SEED + 6, 1000, spread=1.0, base_rate=0.0)
    _weights_match(audit, x, y, 0.05, "clip")


def test_l2_is_scaled_by_the_number_of_rows(audit):
    x, y = _population(SEED + 7, 1000, spread=0.3, base_rate=0.0)
    _weights_match(audit, x, y, 0.05, "per_row")


def test_there_is_no_unpenalised_intercept(audit):
    x, y = _population(SEED + 8, 1000, spread=0.3, base_rate=1.5)
    _weights_match(audit, x, y, 0.05, "intercept")


# --------------------------------------------------------------------------- DP training


@pytest.mark.parametrize(
    ("sensitivity", "epsilon", "delta"), [(1.0, 1.0, 1e-5), (0.04, 0.5, 1e-6), (2.0, 0.1, 1e-3)]
)
def test_gaussian_sigma_is_not_the_laplace_scale(audit, sensitivity, epsilon, delta):
    got = audit.gaussian_sigma(sensitivity, epsilon, delta)
    want = _sigma(sensitivity, epsilon, delta)
    assert type(got) is float and abs(got - want) <= 1e-9 * want, (
        f"gaussian_sigma({sensitivity}, {epsilon}, {delta}) returned {got!r}; the classic "
        f"Gaussian mechanism needs sigma = sensitivity * sqrt(2 ln(1.25/delta)) / epsilon = "
        f"{want:.6g}. "
        + (
            "That is the Laplace scale sensitivity/epsilon: Gaussian noise needs the "
            "sqrt(2 ln(1.25/delta)) factor to be (epsilon, delta)-private."
            if isinstance(got, float) and abs(got - sensitivity / epsilon) <= 1e-9 * want
            else ""
        )
    )


@pytest.mark.parametrize(("epsilon", "delta"), [(2.0, 1e-5), (0.0, 1e-5), (0.5, 0.0), (0.5, 1.0)])
def test_gaussian_mechanism_refuses_what_it_cannot_prove(audit, learner, epsilon, delta):
    with learner.raises("ValueError"):
        audit.gaussian_sigma(1.0, epsilon, delta)


DP_RUNS = 60


@pytest.fixture(scope="module")
def dp_runs(learner):
    """60 runs of train_dp_logistic(n=1000, l2=0.05, epsilon=1, delta=1e-5) from one
    generator, as a (60, D) array; with the data, the l2 and the sigma they must show."""
    x, y = _population(SEED + 9, 1000, spread=0.5, base_rate=0.0)
    l2, epsilon, delta = 0.05, 1.0, 1e-5
    bridge = learner.module("privacy_bridge")
    runs_w = bridge.repeat(
        DP_RUNS,
        learner.module("privacy_lab.audit", timeout=60).train_dp_logistic,
        x.tolist(),
        y.tolist(),
        l2=l2,
        epsilon=epsilon,
        delta=delta,
        rng=learner.module("numpy.random").default_rng(SEED),
    )
    weights = np.asarray(runs_w, dtype=float)
    assert weights.shape == (DP_RUNS, D), f"train_dp_logistic returned {runs_w[0]!r}"
    return weights, (x, y, l2), _sigma(2.0 / (len(x) * l2), epsilon, delta)


def test_dp_noise_is_scaled_to_two_over_n_l2(dp_runs):
    weights, (x, y, l2), sigma = dp_runs
    runs = len(weights)
    spread = float(np.std(weights - weights.mean(axis=0), ddof=1) * math.sqrt(runs / (runs - 1)))
    # 60 runs x 8 weights: the sample sd is within 4 standard errors (13%) of sigma.
    assert 0.87 <= spread / sigma <= 1.13, (
        f"Over {runs} runs of train_dp_logistic(n=1000, l2={l2}, epsilon=1.0, "
        f"delta=1e-05) the weights' noise had sd {spread:.4f}; Gaussian noise of sigma = "
        f"gaussian_sigma(2/(n*l2), epsilon, delta) = {sigma:.4f} was expected. Replacing one "
        "row moves the minimiser by at most 2/(n*l2) (the loss is 1-Lipschitz on rows of norm "
        "1, and the penalty makes it l2-strongly convex)."
    )
    centre = _fit(x, y, l2)
    drift = float(np.max(np.abs(weights.mean(axis=0) - centre)))
    assert drift <= 5 * sigma / math.sqrt(runs) + 0.005, (
        f"The DP weights average {drift:.4f} away from train_logistic's: the noise must be "
        "added to the non-private minimiser, centred on zero."
    )


def test_each_weight_gets_its_own_noise_draw(dp_runs):
    weights, _, sigma = dp_runs
    noise = weights - weights.mean(axis=0)
    # Within one run, independent draws differ from weight to weight by about sigma; one
    # draw shared by every weight moves them all together, and they differ by nothing.
    within = float(np.mean(np.std(noise, axis=1, ddof=1)))
    assert within >= 0.5 * sigma, (
        f"Within one run of train_dp_logistic the {D} weights' noise differed by {within:.4f} "
        f"on average, where independent draws of sigma {sigma:.4f} differ by about sigma: "
        "every weight moved by the same amount. One draw added to every weight (or a draw of "
        "size 1 that numpy broadcasts) leaves the differences between weights, and so what "
        "the model ranks, exactly as the private data made them. Draw one value per weight: "
        "rng.normal(0.0, sigma, size=len(weights))."
    )


def test_dp_noise_comes_from_the_given_generator(audit, rng_factory):
    x, y = _population(SEED + 10, 300, spread=0.5, base_rate=0.0)
    kwargs = {"l2": 0.05, "epsilon": 1.0, "delta": 1e-5}
    rng = rng_factory(SEED)
    first = audit.train_dp_logistic(x.tolist(), y.tolist(), rng=rng, **kwargs)
    second = audit.train_dp_logistic(x.tolist(), y.tolist(), rng=rng, **kwargs)
    again = audit.train_dp_logistic(x.tolist(), y.tolist(), rng=rng_factory(SEED), **kwargs)
    assert first != second, (
        "Two calls with one generator gave the same weights: the noise must be fresh each "
        "time, or two releases can be compared to cancel it."
    )
    assert again == first, (
        "A generator seeded the same way gave different weights: draw the noise from the rng "
        "you are given (rng.normal(0, sigma, size=d)), so an audit can be replayed."
    )


# --------------------------------------------------------------------------- canaries


@pytest.mark.parametrize(
    ("canary", "candidates", "want", "mistake"),
    [
        (0.1, [0.5, 0.7, 0.9], 2.0, "the canary has the lowest loss: rank 1 of |R| = 4"),
        (0.6, [0.5, 0.7, 0.9], 1.0, "one candidate beats it: rank 2, log2(4) - log2(2)"),
        (1.0, [0.5, 0.7, 0.9], 0.0, "every candidate beats it: rank 4, no exposure"),
        (0.25, [0.5] * 7, 3.0, "rank 1 of 8: exposure is in bits (log2), not nats"),
    ],
)
def test_exposure_is_log2_of_the_rank_from_the_lowest_loss(
    audit, canary, candidates, want, mistake
):
    got = audit.exposure(canary, candidates)
    assert type(got) is float and abs(got - want) <= 1e-9, (
        f"exposure({canary}, {candidates}) returned {got!r}, expected {want}: {mistake}. "
        "exposure = log2(len(candidates) + 1) - log2(rank), rank 1 for the lowest loss."
    )


def test_a_tie_is_no_evidence_of_memorisation(audit):
    got = audit.exposure(0.5, [0.5, 0.5, 0.9])
    want = 2.0 - math.log2(3)
    assert type(got) is float and abs(got - want) <= 1e-9, (
        f"exposure(0.5, [0.5, 0.5, 0.9]) returned {got!r}, expected {want:.4f}: rank 3, since "
        "candidates with the same loss rank ahead of the canary. A model that gives every "
        "secret the same loss remembers none of them, and its exposure must be 0, not the maximum."
    )


CANDIDATES = 511
SECRET = 16


def _canary_world(seed: int):
    """Customers plus 16 'free-text' columns that only the canary fills in."""
    x, y = _population(seed, 1000, spread=0.5, base_rate=0.0)
    rng = np.random.default_rng(seed + 1)
    x = np.hstack([x, np.zeros((len(x), SECRET))])

    def secret():
        return rng.choice([-1.0, 1.0], size=SECRET) * 0.8 / math.sqrt(SECRET)

    profile = rng.normal(size=D) * 0.3 / math.sqrt(D)
    canary = np.concatenate([profile, secret()])
    # The same customer with another secret: only the secret tells them apart.
    candidates: list[np.ndarray] = []
    while len(candidates) < CANDIDATES:
        other = np.concatenate([profile, secret()])
        if not np.array_equal(other, canary):
            candidates.append(other)
    return x.tolist(), y.tolist(), canary.tolist(), [c.tolist() for c in candidates]


def test_canary_is_exposed_when_it_was_trained_on(audit):
    x, y, canary, candidates = _canary_world(SEED + 11)
    got = audit.canary_exposure(x, y, canary, 1, candidates, l2=0.05)
    top = math.log2(CANDIDATES + 1)
    assert type(got) is float and got >= 0.9 * top, (
        f"canary_exposure without DP returned {got!r} bits; the model was trained on the "
        f"canary, whose secret no other row has, so it ranks first of {CANDIDATES + 1} "
        f"(exposure {top:.2f}). Append the canary to the training rows before training, "
        "and score every candidate with the canary's label."
    )


def test_dp_training_hides_the_canary(audit, bridge, rng_factory):
    x, y, canary, candidates = _canary_world(SEED + 12)
    seeds = 12
    got = bridge.repeat(
        seeds,
        audit.canary_exposure,
        x,
        y,
        canary,
        1,
        candidates,
        l2=0.05,
        epsilon=0.5,
        delta=1e-5,
        rng=rng_factory(SEED),
    )
    mean = sum(got) / seeds
    # With the canary's rank uniform, exposure averages about 1.4 bits (1/ln 2).
    assert mean <= 4.0, (
        f"canary_exposure with epsilon=0.5 averaged {mean:.2f} bits over {seeds} runs "
        f"(each: {[round(g, 1) for g in got]}); about 1.4 was expected. At this epsilon the "
        "noise on the secret's weights is far larger than the canary's pull on them, so it "
        "must rank like any candidate. Train with train_dp_logistic when epsilon is given."
    )
