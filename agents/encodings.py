"""How DQN stores and reads the observations of a space: the encoding of each kind of space.

- a ``Box`` is stored as it is, in its own dtype (uint8 images stay uint8; an image, 3-D, goes
  through a CNN);
- a ``Discrete`` state becomes its one-hot vector;
- anything else (``MultiDiscrete``, ``MultiBinary``, ``Tuple``/``Dict`` of them and of boxes)
  becomes one flat float vector: boxes flattened (uint8 pixels scaled to [0, 1]), discrete parts
  one-hot, concatenated in the space's order;
- but a ``Tuple``/``Dict`` with images in it (3-D boxes, like Minigrid's ``image``) is stored as
  several arrays: each image as it is, in its own dtype, under its path (``image``, ``0``,
  ``pov.rgb``), and the rest as that flat vector under :data:`FLAT`; a
  :class:`supervised.networks.MultiInputQNet` reads each image through its own convolutions —
  what SB3's ``MultiInputPolicy`` does.

A part no network can read (Minigrid's mission text) is left out, with a notice.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

FLAT = "(flat)"
"""The name of the flat vector among the arrays of an observation with images."""


@dataclass(frozen=True)
class Encoding:
    """What the replay buffer stores per observation, and how a batch becomes that.

    ``shape`` and ``dtype`` are one array's, or, for an observation stored as several arrays,
    mappings of each array's name to its shape and dtype (and ``encode`` gives such a mapping).
    """

    shape: tuple[int, ...] | dict[str, tuple[int, ...]]
    dtype: np.dtype | dict[str, np.dtype]
    encode: Callable[[Any], Any]
    left_out: tuple[str, ...] = ()
    """Parts of the space no network reads (their paths, ``mission``)."""


def encoding(space: spaces.Space) -> Encoding | None:
    """The encoding of ``space`` (None: nothing in it that a network can read)."""
    if isinstance(space, spaces.Box):
        return Encoding(tuple(space.shape), np.dtype(space.dtype), np.asarray)
    leaves: list[tuple[int, Callable[[Any], np.ndarray]]] = []
    images: dict[str, tuple[spaces.Box, Callable[[Any], np.ndarray]]] = {}
    left_out: list[str] = []
    _collect(space, (), leaves, images, left_out)
    if not leaves and not images:
        return None
    if left_out:
        warnings.warn(
            f"DQN leaves out the observation part(s) {', '.join(left_out)}: no network reads them",
            stacklevel=2,
        )
    size = sum(n for n, _ in leaves)

    def flat(obs: Any) -> np.ndarray:
        return np.concatenate([part(obs) for _, part in leaves], axis=1)

    if not images:
        return Encoding((size,), np.dtype(np.float32), flat, tuple(left_out))
    shapes = {name: tuple(box.shape) for name, (box, _) in images.items()}
    dtypes = {name: np.dtype(box.dtype) for name, (box, _) in images.items()}
    if leaves:
        shapes[FLAT], dtypes[FLAT] = (size,), np.dtype(np.float32)

    def arrays(obs: Any) -> dict[str, np.ndarray]:
        stored = {name: np.asarray(at(obs)) for name, (_, at) in images.items()}
        return {**stored, FLAT: flat(obs)} if leaves else stored

    return Encoding(shapes, dtypes, arrays, tuple(left_out))


def _collect(space, path: tuple, leaves: list, images: dict, left_out: list) -> None:
    """Append (size, batch → (n, size) float32) for every readable part, in the space's order.

    Images (3-D boxes) go into ``images`` instead, by their path: (box, batch → its array).
    """

    def at(obs):
        for key in path:
            obs = obs[key]
        return obs

    if isinstance(space, spaces.Box) and len(space.shape) == 3:
        images[".".join(map(str, path))] = (space, at)
    elif isinstance(space, spaces.Box):
        scale = 255.0 if space.dtype == np.uint8 else 1.0
        leaves.append((int(np.prod(space.shape)), lambda obs: _flat(at(obs)) / scale))
    elif isinstance(space, spaces.Discrete):
        n, start = int(space.n), int(space.start)
        leaves.append((n, lambda obs: _one_hot(np.asarray(at(obs)) - start, n)))
    elif isinstance(space, spaces.MultiDiscrete):
        sizes, starts = space.nvec.ravel(), space.start.ravel()

        def multi(obs) -> np.ndarray:
            values = np.asarray(at(obs)).reshape(len(np.asarray(at(obs))), -1) - starts
            return np.concatenate([_one_hot(values[:, i], n) for i, n in enumerate(sizes)], 1)

        leaves.append((int(sizes.sum()), multi))
    elif isinstance(space, spaces.MultiBinary):
        leaves.append((int(np.prod(space.shape)), lambda obs: _flat(at(obs))))
    elif isinstance(space, spaces.Tuple):
        for i, part in enumerate(space.spaces):
            _collect(part, (*path, i), leaves, images, left_out)
    elif isinstance(space, spaces.Dict):
        for key, part in space.spaces.items():
            _collect(part, (*path, key), leaves, images, left_out)
    else:
        left_out.append(".".join(map(str, path)) or type(space).__name__)


def _flat(batch) -> np.ndarray:
    batch = np.asarray(batch)
    return batch.reshape(len(batch), -1).astype(np.float32)


def _one_hot(values: np.ndarray, n: int) -> np.ndarray:
    return np.eye(n, dtype=np.float32)[np.asarray(values, dtype=np.int64)]
