"""Batches between the envs, the replay buffer and torch.

Rows of a batch, one run's info, tensors to arrays and back, state dicts on the host.
Observations may be arrays or mappings/tuples of them (Dict and Tuple spaces); each function
walks that structure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch


def as_tensors(batch: Any, device: torch.device | None = None) -> Any:
    """A stored batch as tensors (sharing its memory on the CPU): an array or a mapping of them.

    ``device``: where the tensors go (None: the CPU).
    """
    if isinstance(batch, Mapping):
        return {key: as_tensors(value, device) for key, value in batch.items()}
    return torch.as_tensor(batch).to(device) if device is not None else torch.as_tensor(batch)


def as_arrays(saved: Any) -> Any:
    """Saved tensors (or a mapping of them) as numpy arrays: :func:`as_tensors` undone."""
    if isinstance(saved, Mapping):
        return {key: as_arrays(value) for key, value in saved.items()}
    return np.asarray(saved)


def on_host(state: Any) -> Any:
    """A state dict (nested dicts, lists of tensors and plain data) with every tensor on the CPU."""
    if isinstance(state, torch.Tensor):
        return state.cpu()
    if isinstance(state, Mapping):
        return {key: on_host(value) for key, value in state.items()}
    if isinstance(state, list | tuple):
        return type(state)(on_host(value) for value in state)
    return state


def batch_rows(batch: Any, rows: slice | int) -> Any:
    """Rows of a vector env's batch of observations, whatever its structure (Dict, Tuple)."""
    if isinstance(batch, Mapping):
        return {key: batch_rows(value, rows) for key, value in batch.items()}
    if isinstance(batch, tuple) and not isinstance(batch[0] if batch else None, str):
        return tuple(batch_rows(part, rows) for part in batch)
    return batch[rows]


def run_info(info: Mapping[str, Any], run: int, n_runs: int) -> dict[str, Any]:
    """The part of a vector env's ``info`` that belongs to one run, as a batch of one."""
    return {
        key: value[run : run + 1]
        for key, value in info.items()
        if isinstance(value, np.ndarray) and value.ndim and len(value) == n_runs
    }
