import json
import math

import numpy as np
import pytest
import torch
from torch import nn

from common import devices
from supervised.autoencoder import (
    ConvAutoencoder,
    DenseAutoencoder,
    reconstruction_loss,
    reconstruction_mse,
)
from supervised.data import load_digits, split
from supervised.gan import (
    NOISE,
    Discriminator,
    GANConfig,
    Generator,
    discriminator_loss,
    generate,
    generator_loss,
    real_target,
    train_gan,
    train_step,
)
from supervised.train import TrainConfig, fit, seed_torch
from supervised.vae import (
    VAE,
    decode_grid,
    evaluate_elbo,
    kl_divergence,
    reconstruction_nll,
    reparameterize,
    vae_loss,
)

bce = torch.nn.functional.binary_cross_entropy_with_logits


@pytest.fixture(scope="module")
def digits28():
    return split(load_digits(size=28), seed=0)


# --- autoencoders -------------------------------------------------------------------------------


def test_dense_autoencoder_is_the_784_128_64_32_design():
    model = DenseAutoencoder()
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [linears[0].in_features] + [m.out_features for m in linears] == [
        784,
        128,
        64,
        32,
        64,
        128,
        784,
    ]
    x = torch.rand(5, 1, 28, 28)
    assert model.encode(x).shape == (5, 32)
    assert model.decode(torch.randn(5, 32)).shape == (5, 1, 28, 28)
    with torch.no_grad():
        out = model(x)
    assert out.shape == (5, 1, 28, 28)
    assert float(out.min()) >= 0 and float(out.max()) <= 1  # sigmoid output
    # Flattened and channel-less inputs are the same images.
    assert torch.equal(model.encode(x.reshape(5, 784)), model.encode(x))
    assert torch.equal(model.encode(x[:, 0]), model.encode(x))


def test_conv_autoencoder_shapes():
    model = ConvAutoencoder()
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    assert model.encode(x).shape == (3, 32)
    assert model.decode(torch.randn(3, 32)).shape == (3, 1, 28, 28)
    assert model(x).shape == (3, 1, 28, 28)


@pytest.mark.parametrize("model", [DenseAutoencoder(), ConvAutoencoder()], ids=["dense", "conv"])
def test_autoencoders_refuse_wrong_shapes(model):
    name = type(model).__name__
    expected = rf"{name} expects images of shape \(n, 1, 28, 28\), \(n, 28, 28\) or \(n, 784\)"
    with pytest.raises(ValueError, match=expected + r", got \(2, 1, 8, 8\)$"):
        model.encode(torch.rand(2, 1, 8, 8))
    with pytest.raises(ValueError, match=expected + r", got \(784,\)$"):
        model(np.zeros(784))
    with pytest.raises(
        ValueError, match=rf"^{name} expects codes of shape \(n, 32\), got \(2, 5\)$"
    ):
        model.decode(torch.rand(2, 5))


def test_trained_autoencoder_beats_the_mean_image(digits28):
    seed_torch(0)
    model = DenseAutoencoder()
    train, test = digits28.train, digits28.test
    fit(
        model,
        reconstruction_loss,
        (train.x, train.x),
        None,
        TrainConfig(epochs=15, lr=3e-3, progress=False),
    )
    baseline = float(((train.x.mean(axis=0) - test.x) ** 2).mean())
    assert reconstruction_mse(model, test.x) < 0.3 * baseline


# --- VAE ----------------------------------------------------------------------------------------


def test_kl_closed_form_is_zero_at_the_prior_and_matches_monte_carlo():
    assert torch.equal(kl_divergence(torch.zeros(3, 2), torch.zeros(3, 2)), torch.zeros(3))
    mu, logvar = torch.tensor([[0.5, -1.0]]), torch.tensor([[0.2, -0.7]])
    q = torch.distributions.Normal(mu[0], torch.exp(0.5 * logvar[0]))
    p = torch.distributions.Normal(torch.zeros(2), torch.ones(2))
    torch.manual_seed(0)
    z = q.sample((200_000,))
    monte_carlo = (q.log_prob(z) - p.log_prob(z)).sum(dim=1).mean()
    closed = float(kl_divergence(mu, logvar)[0])
    assert closed == pytest.approx(float(monte_carlo), abs=0.02)
    assert closed == pytest.approx(float(torch.distributions.kl_divergence(q, p).sum()), rel=1e-5)
    assert closed > 0


def test_reparameterization_lets_gradients_reach_mu_and_logvar():
    mu = torch.zeros(4, 2, requires_grad=True)
    logvar = torch.zeros(4, 2, requires_grad=True)
    generator = torch.Generator().manual_seed(0)
    z = reparameterize(mu, logvar, generator)
    z.sum().backward()
    assert torch.equal(mu.grad, torch.ones(4, 2))  # dz/dμ = 1
    epsilon = torch.randn(4, 2, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(logvar.grad, 0.5 * epsilon)  # dz/dlogσ² = ½σε, σ = 1
    assert torch.allclose(z, epsilon)


def test_reconstruction_nll_is_the_summed_bernoulli_cross_entropy():
    logits = torch.tensor([[[[2.0, -1.0], [0.0, 30.0]]]])
    x = torch.tensor([[[[1.0, 0.0], [0.5, 1.0]]]])
    expected = bce(logits, x, reduction="sum")
    assert float(reconstruction_nll(logits, x)[0]) == pytest.approx(float(expected), rel=1e-6)


def test_vae_shapes_and_wrong_shapes():
    model = VAE()
    mu, logvar = model.encode(torch.rand(4, 1, 28, 28))
    assert mu.shape == logvar.shape == (4, 2)
    assert model.decode(mu).shape == (4, 1, 28, 28)
    images, values = decode_grid(model, side=5)
    assert images.shape == (5, 5, 28, 28) and len(values) == 5
    assert values[0] < 0 < values[-1] and values[2] == pytest.approx(0, abs=1e-9)
    with pytest.raises(ValueError, match=r"^VAE expects images of shape \(n, 1, 28, 28\), .*"):
        model.encode(torch.rand(4, 1, 8, 8))
    with pytest.raises(ValueError, match=r"^VAE expects codes of shape \(n, 2\), got \(4, 3\)$"):
        model.decode(torch.zeros(4, 3))


def test_vae_training_raises_the_elbo(digits28):
    seed_torch(0)
    model = VAE()
    train, test = digits28.train, digits28.test
    before = evaluate_elbo(model, test.x)
    fit(model, vae_loss, (train.x, train.y), None, TrainConfig(epochs=5, lr=3e-3, progress=False))
    after = evaluate_elbo(model, test.x)
    for result in (before, after):
        assert math.isfinite(result["elbo"]) and result["elbo"] < 0  # log p(x) <= 0 bound
        assert result["kl"] >= 0
        assert result["elbo"] == pytest.approx(-(result["reconstruction"] + result["kl"]))
    assert after["elbo"] > before["elbo"] + 100
    assert evaluate_elbo(model, test.x) == after  # seeded samples of z: repeatable


def test_vae_training_is_deterministic_under_a_seed(digits28):
    def train_once():
        seed_torch(7)
        model = VAE()
        data = digits28.train.x[:256]
        fit(model, vae_loss, (data, data), None, TrainConfig(epochs=2, seed=7, progress=False))
        return evaluate_elbo(model, digits28.test.x[:100])

    assert train_once() == train_once()


# --- GAN ----------------------------------------------------------------------------------------


def test_gan_shapes_range_and_wrong_shapes():
    g, d = Generator(), Discriminator()
    g.eval()
    with torch.no_grad():
        images = g(torch.randn(6, NOISE) * 5)
    assert images.shape == (6, 1, 16, 16)
    assert float(images.min()) >= -1.0 and float(images.max()) <= 1.0  # tanh
    assert float(images.min()) < 0
    unit = generate(g, torch.randn(6, NOISE))
    assert unit.shape == (6, 1, 16, 16) and unit.min() >= 0 and unit.max() <= 1
    assert d(images).shape == (6,)
    with pytest.raises(
        ValueError, match=r"^Generator expects codes of shape \(n, 16\), got \(6, 8\)$"
    ):
        g(torch.randn(6, 8))
    with pytest.raises(
        ValueError,
        match=r"^Discriminator expects images of shape \(n, 1, 16, 16\), \(n, 16, 16\) or "
        r"\(n, 256\), got \(2, 1, 8, 8\)$",
    ):
        d(torch.rand(2, 1, 8, 8))
    with pytest.raises(ValueError, match=r"^train_gan expects images .* got \(3, 1, 28, 28\)$"):
        train_gan(np.zeros((3, 1, 28, 28), np.float32), GANConfig(epochs=1, progress=False))


def test_label_smoothing_flag_changes_only_the_real_target():
    assert real_target(True) == 0.9 and real_target(False) == 1.0
    real, fake = torch.tensor([3.0, -1.0]), torch.tensor([0.5, -2.0])
    smoothed = discriminator_loss(real, fake, label_smoothing=True)
    plain = discriminator_loss(real, fake, label_smoothing=False)
    assert float(smoothed) == pytest.approx(
        float(bce(real, torch.full((2,), 0.9)) + bce(fake, torch.zeros(2)))
    )
    assert float(plain) == pytest.approx(
        float(bce(real, torch.ones(2)) + bce(fake, torch.zeros(2)))
    )
    # Smoothing moves D's optimum on real images from σ = 1 to σ = 0.9: zero gradient at logit(0.9).
    logit = torch.tensor([math.log(9.0)], requires_grad=True)
    discriminator_loss(logit, torch.tensor([-50.0]), label_smoothing=True).backward()
    assert float(logit.grad) == pytest.approx(0.0, abs=1e-6)
    logit.grad = None
    discriminator_loss(logit, torch.tensor([-50.0]), label_smoothing=False).backward()
    assert float(logit.grad) < -0.05  # without smoothing D still pushes the logit up
    # The generated images' target is 0 either way, and G's loss is the non-saturating one.
    assert float(generator_loss(fake)) == pytest.approx(float(bce(fake, torch.ones(2))))


def test_one_training_step_changes_both_networks():
    seed_torch(0)
    g, d = Generator(), Discriminator()
    g_before = [p.detach().clone() for p in g.parameters()]
    d_before = [p.detach().clone() for p in d.parameters()]
    g_opt = torch.optim.Adam(g.parameters(), 1e-3)
    d_opt = torch.optim.Adam(d.parameters(), 1e-3)
    real = torch.as_tensor(load_digits(size=16).x[:32]) * 2 - 1
    step = train_step(g, d, g_opt, d_opt, real, torch.randn(32, NOISE))
    assert set(step) == {"d_loss", "g_loss", "d_real_accuracy", "d_fake_accuracy"}
    assert all(math.isfinite(v) for v in step.values())
    assert all(not torch.equal(a, b) for a, b in zip(g_before, g.parameters(), strict=True))
    assert all(not torch.equal(a, b) for a, b in zip(d_before, d.parameters(), strict=True))


def test_gan_training_is_repeatable_under_a_seed():
    images = load_digits(size=16).x[:128]
    config = GANConfig(epochs=2, seed=3, progress=False, snapshots=(1,))
    first, second = train_gan(images, config), train_gan(images, config)
    assert first.history.rows == second.history.rows
    assert set(first.samples) == {1}
    np.testing.assert_array_equal(first.samples[1], second.samples[1])
    for p, q in zip(first.generator.parameters(), second.generator.parameters(), strict=True):
        assert torch.equal(p, q)
    other = train_gan(images, GANConfig(epochs=2, seed=4, progress=False))
    assert other.history.rows != first.history.rows


# --- experiments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "epochs", "keys", "pngs"),
    [
        (
            "autoencoder",
            1,
            {
                "dense_test_mse",
                "conv_test_mse",
                "baseline_test_mse",
                "compression_ratio",
                "feature_logistic_accuracy",
            },
            {"reconstructions.png", "history_dense.png", "history_conv.png"},
        ),
        (
            "vae",
            1,
            {"elbo", "reconstruction", "kl", "val_loss", "untrained_elbo"},
            {"latent_scatter.png", "latent_grid.png", "reconstructions.png", "history.png"},
        ),
        (
            "gan",
            2,
            {
                "d_loss",
                "g_loss",
                "d_real_accuracy",
                "d_fake_accuracy",
                "sample_classifier_confidence",
                "sample_class_coverage",
            },
            {"samples.png", "samples_epoch_1.png", "losses.png"},
        ),
    ],
)
def test_experiments_write_their_metrics_and_plots(tmp_path, name, epochs, keys, pngs):
    from rlcourse.cli import main

    out = tmp_path / name
    assert main(["supervised", name, "--epochs", str(epochs), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert keys <= set(metrics)
    assert metrics.pop("device") == devices.describe(devices.resolve("auto"))
    assert all(math.isfinite(v) for v in metrics.values())
    for png in pngs:
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if name == "autoencoder":
        assert metrics["compression_ratio"] == 24.5
        assert 0 < metrics["dense_test_mse"] < 1 and 0 < metrics["conv_test_mse"] < 1
    if name == "vae":
        assert metrics["elbo"] == pytest.approx(-(metrics["reconstruction"] + metrics["kl"]))
    if name == "gan":
        assert 1 <= metrics["sample_class_coverage"] <= 10
        assert 0.1 <= metrics["sample_classifier_confidence"] <= 1


def test_experiment_is_repeatable_under_a_seed(tmp_path):
    from supervised.gan import experiment

    first = experiment(tmp_path / "a", epochs=1, seed=5, progress=False)
    second = experiment(tmp_path / "b", epochs=1, seed=5, progress=False)
    assert first == second


def test_cli_turns_label_smoothing_off_for_the_gan_only(tmp_path, capsys, monkeypatch):
    import supervised.experiments
    from rlcourse.cli import main

    seen = {}

    def fake_run(name, out, **options):
        seen.update(options, name=name)
        return {"loss": 0.5}

    monkeypatch.setattr(supervised.experiments, "run", fake_run)
    assert main(["supervised", "gan", "--no-label-smoothing", "--out", str(tmp_path / "a")]) == 0
    assert seen["name"] == "gan" and seen["label_smoothing"] is False
    assert main(["supervised", "gan", "--out", str(tmp_path / "b")]) == 0
    assert seen["label_smoothing"] is True
    code = main(["supervised", "vae", "--no-label-smoothing", "--out", str(tmp_path / "c")])
    assert code == 2
    assert "--no-label-smoothing is an option of the gan" in capsys.readouterr().err
