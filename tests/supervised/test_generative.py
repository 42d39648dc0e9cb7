import json

import numpy as np
import pytest
import torch
from torch import nn

from supervised.autoencoder import ConvAutoencoder, DenseAutoencoder, reconstruction_loss
from supervised.data import load_digits, split
from supervised.gan import Discriminator, Generator, discriminator_loss, generator_loss, train_gan
from supervised.train import TrainConfig, fit, seed_torch
from supervised.vae import VAE, evaluate_elbo, kl_divergence, reparameterize, vae_loss


@pytest.fixture(scope="module")
def digits28():
    return split(load_digits(size=28), seed=0)


def test_dense_autoencoder_is_the_784_128_64_32_design():
    model = DenseAutoencoder()
    widths = [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]
    assert widths == [(784, 128), (128, 64), (64, 32), (32, 64), (64, 128), (128, 784)]
    x = torch.rand(5, 1, 28, 28)
    assert model.encode(x).shape == (5, 32)
    assert model(x).shape == (5, 1, 28, 28)


def test_conv_autoencoder_shapes():
    model = ConvAutoencoder()
    x = torch.rand(3, 1, 28, 28)
    assert model.encode(x).shape == (3, 32)
    assert model(x).shape == (3, 1, 28, 28)


def test_autoencoders_refuse_wrong_shapes():
    with pytest.raises(ValueError, match="DenseAutoencoder"):
        DenseAutoencoder().encode(torch.rand(2, 1, 8, 8))
    with pytest.raises(ValueError, match=r"expects codes of shape \(n, 32\), got \(2, 5\)"):
        DenseAutoencoder().decode(torch.rand(2, 5))


def test_trained_autoencoder_beats_the_mean_image(digits28):
    seed_torch(0)
    model = DenseAutoencoder()
    train, test = digits28.train, digits28.test
    fit(
        model,
        reconstruction_loss,
        (train.x, train.x),
        None,
        TrainConfig(epochs=15, lr=2e-3, progress=False),
    )
    with torch.no_grad():
        mse = float(((model(torch.as_tensor(test.x)) - torch.as_tensor(test.x)) ** 2).mean())
    baseline = float(((train.x.mean(axis=0) - test.x) ** 2).mean())
    assert mse < 0.5 * baseline


def test_kl_closed_form_is_zero_at_the_prior_and_matches_monte_carlo():
    assert torch.allclose(kl_divergence(torch.zeros(3, 2), torch.zeros(3, 2)), torch.zeros(3))
    mu, logvar = torch.tensor([[0.5, -1.0]]), torch.tensor([[0.2, -0.7]])
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    p = torch.distributions.Normal(torch.zeros(2), torch.ones(2))
    z = q.sample(
        (200_000,),
    ).squeeze(1)
    monte_carlo = (q.log_prob(z[:, None]).squeeze(1) - p.log_prob(z)).sum(dim=1).mean()
    assert float(kl_divergence(mu, logvar)) == pytest.approx(float(monte_carlo), abs=0.01)
    exact = torch.distributions.kl_divergence(q, p).sum()
    assert float(kl_divergence(mu, logvar)) == pytest.approx(float(exact), rel=1e-6)


def test_reparameterization_lets_gradients_reach_mu_and_logvar():
    mu = torch.zeros(4, 2, requires_grad=True)
    logvar = torch.zeros(4, 2, requires_grad=True)
    reparameterize(mu, logvar).sum().backward()
    assert mu.grad is not None and torch.all(mu.grad == 1)
    assert logvar.grad is not None and logvar.grad.abs().sum() > 0


def test_vae_training_raises_the_elbo(digits28):
    seed_torch(0)
    model = VAE()
    train, test = digits28.train, digits28.test
    before = evaluate_elbo(model, test.x)["elbo"]
    fit(model, vae_loss, (train.x, train.x), None, TrainConfig(epochs=5, lr=2e-3, progress=False))
    after = evaluate_elbo(model, test.x)
    assert np.isfinite(after["elbo"]) and after["elbo"] < 0
    assert after["elbo"] > before + 50
    assert after["elbo"] == pytest.approx(-(after["reconstruction"] + after["kl"]), rel=1e-6)


def test_gan_shapes_range_and_wrong_shapes():
    g, d = Generator(), Discriminator()
    with torch.no_grad():
        images = g(torch.randn(6, 32))
    assert images.shape == (6, 1, 16, 16)
    assert float(images.min()) >= 0.0 and float(images.max()) <= 1.0
    assert d(images).shape == (6,)
    with pytest.raises(ValueError, match=r"Generator expects noise \(n, 32\), got shape \(6, 8\)"):
        g(torch.randn(6, 8))
    with pytest.raises(ValueError, match=r"Discriminator expects images \(n, 1, 16, 16\)"):
        d(torch.rand(2, 1, 8, 8))


def test_one_sided_label_smoothing_changes_only_the_real_target():
    real, fake = torch.tensor([3.0, -1.0]), torch.tensor([0.5, -2.0])
    bce = torch.nn.functional.binary_cross_entropy_with_logits
    smoothed = discriminator_loss(real, fake, label_smoothing=0.1)
    assert float(smoothed) == pytest.approx(
        float(bce(real, torch.full((2,), 0.9)) + bce(fake, torch.zeros(2)))
    )
    plain = discriminator_loss(real, fake, label_smoothing=0.0)
    assert float(plain) == pytest.approx(
        float(bce(real, torch.ones(2)) + bce(fake, torch.zeros(2)))
    )
    assert float(generator_loss(fake)) == pytest.approx(float(bce(fake, torch.ones(2))))


def test_gan_training_is_repeatable_and_moves_both_networks():
    images = load_digits(size=16).x[:128]
    g1, d1, losses1, _, _ = train_gan(images, epochs=1, seed=3, progress=False)
    g2, _, losses2, _, _ = train_gan(images, epochs=1, seed=3, progress=False)
    assert losses1 == losses2
    for p, q in zip(g1.parameters(), g2.parameters(), strict=True):
        assert torch.equal(p, q)
    seed_torch(3)
    fresh_g, fresh_d = Generator(), Discriminator()
    assert any(
        not torch.equal(p, q) for p, q in zip(g1.parameters(), fresh_g.parameters(), strict=True)
    )
    assert any(
        not torch.equal(p, q) for p, q in zip(d1.parameters(), fresh_d.parameters(), strict=True)
    )


@pytest.mark.parametrize(
    ("name", "keys", "pngs"),
    [
        (
            "autoencoder",
            {"dense_test_mse", "conv_test_mse", "compression_ratio", "feature_logistic_accuracy"},
            {"reconstructions.png"},
        ),
        (
            "vae",
            {"elbo", "reconstruction", "kl", "val_loss"},
            {"latent_scatter.png", "latent_grid.png", "reconstructions.png"},
        ),
        (
            "gan",
            {
                "d_loss",
                "g_loss",
                "d_real_accuracy",
                "d_fake_accuracy",
                "sample_classifier_confidence",
                "sample_class_coverage",
            },
            {"samples.png", "losses.png"},
        ),
    ],
)
def test_experiments_write_their_metrics_and_plots(tmp_path, name, keys, pngs):
    from rlcourse.cli import main

    out = tmp_path / name
    assert main(["supervised", name, "--epochs", "1", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert keys <= set(metrics)
    for png in pngs:
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
