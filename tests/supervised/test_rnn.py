import json
import math

import numpy as np
import pytest
import torch

from rlcourse.cli import main
from supervised.data import DataError
from supervised.experiments import run
from supervised.rnn import (
    CharRNN,
    RNNConfig,
    Vocabulary,
    perplexity,
    sample,
    sequence_loss,
    sequences,
    stdlib_docstrings,
    unigram_perplexity,
)
from supervised.train import TrainConfig, fit, seed_torch


@pytest.fixture(scope="module")
def corpus():
    return stdlib_docstrings(limit=20_000)


@pytest.fixture(scope="module")
def trained(corpus):
    torch.set_num_threads(1)
    vocabulary = Vocabulary(corpus)
    encoded = vocabulary.encode(corpus)
    cut = int(0.9 * len(encoded))
    x, y = sequences(encoded[:cut], 32)
    xv, yv = sequences(encoded[cut:], 32)
    seed_torch(0)
    model = CharRNN(len(vocabulary), RNNConfig(hidden=64))
    fit(model, sequence_loss, (x, y), (xv, yv), TrainConfig(epochs=6, lr=5e-3, progress=False))
    unigram = unigram_perplexity(encoded[:cut], encoded[cut:], len(vocabulary))
    return model, vocabulary, perplexity(model, xv, yv), unigram


def test_stdlib_corpus_is_deterministic_and_ascii(corpus):
    assert len(corpus) == 20_000
    assert corpus == stdlib_docstrings(limit=20_000)
    assert corpus.isascii()


def test_vocabulary_round_trip_and_unknown_character():
    vocabulary = Vocabulary("hello world")
    assert vocabulary.chars == sorted(set("hello world"))
    assert vocabulary.decode(vocabulary.encode("world hello")) == "world hello"
    with pytest.raises(DataError, match="'z' is not in the vocabulary"):
        vocabulary.encode("zebra")


def test_sequences_are_inputs_and_targets_shifted_by_one():
    encoded = np.arange(23)
    x, y = sequences(encoded, 5)
    assert x.shape == y.shape == (4, 5)
    assert torch.equal(y[:, :-1], x[:, 1:])
    assert torch.equal(x[1], torch.arange(5, 10)) and int(y[-1, -1]) == 20


def test_too_short_for_one_sequence():
    with pytest.raises(DataError, match="corpus too short: 5 characters, one sequence needs 6"):
        sequences(np.arange(5), 5)


@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_logit_shapes(cell):
    model = CharRNN(30, RNNConfig(cell=cell, embedding=8, hidden=16, layers=2))
    x = torch.randint(0, 30, (4, 7))
    assert model(x).shape == (4, 7, 30)
    logits, state = model.step(x[:, :1])
    assert logits.shape == (4, 1, 30)


def test_untrained_perplexity_is_about_the_vocabulary_size():
    seed_torch(0)
    model = CharRNN(40, RNNConfig(hidden=16))
    x = torch.randint(0, 40, (8, 20))
    assert 30 < perplexity(model, x, torch.randint(0, 40, (8, 20))) < 55


def test_unigram_perplexity_of_uniform_text_is_the_alphabet_size():
    text = np.tile(np.arange(4), 100)
    assert unigram_perplexity(text, text, 4) == pytest.approx(4.0)


def test_short_run_beats_the_unigram_baseline(trained):
    _, _, val, unigram = trained
    assert val < 0.75 * unigram, (val, unigram)


def test_generation_repeats_under_a_seed(trained):
    model, vocabulary, _, _ = trained
    a = sample(model, vocabulary, "The ", 80, temperature=1.0, seed=3)
    assert a == sample(model, vocabulary, "The ", 80, temperature=1.0, seed=3)
    assert a != sample(model, vocabulary, "The ", 80, temperature=1.0, seed=4)
    assert len(a) == 80 and set(a) <= set(vocabulary.chars)


def test_temperature_zero_is_greedy_and_high_temperature_is_more_varied(trained):
    model, vocabulary, _, _ = trained
    greedy = sample(model, vocabulary, "The ", 60, temperature=0, seed=1)
    assert greedy == sample(model, vocabulary, "The ", 60, temperature=0, seed=2)

    def distinct(t):
        return np.mean([len(set(sample(model, vocabulary, "a", 200, t, s))) for s in range(3)])

    assert distinct(0.3) < distinct(1.0) < distinct(3.0)
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        sample(model, vocabulary, "a", 5, temperature=-1)


def test_experiment_on_a_user_corpus_writes_metrics_and_samples(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. " * 200)
    metrics = run(
        "rnn",
        tmp_path / "out",
        epochs=2,
        corpus=corpus,
        cell="lstm",
        length=16,
        hidden=32,
        progress=False,
    )
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["val_perplexity"] == pytest.approx(metrics["val_perplexity"])
    assert saved["cell"] == "lstm" and saved["vocabulary"] == len(set("the cat sat on mat."))
    assert math.isfinite(saved["unigram_perplexity"])
    assert saved["val_perplexity"] < saved["unigram_perplexity"]
    assert "--- temperature 0.5" in (tmp_path / "out" / "samples.txt").read_text()


def test_cli_refuses_a_corpus_too_short(tmp_path, capsys):
    corpus = tmp_path / "tiny.txt"
    corpus.write_text("abc" * 10)
    code = main(["supervised", "rnn", "--corpus", str(corpus), "--out", str(tmp_path / "o")])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rlcourse supervised: error: corpus too short: 30 characters")
    assert "\n" not in err


def test_cli_refuses_a_missing_corpus_and_rnn_options_elsewhere(tmp_path, capsys):
    code = main(["supervised", "rnn", "--corpus", "nope.txt", "--out", str(tmp_path / "o")])
    assert code == 2 and "nope.txt: no such file" in capsys.readouterr().err
    code = main(["supervised", "mlp", "--cell", "lstm", "--out", str(tmp_path / "p")])
    assert code == 2 and "--cell is an option of the rnn experiment" in capsys.readouterr().err
