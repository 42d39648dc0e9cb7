import json

import numpy as np
import pytest
import torch
from PIL import Image

from rlcourse.cli import main
from supervised import vgg
from supervised.data import DataError
from supervised.style import StyleLoss, as_tensor, gram, style_inputs, transfer
from supervised.style_nets import feature_net, random_net


def image(seed: int, size: int = 32) -> np.ndarray:
    """A smooth random RGB image ``(size, size, 3)`` in [0, 1]."""
    rng = np.random.default_rng(seed)
    coarse = rng.random((size // 8, size // 8, 3))
    return np.kron(coarse, np.ones((8, 8, 1))).astype(np.float32)


def save(array: np.ndarray, path) -> str:
    Image.fromarray((array * 255).astype(np.uint8)).save(path)
    return str(path)


def one_line_error(capsys, code: int) -> str:
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def vgg_state(change=None) -> dict:
    """A VGG-19 ``features`` state dict in torchvision's layout (uninitialised: fast)."""
    state = {key: torch.empty(shape) for key, shape in vgg.expected_shapes().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # a full vgg19 state dict has these too
    if change:
        change(state)
    return state


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    """A randomly initialised VGG-19 ``features`` state dict saved as torchvision would."""
    torch.manual_seed(0)
    state = {f"features.{k}": v for k, v in vgg.vgg19_features().state_dict().items()}
    path = tmp_path_factory.mktemp("weights") / "vgg19.pth"
    torch.save(state, path)
    return path


def test_gram_matrix_matches_a_hand_computation():
    # two channels over 2x2 pixels: F = [[1, 2, 3, 4], [0, 1, 0, 1]]
    f = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 1.0], [0.0, 1.0]]]])
    expected = torch.tensor([[[1 + 4 + 9 + 16, 2 + 4], [2 + 4, 2]]]) / (2 * 2 * 2)
    assert torch.allclose(gram(f), expected)


def test_vgg19_stack_has_torchvisions_indices():
    net = vgg.vgg19_features()
    assert len(net) == 37
    convs = [i for i, m in enumerate(net) if isinstance(m, torch.nn.Conv2d)]
    assert convs == [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]
    assert all(isinstance(net[i], torch.nn.ReLU) for i in vgg.LAYERS.values())
    assert net[28].in_channels == 512 and net[0].out_channels == 64


def test_losses_start_at_one_and_zero_and_drop_in_a_few_steps():
    content, style = image(0), image(1)
    net = random_net(0)
    result, metrics = transfer(net, content, style, steps=5)
    assert metrics["style_loss_before"] == pytest.approx(1.0)
    assert metrics["content_loss_before"] == 0.0
    assert metrics["style_loss_after"] < 0.5 * metrics["style_loss_before"]
    assert result.shape == content.shape and 0 <= result.min() and result.max() <= 1
    content_loss, style_loss = StyleLoss(net, as_tensor(content), as_tensor(style))(
        as_tensor(result)
    )
    assert float(style_loss) == pytest.approx(metrics["style_loss_after"], rel=1e-4)


def test_the_same_seed_gives_the_same_result_and_another_seed_another():
    content, style = image(0), image(1)
    first, m1 = transfer(random_net(3), content, style, steps=3)
    again, m2 = transfer(random_net(3), content, style, steps=3)
    other, _ = transfer(random_net(4), content, style, steps=3)
    assert np.allclose(first, again, atol=1e-4)
    assert m1["style_loss_after"] == pytest.approx(m2["style_loss_after"], rel=1e-3)
    assert not np.allclose(first, other, atol=1e-3)


def test_expected_shapes_are_the_stacks_own():
    ours = {f"features.{k}": tuple(v.shape) for k, v in vgg.vgg19_features().state_dict().items()}
    assert vgg.expected_shapes() == ours


def test_a_vgg19_state_dict_loads_and_measures(vgg_file):
    net = feature_net(weights=vgg_file)
    assert net.name == "vgg19" and net.source == f"VGG-19 ({vgg_file})"
    assert torch.equal(net.body[28].weight, torch.load(vgg_file)["features.28.weight"])
    features = net.features(torch.rand(1, 3, 32, 32))
    assert sorted(features) == [1, 6, 11, 20, 22, 29]
    assert features[29].shape == (1, 512, 2, 2)
    # its deep layers' activations are tiny (1e-20 for Gram matrices): the losses still start at
    # 0 and 1
    content, style = as_tensor(image(0)), as_tensor(image(1))
    content_loss, style_loss = StyleLoss(net, content, style)(content)
    assert float(content_loss) == 0.0 and float(style_loss) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("features.34.bias"), "no features.34.bias (1 of VGG-19's 32"),
        (
            lambda s: s.__setitem__("features.0.weight", torch.zeros(64, 3, 5, 5)),
            "features.0.weight has shape (64, 3, 5, 5), VGG-19's is (64, 3, 3, 3)",
        ),
        (lambda s: s.__setitem__("head.weight", torch.zeros(1)), "unexpected entry 'head.weight'"),
    ],
)
def test_the_weights_loader_refuses_other_layouts(change, message):
    with pytest.raises(DataError) as refused:
        vgg.check_state(vgg_state(change), "w.pth")
    assert str(refused.value).startswith(f"w.pth: {message}")


def test_the_weights_loader_refuses_pickled_code_and_missing_files(tmp_path):
    pickled = tmp_path / "model.pt"
    torch.save(vgg.vgg19_features()[:2], pickled)  # a whole module, not a state dict
    with pytest.raises(DataError, match=r"model\.pt: not a readable state dict \("):
        vgg.load_vgg19(pickled)
    listed = tmp_path / "list.pt"
    torch.save([torch.zeros(1)], listed)
    with pytest.raises(DataError, match=r"list\.pt: not a state dict but list"):
        vgg.load_vgg19(listed)
    with pytest.raises(DataError, match="nope.pth: no such weights file"):
        vgg.load_vgg19(tmp_path / "nope.pth")


def test_network_and_weights_must_agree(tmp_path):
    with pytest.raises(DataError, match="--network vgg19 needs --weights FILE"):
        feature_net("vgg19")
    with pytest.raises(DataError, match="--network random takes none"):
        feature_net("random", weights=tmp_path / "w.pth")


def test_cli_writes_metrics_figure_and_names_the_network(tmp_path, capsys):
    content = save(image(0, 48), tmp_path / "c.png")
    style = save(image(1, 48), tmp_path / "s.png")
    out = tmp_path / "out"
    argv = ["supervised", "style", "--content", content, "--style", style, "--size", "40"]
    assert main([*argv, "--steps", "2", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "network              random" in printed
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["network"] == "random" and metrics["size"] == 40
    assert metrics["style_loss_after"] < metrics["style_loss_before"] == pytest.approx(1.0)
    assert Image.open(out / "result.png").size == (40, 40)
    assert (out / "style.png").is_file()


def test_cli_refuses_bad_images_before_writing(tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    err = one_line_error(
        capsys, main(["supervised", "style", "--content", str(broken), "--out", str(out)])
    )
    assert err.startswith(f"rlcourse supervised: error: {broken}: unreadable image")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # Pillow only warns below twice this
    big = save(image(0, 40), tmp_path / "big.png")
    small = save(image(0, 24), tmp_path / "small.png")  # the default astronaut is over 1,000
    argv = ["supervised", "style", "--content", small, "--style", big, "--out", str(out)]
    err = one_line_error(capsys, main(argv))
    assert err == (
        f"rlcourse supervised: error: {big}: 1,600 pixels, over the limit of 1,000; refused "
        "unread (a decompression bomb?)"
    )
    assert not out.exists()


def test_cli_refuses_bad_weights_and_misplaced_options(tmp_path, capsys):
    out = tmp_path / "out"
    weights = tmp_path / "vgg19.pth"
    torch.save(vgg_state(lambda s: s.pop("features.0.weight")), weights)
    err = one_line_error(
        capsys, main(["supervised", "style", "--weights", str(weights), "--out", str(out)])
    )
    assert err.startswith(f"rlcourse supervised: error: {weights}: no features.0.weight")
    err = one_line_error(capsys, main(["supervised", "mlp", "--steps", "3", "--out", str(out)]))
    assert err.endswith("--steps: options of the style experiment")
    err = one_line_error(capsys, main(["supervised", "style", "--epochs", "3", "--out", str(out)]))
    assert "style has no --epochs" in err
    assert not out.exists()


def test_a_thin_image_is_refused(tmp_path):
    thin = save(np.zeros((8, 200, 3), np.float32), tmp_path / "thin.png")
    with pytest.raises(DataError, match="its shorter side needs at least 32"):
        style_inputs(content=thin, size=64)
