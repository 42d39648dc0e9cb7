import matplotlib.image
import numpy as np

from supervised.plots import image_grid, plot_mosaic


def test_mosaic_is_one_picture_sized_by_columns_and_rows(tmp_path):
    images = np.random.default_rng(0).random((12, 1, 8, 8))
    path = plot_mosaic(images, tmp_path / "m.png", title="twelve", columns=5)
    height, width = matplotlib.image.imread(path).shape[:2]
    assert (width, height) == (250, 190)  # 5 columns x 0.5 in; 3 rows x 0.5 in + title, 100 dpi


def test_image_grid_accepts_channel_first_and_plain_images(tmp_path):
    images = np.zeros((3, 1, 4, 4))
    for path, shown in ((tmp_path / "a.png", images), (tmp_path / "b.png", images[:, 0])):
        image_grid(shown, path, columns=3)
        assert matplotlib.image.imread(path).shape[:2] == (80, 240)
