"""A character-level recurrent network (GRU or LSTM) that learns to continue text.

The corpus becomes a vocabulary of its characters and ``(sequence, sequence shifted by one)``
pairs of length ``L``: at every position the network predicts the next character, trained with
cross-entropy. Its quality is the held-out **perplexity** ``exp(mean cross-entropy per
character)``: the number of characters it is, on average, as unsure between as a uniform guess.
The baseline is the **unigram** model (character frequencies of the training text, nothing of
the context); a network that has learned anything of the context goes below it.

Generation feeds the network its own samples: at each step the next character is drawn from
``softmax(logits / temperature)``. Temperature 1 samples the model's distribution, lower is more
conservative (0 is greedy: always the most likely character), higher is more random.

The default corpus exists on every machine: the docstrings of Python's standard library, read
from its source files (parsed, never imported) in sorted order, so the same Python gives the
same text.

``rlcourse supervised rnn [--corpus FILE] [--cell gru|lstm] --out DIR`` runs :func:`experiment`
and writes into ``DIR``:

- ``metrics.json`` with keys
    - ``val_perplexity``: held-out perplexity of the network (the last 10% of the corpus);
    - ``unigram_perplexity``: held-out perplexity of the unigram baseline;
    - ``train_perplexity``: the same on the training part;
    - ``vocabulary``: distinct characters; ``corpus_chars``: characters used;
    - ``cell``: ``gru`` or ``lstm``;
- ``samples.txt``: generated text at temperatures 0.5, 0.8 and 1.0 (seeded);
- ``history.csv|png``: losses per epoch.
"""

from __future__ import annotations

import ast
import math
import os
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from common.atomic import write_text
from supervised.data import DataError
from supervised.train import TrainConfig, fit, seed_torch, single_thread

CELLS = ("gru", "lstm")
"""Recurrent cells to choose from."""
SEQUENCE = 64
"""Default sequence length ``L`` (characters per training example)."""
CORPUS_CHARS = 150_000
"""Characters of the default corpus used by :func:`experiment` (its start, for a short run)."""
EPOCHS = 4
"""Default training budget of :func:`experiment`."""
TEMPERATURES = (0.5, 0.8, 1.0)
"""Temperatures of ``samples.txt``."""
SKIPPED_DIRS = ("test", "tests", "idlelib", "turtledemo", "site-packages", "lib2to3", "__pycache__")
"""Standard-library folders left out of the default corpus (tests, GUIs, installed packages)."""


@dataclass(frozen=True)
class RNNConfig:
    """Shape of a :class:`CharRNN`."""

    cell: str = "gru"
    """``gru`` or ``lstm``."""
    embedding: int = 32
    """Width of each character's learned embedding."""
    hidden: int = 128
    """Width of the recurrent state."""
    layers: int = 1
    """Stacked recurrent layers."""

    def __post_init__(self):
        if self.cell not in CELLS:
            raise ValueError(f"cell must be one of {', '.join(CELLS)}, got {self.cell!r}")
        if min(self.embedding, self.hidden, self.layers) < 1:
            raise ValueError("embedding, hidden and layers must be >= 1")


class Vocabulary:
    """The characters of a text, each with an index (sorted, so the same text, the same indices)."""

    def __init__(self, text: str):
        if not text:
            raise DataError("the corpus is empty")
        self.chars = sorted(set(text))
        self.index = {char: i for i, char in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> np.ndarray:
        """Indices ``(len(text),)`` int64; characters outside the vocabulary raise ``DataError``."""
        try:
            return np.fromiter((self.index[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as err:
            raise DataError(f"character {err.args[0]!r} is not in the vocabulary") from None

    def decode(self, indices) -> str:
        """The text of a sequence of indices."""
        return "".join(self.chars[int(i)] for i in indices)


def sequences(encoded: np.ndarray, length: int = SEQUENCE) -> tuple[torch.Tensor, torch.Tensor]:
    """Non-overlapping ``(inputs, targets)`` pairs, each ``(n, length)``: targets shifted by one.

    Raises:
        DataError: the text is too short for one sequence (``length + 1`` characters).
    """
    if length < 1:
        raise ValueError(f"sequence length must be >= 1, got {length}")
    n = (len(encoded) - 1) // length
    if n < 1:
        raise DataError(
            f"corpus too short: {len(encoded)} characters, one sequence needs {length + 1}"
        )
    data = torch.as_tensor(encoded[: n * length + 1])
    return data[:-1].reshape(n, length), data[1:].reshape(n, length)


class CharRNN(nn.Module):
    """Embedding → GRU/LSTM → linear: next-character logits at every position."""

    def __init__(self, vocabulary: int, config: RNNConfig = RNNConfig()):
        super().__init__()
        if vocabulary < 1:
            raise ValueError(f"vocabulary size must be >= 1, got {vocabulary}")
        self.config = config
        self.embed = nn.Embedding(vocabulary, config.embedding)
        recurrent = nn.GRU if config.cell == "gru" else nn.LSTM
        self.rnn = recurrent(config.embedding, config.hidden, config.layers, batch_first=True)
        self.head = nn.Linear(config.hidden, vocabulary)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(n, L, vocabulary)`` for indices ``(n, L)``, from a zero state."""
        return self.step(x)[0]

    def step(self, x: torch.Tensor, state=None):
        """``(logits, state)`` for a batch of sequences, carrying the recurrent state on."""
        output, state = self.rnn(self.embed(x), state)
        return self.head(output), state


def sequence_loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy per character of the next-character predictions (a :func:`fit` loss)."""
    logits = model(x)
    return nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))


def perplexity(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 256) -> float:
    """``exp`` of the mean cross-entropy per character of ``model`` on pairs ``(x, y)``."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        for start in range(0, len(x), batch_size):
            chunk = slice(start, start + batch_size)
            total += float(sequence_loss(model, x[chunk], y[chunk])) * len(x[chunk])
    return math.exp(total / len(x))


def unigram_perplexity(train: np.ndarray, held_out: np.ndarray, vocabulary: int) -> float:
    """Perplexity on ``held_out`` of character frequencies of ``train`` (add-one smoothed)."""
    counts = np.bincount(train, minlength=vocabulary) + 1.0
    log_p = np.log(counts / counts.sum())
    return math.exp(-log_p[held_out].mean())


def sample(
    model: CharRNN,
    vocabulary: Vocabulary,
    prime: str,
    length: int = 200,
    temperature: float = 1.0,
    seed: int = 0,
) -> str:
    """``length`` characters continuing ``prime``, drawn from ``softmax(logits / temperature)``.

    ``temperature=0`` picks the most likely character every step (greedy, no randomness). The
    same seed gives the same text.

    Raises:
        ValueError: a negative temperature or an empty ``prime``.
        DataError: ``prime`` holds characters outside the vocabulary.
    """
    if temperature < 0:
        raise ValueError(f"temperature must be >= 0, got {temperature}")
    if not prime:
        raise ValueError("prime must hold at least one character")
    generator = torch.Generator().manual_seed(seed)
    model.eval()
    out = []
    with torch.no_grad():
        logits, state = model.step(torch.as_tensor(vocabulary.encode(prime))[None])
        for _ in range(length):
            last = logits[0, -1]
            if temperature == 0:
                char = int(last.argmax())
            else:
                probs = torch.softmax(last / temperature, dim=0)
                char = int(torch.multinomial(probs, 1, generator=generator))
            out.append(char)
            logits, state = model.step(torch.tensor([[char]]), state)
    return vocabulary.decode(out)


def stdlib_docstrings(limit: int | None = None) -> str:
    """The docstrings of the standard library's modules, classes and functions, in sorted order.

    Source files are parsed with :mod:`ast`, never imported. Folders in :data:`SKIPPED_DIRS` are
    left out. ``limit`` stops after that many characters.
    """
    parts, size = [], 0
    for text in _docstrings(Path(sysconfig.get_paths()["stdlib"])):
        parts.append(text)
        size += len(text) + 2
        if limit is not None and size >= limit:
            break
    corpus = "\n\n".join(parts)
    return corpus[:limit] if limit is not None else corpus


def _docstrings(root: Path) -> Iterator[str]:
    for path in sorted(root.rglob("*.py")):
        if any(part in SKIPPED_DIRS for part in path.relative_to(root).parts[:-1]):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, OSError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                doc = ast.get_docstring(node)
                if doc and doc.isascii():
                    yield doc


def load_corpus(path: str | os.PathLike | None = None, limit: int | None = None) -> str:
    """The text of ``path`` (UTF-8), or the standard library's docstrings when ``path`` is None.

    Raises:
        DataError: a missing, unreadable or empty file.
    """
    if path is None:
        return stdlib_docstrings(limit)
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: unreadable as UTF-8 text ({err})") from None
    if not text:
        raise DataError(f"{path}: the corpus is empty")
    return text[:limit] if limit is not None else text


def experiment(
    out: str | os.PathLike,
    *,
    epochs: int | None = None,
    seed: int = 0,
    progress: bool = True,
    corpus: str | os.PathLike | None = None,
    cell: str = "gru",
    length: int = SEQUENCE,
    corpus_chars: int = CORPUS_CHARS,
    hidden: int = 128,
) -> dict[str, float]:
    """Train a character RNN on ``corpus`` (default: stdlib docstrings); write samples.

    The last 10% of the text is held out for validation (early stopping keeps the best epoch)
    and perplexity. Training runs on one torch thread.

    Raises:
        DataError: an unreadable corpus, or one too short for a training and a held-out sequence.

    Returns:
        The metrics (see the module docstring), which :func:`supervised.experiments.run`
        writes to ``metrics.json``.
    """
    out = Path(out)
    vocabulary, train, held_out = corpus_splits(corpus, length, corpus_chars)
    x, y = sequences(train, length)
    xv, yv = sequences(held_out, length)
    seed_torch(seed)
    model = CharRNN(len(vocabulary), RNNConfig(cell=cell, hidden=hidden))
    config = TrainConfig(
        epochs=epochs or EPOCHS, batch_size=32, lr=3e-3, seed=seed, progress=progress
    )
    with single_thread():
        history = fit(model, sequence_loss, (x, y), (xv, yv), config)
        metrics = {
            "val_perplexity": perplexity(model, xv, yv),
            "unigram_perplexity": unigram_perplexity(train, held_out, len(vocabulary)),
            "train_perplexity": perplexity(model, x, y),
            "vocabulary": len(vocabulary),
            "corpus_chars": len(train) + len(held_out),
            "cell": cell,
        }
        samples = temperature_samples(model, vocabulary, vocabulary.decode(held_out[:1]), seed)
    out.mkdir(parents=True, exist_ok=True)
    history.save(out)
    write_text(out / "samples.txt", samples)
    return metrics


def corpus_splits(
    corpus: str | os.PathLike | None = None, length: int = SEQUENCE, chars: int = CORPUS_CHARS
) -> tuple[Vocabulary, np.ndarray, np.ndarray]:
    """The corpus's vocabulary and its encoded text, split to train on and held out.

    Raises:
        DataError: an unreadable corpus, or one too short for a training and a held-out sequence.
    """
    text = load_corpus(corpus, chars)
    vocabulary = Vocabulary(text)
    encoded = vocabulary.encode(text)
    train, held_out = hold_out(encoded, length)
    if min(len(train), len(held_out)) < length + 1:  # one sequence each
        raise DataError(
            f"corpus too short: {len(encoded)} characters; sequences of {length} need at least "
            f"{2 * (length + 1)} (one to train on, one held out)"
        )
    return vocabulary, train, held_out


def hold_out(encoded: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    """The first 90% of ``encoded`` to train on and the rest, made at least ``length + 1`` long."""
    cut = int(len(encoded) * 0.9)
    if len(encoded) - cut < length + 1:
        cut = len(encoded) - (length + 1)
    return encoded[:cut], encoded[cut:]


def temperature_samples(model: CharRNN, vocabulary: Vocabulary, prime: str, seed: int) -> str:
    """``samples.txt``: 400 characters after ``prime`` at each of :data:`TEMPERATURES`."""
    samples = [
        f"--- temperature {t} (seed {seed}, prime {prime!r}) ---\n"
        + prime
        + sample(model, vocabulary, prime, 400, t, seed)
        for t in TEMPERATURES
    ]
    return "\n\n".join(samples) + "\n"
