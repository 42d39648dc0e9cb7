import numpy as np
import pytest
from scipy.stats import chisquare

from agents.replay import ReplayBuffer


def fill(buffer: ReplayBuffer, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        buffer.add([i, -i], i % 3, float(i), [i + 1, -i - 1], i % 5 == 4, i % 7 == 6)


def test_add_stores_every_field_in_order():
    buffer = ReplayBuffer(10, (2,))
    fill(buffer, 4)
    assert len(buffer) == 4 and buffer.position == 4
    np.testing.assert_array_equal(buffer.obs[:4], [[0, 0], [1, -1], [2, -2], [3, -3]])
    np.testing.assert_array_equal(buffer.next_obs[:4, 0], [1, 2, 3, 4])
    np.testing.assert_array_equal(buffer.action[:4], [0, 1, 2, 0])
    np.testing.assert_array_equal(buffer.reward[:4], [0, 1, 2, 3])


def test_wrap_around_overwrites_the_oldest():
    buffer = ReplayBuffer(5, (2,))
    fill(buffer, 7)  # transitions 0..6; 0 and 1 are overwritten by 5 and 6
    assert len(buffer) == 5 and buffer.position == 2
    np.testing.assert_array_equal(buffer.reward, [5, 6, 2, 3, 4])
    np.testing.assert_array_equal(buffer.obs[:, 0], [5, 6, 2, 3, 4])


def test_terminated_and_truncated_are_stored_apart():
    buffer = ReplayBuffer(20, (2,))
    fill(buffer, 14)
    index = np.arange(14)
    np.testing.assert_array_equal(buffer.terminated[:14], index % 5 == 4)
    np.testing.assert_array_equal(buffer.truncated[:14], index % 7 == 6)
    assert not (buffer.terminated[:14] & buffer.truncated[:14]).any()  # no step here is both


def test_sampling_is_uniform_over_stored_transitions_and_seeded():
    buffer = ReplayBuffer(100, (2,))
    fill(buffer, 30)
    batch = buffer.sample(30_000, np.random.default_rng(0))
    counts = np.bincount(batch.reward.astype(int), minlength=30)
    assert len(counts) == 30  # only the 30 stored transitions, never an empty slot
    assert chisquare(counts).pvalue > 1e-3
    # rows stay consistent across fields
    np.testing.assert_array_equal(batch.obs[:, 0], batch.reward)
    np.testing.assert_array_equal(batch.next_obs[:, 0], batch.reward + 1)
    np.testing.assert_array_equal(batch.terminated, batch.reward % 5 == 4)
    again = buffer.sample(50, np.random.default_rng(0))
    np.testing.assert_array_equal(again.reward, buffer.sample(50, np.random.default_rng(0)).reward)


def test_sampling_after_wrap_never_returns_overwritten_transitions():
    buffer = ReplayBuffer(5, (2,))
    fill(buffer, 12)
    batch = buffer.sample(1000, np.random.default_rng(1))
    assert set(batch.reward.astype(int)) == {7, 8, 9, 10, 11}


def test_errors():
    with pytest.raises(ValueError, match="buffer capacity must be >= 1, got 0"):
        ReplayBuffer(0, (1,))
    with pytest.raises(ValueError, match="cannot sample from an empty replay buffer"):
        ReplayBuffer(3, (1,)).sample(1, np.random.default_rng(0))


def test_image_observations_keep_their_dtype():
    buffer = ReplayBuffer(4, (40, 40, 3), np.uint8)
    buffer.add(
        np.full((40, 40, 3), 200, np.uint8), 1, 0.5, np.zeros((40, 40, 3), np.uint8), False, True
    )
    assert buffer.obs.dtype == np.uint8 and buffer.obs[0, 0, 0, 0] == 200
    assert buffer.obs.nbytes == 4 * 40 * 40 * 3


def _filled(capacity=5, n=7):
    buffer = ReplayBuffer(capacity, (3, 2, 2), obs_dtype=np.uint8)
    for i in range(n):
        obs = np.full((3, 2, 2), i, dtype=np.uint8)
        buffer.add(obs, i % 2, float(i), obs + 1, i == 3, i == 4)
    return buffer


def test_state_round_trips_a_wrapped_buffer_in_its_own_dtypes():
    buffer = _filled()
    state = buffer.state()
    assert state["obs"].dtype == np.uint8 and state["obs"].shape == (5, 3, 2, 2)
    assert state["position"] == 2
    again = ReplayBuffer(5, (3, 2, 2), obs_dtype=np.uint8)
    again.load_state(state)
    assert (len(again), again.position) == (5, 2)
    one, two = (
        buffer.sample(50, np.random.default_rng(1)),
        again.sample(50, np.random.default_rng(1)),
    )
    for name in ReplayBuffer.FIELDS:
        np.testing.assert_array_equal(getattr(one, name), getattr(two, name))


def test_a_partly_filled_buffer_saves_only_its_transitions():
    state = _filled(capacity=10, n=4).state()
    assert len(state["reward"]) == 4 and state["position"] == 4
    np.testing.assert_array_equal(state["reward"], [0, 1, 2, 3])


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ReplayBuffer(3, (3, 2, 2), obs_dtype=np.uint8), "5 saved transitions do not fit"),
        (lambda: ReplayBuffer(5, (3, 2, 2)), r"saved obs uint8\[5, 3, 2, 2\] does not fit"),
        (lambda: ReplayBuffer(5, (4,), obs_dtype=np.uint8), "saved obs uint8"),
    ],
)
def test_a_state_that_does_not_fit_is_refused(make, message):
    with pytest.raises(ValueError, match=message):
        make().load_state(_filled().state())


def test_bytes_needed_is_what_a_full_buffer_holds():
    buffer = ReplayBuffer(1000, (4, 84, 84), obs_dtype=np.uint8)
    assert ReplayBuffer.bytes_needed(1000, (4, 84, 84), obs_dtype=np.uint8) == buffer.nbytes
    assert buffer.nbytes == 1000 * (2 * 4 * 84 * 84 + 8 + 4 + 2)


def test_sample_spans_draws_the_batches_a_span_at_a_time_as_the_caller_allows(monkeypatch):
    import agents.replay

    buffer = ReplayBuffer(50, (2,))
    fill(buffer, 30)
    fixed, asked = iter([3, 5, 1, 9]), []

    def fixed_for():
        asked.append(True)
        return next(fixed)

    spans = buffer.sample_spans(4, 10, np.random.default_rng(0), fixed_for)
    first = next(spans)
    assert len(asked) == 1  # the next span is drawn only when asked for
    rest = list(spans)
    assert [s.batches for s in [first, *rest]] == [3, 5, 1, 1]  # the last: what is left
    assert [len(s.action) for s in [first, *rest]] == [12, 20, 4, 4]
    assert first.batch_rows() == [slice(0, 4), slice(4, 8), slice(8, 12)]
    np.testing.assert_array_equal(first.obs[:, 0], first.reward)  # rows stay whole transitions
    many = buffer.sample_spans(4, 300, np.random.default_rng(0), lambda: 10**6)
    assert [s.batches for s in many] == [128, 128, 44]  # at most MAX_SPAN batches at once
    monkeypatch.setattr(agents.replay, "MAX_SPAN_ELEMENTS", 4 * 2 * 3)  # 3 batches of (2,)
    few = buffer.sample_spans(4, 7, np.random.default_rng(0), lambda: 10**6)
    assert [s.batches for s in few] == [3, 3, 1]
