"""Where torch models run: ``auto`` (CUDA when there is one, else the CPU), ``cpu``, ``cuda[:N]``.

Every command that trains or runs a torch model takes ``--device``, and the Python API
``device=``; both set the device for a block of work with :func:`using`, and the code that
builds a model asks :func:`current` (so an experiment, an agent or a training loop deep inside
needs no argument threaded through it):

>>> with using("cpu"):
...     current()
device(type='cpu')

What stays on the host: replay buffers, data sets, checkpoints as saved (they are written from
the CPU and loaded with ``map_location="cpu"``, so a file saved on a GPU loads on a machine
without one). What moves: the networks, and each batch on its way in.

This module imports torch only when a device is resolved, so the command line can name
:class:`DeviceError` without paying for torch.
"""

from __future__ import annotations

import contextvars
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

CHOICES = "auto|cpu|cuda[:N]"
"""The device names accepted, for help texts."""
_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")


class DeviceError(ValueError):
    """A device name that is not one of :data:`CHOICES`, or a device this machine lacks."""


_chosen: contextvars.ContextVar[str] = contextvars.ContextVar("device", default="auto")


def resolve(name: str | torch.device = "auto") -> torch.device:
    """The device ``name`` means on this machine.

    Raises:
        DeviceError: not one of :data:`CHOICES`, or CUDA (that index) is not available here.
    """
    import torch

    if isinstance(name, torch.device):
        name = str(name)
    if not isinstance(name, str) or not _PATTERN.fullmatch(name):
        raise DeviceError(f"device must be {CHOICES}, got {name!r}")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device {name!r}: CUDA is not available on this machine "
                f"(torch {torch.__version__}); use --device cpu or auto"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceError(
                f"device {name!r}: this machine has {torch.cuda.device_count()} CUDA device(s), "
                f"cuda:0 to cuda:{torch.cuda.device_count() - 1}"
            )
    return device


@contextmanager
def using(name: str | torch.device | None) -> Iterator[torch.device]:
    """Inside the block, :func:`current` is ``name`` (checked now); None keeps the current one.

    Raises:
        DeviceError: see :func:`resolve`.
    """
    if name is None:
        yield current()
        return
    device = resolve(name)
    token = _chosen.set(str(device))
    try:
        yield device
    finally:
        _chosen.reset(token)


def current() -> torch.device:
    """The device of the innermost :func:`using` block (``auto`` outside any)."""
    return resolve(_chosen.get())


def describe(device: torch.device) -> str:
    """``cpu``, or ``cuda:0 (NVIDIA H200)``: what a manifest records and a command prints."""
    import torch

    if device.type != "cuda":
        return str(device)
    index = device.index if device.index is not None else torch.cuda.current_device()
    return f"cuda:{index} ({torch.cuda.get_device_name(index)})"


def to_host(tensor: torch.Tensor):
    """A tensor's values as a numpy array on the host."""
    return tensor.detach().cpu().numpy()
