"""Saving a matplotlib figure: atomically, in the format its suffix names.

Every figure rlcourse writes (plots of results and sweeps, the supervised experiments' figures,
training histories) goes through :func:`save_figure`.
"""

from __future__ import annotations

import os
from pathlib import Path

from matplotlib import rcParams
from matplotlib.backend_bases import FigureCanvasBase
from matplotlib.figure import Figure

from common.atomic import atomic_path


def figure_path(path: str | os.PathLike) -> Path:
    """The file :func:`save_figure` writes for ``path``.

    A path without a suffix gets the default format's, as ``fig.savefig`` gives it (``.png``).

    Raises:
        ValueError: a suffix that names no format matplotlib writes.
    """
    path = Path(path)
    if not path.suffix:
        return path.with_suffix("." + rcParams["savefig.format"])
    formats = FigureCanvasBase.get_supported_filetypes()
    if path.suffix[1:].lower() not in formats:
        raise ValueError(
            f"{path}: matplotlib writes no {path.suffix} files (it writes "
            f"{', '.join('.' + name for name in sorted(formats))})"
        )
    return path


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 100) -> Path:
    """Write ``fig`` to :func:`figure_path` of ``path`` atomically; the suffix names the format."""
    path = figure_path(path)
    with atomic_path(path) as temporary:
        fig.savefig(temporary, dpi=dpi)
    return path
