"""What DQN's many small gradient steps train with on a CPU: same numbers, faster steps.

:class:`FlatParameters` (one vector of parameters, one of gradients) and :func:`flush_denormals`.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


class FlatParameters:
    """A module's parameters and their gradients as views into two contiguous vectors.

    Give the optimizer ``[flat.values]`` instead of ``module.parameters()``: zeroing, clipping
    the gradient norm and an Adam step then each touch one tensor instead of one per layer.
    For the small networks of DQN on a CPU, where per-tensor overhead outweighs the arithmetic,
    a gradient step gets 15–20% faster, with the same numbers. ``module.load_state_dict`` copies
    into the views and keeps them; moving the module to another device or dtype does not.
    """

    def __init__(self, module: torch.nn.Module):
        parameters = list(module.parameters())
        self.values = torch.cat([p.detach().reshape(-1) for p in parameters])
        self.grads = torch.zeros_like(self.values)
        offset = 0
        for p in parameters:
            size = p.numel()
            p.data = self.values[offset : offset + size].view_as(p)
            p.grad = self.grads[offset : offset + size].view_as(p)  # backward adds in place
            offset += size
        self.values.grad = self.grads

    def zero_grad(self) -> None:
        """Zero every gradient (in place: the views must stay)."""
        self.grads.zero_()

    def clip_grad_norm_(self, max_norm: float) -> torch.Tensor:
        """Scale the gradients so their global L2 norm is at most ``max_norm``; return the norm."""
        norm = torch.linalg.vector_norm(self.grads)
        self.grads.mul_(torch.clamp(max_norm / (norm + 1e-6), max=1.0))
        return norm


@contextmanager
def flush_denormals() -> Iterator[bool]:
    """Inside the block, the CPU treats denormal floats (below ~1.2e-38) as zero.

    Adam's second-moment estimates of rarely-used weights (dead ReLUs, squared tiny gradients)
    sink into the denormal range, where x86 arithmetic is 10–100 times slower: here that made
    DQN's Adam step 4–5× slower. Flushing them changes values no network can tell apart. Yields
    whether the CPU supports it; afterwards restores torch's default (denormals kept).
    """
    supported = torch.set_flush_denormal(True)
    try:
        yield supported
    finally:
        torch.set_flush_denormal(False)
