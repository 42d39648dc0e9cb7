"""The per-pixel environments' restoration tasks (envs.restore_tasks): masks, actions, rewards."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from scipy import ndimage

import envs  # noqa: F401  (registers the ids)
from envs import restore_tasks as rt

CROP = 36


def flat_images():
    """Two smooth images bigger than the crop."""
    y, x = np.mgrid[0:40, 0:44] / 44.0
    return [(0.2 + 0.6 * x).astype(np.float32), (0.3 + 0.5 * y * x).astype(np.float32)]


def make(task="denoise", **kwargs):
    return gym.make(
        "rlcourse/PixelDenoise-v0", images=flat_images(), crop=CROP, task=task, **kwargs
    )


def test_centre_mask_is_the_courses():
    for size in (8, 36, 64):
        course = np.ones((1, size, size), np.float32)
        scale = 0.25
        low, upper = int(size * scale), int(size * (1 - scale))
        course[:, low:upper, low:upper] = 0
        np.testing.assert_array_equal(rt.centre_mask(size, scale), course[0])
    assert (rt.centre_mask(64) == 0).sum() == 32 * 32  # half the side: a quarter of the pixels


def test_inpaint_env_starts_from_the_masked_crop_and_observes_the_pixel_states():
    env = make("inpaint")
    obs, _ = env.reset(seed=0)
    state = env.unwrapped.state
    mask = rt.centre_mask(CROP)
    np.testing.assert_array_equal(state.current[0], state.clean[0] * mask)
    assert obs.shape == (2, CROP, CROP) and env.observation_space.shape == (2, CROP, CROP)
    np.testing.assert_array_equal(obs[1], np.where(mask > 0, 255, 0))
    np.testing.assert_array_equal(obs[0], np.rint(state.current[0] * 255).astype(np.uint8))


def test_random_masks_are_squares_of_the_centre_size_and_seeded():
    rng = np.random.default_rng(3)
    masks = rt.random_masks(36, 0.25, 5, rng)
    side = int(36 * 0.75) - int(36 * 0.25)
    assert ((masks == 0).sum(axis=(1, 2)) == side * side).all()
    for mask in masks:
        rows, cols = np.nonzero(mask == 0)
        assert rows.max() - rows.min() + 1 == side and cols.max() - cols.min() + 1 == side
    again = rt.random_masks(36, 0.25, 5, np.random.default_rng(3))
    np.testing.assert_array_equal(masks, again)
    env = make("inpaint", mask="random")
    env.reset(seed=1)
    first = env.unwrapped.state.states.copy()
    env.reset(seed=2)
    assert not np.array_equal(first, env.unwrapped.state.states)


def tiny_inpaint():
    """A 5×5 image, a 3×3 hole (zero) in the middle; pixel (1, 1) already filled."""
    image = np.arange(25, dtype=np.float32).reshape(1, 5, 5) / 40.0
    states = np.full((1, 5, 5), rt.GIVEN, np.uint8)
    states[0, 1:4, 1:4] = rt.EMPTY
    image[0, 1:4, 1:4] = 0.0
    image[0, 1, 1] = 0.3
    states[0, 1, 1] = rt.FILLED
    return image, states


def test_inpaint_actions_on_a_tiny_image():
    image, states = tiny_inpaint()
    bank, fills = rt.inpaint_bank(image, states)
    assert bank.shape == (5, 1, 5, 5)
    x = image[0]
    given = states[0] == rt.GIVEN
    for action in range(5):  # no action changes a given pixel
        np.testing.assert_array_equal(bank[action, 0][given], x[given])
    np.testing.assert_array_equal(bank[0], image)  # keep
    # propagate: the mean of the given or filled 4-neighbours
    assert bank[1, 0, 1, 2] == pytest.approx((x[0, 2] + x[1, 1]) / 2)  # up given, left filled
    assert bank[1, 0, 2, 1] == pytest.approx((x[1, 1] + x[2, 0]) / 2)
    assert bank[1, 0, 2, 2] == 0.0  # no known neighbour: kept
    assert bank[1, 0, 1, 1] == pytest.approx((x[0, 1] + x[1, 0]) / 2)  # a filled pixel too
    reached = ~given
    reached[2, 2] = False  # every hole pixel but the centre has a given or filled neighbour
    np.testing.assert_array_equal(fills[1, 0], reached)
    # diffuse: the mean of all 4 neighbours; median of the 3×3 neighbourhood
    assert bank[3, 0, 2, 2] == pytest.approx((x[1, 2] + x[3, 2] + x[2, 1] + x[2, 3]) / 4)
    assert bank[3, 0, 1, 1] == pytest.approx((x[0, 1] + x[2, 1] + x[1, 0] + x[1, 2]) / 4)
    assert bank[4, 0, 1, 2] == pytest.approx(np.median(x[0:3, 1:4]))
    assert not fills[[0, 3, 4]].any()


def test_fill_wide_is_the_gaussian_weighted_mean_of_the_known_pixels():
    rng = np.random.default_rng(0)
    image = rng.random((1, 40, 40)).astype(np.float32)
    states = np.full((1, 40, 40), rt.GIVEN, np.uint8)
    states[0, 12:28, 12:28] = rt.EMPTY
    image[0, 12:28, 12:28] = 0
    bank, fills = rt.inpaint_bank(image, states)
    radius = int(3 * rt.FILL_SIGMA)
    offsets = np.arange(-radius, radius + 1)
    kernel = np.exp(-0.5 * (offsets[:, None] ** 2 + offsets[None] ** 2) / rt.FILL_SIGMA**2)
    known = (states[0] != rt.EMPTY).astype(np.float64)
    top = ndimage.correlate(image[0] * known, kernel, mode="mirror")
    bottom = ndimage.correlate(known, kernel, mode="mirror")
    hole = states[0] == rt.EMPTY
    np.testing.assert_allclose(bank[2, 0][hole], (top / bottom)[hole], atol=1e-5)
    np.testing.assert_array_equal(fills[2, 0], hole)


def test_propagation_fills_the_hole_from_its_border_one_ring_per_step():
    env = make("inpaint")  # a hole of 27 - 9 = 18 pixels
    env.reset(seed=0)
    state = env.unwrapped.state
    empty = [(state.states[0] == rt.EMPTY).sum()]
    for _ in range(3):
        env.step(np.ones((CROP, CROP), np.int64))
        empty.append((state.states[0] == rt.EMPTY).sum())
    assert empty == [18 * 18, 16 * 16, 14 * 14, 12 * 12]


def test_upres_env_starts_from_the_nearest_up_sized_block_means():
    env = make("upres")
    obs, _ = env.reset(seed=0)
    state = env.unwrapped.state
    clean = state.clean[0]
    low = clean.reshape(18, 2, 18, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(state.current[0], np.kron(low, np.ones((2, 2))), atol=1e-7)
    assert obs.shape == (1, CROP, CROP) and env.action_space.nvec.max() == 5


def test_upres_actions_on_a_tiny_image():
    low = np.array([[0.0, 1.0], [0.0, 1.0]])
    start = rt.nearest_up(low[None].astype(np.float32), 2)
    np.testing.assert_array_equal(
        start[0], [[0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]]
    )
    bank = rt.upres_bank(start, 2)
    np.testing.assert_array_equal(bank[0], start)

    def projected(x):  # shifted block by block to the block means of the start: `low`
        means = x.reshape(2, 2, 2, 2).mean(axis=(1, 3))
        return np.clip(x + np.kron(low - means, np.ones((2, 2))), 0, 1)

    # bilinear [0, .25, .75, 1] has block means [.125, .875]: shifted by ∓.125, clipped
    np.testing.assert_allclose(bank[1, 0], np.tile([0.0, 0.125, 0.875, 1.0], (4, 1)), atol=1e-6)
    cubic = ndimage.zoom(low, 2, order=3, mode="nearest", grid_mode=True)
    np.testing.assert_allclose(bank[2, 0], projected(np.clip(cubic, 0, 1)), atol=1e-6)
    blur = ndimage.gaussian_filter(start[0], 1.0, mode="mirror", radius=2)
    np.testing.assert_allclose(bank[3, 0], projected(2 * start[0] - blur), atol=1e-6)
    smooth = ndimage.gaussian_filter(start[0], 0.5, mode="mirror", radius=2)
    np.testing.assert_allclose(bank[4, 0], projected(smooth), atol=1e-6)


def test_upres_actions_keep_the_low_resolution_image():
    rng = np.random.default_rng(0)
    low = rng.uniform(0.2, 0.8, (2, 9, 9)).astype(np.float32)  # away from the clipping
    bank = rt.upres_bank(rt.nearest_up(low, 2), 2)
    for action in bank[1:3]:  # the interpolations: no clipping there
        np.testing.assert_allclose(rt.block_means(action, 2), low, atol=1e-6)
        np.testing.assert_allclose(rt.upres_bank(action, 2)[[1, 2]], bank[[1, 2]], atol=1e-6)


@pytest.mark.parametrize("task", ["inpaint", "upres"])
def test_reward_is_the_drop_of_the_squared_error(task):
    env = make(task)
    env.reset(seed=4)
    state = env.unwrapped.state
    rng = np.random.default_rng(0)
    for _ in range(3):
        clean, before = state.clean[0].copy(), state.current[0].copy()
        actions = rng.integers(len(env.unwrapped.task.actions), size=(CROP, CROP))
        bank = env.unwrapped.task.bank(before[None], None if state.states is None
                                       else state.states.copy())  # fmt: skip
        _, reward, _, _, info = env.step(actions)
        after = np.take_along_axis(bank[:, 0], actions[None], axis=0)[0]
        np.testing.assert_array_equal(state.current[0], after)
        drop = ((before - clean) ** 2 - (after - clean) ** 2) * 255**2 / CROP**2
        np.testing.assert_allclose(info["reward_map"], drop, rtol=1e-5, atol=1e-9)
        assert reward == pytest.approx(drop.sum(dtype=np.float64), rel=1e-5, abs=1e-9)
        every = info["action_reward_maps"]
        np.testing.assert_allclose(np.take_along_axis(every, actions[None], 0)[0], drop,
                                   rtol=1e-5, atol=1e-9)  # fmt: skip


def test_lookahead_from_the_observation_is_what_the_env_does():
    env = make("inpaint")
    obs, _ = env.reset(seed=0)
    env.step(np.full((CROP, CROP), 1))  # some pixels filled
    obs = env.unwrapped.state.obs()
    task, state = env.unwrapped.task, env.unwrapped.state
    state.current = obs[:, 0] / np.float32(255.0)  # the observed grey levels exactly
    looked = task.lookahead(obs / np.float32(255.0))
    np.testing.assert_array_equal(
        looked, task.bank(state.current, state.states).transpose(1, 0, 2, 3)
    )


@pytest.mark.parametrize("task", ["inpaint", "upres"])
def test_task_envs_pass_the_env_checker(task):
    check_env(make(task).unwrapped, skip_render_check=True)
    vec = gym.make_vec("rlcourse/PixelDenoise-v0", num_envs=2, images=flat_images(), crop=CROP,
                       task=task)  # fmt: skip
    obs, _ = vec.reset(seed=0)
    assert obs.shape == (2, 2 if task == "inpaint" else 1, CROP, CROP)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"task": "colour"}, "task must be one of denoise, inpaint, upres, got 'colour'"),
        ({"task": "inpaint", "mask": "ring"}, "mask must be one of centre, random, got 'ring'"),
        ({"task": "inpaint", "scale": 0.5}, "scale must be in (0, 0.5), got 0.5"),
        ({"task": "upres", "factor": 1}, "factor must be an integer >= 2, got 1"),
        ({"task": "upres", "factor": 5}, "upres needs a crop divisible by factor 5, got 36"),
    ],
)
def test_bad_task_arguments_are_one_line_value_errors(kwargs, message):
    with pytest.raises(ValueError) as error:
        make(**kwargs)
    assert str(error.value) == message
