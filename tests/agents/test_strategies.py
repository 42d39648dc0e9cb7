"""Exploration strategies (agents.strategies): distributions, schedules, UCB, softmax."""

import math
import re

import numpy as np
import pytest
from scipy.special import softmax
from scipy.stats import chisquare

from agents.strategies import (
    SCHEDULES,
    UCB,
    DecayingEpsilon,
    EpsilonGreedy,
    Greedy,
    Random,
    Softmax,
    argmax_random_tie,
    sample,
)

P_MIN = 1e-3  # smallest acceptable p-value of a goodness-of-fit test


def assert_draws_follow(actions, probs):
    """The actions (any shape) are draws from the distribution ``probs`` (A,): chi-square test."""
    probs = np.asarray(probs, dtype=float)
    counts = np.bincount(np.ravel(actions), minlength=probs.size)
    assert counts.size == probs.size, "an action outside 0..A-1 was drawn"
    support = probs > 0
    assert counts[~support].sum() == 0, f"drew actions of probability 0: {counts}"
    if support.sum() > 1:
        expected = probs[support] / probs[support].sum() * counts.sum()
        assert chisquare(counts[support], expected).pvalue > P_MIN, (counts, probs)


# -- argmax_random_tie ----------------------------------------------------------------------------


def test_argmax_random_tie_always_picks_a_maximizer():
    rng = np.random.default_rng(0)
    q = rng.integers(0, 3, size=(2000, 5)).astype(float)  # many ties
    actions = argmax_random_tie(q, rng)
    assert actions.shape == (2000,)
    np.testing.assert_array_equal(q[np.arange(2000), actions], q.max(axis=1))


def test_argmax_random_tie_is_uniform_among_ties():
    rng = np.random.default_rng(1)
    q = np.tile([2.0, 5.0, 1.0, 5.0, 5.0], (30000, 1))
    actions = argmax_random_tie(q, rng)
    assert_draws_follow(actions, [0, 1 / 3, 0, 1 / 3, 1 / 3])


def test_argmax_random_tie_without_ties_is_plain_argmax():
    rng = np.random.default_rng(2)
    q = rng.standard_normal((500, 7))
    np.testing.assert_array_equal(argmax_random_tie(q, rng), q.argmax(axis=1))


def test_argmax_random_tie_handles_mixed_rows_and_infinities():
    rng = np.random.default_rng(3)
    q = np.tile([[0.0, 1.0, 2.0], [np.inf, 0.0, np.inf], [-np.inf, -np.inf, -1.0]], (3000, 1, 1))
    actions = argmax_random_tie(q, rng)
    assert actions.shape == (3000, 3)
    np.testing.assert_array_equal(actions[:, 0], 2)
    np.testing.assert_array_equal(actions[:, 2], 2)
    assert_draws_follow(actions[:, 1], [0.5, 0, 0.5])


def test_argmax_random_tie_on_n_m_a_batches():
    rng = np.random.default_rng(4)
    q = rng.integers(0, 2, size=(400, 6, 4)).astype(float)
    before = q.copy()
    actions = argmax_random_tie(q, rng)
    assert actions.shape == (400, 6)
    chosen = np.take_along_axis(q, actions[..., None], axis=-1)[..., 0]
    np.testing.assert_array_equal(chosen, q.max(axis=-1))
    np.testing.assert_array_equal(q, before)  # the input is not modified
    # all-tied cells draw uniformly over the 4 actions
    all_tied = (q == q.max(axis=-1, keepdims=True)).all(axis=-1)
    assert all_tied.sum() > 100
    assert_draws_follow(actions[all_tied], [0.25] * 4)


def test_argmax_random_tie_is_deterministic_under_a_seed():
    q = np.zeros((100, 5))
    a = argmax_random_tie(q, np.random.default_rng(7))
    b = argmax_random_tie(q, np.random.default_rng(7))
    c = argmax_random_tie(q, np.random.default_rng(8))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_argmax_random_tie_on_a_single_row():
    rng = np.random.default_rng(0)
    draws = [int(argmax_random_tie(np.array([1.0, 1.0, 0.0, 1.0]), rng)) for _ in range(3000)]
    assert_draws_follow(draws, [1 / 3, 1 / 3, 0, 1 / 3])
    assert int(argmax_random_tie(np.array([0.0, 2.0, 1.0]), rng)) == 1


def test_sample_draws_from_categorical_rows():
    probs = np.array([[0.0, 0.2, 0.0, 0.8], [0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    batch = np.broadcast_to(probs, (8000, 3, 4))
    actions = sample(batch, np.random.default_rng(12))
    assert actions.shape == (8000, 3)
    for row in range(3):
        assert_draws_follow(actions[:, row], probs[row])


# -- probs agree with select, for every strategy ---------------------------------------------------

Q_ROWS = np.array([[1.0, 3.0, 3.0, 0.0], [0.5, -1.0, 2.0, 2.1], [0.0, 0.0, 0.0, 0.0]])
COUNTS = np.array([[1.0, 2.0, 2.0, 4.0], [3.0, 0.0, 1.0, 1.0], [2.0, 2.0, 2.0, 2.0]])
STRATEGIES = {
    "random": Random(),
    "greedy": Greedy(),
    "epsilon-greedy": EpsilonGreedy(epsilon=0.3),
    "epsilon-1": EpsilonGreedy(epsilon=1.0),
    "decaying-linear": DecayingEpsilon(start=1.0, end=0.1, duration=10, schedule="linear"),
    "decaying-exponential": DecayingEpsilon(start=0.9, end=0.1, duration=10),
    "ucb": UCB(c=1.0),
    "softmax": Softmax(temperature=0.5),
}


@pytest.mark.parametrize("strategy", list(STRATEGIES.values()), ids=list(STRATEGIES))
def test_probs_are_distributions_matching_select(strategy):
    t, reps = 5, 6000
    probs = strategy.probs(Q_ROWS, t, COUNTS)
    assert probs.shape == Q_ROWS.shape
    assert (probs >= 0).all()
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, rtol=1e-12)
    # the same 3 rows, repeated: an (n, m, A) batch
    q = np.broadcast_to(Q_ROWS, (reps, *Q_ROWS.shape)).copy()
    counts = np.broadcast_to(COUNTS, q.shape).copy()
    np.testing.assert_allclose(strategy.probs(q, t, counts)[17], probs)
    actions = strategy.select(q, np.random.default_rng(11), t, counts)
    assert actions.shape == (reps, 3)
    for row in range(3):
        assert_draws_follow(actions[:, row], probs[row])


@pytest.mark.parametrize("epsilon", [0.0, 0.1, 0.5, 1.0])
def test_epsilon_greedy_probs_formula(epsilon):
    q = np.array([[1.0, 3.0, 3.0, 0.0], [4.0, 0.0, 0.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
    expected = np.array(
        [
            [
                epsilon / 4,
                (1 - epsilon) / 2 + epsilon / 4,
                (1 - epsilon) / 2 + epsilon / 4,
                epsilon / 4,
            ],
            [1 - epsilon + epsilon / 4, epsilon / 4, epsilon / 4, epsilon / 4],
            [0.25, 0.25, 0.25, 0.25],
        ]
    )
    np.testing.assert_allclose(EpsilonGreedy(epsilon).probs(q), expected, rtol=1e-12)


def test_greedy_and_random_probs():
    q = np.array([[1.0, 3.0, 3.0, 0.0]])
    np.testing.assert_array_equal(Greedy().probs(q), [[0, 0.5, 0.5, 0]])
    np.testing.assert_array_equal(Random().probs(q), [[0.25] * 4])
    assert_draws_follow(Random().select(np.zeros((20000, 5)), np.random.default_rng(0)), [0.2] * 5)


# -- decaying epsilon schedules -------------------------------------------------------------------

SCHEDULE_CASES = [(1.0, 0.01, 1000), (0.5, 0.05, 40), (0.3, 0.1, 7), (1.0, 0.5, 4)]


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize(("start", "end", "duration"), SCHEDULE_CASES)
def test_schedule_endpoints_and_monotonicity(schedule, start, end, duration):
    rule = DecayingEpsilon(start=start, end=end, duration=duration, schedule=schedule)
    assert rule.epsilon_at(0) == start
    for t in (duration, duration + 1, 3 * duration):
        assert rule.epsilon_at(t) == pytest.approx(end, rel=1e-12)
        assert rule.epsilon_at(t) >= end
    eps = np.array([rule.epsilon_at(t) for t in range(2 * duration + 1)])
    assert (np.diff(eps) <= 0).all()
    assert (eps[:duration] > end).all()  # strictly above the floor before the end


def test_linear_schedule_reaches_end_exactly():
    rule = DecayingEpsilon(start=1.0, end=0.01, duration=1000, schedule="linear")
    assert rule.epsilon_at(1000) == 0.01


@pytest.mark.parametrize(("start", "end", "duration"), SCHEDULE_CASES)
def test_linear_midpoint(start, end, duration):
    rule = DecayingEpsilon(start=start, end=end, duration=2 * duration, schedule="linear")
    assert rule.epsilon_at(duration) == pytest.approx((start + end) / 2, rel=1e-12)


def test_linear_midpoint_exact_on_dyadic_numbers():
    rule = DecayingEpsilon(start=1.0, end=0.5, duration=4, schedule="linear")
    assert [rule.epsilon_at(t) for t in range(6)] == [1.0, 0.875, 0.75, 0.625, 0.5, 0.5]


@pytest.mark.parametrize(("start", "end", "duration"), SCHEDULE_CASES)
def test_exponential_midpoint_is_geometric_mean(start, end, duration):
    rule = DecayingEpsilon(start=start, end=end, duration=2 * duration, schedule="exponential")
    assert rule.epsilon_at(duration) == pytest.approx(math.sqrt(start * end), rel=1e-12)
    # and every step multiplies by the same factor (end / start)^(1 / duration)
    ratios = [rule.epsilon_at(t + 1) / rule.epsilon_at(t) for t in range(2 * duration)]
    np.testing.assert_allclose(ratios, (end / start) ** (1 / (2 * duration)), rtol=1e-9)


@pytest.mark.parametrize(("start", "end", "duration"), SCHEDULE_CASES)
def test_inverse_schedule_formula(start, end, duration):
    rule = DecayingEpsilon(start=start, end=end, duration=duration, schedule="inverse")
    for t in range(duration + 1):
        expected = start / (1 + (start / end - 1) * t / duration)
        assert rule.epsilon_at(t) == pytest.approx(expected, rel=1e-12)


def test_equal_start_and_end_is_constant():
    for schedule in SCHEDULES:
        rule = DecayingEpsilon(start=0.2, end=0.2, duration=5, schedule=schedule)
        assert [rule.epsilon_at(t) for t in range(8)] == [0.2] * 8


def test_decaying_epsilon_probs_use_the_scheduled_epsilon():
    rule = DecayingEpsilon(start=1.0, end=0.5, duration=4, schedule="linear")
    q = np.array([[0.0, 1.0]])
    for t, eps in [(0, 1.0), (2, 0.75), (9, 0.5)]:
        np.testing.assert_allclose(rule.probs(q, t), [[eps / 2, 1 - eps / 2]])


# -- UCB -------------------------------------------------------------------------------------------


def test_ucb_chooses_untried_actions_first():
    q = np.tile([10.0, -5.0, 10.0, -5.0], (8000, 1))
    counts = np.tile([3.0, 0.0, 2.0, 0.0], (8000, 1))
    actions = UCB(c=2.0).select(q, np.random.default_rng(0), t=5, counts=counts)
    assert_draws_follow(actions, [0, 0.5, 0, 0.5])
    np.testing.assert_array_equal(UCB(c=2.0).probs(q[:1], 5, counts[:1]), [[0, 0.5, 0, 0.5]])


def test_ucb_hand_computed_case():
    q = np.array([[1.0, 0.5, 0.8]])
    counts = np.array([[10.0, 2.0, 5.0]])
    t = 9  # 9 steps taken: this is step 10 and the bonus uses ln 10
    for c, by_hand in [(2.0, 1), (0.5, 0), (0.0, 0)]:
        # scores for c=2: 1 + 2 sqrt(ln10/10) = 1.960, 0.5 + 2 sqrt(ln10/2) = 2.646,
        # 0.8 + 2 sqrt(ln10/5) = 2.157; for c=0.5: 1.240, 1.036, 1.139
        bound = q + c * np.sqrt(np.log(t + 1) / counts)
        assert int(np.argmax(bound)) == by_hand
        np.testing.assert_allclose(UCB(c).scores(q, t + 1, counts), bound, rtol=1e-12)
        assert UCB(c).select(q, np.random.default_rng(0), t, counts)[0] == by_hand
        assert UCB(c).probs(q, t, counts)[0, by_hand] == 1.0


def test_ucb_at_first_step_is_greedy_once_all_tried():
    q = np.array([[0.1, 0.9, 0.5]])
    counts = np.ones((1, 3))
    assert UCB(c=100.0).select(q, np.random.default_rng(0), t=0, counts=counts)[0] == 1


def test_ucb_needs_counts():
    with pytest.raises(ValueError, match="^UCB needs action counts$"):
        UCB().select(np.zeros((2, 3)), np.random.default_rng(0), t=1, counts=None)
    with pytest.raises(ValueError, match="^UCB needs action counts$"):
        UCB().probs(np.zeros((2, 3)), t=1)


# -- softmax ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("temperature", [0.25, 1.0, 3.0])
def test_softmax_probs_equal_scipy(temperature):
    q = np.random.default_rng(5).normal(size=(6, 5, 4)) * 3
    np.testing.assert_allclose(
        Softmax(temperature).probs(q), softmax(q / temperature, axis=-1), rtol=1e-12
    )


def test_softmax_is_numerically_stable():
    q = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1001.0, -999.0]])
    probs = Softmax().probs(q)
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(probs, softmax(q, axis=-1), rtol=1e-12)


def test_softmax_low_temperature_approaches_greedy():
    q = np.array([[0.0, 1.0, 0.5]])
    assert Softmax(temperature=1e-3).probs(q)[0, 1] == pytest.approx(1.0)


# -- validation ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: EpsilonGreedy(epsilon=1.5), "epsilon must be in [0, 1], got 1.5"),
        (lambda: EpsilonGreedy(epsilon=-0.1), "epsilon must be in [0, 1], got -0.1"),
        (lambda: DecayingEpsilon(start=1.2), "start must be in [0, 1], got 1.2"),
        (lambda: DecayingEpsilon(end=-0.01), "end must be in [0, 1], got -0.01"),
        (lambda: DecayingEpsilon(start=0.1, end=0.5), "end (0.5) must not exceed start (0.1)"),
        (lambda: DecayingEpsilon(duration=0), "duration must be >= 1 step, got 0"),
        (
            lambda: DecayingEpsilon(schedule="cosine"),
            "schedule must be one of exponential, inverse, linear, got 'cosine'",
        ),
        (
            lambda: DecayingEpsilon(end=0.0, schedule="exponential"),
            "the exponential schedule never reaches end=0; use end > 0",
        ),
        (
            lambda: DecayingEpsilon(end=0.0, schedule="inverse"),
            "the inverse schedule never reaches end=0; use end > 0",
        ),
        (lambda: UCB(c=-1.0), "c must be >= 0, got -1.0"),
        (lambda: UCB(c=float("nan")), "c must be >= 0, got nan"),
        (lambda: Softmax(temperature=0.0), "temperature must be > 0, got 0.0"),
        (lambda: Softmax(temperature=-2.0), "temperature must be > 0, got -2.0"),
    ],
)
def test_bad_hyperparameters_raise_value_error_naming_the_field(build, message):
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        build()


def test_linear_schedule_may_end_at_zero():
    rule = DecayingEpsilon(start=1.0, end=0.0, duration=4, schedule="linear")
    assert [rule.epsilon_at(t) for t in (0, 2, 4, 5)] == [1.0, 0.5, 0.0, 0.0]
