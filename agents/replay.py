"""Experience replay: a preallocated ring buffer of transitions over numpy arrays.

``terminated`` and ``truncated`` are stored apart: a TD target drops the bootstrap only where the
episode really ended (``terminated``); a time limit (``truncated``) is not the end of the task, so
the target still bootstraps from ``next_obs`` there.

With n-step returns (:mod:`agents.n_step`) each transition also stores its ``discount``
(``γ^m``, ``m`` the rewards summed in it); a prioritized buffer draws in proportion to its
slots' priorities (:class:`agents.sum_tree.Priorities`) instead of uniformly.

An observation may be several arrays (a Dict space with images: :mod:`agents.encodings`): then
``obs`` and ``next_obs`` are mappings of each array's name to its stored rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from agents.sum_tree import Priorities

MAX_SPAN = 128
"""Most batches drawn at once (:meth:`ReplayBuffer.sample_spans`)."""
MAX_SPAN_ELEMENTS = 2**24
"""...and at most this many stored numbers in their observations (bounds image batches)."""


def _parts(obs, part):
    """``part(array)`` of one array, or of each array of a mapping of them."""
    if isinstance(obs, dict):
        return {name: part(array) for name, array in obs.items()}
    return part(obs)


def _named(fields: dict) -> dict:
    """Each array by one name: a field's (``obs``), or ``obs.NAME`` for each of a mapping."""
    named = {}
    for field, value in fields.items():
        if isinstance(value, dict):
            named.update({f"{field}.{name}": array for name, array in value.items()})
        else:
            named[field] = value
    return named


@dataclass(frozen=True)
class Batch:
    """A uniform sample of transitions, one row each (a span's: ``batches`` batches in a row)."""

    obs: np.ndarray
    action: np.ndarray
    reward: np.ndarray
    next_obs: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    batches: int = 1
    """Batches of equal size the rows hold, one after the other (see
    :meth:`ReplayBuffer.sample_spans`)."""
    discount: np.ndarray | None = None
    """Each row's bootstrap discount ``γ^m`` (n-step returns; None: ``γ``)."""
    slots: np.ndarray | None = None
    """Where each row is stored (prioritized replay: whose priorities the step updates)."""
    weights: np.ndarray | None = None
    """Each row's importance weight (prioritized replay; None: all alike)."""

    def batch_rows(self) -> list[slice]:
        """The rows of each batch of the span, in order."""
        size = len(self.action) // self.batches
        return [slice(start, start + size) for start in range(0, len(self.action), size)]


class ReplayBuffer:
    """The last ``capacity`` transitions; the oldest is overwritten first."""

    FIELDS = ("obs", "next_obs", "action", "reward", "terminated", "truncated")

    def __init__(
        self,
        capacity: int,
        obs_shape: tuple[int, ...] | dict[str, tuple[int, ...]],
        obs_dtype=np.float32,
        action_shape: tuple[int, ...] = (),
        action_dtype=np.int64,
        reward_shape: tuple[int, ...] | None = None,
        discounts: bool = False,
        priorities: Priorities | None = None,
    ):
        """A buffer of ``capacity`` transitions, preallocated.

        ``obs_shape`` and ``obs_dtype`` are one array's, or mappings of each array's name to its
        shape and dtype (observations of several arrays). ``action_shape`` (an action per pixel:
        ``(H, W)``) also shapes the stored rewards.
        ``reward_shape`` overrides that (e.g. ``(A, H, W)``: every action's reward map).
        ``discounts``: store each transition's discount (n-step returns); ``priorities``: draw in
        proportion to them (prioritized replay), built for this ``capacity``.
        """
        if capacity < 1:
            raise ValueError(f"buffer capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        if isinstance(obs_shape, dict):
            self.obs = {
                name: np.zeros((self.capacity, *shape), dtype=obs_dtype[name])
                for name, shape in obs_shape.items()
            }
        else:
            self.obs = np.zeros((self.capacity, *obs_shape), dtype=obs_dtype)
        self.next_obs = _parts(self.obs, np.zeros_like)
        self.action = np.zeros((self.capacity, *action_shape), dtype=action_dtype)
        reward_shape = action_shape if reward_shape is None else reward_shape
        self.reward = np.zeros((self.capacity, *reward_shape), dtype=np.float32)
        self.terminated = np.zeros(self.capacity, dtype=bool)
        self.truncated = np.zeros(self.capacity, dtype=bool)
        if discounts:
            self.discount = np.zeros(self.capacity, dtype=np.float32)
            self.FIELDS = (*ReplayBuffer.FIELDS, "discount")
        self.priorities = priorities
        self.position = 0  # where the next transition goes
        self.size = 0  # how many slots hold a transition

    @classmethod
    def bytes_needed(cls, capacity: int, *layout, **named_layout) -> int:
        """The bytes a full buffer of ``capacity`` and this layout holds (before allocating it).

        ``layout``: the other arguments of the constructor.
        """
        return cls(1, *layout, **named_layout).nbytes * int(capacity)

    @property
    def nbytes(self) -> int:
        """The bytes the buffer's arrays hold."""
        return sum(array.nbytes for array in self._arrays().values())

    @property
    def obs_shape(self) -> list[int] | dict[str, list[int]]:
        """One observation's stored shape (each array's, for observations of several arrays)."""
        return _parts(self.obs, lambda array: list(array.shape[1:]))

    @property
    def obs_numbers(self) -> int:
        """The numbers one stored observation holds (all its arrays)."""
        return sum(int(np.prod(array.shape[1:])) for array in _named({"obs": self.obs}).values())

    def _arrays(self) -> dict[str, np.ndarray]:
        """Every array of the buffer by one name (see :func:`_named`)."""
        return _named({field: getattr(self, field) for field in self.FIELDS})

    def __len__(self) -> int:
        return self.size

    def add(self, obs, action, reward, next_obs, terminated, truncated, discount=None) -> None:
        """Store one transition, overwriting the oldest when full (``discount``: n-step's)."""
        i = self.position
        if discount is not None:
            self.discount[i] = discount
        if self.priorities is not None:
            self.priorities.added(i)
        if isinstance(self.obs, dict):
            for name in self.obs:
                self.obs[name][i], self.next_obs[name][i] = obs[name], next_obs[name]
        else:
            self.obs[i], self.next_obs[i] = obs, next_obs
        self.action[i], self.reward[i] = action, reward
        self.terminated[i], self.truncated[i] = terminated, truncated
        self.position = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def state(self) -> dict:
        """The stored transitions and where the next one goes: plain arrays for a checkpoint.

        Only the filled slots, in their stored dtypes (uint8 images stay uint8).
        """
        state = {
            "position": self.position,
            **{
                name: _parts(getattr(self, name), lambda array: array[: self.size])
                for name in self.FIELDS
            },
        }
        if self.priorities is not None:
            state["priorities"] = self.priorities.state(self.size)
        return state

    def load_state(self, state: dict) -> None:
        """Put back what :meth:`state` gave (into a buffer of the same capacity and layout).

        Raises:
            ValueError: the saved transitions do not fit this buffer.
        """
        size = len(state["action"])
        if size > self.capacity or not 0 <= int(state["position"]) < self.capacity:
            raise ValueError(f"{size} saved transitions do not fit a buffer of {self.capacity}")
        saved_arrays, arrays = _named({f: state[f] for f in self.FIELDS}), self._arrays()
        if set(saved_arrays) != set(arrays):
            raise ValueError(
                f"saved arrays {sorted(saved_arrays)} do not fit the buffer's {sorted(arrays)}"
            )
        for name, array in arrays.items():
            saved = np.asarray(saved_arrays[name])
            if (
                saved.shape[1:] != array.shape[1:]
                or saved.dtype != array.dtype
                or len(saved) != size
            ):
                raise ValueError(
                    f"saved {name} {saved.dtype}{list(saved.shape)} does not fit the buffer's "
                    f"{array.dtype}{list(array.shape)}"
                )
            array[:size] = saved
        self.size, self.position = size, int(state["position"])
        if self.priorities is not None:
            if "priorities" not in state:
                raise ValueError("the saved buffer has no priorities (it was not prioritized)")
            self.priorities.load_state(
                {key: np.asarray(value) for key, value in state["priorities"].items()}
            )

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch:
        """``batch_size`` transitions drawn uniformly, with replacement, from those stored."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        return self.take(rng.integers(self.size, size=batch_size))

    def sample_prioritized(self, batch_size: int, beta: float, rng: np.random.Generator) -> Batch:
        """``batch_size`` transitions drawn in proportion to their priorities, with weights."""
        if self.size == 0:
            raise ValueError("cannot sample from an empty replay buffer")
        slots, weights = self.priorities.sample(batch_size, self.size, beta, rng)
        return replace(self.take(slots), slots=slots, weights=weights)

    def take(self, index: np.ndarray) -> Batch:
        """The transitions stored at ``index``."""
        return Batch(
            _parts(self.obs, lambda array: array[index]),
            self.action[index],
            self.reward[index],
            _parts(self.next_obs, lambda array: array[index]),
            self.terminated[index],
            self.truncated[index],
            discount=self.discount[index] if "discount" in self.FIELDS else None,
        )

    def sample_spans(
        self,
        batch_size: int,
        n_batches: int,
        rng: np.random.Generator,
        fixed: Callable[[], int],
        beta: float | None = None,
    ) -> Iterator[Batch]:
        """``n_batches`` uniform batches of ``batch_size``, drawn a span of them at a time.

        A span is up to ``fixed()`` batches (asked anew before each span: how many of the next
        batches a learner treats alike, e.g. until its target network changes), at most
        :data:`MAX_SPAN` and :data:`MAX_SPAN_ELEMENTS` stored numbers of observations. Each
        yields one :class:`Batch` of its batches' rows (``batches``: how many); the next span is
        drawn when the caller asks for it, after it used this one. A prioritized buffer draws
        each batch alone (its priorities change with every step), with importance weights of
        exponent ``beta``.
        """
        if self.priorities is not None:
            for _ in range(n_batches):
                yield self.sample_prioritized(batch_size, beta, rng)
            return
        per_batch = batch_size * self.obs_numbers
        longest = max(1, min(MAX_SPAN, MAX_SPAN_ELEMENTS // per_batch))
        done = 0
        while done < n_batches:
            span = min(n_batches - done, fixed(), longest)
            yield replace(self.sample(batch_size * span, rng), batches=span)
            done += span
