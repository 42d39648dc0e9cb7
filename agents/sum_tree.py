"""Proportional prioritized replay (Schaul et al., 2016): a sum tree over the buffer's slots.

A transition in slot ``i`` is drawn with probability ``P(i) = p_i / Σ p``, where its priority is
``p_i = (|δ_i| + ε)^α`` (``δ``: its latest TD error; a new transition gets the largest priority
seen so far, so that each is drawn at least once soon). Its gradient is weighted by the
importance weight ``w_i = (N · P(i))^−β / max_j w_j``, which undoes the bias of the non-uniform
draw as ``β`` rises to 1.

:class:`SumTree` finds a slot by a prefix sum in ``O(log N)`` (every inner node holds the sum of
its two children, the leaves hold the priorities): no sort, no scan of the buffer. A second tree
of the same shape keeps minima, for the largest importance weight.
"""

from __future__ import annotations

import numpy as np


class SumTree:
    """Priorities of ``capacity`` slots in complete binary trees of their sums and minima."""

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError(f"sum tree capacity must be >= 1, got {capacity}")
        self.capacity = int(capacity)
        self.leaves = 1 << (self.capacity - 1).bit_length()  # a power of two: a complete tree
        self.nodes = np.zeros(2 * self.leaves)  # node k's children: 2k, 2k + 1; the root: 1
        self.mins = np.full(2 * self.leaves, np.inf)  # the same tree of minima (empty: inf)

    @staticmethod
    def bytes_needed(capacity: int) -> int:
        """The bytes the trees of ``capacity`` slots hold (before building them)."""
        return 2 * 2 * (1 << (int(capacity) - 1).bit_length()) * 8

    @property
    def total(self) -> float:
        """The sum of every priority (the root)."""
        return float(self.nodes[1])

    @property
    def min(self) -> float:
        """The smallest priority set (inf before any)."""
        return float(self.mins[1])

    def __getitem__(self, slots) -> np.ndarray:
        """The priorities of ``slots``."""
        return self.nodes[self.leaves + np.asarray(slots)]

    def update(self, slots, priorities) -> None:
        """Set the priorities of ``slots`` (the last one wins for a repeated slot), sums above."""
        nodes = self.leaves + np.asarray(slots, dtype=np.int64).reshape(-1)
        self.nodes[nodes] = self.mins[nodes] = np.asarray(priorities, np.float64).reshape(-1)
        while len(nodes) and nodes[0] > 1:  # one level up at a time, each parent summed once
            nodes = np.unique(nodes // 2)
            self.nodes[nodes] = self.nodes[2 * nodes] + self.nodes[2 * nodes + 1]
            self.mins[nodes] = np.minimum(self.mins[2 * nodes], self.mins[2 * nodes + 1])

    def find(self, values: np.ndarray) -> np.ndarray:
        """The slot of each value in ``[0, total)``: the first whose prefix sum exceeds it."""
        values = np.array(values, dtype=np.float64).reshape(-1)
        nodes = np.ones(len(values), dtype=np.int64)
        while nodes[0] < self.leaves:
            left = self.nodes[2 * nodes]
            right = values >= left
            values = np.where(right, values - left, values)
            nodes = 2 * nodes + right
        return nodes - self.leaves


class Priorities:
    """What a prioritized buffer adds to its slots: their priorities, sampling, weights."""

    def __init__(self, capacity: int, alpha: float, eps: float):
        self.tree = SumTree(capacity)
        self.alpha, self.eps = float(alpha), float(eps)
        self.max_priority = 1.0
        """The largest priority given so far (what a new transition gets)."""

    def added(self, slot: int) -> None:
        """A new transition in ``slot``: the largest priority so far."""
        self.tree.update([slot], [self.max_priority])

    def sample(
        self, batch_size: int, size: int, beta: float, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """``batch_size`` slots drawn in proportion to their priorities, and their weights.

        One draw from each of ``batch_size`` equal segments of the total (stratified, as Schaul
        et al. do); ``size``: the slots that hold a transition. Weights: ``(N · P)^−β`` over
        their largest possible value (that of the smallest priority stored).
        """
        total = self.tree.total
        values = (np.arange(batch_size) + rng.random(batch_size)) * (total / batch_size)
        slots = np.minimum(self.tree.find(np.minimum(values, np.nextafter(total, 0))), size - 1)
        probabilities = self.tree[slots] / total
        smallest = self.tree.min / total
        weights = (size * probabilities) ** -beta / (size * smallest) ** -beta
        return slots, weights.astype(np.float32)

    def update(self, slots: np.ndarray, td_errors: np.ndarray) -> None:
        """New priorities ``(|δ| + ε)^α`` of the sampled ``slots`` after a gradient step."""
        priorities = (np.abs(np.asarray(td_errors, dtype=np.float64)) + self.eps) ** self.alpha
        self.tree.update(slots, priorities)
        self.max_priority = max(self.max_priority, float(priorities.max()))

    def state(self, size: int) -> dict:
        """The priorities of the ``size`` filled slots and the largest one (for ``resume.pt``)."""
        return {
            "priorities": self.tree[np.arange(size)].copy(),
            "max_priority": np.array(self.max_priority),
        }

    def load_state(self, state: dict) -> None:
        """Put back what :meth:`state` gave (the sums above recomputed)."""
        priorities = np.asarray(state["priorities"], dtype=np.float64)
        if len(priorities) > self.tree.capacity:
            raise ValueError(f"{len(priorities)} saved priorities do not fit {self.tree.capacity}")
        self.tree.nodes[:], self.tree.mins[:] = 0.0, np.inf
        self.tree.update(np.arange(len(priorities)), priorities)
        self.max_priority = float(state["max_priority"])
