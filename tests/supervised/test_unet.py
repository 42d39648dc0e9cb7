"""The U-Net: shapes for any image size, skip connections carry detail, residual output, errors."""

import pytest
import torch

from supervised.train import count_parameters
from supervised.unet import UNet


@pytest.mark.parametrize("block", ["conv", "residual"])
@pytest.mark.parametrize("size", [(16, 16), (13, 22), (5, 7)])
def test_any_image_size_comes_back_at_its_size(block, size):
    torch.manual_seed(0)
    net = UNet(in_channels=2, out_channels=3, base=4, depth=2, block=block)
    out = net(torch.rand(3, 2, *size))
    assert out.shape == (3, 3, *size)


def test_depth_zero_is_a_plain_block_and_a_head():
    net = UNet(1, 1, base=4, depth=0)
    assert len(net.down) == len(net.up) == 0
    assert net(torch.rand(1, 1, 9, 9)).shape == (1, 1, 9, 9)


def test_every_pixel_reaches_the_output_through_the_skips():
    """A pixel's change moves the output at that pixel: the finest skip carries it."""
    torch.manual_seed(0)
    net = UNet(1, 1, base=4, depth=3)
    x = torch.rand(1, 1, 16, 16, requires_grad=True)
    net(x)[0, 0, 5, 9].backward()
    assert x.grad[0, 0, 5, 9] != 0
    # far pixels are reached through the coarse levels (receptive field > 16)
    assert x.grad[0, 0, 15, 0] != 0


def test_residual_output_adds_the_input():
    torch.manual_seed(0)
    net = UNet(2, 1, base=4, depth=1, residual_output=True)
    plain = UNet(2, 1, base=4, depth=1)
    plain.load_state_dict(net.state_dict())
    x = torch.rand(2, 2, 8, 8)
    torch.testing.assert_close(net(x), plain(x) + x[:, :1])


def test_uint8_images_are_read_as_grey_levels():
    torch.manual_seed(0)
    net = UNet(1, 1, base=4, depth=1)
    x = torch.randint(0, 256, (1, 1, 8, 8), dtype=torch.uint8)
    torch.testing.assert_close(net(x), net(x.float() / 255))


def test_residual_blocks_cost_a_projection_more_than_conv_blocks():
    conv, residual = UNet(1, 1, base=8, block="conv"), UNet(1, 1, base=8, block="residual")
    # same convolutions; the residual version adds a 1x1 projection wherever channels change
    projections = (1 * 8 + 8) + (8 * 16 + 16) + (16 * 32 + 32) + (32 * 16 + 16) + (16 * 8 + 8)
    assert count_parameters(residual) - count_parameters(conv) == projections


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"block": "dense"}, "UNet block must be one of conv, residual, got 'dense'"),
        ({"depth": -1}, "UNet needs in_channels, out_channels, base >= 1 and depth >= 0"),
        ({"in_channels": 1, "out_channels": 2, "residual_output": True},
         "residual_output adds the input's first 2 channels, but it has 1"),
    ],
)  # fmt: skip
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        UNet(**kwargs)


def test_wrong_channels_are_refused():
    with pytest.raises(
        ValueError, match=r"UNet expects images \(n, 2, H, W\), got shape \(1, 1, 8, 8\)"
    ):
        UNet(2, 1)(torch.rand(1, 1, 8, 8))
