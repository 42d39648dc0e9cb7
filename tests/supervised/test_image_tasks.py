"""The image-to-image tasks' pairs, baselines and measures (supervised.image_tasks)."""

from __future__ import annotations

import numpy as np
import pytest

from supervised import image_tasks as tasks


@pytest.fixture
def images() -> np.ndarray:
    return np.random.default_rng(0).uniform(size=(3, 16, 16)).astype(np.float32)


def test_centre_mask_is_the_courses_square():
    mask = tasks.centre_masks((2, 16, 16))
    expected = np.ones((2, 16, 16), np.float32)
    low, upper = int(0.25 * 16), int(0.75 * 16)
    expected[:, low:upper, low:upper] = 0
    assert (low, upper) == (4, 12)
    np.testing.assert_array_equal(mask, expected)
    rows, cols = np.nonzero(tasks.centre_masks((1, 20, 12))[0] == 0)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (5, 14, 3, 8)


def test_random_masks_have_one_rectangular_hole_of_bounded_size():
    masks = tasks.random_masks((50, 32, 32), np.random.default_rng(1))
    for mask in masks:
        rows, cols = np.nonzero(mask == 0)
        h, w = np.ptp(rows) + 1, np.ptp(cols) + 1
        assert 4 <= h <= 16 and 4 <= w <= 16 and len(rows) == h * w
    assert len({tuple(np.argwhere(m == 0)[0]) for m in masks}) > 10


def test_upres_pairs_and_shapes_at_x2_and_x4(images):
    for factor in (2, 4):
        x, y = tasks.upres_pairs(images, factor)
        assert x.shape == y.shape == (3, 1, 16, 16)
        np.testing.assert_array_equal(y[:, 0], images)
        assert tasks.downsize(images, factor).shape == (3, 16 // factor, 16 // factor)
        np.testing.assert_allclose(x[:, 0], tasks.upres_baselines(images, factor)["bicubic"])
    with pytest.raises(ValueError, match="not multiples of 4"):
        tasks.downsize(images[:, :14, :14], 4)


def test_upres_baselines_against_hand_computed_values():
    image = np.array([[0.0, 0.2, 0.4, 0.6], [0.2, 0.2, 0.6, 0.6]], np.float32)[None]
    np.testing.assert_allclose(tasks.downsize(image, 2), [[[0.15, 0.55]]])
    low = np.array([[[0.2, 0.6]]], np.float32)
    nearest = tasks.upsize(low, 2, 0)
    np.testing.assert_allclose(nearest, [[[0.2, 0.2, 0.6, 0.6]] * 2])
    # bilinear: output pixel centres at input coordinates -0.25, 0.25, 0.75, 1.25 (edges held)
    np.testing.assert_allclose(tasks.upsize(low, 2, 1), [[[0.2, 0.3, 0.5, 0.6]] * 2], atol=1e-6)
    flat = np.full((1, 4, 4), 0.3, np.float32)
    for output in tasks.upres_baselines(flat, 2).values():
        np.testing.assert_allclose(output, flat, atol=1e-6)


def test_inpaint_pairs_fill_the_hole_with_the_known_mean():
    image = np.arange(16, dtype=np.float32).reshape(1, 4, 4) / 16
    mask = np.ones((1, 4, 4), np.float32)
    mask[0, 1:3, 1:3] = 0
    x, y = tasks.inpaint_pairs(image, mask, fill="mean")
    assert x.shape == (1, 2, 4, 4) and y.shape == (1, 1, 4, 4)
    known_mean = image[0][mask[0] == 1].mean()
    np.testing.assert_allclose(x[0, 0][mask[0] == 0], known_mean)
    np.testing.assert_array_equal(x[0, 0][mask[0] == 1], image[0][mask[0] == 1])
    np.testing.assert_array_equal(x[0, 1], mask[0])


def test_biharmonic_fills_a_linear_ramp_exactly_and_keeps_known_pixels():
    ramp = np.tile(np.linspace(0, 1, 16, dtype=np.float32), (16, 1))[None]
    mask = tasks.centre_masks((1, 16, 16))
    baselines = tasks.inpaint_baselines(ramp, mask)
    np.testing.assert_allclose(baselines["biharmonic"], ramp, atol=1e-3)
    assert tasks.psnr(baselines["biharmonic"], ramp, 1 - mask)[0] > 50
    assert tasks.psnr(baselines["mean_fill"], ramp, 1 - mask)[0] < 20
    x, _ = tasks.inpaint_pairs(ramp, mask)  # the U-Net's input: the biharmonic fill
    np.testing.assert_array_equal(x[:, 0], baselines["biharmonic"])
    with pytest.raises(ValueError, match="fill must be one of biharmonic, mean"):
        tasks.inpaint_pairs(ramp, mask, fill="zero")


def test_psnr_inside_the_mask_counts_only_its_pixels():
    target = np.zeros((1, 4, 4))
    image = target.copy()
    image[0, 0, 0] = 0.1  # outside the hole: ignored inside it
    image[0, 2, 2] = 0.2
    hole = np.zeros((1, 4, 4))
    hole[0, 2:, 2:] = 1
    expected = 10 * np.log10(1 / (0.2**2 / 4))
    np.testing.assert_allclose(tasks.psnr(image, target, hole), [expected])
    whole = 10 * np.log10(1 / ((0.1**2 + 0.2**2) / 16))
    np.testing.assert_allclose(tasks.psnr(image, target), [whole])


def test_colourfulness_of_grey_is_zero_and_of_pure_colours_as_the_formula():
    grey = np.repeat(np.random.default_rng(0).uniform(size=(2, 8, 8, 1)), 3, axis=-1)
    np.testing.assert_allclose(tasks.colourfulness(grey), 0, atol=1e-9)
    red = np.zeros((1, 2, 2, 3))
    red[..., 0] = 1.0  # rg = 255, yb = 127.5 everywhere: no spread
    np.testing.assert_allclose(tasks.colourfulness(red), [0.3 * np.hypot(255, 127.5)])


def test_colorize_pairs_round_trip_and_the_baselines():
    rgb = np.random.default_rng(2).uniform(size=(2, 8, 8, 3)).astype(np.float32)
    lightness, chroma = tasks.colorize_pairs(rgb)
    assert lightness.shape == (2, 1, 8, 8) and chroma.shape == (2, 2, 8, 8)
    np.testing.assert_allclose(tasks.lab_to_rgb(lightness, chroma), rgb, atol=1e-4)
    baselines = tasks.colorize_baselines(rgb, tasks.mean_chroma(rgb))
    np.testing.assert_allclose(tasks.colourfulness(baselines["gray"]), 0, atol=0.01)
    gray = baselines["gray"]
    np.testing.assert_allclose(gray[..., 0], gray[..., 1], atol=1e-4)
    assert tasks.mean_chroma(rgb).shape == (1, 2, 1, 1)


def test_interpolation_frames_are_the_window_moved_by_its_velocity():
    window = np.random.default_rng(3).uniform(size=(20, 20)).astype(np.float32)
    frames = tasks.shifted_frames(window, (2.0, -1.0), 12)
    np.testing.assert_array_equal(frames[1], window[4:16, 4:16])
    np.testing.assert_allclose(frames[0], window[2:14, 5:17], atol=1e-5)  # back by (2, -1)
    np.testing.assert_allclose(frames[2], window[6:18, 3:15], atol=1e-5)  # forward by (2, -1)
    x, y = tasks.interpolate_pairs(frames[None])
    np.testing.assert_array_equal(y[0, 0], frames[1])
    np.testing.assert_array_equal(x[0, 1:], frames[[0, 2]])
    baselines = tasks.interpolate_baselines(frames[None])
    np.testing.assert_allclose(baselines["average"][0], (frames[0] + frames[2]) / 2)
    np.testing.assert_array_equal(x[0, 0], baselines["average"][0])
    np.testing.assert_array_equal(baselines["repeat"][0], frames[0])


def test_moving_frames_shapes_and_a_still_window():
    images = {"a": np.random.default_rng(4).uniform(size=(40, 40)).astype(np.float32)}
    frames = tasks.moving_frames(images, 5, 16, np.random.default_rng(5))
    assert frames.shape == (5, 3, 16, 16)
    still = tasks.moving_frames(images, 2, 16, np.random.default_rng(5), max_shift=0.0)
    np.testing.assert_allclose(still[:, 0], still[:, 1], atol=1e-6)


def test_ssim_of_an_image_with_itself_is_one():
    rgb = np.random.default_rng(6).uniform(size=(2, 16, 16, 3))
    np.testing.assert_allclose(tasks.ssim(rgb, rgb), 1.0)
    np.testing.assert_allclose(tasks.ssim(rgb[..., 0], rgb[..., 0]), 1.0)
    assert tasks.ssim(rgb[..., 0], rgb[..., 1]).max() < 0.5
