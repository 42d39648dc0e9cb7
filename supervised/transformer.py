"""A character-level Transformer, trained beside the GRU on the same text, parameters and time.

The Transformer reads a window of characters at once. Each character's embedding plus a
**sinusoidal positional encoding** (the only thing that tells it where a character stands) goes
through blocks of **causal self-attention** (every position mixes the positions up to itself,
never after: a mask hides the future) and a small feed-forward network, each on a residual path
after a layer norm. A linear head gives next-character logits at every position, trained with
the same cross-entropy as the GRU of :mod:`supervised.rnn`, whose corpus, vocabulary, split,
sequences, perplexity, unigram baseline and sampling it shares.

The comparison is fair by construction: both networks have about the same number of parameters
(:data:`TRANSFORMER` and :data:`GRU`), train in the same loop (:func:`train_for`: Adam, the same
mini-batches, warm-up then cosine learning rate) for the same **budget of CPU seconds** (the
process's CPU time on one thread, so other work on a shared machine does not shorten a model's
turn; on a GPU, wall-clock seconds), and are measured on the same held-out text.

``rlcourse supervised transformer [--corpus FILE] [--seconds S] [--epochs N] --out DIR`` runs
:func:`experiment` and writes into ``DIR``:

- ``metrics.json`` with keys
    - ``transformer_val_perplexity``, ``gru_val_perplexity``: held-out perplexity (last 10%
      of the corpus) of each network at the end of its budget;
    - ``perplexity_ratio``: the Transformer's over the GRU's (below 1.1: within 10%);
    - ``unigram_perplexity``: the character-frequency baseline on the same text;
    - ``transformer_parameters``, ``gru_parameters``: trainable parameters;
    - ``transformer_seconds``, ``gru_seconds``: training seconds spent (evaluations excluded);
    - ``transformer_steps``, ``gru_steps``: gradient steps taken in that time;
    - ``transformer_sample``, ``gru_sample``: 200 characters generated at temperature 0.5;
    - ``seconds``: the budget each; ``vocabulary``, ``corpus_chars``;
- ``samples.txt``: each network's text at temperatures 0.5, 0.8 and 1.0 (seeded);
- ``curves.csv`` and ``perplexity.png``: held-out perplexity against training seconds.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from common import devices
from common.atomic import write_text
from supervised.rnn import (
    CORPUS_CHARS,
    SEQUENCE,
    CharRNN,
    RNNConfig,
    corpus_splits,
    perplexity,
    sample,
    sequence_loss,
    sequences,
    temperature_samples,
    unigram_perplexity,
)
from supervised.train import batches, count_parameters, seed_torch, single_thread

SECONDS = 30.0
"""Default training budget of each network, in CPU seconds."""
EPOCHS = 1000
"""Default cap on passes over the training text (the seconds run out first)."""
EVALUATIONS = 10
"""Held-out evaluations over the budget (plus one before training), for the curve."""
LR = 6e-3
"""Peak learning rate of both networks."""
WARMUP = 50
"""Steps of linear learning-rate warm-up."""
BATCH = 32
"""Sequences per gradient step."""


@dataclass(frozen=True)
class TransformerConfig:
    """Shape of a :class:`CharTransformer`."""

    width: int = 64
    """Width of the embeddings and of every block (``d_model``)."""
    heads: int = 4
    """Attention heads per block (each ``width / heads`` wide)."""
    layers: int = 2
    """Blocks of attention + feed-forward."""
    feedforward: int = 128
    """Hidden width of each block's feed-forward network."""
    context: int = SEQUENCE
    """Most characters seen at once (the positional encoding's length)."""

    def __post_init__(self):
        if min(self.width, self.heads, self.layers, self.feedforward, self.context) < 1:
            raise ValueError("width, heads, layers, feedforward and context must be >= 1")
        if self.width % self.heads:
            raise ValueError(f"width {self.width} is not divisible by heads {self.heads}")


TRANSFORMER = TransformerConfig()
"""The Transformer of the experiment: 2 blocks of width 64 (about the GRU's parameters)."""
GRU = RNNConfig(cell="gru", embedding=32, hidden=128)
"""The GRU of the experiment: :mod:`supervised.rnn`'s default."""


def positional_encoding(length: int, width: int) -> torch.Tensor:
    """The sinusoidal encoding ``(length, width)`` of Vaswani et al. (2017).

    ``PE[p, 2i] = sin(p / 10000^(2i / width))`` and ``PE[p, 2i + 1] = cos(...)``: every
    position a distinct pattern, and a shift by ``k`` positions a linear map of it.
    """
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * -math.log(1e4) / width)
    encoding = torch.zeros(length, width)
    encoding[:, 0::2] = torch.sin(position * frequency)
    encoding[:, 1::2] = torch.cos(position * frequency)[:, : width // 2]
    return encoding


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention in which position ``t`` attends to positions ``<= t`` only."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, L, width)`` → ``(n, L, width)``: each position a mix of those up to it."""
        n, length, width = x.shape
        # queries, keys and values, each (n, heads, length, width / heads)
        q, k, v = self.qkv(x).view(n, length, 3, self.heads, -1).permute(2, 0, 3, 1, 4)
        # softmax(q k^T / sqrt(d)) v, the scores above the diagonal masked to -inf
        mixed = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.out(mixed.transpose(1, 2).reshape(n, length, width))


class Block(nn.Module):
    """``x + attention(norm(x))``, then ``x + feedforward(norm(x))`` (pre-norm)."""

    def __init__(self, config: TransformerConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(config.width)
        self.attention = CausalSelfAttention(config.width, config.heads)
        self.norm2 = nn.LayerNorm(config.width)
        self.feedforward = nn.Sequential(
            nn.Linear(config.width, config.feedforward),
            nn.GELU(),
            nn.Linear(config.feedforward, config.width),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(n, L, width)`` → ``(n, L, width)``."""
        x = x + self.attention(self.norm1(x))
        return x + self.feedforward(self.norm2(x))


class CharTransformer(nn.Module):
    """Embedding + positional encoding → causal blocks → norm → linear: next-character logits."""

    def __init__(self, vocabulary: int, config: TransformerConfig = TRANSFORMER):
        super().__init__()
        if vocabulary < 1:
            raise ValueError(f"vocabulary size must be >= 1, got {vocabulary}")
        self.config = config
        self.embed = nn.Embedding(vocabulary, config.width)
        self.register_buffer("position", positional_encoding(config.context, config.width))
        self.blocks = nn.Sequential(*(Block(config) for _ in range(config.layers)))
        self.norm = nn.LayerNorm(config.width)
        self.head = nn.Linear(config.width, vocabulary)
        for module in self.modules():  # GPT-2's initialisation: small weights, zero biases
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                nn.init.zeros_(module.bias)
        for block in self.blocks:  # residual branches scaled down with the depth
            for layer in (block.attention.out, block.feedforward[-1]):
                nn.init.normal_(layer.weight, std=0.02 / math.sqrt(2 * config.layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(n, L, vocabulary)`` for indices ``(n, L)``, ``L <= context``."""
        if x.shape[1] > self.config.context:
            raise ValueError(f"{x.shape[1]} characters exceed the context of {self.config.context}")
        h = self.embed(x) + self.position[: x.shape[1]]
        return self.head(self.norm(self.blocks(h)))

    def step(self, x: torch.Tensor, state: torch.Tensor | None = None):
        """``(logits of x's positions, state)`` as :meth:`CharRNN.step`, for :func:`sample`.

        The state is the last ``context`` characters read: the window the next step sees.
        """
        window = x if state is None else torch.cat([state, x], dim=1)
        window = window[:, -self.config.context :]
        return self(window)[:, -x.shape[1] :], window


@dataclass
class Curve:
    """Held-out perplexity during training: one entry per evaluation."""

    seconds: list[float]
    steps: list[int]
    perplexity: list[float]


def train_for(
    model: nn.Module,
    train: np.ndarray,
    val: tuple[torch.Tensor, torch.Tensor],
    seconds: float = SECONDS,
    epochs: int = EPOCHS,
    *,
    lr: float = LR,
    warmup: int = WARMUP,
    batch_size: int = BATCH,
    seed: int = 0,
    evaluations: int = EVALUATIONS,
    length: int = SEQUENCE,
) -> Curve:
    """Train ``model`` on the encoded text ``train`` until ``seconds`` or ``epochs`` run out.

    Each epoch cuts ``train`` into :func:`~supervised.rnn.sequences` of ``length`` from a
    random offset (so the pieces differ from epoch to epoch) and takes them in shuffled batches.
    Adam; the learning rate rises linearly over ``warmup`` steps, then follows a cosine from
    ``lr`` to ``lr / 10`` over the budget used (the larger of the seconds' and the epochs'
    fraction). Seconds are the process's CPU time on the CPU (wall-clock on a GPU), counting
    training steps only: held-out perplexity is measured before training and at every
    ``seconds / evaluations``, and at the end. The model ends on the CPU.
    """
    if not (seconds > 0 and epochs >= 1 and evaluations >= 1):
        raise ValueError("seconds, epochs and evaluations must be > 0")
    device = devices.current()
    model.to(device)
    xv, yv = (t.to(device) for t in val)
    clock = time.process_time if device.type == "cpu" else _synchronised(time.perf_counter)
    optimizer = torch.optim.Adam(model.parameters(), lr)
    generator = torch.Generator().manual_seed(seed)
    total_steps = epochs * math.ceil(len(sequences(train, length)[0]) / batch_size)
    shifts = max(1, min(length, len(train) - length))  # each epoch's sequences start here
    curve = Curve([0.0], [0], [perplexity(model, xv, yv)])
    spent, step, next_evaluation = 0.0, 0, seconds / evaluations
    while spent < seconds and step < total_steps:
        model.train()
        offset = int(torch.randint(shifts, (1,), generator=generator))
        x, y = (t.to(device) for t in sequences(train[offset:], length))
        for index in batches(len(x), batch_size, generator):
            start = clock()
            done = max(spent / seconds, step / total_steps)
            scale = min(1.0, (step + 1) / warmup) * (0.55 + 0.45 * math.cos(math.pi * done))
            for group in optimizer.param_groups:
                group["lr"] = lr * scale
            optimizer.zero_grad()
            loss = sequence_loss(model, x[index], y[index])
            loss.backward()
            optimizer.step()
            spent += clock() - start
            step += 1
            if not math.isfinite(value := float(loss.detach())):
                raise ValueError(f"training loss became {value} at step {step}; lower the lr")
            finished = spent >= seconds or step >= total_steps
            if spent >= next_evaluation or finished:
                curve.seconds.append(spent)
                curve.steps.append(step)
                curve.perplexity.append(perplexity(model, xv, yv))
                next_evaluation += seconds / evaluations
                model.train()
            if finished:
                break
    model.to("cpu")
    model.eval()
    return curve


def _synchronised(clock):
    def read() -> float:
        torch.cuda.synchronize()
        return clock()

    return read


def build(name: str, vocabulary: int) -> nn.Module:
    """The experiment's ``transformer`` or ``gru`` for a vocabulary of that size."""
    if name == "transformer":
        return CharTransformer(vocabulary, TRANSFORMER)
    return CharRNN(vocabulary, GRU)


MODELS = ("transformer", "gru")
"""The networks compared, in the order they train."""


def experiment(
    out: str | os.PathLike,
    *,
    epochs: int | None = None,
    seconds: float | None = None,
    seed: int = 0,
    progress: bool = True,
    corpus: str | os.PathLike | None = None,
    corpus_chars: int = CORPUS_CHARS,
    length: int = SEQUENCE,
    evaluations: int = EVALUATIONS,
) -> dict[str, float | int | str]:
    """Train the Transformer and the GRU for the same budget on ``corpus``; compare them.

    Each trains for ``seconds`` (default :data:`SECONDS`) CPU seconds or ``epochs`` passes,
    whichever runs out first, on one torch thread, from ``seed``. ``progress`` prints a line
    per network. See the module docstring for what is written.

    Raises:
        DataError: an unreadable corpus, or one too short for a training and a held-out sequence.
    """
    out = Path(out)
    vocabulary, train, held_out = corpus_splits(corpus, length, corpus_chars)
    val = sequences(held_out, length)
    budget = SECONDS if seconds is None else seconds
    metrics: dict[str, float | int | str] = {}
    curves, texts = {}, []
    prime = vocabulary.decode(held_out[:1])
    with single_thread():
        for name in MODELS:
            seed_torch(seed)
            model = build(name, len(vocabulary))
            curve = train_for(
                model,
                train,
                val,
                budget,
                epochs or EPOCHS,
                seed=seed,
                evaluations=evaluations,
                length=length,
            )
            curves[name] = curve
            metrics |= {
                f"{name}_val_perplexity": curve.perplexity[-1],
                f"{name}_parameters": count_parameters(model),
                f"{name}_seconds": curve.seconds[-1],
                f"{name}_steps": curve.steps[-1],
                f"{name}_sample": prime + sample(model, vocabulary, prime, 200, 0.5, seed),
            }
            texts.append(f"=== {name} ===\n" + temperature_samples(model, vocabulary, prime, seed))
            if progress:
                print(f"{name}: held-out perplexity {curve.perplexity[-1]:.3f}", flush=True)
    unigram = unigram_perplexity(train, held_out, len(vocabulary))
    metrics |= {
        "perplexity_ratio": metrics["transformer_val_perplexity"] / metrics["gru_val_perplexity"],
        "unigram_perplexity": unigram,
        "seconds": budget,
        "vocabulary": len(vocabulary),
        "corpus_chars": len(train) + len(held_out),
    }
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "samples.txt", "\n".join(texts))
    save_curves(out, curves, unigram, metrics)
    return metrics


def save_curves(out: Path, curves: dict[str, Curve], unigram: float, metrics: dict) -> None:
    """``curves.csv`` (model, seconds, steps, val_perplexity) and ``perplexity.png``."""
    from matplotlib.figure import Figure

    from common.figures import save_figure

    rows = ["model,seconds,steps,val_perplexity"] + [
        f"{name},{s:.3f},{k},{p:.6g}"
        for name, curve in curves.items()
        for s, k, p in zip(curve.seconds, curve.steps, curve.perplexity, strict=True)
    ]
    write_text(out / "curves.csv", "\n".join(rows) + "\n")
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for name, curve in curves.items():
        label = (
            f"{name}: {metrics[f'{name}_parameters']:,} parameters, "
            f"{curve.steps[-1]} steps → {curve.perplexity[-1]:.2f}"
        )
        ax.plot(curve.seconds, curve.perplexity, marker="o", markersize=3, label=label)
    ax.axhline(unigram, color="grey", linestyle="--", label=f"unigram baseline {unigram:.1f}")
    ax.set_yscale("log")
    top = max(np.max(c.perplexity) for c in curves.values())
    ax.set_ylim(0.8 * min(np.min(c.perplexity) for c in curves.values()), 1.1 * top)
    ax.set_xlabel("training seconds (CPU time, one thread)")
    ax.set_ylabel("held-out perplexity (log scale)")
    ax.set_title("Transformer vs GRU at the same budget")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    save_figure(fig, out / "perplexity.png", dpi=110)
