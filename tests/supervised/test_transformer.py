import json
import math

import pytest
import torch

from rlcourse.cli import main
from supervised.experiments import run
from supervised.rnn import Vocabulary, perplexity, sample, sequences
from supervised.train import seed_torch
from supervised.transformer import (
    CharTransformer,
    TransformerConfig,
    positional_encoding,
    train_for,
)

TINY = TransformerConfig(width=16, heads=2, layers=2, feedforward=32, context=16)


@pytest.fixture(autouse=True)
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def test_positional_encoding_shape_and_values():
    encoding = positional_encoding(10, 6)
    assert encoding.shape == (10, 6)
    assert torch.allclose(encoding[0], torch.tensor([0.0, 1.0, 0.0, 1.0, 0.0, 1.0]))
    for position, i in [(3, 0), (5, 1), (9, 2)]:
        angle = position / 10_000 ** (2 * i / 6)
        assert encoding[position, 2 * i] == pytest.approx(math.sin(angle), abs=1e-6)
        assert encoding[position, 2 * i + 1] == pytest.approx(math.cos(angle), abs=1e-6)
    assert positional_encoding(4, 7).shape == (4, 7)  # an odd width keeps its last sine
    assert len({tuple(row.tolist()) for row in positional_encoding(64, 16)}) == 64


def test_changing_a_future_character_leaves_earlier_logits_unchanged():
    seed_torch(0)
    model = CharTransformer(12, TINY).eval()
    x = torch.randint(0, 12, (3, 16))
    changed = x.clone()
    changed[:, 9] = (x[:, 9] + 1) % 12
    with torch.no_grad():
        before, after = model(x), model(changed)
    assert torch.equal(before[:, :9], after[:, :9])
    assert not torch.allclose(before[:, 9:], after[:, 9:])


def test_too_long_an_input_and_a_bad_shape_are_refused():
    with pytest.raises(ValueError, match="17 characters exceed the context of 16"):
        CharTransformer(5, TINY)(torch.zeros(1, 17, dtype=torch.long))
    with pytest.raises(ValueError, match="width 10 is not divisible by heads 4"):
        TransformerConfig(width=10, heads=4)


def test_untrained_perplexity_is_about_the_vocabulary_size():
    seed_torch(0)
    model = CharTransformer(40, TINY)
    x, y = torch.randint(0, 40, (8, 16)), torch.randint(0, 40, (8, 16))
    assert 36 < perplexity(model, x, y) < 44


def test_stepping_with_a_window_matches_the_full_forward():
    seed_torch(1)
    model = CharTransformer(9, TINY).eval()
    x = torch.randint(0, 9, (1, 12))
    with torch.no_grad():
        full = model(x)
        logits, state = model.step(x[:, :5])
        steps = [logits]
        for t in range(5, 12):
            logits, state = model.step(x[:, t : t + 1], state)
            steps.append(logits)
        assert torch.allclose(torch.cat(steps, dim=1), full, atol=1e-5)
        for _ in range(10):  # past the context, the window slides
            logits, state = model.step(x[:, :1], state)
        assert state.shape == (1, 16) and logits.shape == (1, 1, 9)


def test_loss_decreases_on_a_tiny_corpus_and_sampling_repeats_under_a_seed():
    text = "abcd efg hij. " * 60
    vocabulary = Vocabulary(text)
    encoded = vocabulary.encode(text)
    seed_torch(0)
    model = CharTransformer(len(vocabulary), TINY)
    val = sequences(encoded[-200:], 16)
    curve = train_for(model, encoded, val, seconds=60, epochs=8, length=16, warmup=5, lr=1e-2)
    assert curve.steps[-1] == 8 * 2  # 50 sequences of 16 -> two batches of 32 per epoch
    assert curve.perplexity[0] > 0.8 * len(vocabulary)
    assert curve.perplexity[-1] < 0.5 * curve.perplexity[0], curve.perplexity
    assert curve.seconds == sorted(curve.seconds) and curve.seconds[0] == 0
    a = sample(model, vocabulary, "ab", 30, temperature=1.0, seed=3)
    assert a == sample(model, vocabulary, "ab", 30, temperature=1.0, seed=3)
    assert len(a) == 30 and set(a) <= set(vocabulary.chars)


def test_experiment_compares_both_networks_and_writes_its_files(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat. " * 40)
    metrics = run(
        "transformer",
        tmp_path / "out",
        seconds=0.2,
        epochs=1,
        corpus=corpus,
        length=16,
        evaluations=2,
        progress=False,
    )
    saved = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert saved["perplexity_ratio"] == pytest.approx(
        saved["transformer_val_perplexity"] / saved["gru_val_perplexity"]
    )
    for name in ("transformer", "gru"):
        assert saved[f"{name}_steps"] >= 1 and saved[f"{name}_seconds"] > 0
        assert len(saved[f"{name}_sample"]) == 201  # the prime and 200 characters
    assert 0.8 < saved["transformer_parameters"] / saved["gru_parameters"] < 1.2
    assert saved["vocabulary"] == len(set("the cat sat on mat."))
    assert saved == pytest.approx(metrics | {"device": saved["device"]})
    lines = (tmp_path / "out" / "curves.csv").read_text().splitlines()
    assert lines[0] == "model,seconds,steps,val_perplexity"
    assert {line.split(",")[0] for line in lines[1:]} == {"transformer", "gru"}
    samples = (tmp_path / "out" / "samples.txt").read_text()
    assert "=== transformer ===" in samples and "=== gru ===" in samples
    assert (tmp_path / "out" / "perplexity.png").stat().st_size > 1000


@pytest.mark.parametrize(
    "corpus, content, error",
    [
        ("missing.txt", None, "missing.txt: no such file"),
        ("latin.txt", b"caf\xe9 " * 50, "latin.txt: unreadable as UTF-8 text"),
        ("tiny.txt", b"abc" * 10, "corpus too short: 30 characters; sequences of 64 need"),
    ],
)
def test_cli_refuses_a_bad_corpus_in_one_line_and_writes_nothing(
    tmp_path, capsys, corpus, content, error
):
    if content is not None:
        (tmp_path / corpus).write_bytes(content)
    out = tmp_path / "out"
    code = main(
        ["supervised", "transformer", "--corpus", str(tmp_path / corpus), "--out", str(out)]
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("rlcourse supervised: error: ") and error in err
    assert "\n" not in err
    assert not out.exists()


def test_cli_refuses_seconds_elsewhere_and_a_budget_not_positive(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["supervised", "rnn", "--seconds", "5", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "rlcourse supervised: error: --seconds is an option of the transformer experiment"
    with pytest.raises(SystemExit) as exit_:
        main(["supervised", "transformer", "--seconds", "0", "--out", str(out)])
    assert exit_.value.code == 2
    assert "must be a positive number, got 0" in capsys.readouterr().err
    assert not out.exists()
