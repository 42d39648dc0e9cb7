import gzip
import struct

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import zoom

from supervised.data import (
    DataError,
    Dataset,
    check_labels,
    load_diabetes,
    load_digits,
    load_image_folder,
    load_mnist,
    normalizer,
    read_idx,
    split,
    standardizer,
)


def write_idx(path, array: np.ndarray, code: int = 0x08, compress: bool = False) -> None:
    header = bytes([0, 0, code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    dtype = {0x08: ">u1", 0x0C: ">i4", 0x0D: ">f4"}[code]
    raw = header + array.astype(dtype).tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def test_digits_are_images_in_unit_range_with_their_labels():
    data = load_digits()
    assert data.x.shape == (1797, 1, 8, 8) and data.x.dtype == np.float32
    assert data.x.min() == 0.0 and data.x.max() == 1.0
    assert data.y.dtype == np.int64 and set(data.y) == set(range(10))
    assert data.classes == tuple("0123456789")


def test_digits_upsampled_to_mnist_size_keep_their_content():
    small, large = load_digits(), load_digits(size=28)
    assert large.x.shape == (1797, 1, 28, 28)
    assert 0.0 <= large.x.min() and large.x.max() <= 1.0
    # zoomed back down, every upsampled digit is still its 8x8 original
    back = zoom(large.x[:, 0], (1, 8 / 28, 8 / 28), order=1).reshape(1797, -1)
    original = small.x.reshape(1797, -1)
    correlation = [np.corrcoef(a, b)[0, 1] for a, b in zip(back, original, strict=True)]
    assert min(correlation) > 0.8 and np.mean(correlation) > 0.95
    np.testing.assert_array_equal(large.y, small.y)


def test_diabetes_regression_set():
    data = load_diabetes()
    assert data.x.shape == (442, 10) and data.y.shape == (442,)
    assert data.classes == ()


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("code", [0x08, 0x0C, 0x0D])
def test_read_idx_round_trips_plain_and_gzip(tmp_path, compress, code):
    array = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    write_idx(tmp_path / "a.idx", array, code, compress)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.idx"), array)


def test_load_mnist_from_idx_files(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 28, 28))
    labels = np.array([0, 3, 9, 1, 1])
    write_idx(tmp_path / "img.gz", images, compress=True)
    write_idx(tmp_path / "lbl", labels)
    data = load_mnist(tmp_path / "img.gz", tmp_path / "lbl")
    assert data.x.shape == (5, 1, 28, 28)
    np.testing.assert_allclose(data.x[:, 0] * 255, images, atol=1e-4)
    np.testing.assert_array_equal(data.y, labels)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "not an IDX file (bad magic number empty)"),
        (b"\x00\x01\x08\x01", "not an IDX file (bad magic number 00010801)"),
        (b"\x00\x00\x08\x02\x00\x00", "truncated IDX header"),
        (
            b"\x00\x00\x08\x01\x00\x00\x00\x05\x01\x02",
            "header says shape (5,) (5 bytes of data), file has 2",
        ),
        (b"\x1f\x8b\x08\x00garbage", "corrupt gzip data"),
    ],
)
def test_read_idx_refuses_bad_files(tmp_path, content, message):
    path = tmp_path / "bad"
    path.write_bytes(content)
    with pytest.raises(
        DataError, match=f"^{path}: " + message.replace("(", r"\(").replace(")", r"\)")
    ):
        read_idx(path)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        read_idx(tmp_path / "nope")


def test_load_mnist_refuses_labels_out_of_range_and_mismatched_counts(tmp_path):
    write_idx(tmp_path / "img", np.zeros((3, 28, 28)))
    write_idx(tmp_path / "lbl", np.array([0, 10, 2]))
    with pytest.raises(DataError, match=r"labels must be in 0\.\.9, found 0\.\.10"):
        load_mnist(tmp_path / "img", tmp_path / "lbl")
    write_idx(tmp_path / "lbl2", np.array([0, 1]))
    with pytest.raises(DataError, match="has 3 images but .* has 2 labels"):
        load_mnist(tmp_path / "img", tmp_path / "lbl2")
    with pytest.raises(DataError, match=r"images must be \(n, height, width\)"):
        load_mnist(tmp_path / "lbl", tmp_path / "lbl")


def test_image_folder_reads_classes_in_name_order(tmp_path):
    for name, value in (("cats", 0), ("dogs", 255)):
        (tmp_path / name).mkdir()
        for i in range(3):
            Image.fromarray(np.full((6, 5), value, np.uint8)).save(tmp_path / name / f"{i}.png")
    (tmp_path / "dogs" / "notes.txt").write_text("not an image")
    data = load_image_folder(tmp_path)
    assert data.classes == ("cats", "dogs")
    assert data.x.shape == (6, 1, 6, 5)
    np.testing.assert_array_equal(data.y, [0, 0, 0, 1, 1, 1])
    assert data.x[:3].max() == 0.0 and data.x[3:].min() == 1.0
    assert load_image_folder(tmp_path, size=4).x.shape == (6, 1, 4, 4)


def test_image_folder_errors(tmp_path):
    with pytest.raises(DataError, match="no such folder"):
        load_image_folder(tmp_path / "missing")
    with pytest.raises(DataError, match="no class folders"):
        load_image_folder(tmp_path)
    (tmp_path / "a").mkdir()
    with pytest.raises(DataError, match="no images"):
        load_image_folder(tmp_path)
    (tmp_path / "a" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="broken.png: unreadable image"):
        load_image_folder(tmp_path)
    (tmp_path / "a" / "broken.png").unlink()
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / "a" / "x.png")
    Image.fromarray(np.zeros((5, 4), np.uint8)).save(tmp_path / "a" / "y.png")
    with pytest.raises(DataError, match="different sizes"):
        load_image_folder(tmp_path)


def test_split_is_deterministic_disjoint_and_complete():
    data = Dataset(np.arange(100)[:, None], np.arange(100))
    a, b = split(data, val=0.2, test=0.1, seed=3), split(data, val=0.2, test=0.1, seed=3)
    assert (len(a.train.y), len(a.val.y), len(a.test.y)) == (70, 20, 10)
    np.testing.assert_array_equal(a.test.y, b.test.y)
    together = np.concatenate([a.train.y, a.val.y, a.test.y])
    np.testing.assert_array_equal(np.sort(together), np.arange(100))
    assert not np.array_equal(split(data, seed=4).test.y, a.test.y)
    with pytest.raises(DataError, match="fractions"):
        split(data, val=0.6, test=0.5)


def test_scalers_fit_on_training_data_and_invert():
    rng = np.random.default_rng(0)
    x = rng.normal(5, 3, size=(200, 3))
    x[:, 2] = 7.0  # a constant feature: scale 1, no division by zero
    z = standardizer(x)(x)
    np.testing.assert_allclose(z[:, :2].mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(z[:, :2].std(axis=0), 1, atol=1e-12)
    np.testing.assert_array_equal(z[:, 2], 0)
    n = normalizer(x)
    assert n(x)[:, :2].min() == 0 and n(x)[:, :2].max() == 1
    np.testing.assert_allclose(n.inverse(n(x)), x)


def test_check_labels():
    check_labels(np.array([0, 2]), 3)
    with pytest.raises(DataError, match="integers"):
        check_labels(np.array([0.5]), 3)
    with pytest.raises(DataError, match=r"in 0\.\.2, found -1\.\.1"):
        check_labels(np.array([-1, 1]), 3)


def test_dataset_refuses_mismatched_lengths():
    with pytest.raises(DataError, match="3 inputs but 2 targets"):
        Dataset(np.zeros((3, 2)), np.zeros(2))


def test_image_folder_refuses_an_image_over_the_pixel_limit_unread(tmp_path, monkeypatch):
    (tmp_path / "a").mkdir()
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(tmp_path / "a" / "x.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow only warns below 2000
    with pytest.raises(DataError) as refused:
        load_image_folder(tmp_path)
    assert str(refused.value) == (
        f"{tmp_path / 'a' / 'x.png'}: 1,600 pixels, over the limit of 1,000; refused unread "
        "(a decompression bomb?)"
    )
