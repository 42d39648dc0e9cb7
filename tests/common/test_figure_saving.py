"""Saving a figure: the suffix names the format, and the file is written atomically."""

from matplotlib.figure import Figure

from common.figures import save_figure


def test_save_figure_names_the_format_by_the_suffix(tmp_path):
    fig = Figure()
    fig.add_subplot().plot([0, 1], [1, 0])
    assert save_figure(fig, tmp_path / "plot.png").read_bytes()[:4] == b"\x89PNG"
    assert save_figure(fig, tmp_path / "bare") == tmp_path / "bare.png"
    assert save_figure(fig, tmp_path / "plot.svg").read_text().lstrip().startswith("<?xml")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bare.png", "plot.png", "plot.svg"]
