"""Image denoising envs (envs.denoise): rewards, PSNR, actions, batches, images and bad input."""

import gymnasium as gym
import numpy as np
import pytest
from scipy import ndimage
from skimage.io import imsave
from skimage.metrics import peak_signal_noise_ratio

import envs
from envs import denoise as dn
from envs import filters
from envs import images as img

CROP = 36


@pytest.fixture(scope="module")
def images():
    """Two small synthetic images (a ramp and a disc), bigger than the crop."""
    y, x = np.mgrid[0:48, 0:50] / 50.0
    disc = ((y - 0.5) ** 2 + (x - 0.5) ** 2 < 0.1).astype(np.float32) * 0.6 + 0.2
    return [x.astype(np.float32), disc]


def make(kind, images, **kwargs):
    return gym.make(f"rlcourse/{kind}-v0", images=images, crop=CROP, **kwargs)


def test_splits_are_disjoint_and_load_as_gray_images():
    assert not set(img.TRAIN_IMAGES) & set(img.TEST_IMAGES)
    for name, image in img.load_images("test").items():
        assert image.ndim == 2 and image.dtype == np.float32, name
        assert 0.0 <= image.min() and image.max() <= 1.0
    assert envs.ALIASES["denoise"] == "rlcourse/ImageDenoise-v0"


def test_reward_is_the_drop_of_the_mse_and_info_has_psnr(images):
    env = make("ImageDenoise", images)
    obs, info = env.reset(seed=3)
    assert obs.shape == (1, CROP, CROP) and obs.dtype == np.uint8
    state = env.unwrapped.state
    clean, before = state.clean[0].copy(), state.current[0].copy()
    assert info["psnr"] == pytest.approx(peak_signal_noise_ratio(clean, before, data_range=1))
    assert info["psnr_gain"] == 0.0
    obs, reward, terminated, truncated, info = env.step(4)  # gaussian 1.5
    after = ndimage.gaussian_filter(before, 1.5, mode="mirror", radius=2)
    np.testing.assert_allclose(state.current[0], after, atol=1e-6)
    expected = (np.mean((before - clean) ** 2) - np.mean((after - clean) ** 2)) * 255**2
    assert reward == pytest.approx(expected, rel=1e-4)
    assert info["psnr"] == pytest.approx(peak_signal_noise_ratio(clean, after, data_range=1))
    assert info["psnr_gain"] == pytest.approx(
        info["psnr"] - peak_signal_noise_ratio(clean, before, data_range=1)
    )
    np.testing.assert_array_equal(obs[0], np.rint(after * 255).astype(np.uint8))
    assert not terminated and not truncated


def test_episode_is_truncated_after_T_steps(images):
    env = make("ImageDenoise", images, max_episode_steps=3)
    env.reset(seed=0)
    ends = [env.step(0)[2:4] for _ in range(3)]
    assert ends == [(False, False), (False, False), (False, True)]


def test_noise_has_sigma_grey_levels_and_same_seed_same_crop(images):
    flat = [np.full((60, 60), 0.5, np.float32)]
    env = make("ImageDenoise", flat, sigma=15)
    obs, _ = env.reset(seed=1)
    noise = env.unwrapped.state.current[0] - 0.5
    assert noise.std() * 255 == pytest.approx(15, rel=0.05)
    again, _ = env.reset(seed=1)
    np.testing.assert_array_equal(obs, again)


def test_actions_nothing_minus_plus(images):
    env = make("ImageDenoise", images)
    env.reset(seed=2)
    state = env.unwrapped.state
    start = state.current.copy()
    _, reward, *_ = env.step(0)
    assert reward == 0.0
    np.testing.assert_array_equal(state.current, start)
    env.step(1)
    np.testing.assert_allclose(state.current, np.clip(start - 1 / 255, 0, 1), atol=1e-7)
    env.step(2)
    env.step(2)
    np.testing.assert_allclose(
        state.current, np.clip(np.clip(start - 1 / 255, 0, 1) + 2 / 255, 0, 1), atol=1e-6
    )


def test_pixel_env_gathers_each_pixels_filter_and_maps_sum_to_the_reward(images):
    env = make("PixelDenoise", images)
    env.reset(seed=4)
    state = env.unwrapped.state
    start = state.current.copy()
    actions = np.random.default_rng(0).integers(len(filters.ACTIONS), size=(CROP, CROP))
    _, reward, _, _, info = env.step(actions)
    bank = filters.filter_bank(start)
    y, x = 5, 7
    assert state.current[0, y, x] == bank[actions[y, x], 0, y, x]
    assert info["reward_map"].shape == (CROP, CROP)
    assert info["reward_map"].sum() == pytest.approx(reward, rel=1e-4)
    before = (start[0] - state.clean[0]) ** 2
    after = (state.current[0] - state.clean[0]) ** 2
    np.testing.assert_allclose(
        info["reward_map"] * CROP**2, (before - after) * 255**2, rtol=1e-4, atol=1e-3
    )


def test_action_reward_maps_hold_every_actions_map_and_the_taken_ones_match(images):
    env = make("PixelDenoise", images)
    env.reset(seed=4)
    state = env.unwrapped.state
    start, clean = state.current[0].copy(), state.clean[0].copy()
    actions = np.random.default_rng(1).integers(len(filters.ACTIONS), size=(CROP, CROP))
    _, _, _, _, info = env.step(actions)
    every = info["action_reward_maps"]
    assert every.shape == (len(filters.ACTIONS), CROP, CROP)
    taken = np.take_along_axis(every, actions[None], axis=0)[0]
    np.testing.assert_allclose(taken, info["reward_map"], rtol=1e-5, atol=1e-9)
    median = filters.apply_filter(start[None], 7)[0]
    expected = ((start - clean) ** 2 - (median - clean) ** 2) * 255**2 / CROP**2
    np.testing.assert_allclose(every[7], expected, rtol=1e-4, atol=1e-7)


def test_a_uniform_action_map_is_the_image_level_action(images):
    pixel, image = make("PixelDenoise", images), make("ImageDenoise", images)
    pixel.reset(seed=5)
    image.reset(seed=5)
    for action in (7, 5):
        p = pixel.step(np.full((CROP, CROP), action))
        i = image.step(action)
        np.testing.assert_array_equal(p[0], i[0])
        assert p[1] == pytest.approx(i[1])


def test_vector_env_matches_single_envs_on_given_crops(images):
    rng = np.random.default_rng(0)
    clean = np.stack([im[:CROP, :CROP] for im in images])
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1).astype(np.float32)
    vec = gym.make_vec(
        "rlcourse/PixelDenoise-v0",
        num_envs=2,
        vectorization_mode="vector_entry_point",
        images=images,
        crop=CROP,
    )
    obs, _ = vec.reset(seed=0, options={"clean": clean, "noisy": noisy})
    actions = rng.integers(len(filters.ACTIONS), size=(2, CROP, CROP))
    obs, rewards, _, truncated, info = vec.step(actions)
    for i in range(2):
        single = make("PixelDenoise", images)
        single.reset(options={"clean": clean[i], "noisy": noisy[i]})
        o, r, _, _, inf = single.step(actions[i])
        np.testing.assert_array_equal(obs[i], o)
        assert rewards[i] == pytest.approx(r)
        np.testing.assert_allclose(info["reward_map"][i], inf["reward_map"])
    assert info["psnr"].shape == (2,) and not truncated.any()


def test_bad_actions_are_refused(images):
    env = make("PixelDenoise", images)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="actions must be integers in 0..8"):
        env.unwrapped.step(np.full((CROP, CROP), 9))


def test_a_folder_of_images_is_read_as_gray(tmp_path, images):
    rgb = np.stack([images[0]] * 3, axis=-1)
    imsave(tmp_path / "a.png", (rgb * 255).astype(np.uint8))
    imsave(tmp_path / "b.png", (images[1] * 255).astype(np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    loaded = img.load_folder(tmp_path)
    assert list(loaded) == ["a.png", "b.png"]
    np.testing.assert_allclose(loaded["a.png"], images[0], atol=1 / 255)
    obs, _ = make("ImageDenoise", str(tmp_path)).reset(seed=0)
    assert obs.shape == (1, CROP, CROP)


@pytest.mark.parametrize(
    ("setup", "kwargs", "message"),
    [
        ("missing", {}, "does not exist"),
        ("empty", {}, "holds no images"),
        ("unreadable", {}, "cannot read image .*broken.png"),
        ("small", {}, r"image tiny.png is 20x30, smaller than the crop 36x36"),
        ("good", {"sigma": 0}, "sigma must be > 0"),
        ("good", {"sigma": -5.0}, "sigma must be > 0"),
        ("good", {"crop": 20}, "crop must be an integer >= 36"),
    ],
)
def test_bad_images_and_settings_are_refused(tmp_path, setup, kwargs, message):
    folder = tmp_path / "images"
    if setup != "missing":
        folder.mkdir()
    if setup == "unreadable":
        (folder / "broken.png").write_bytes(b"not a png")
    if setup == "small":
        imsave(folder / "tiny.png", np.zeros((20, 30), np.uint8), check_contrast=False)
    if setup == "good":
        imsave(folder / "ok.png", np.zeros((40, 40), np.uint8), check_contrast=False)
    with pytest.raises(ValueError, match=message):
        dn.ImageDenoiseEnv(str(folder), **{"crop": CROP, **kwargs})


def test_a_crop_larger_than_the_bundled_images_is_refused():
    with pytest.raises(ValueError, match=r"image page is 191x384, smaller than the crop 200x200"):
        dn.PixelDenoiseEnv("train", crop=200)


def test_render_shows_the_current_crop(images):
    env = make("ImageDenoise", images, render_mode="rgb_array")
    obs, _ = env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (CROP, CROP, 3)
    np.testing.assert_array_equal(frame[..., 0], obs[0])


MOVED = {
    filters: ["ACTIONS", "apply_filter", "filter_bank", "filter_bank_channels", "apply_per_image",
              "apply_per_pixel"],
    img: ["TRAIN_IMAGES", "TEST_IMAGES", "SPLITS", "MIN_CROP", "IMAGE_SUFFIXES", "to_gray",
          "bundled_image", "load_folder", "load_images", "check_settings", "CropSource",
          "fixed_crops", "psnr", "to_uint8"],
}  # fmt: skip


def test_the_filters_and_images_names_are_still_found_in_envs_denoise():
    for module, names in MOVED.items():
        for name in names:
            assert getattr(dn, name) is getattr(module, name), name
    spec = gym.spec("rlcourse/PixelDenoise-v0")
    assert (spec.entry_point, spec.vector_entry_point) == (
        "envs.denoise:PixelDenoiseEnv",
        "envs.denoise:PixelDenoiseVectorEnv",
    )


def test_a_vector_env_gives_its_current_crops_unrounded_as_its_psnr_measures_them(images):
    rng = np.random.default_rng(1)
    clean = np.stack([im[:CROP, :CROP] for im in images])
    noisy = np.clip(clean + rng.normal(0, 0.1, clean.shape), 0, 1).astype(np.float32)
    vec = dn.PixelDenoiseVectorEnv(2, images=images, crop=CROP)
    obs, _ = vec.reset(seed=0, options={"clean": clean, "noisy": noisy})
    np.testing.assert_array_equal(vec.images(), noisy)
    obs, _, _, _, info = vec.step(rng.integers(len(dn.ACTIONS), size=(2, CROP, CROP)))
    current = vec.images()
    assert current.dtype == np.float32 and current.shape == (2, CROP, CROP)
    np.testing.assert_allclose(dn.psnr(current, clean), info["psnr"], rtol=1e-6)
    np.testing.assert_array_equal(obs[:, 0], dn.to_uint8(current))
    current[:] = 0  # a copy: the env keeps its crops
    assert vec.images().any()
