"""A U-Net (Ronneberger et al. 2015, smaller) for image-to-image tasks, with a ResNet-block option.

The course's summary calls U-Net and ResNet "CNN-like with better detail transfer": a U-Net
encodes the image at ``depth`` halvings of its size and decodes it back, and at each size the
decoder also reads the encoder's features of that size (the *skip connections*), so fine detail
need not squeeze through the coarsest level. ``block="residual"`` replaces each pair of 3×3
convolutions by a ResNet basic block (two convolutions plus the identity, He et al. 2016).

Inputs are batches ``(n, in_channels, H, W)`` of floats (uint8 grey levels are divided by 255);
any ``H, W``: the input is padded (edge pixels repeated) to a multiple of ``2**depth`` and the
output cropped back. With ``residual_output`` the network predicts a correction of its input's first
``out_channels`` channels (the output is that input plus the network's), which suits tasks
whose input is already a rough answer (a bicubic up-sizing, a mean-filled hole).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Block = Literal["conv", "residual"]
BLOCKS: tuple[str, ...] = ("conv", "residual")


class ConvBlock(nn.Sequential):
    """Two 3×3 convolutions, each followed by ReLU."""

    def __init__(self, n_in: int, n_out: int):
        super().__init__(
            nn.Conv2d(n_in, n_out, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(n_out, n_out, 3, padding=1),
            nn.ReLU(),
        )


class ResidualBlock(nn.Module):
    """A ResNet basic block: ``relu(x' + conv(relu(conv(x))))``.

    ``x'`` is the input, 1×1-projected when the channel count changes.
    """

    def __init__(self, n_in: int, n_out: int):
        super().__init__()
        self.conv1 = nn.Conv2d(n_in, n_out, 3, padding=1)
        self.conv2 = nn.Conv2d(n_out, n_out, 3, padding=1)
        self.skip = nn.Identity() if n_in == n_out else nn.Conv2d(n_in, n_out, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Features ``(n, n_in, H, W)`` → ``(n, n_out, H, W)``."""
        return F.relu(self.skip(x) + self.conv2(F.relu(self.conv1(x))))


def _block(kind: str, n_in: int, n_out: int) -> nn.Module:
    return ConvBlock(n_in, n_out) if kind == "conv" else ResidualBlock(n_in, n_out)


class UNet(nn.Module):
    """Image ``(n, in_channels, H, W)`` → image ``(n, out_channels, H, W)``.

    Args:
        in_channels: channels of the input (e.g. 1 grey, 2 grey + mask, 2 frames).
        out_channels: channels of the output (e.g. 1 grey, 2 chroma).
        base: feature maps at full size; doubled at each halving.
        depth: halvings (2×2 max pooling) on the way down, as many 2×2 transposed
            convolutions on the way up.
        block: ``"conv"`` (two 3×3 convolutions) or ``"residual"`` (a ResNet basic block).
        residual_output: add the input's first ``out_channels`` channels to the output.
    """

    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        base: int = 16,
        depth: int = 2,
        block: Block = "conv",
        residual_output: bool = False,
    ):
        super().__init__()
        if min(in_channels, out_channels, base) < 1 or depth < 0:
            raise ValueError(
                f"UNet needs in_channels, out_channels, base >= 1 and depth >= 0, got "
                f"{in_channels}, {out_channels}, {base}, {depth}"
            )
        if block not in BLOCKS:
            raise ValueError(f"UNet block must be one of {', '.join(BLOCKS)}, got {block!r}")
        if residual_output and out_channels > in_channels:
            raise ValueError(
                f"residual_output adds the input's first {out_channels} channels, but it has "
                f"{in_channels}"
            )
        self.in_channels, self.out_channels = in_channels, out_channels
        self.depth, self.residual_output = depth, residual_output
        widths = [base * 2**level for level in range(depth + 1)]
        self.down = nn.ModuleList(
            _block(block, n_in, n_out)
            for n_in, n_out in zip((in_channels, *widths[:-1])[:depth], widths[:-1], strict=True)
        )
        self.bottom = _block(block, widths[-2] if depth else in_channels, widths[-1])
        self.up = nn.ModuleList(
            nn.ConvTranspose2d(widths[level + 1], widths[level], 2, stride=2)
            for level in reversed(range(depth))
        )
        self.merge = nn.ModuleList(
            _block(block, 2 * widths[level], widths[level]) for level in reversed(range(depth))
        )
        self.head = nn.Conv2d(widths[0], out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Images ``(n, in_channels, H, W)`` → ``(n, out_channels, H, W)`` (not clipped)."""
        if x.ndim != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"UNet expects images (n, {self.in_channels}, H, W), got shape {tuple(x.shape)}"
            )
        x = x.float() / 255.0 if not torch.is_floating_point(x) else x
        height, width = x.shape[-2:]
        multiple = 2**self.depth
        pad_h, pad_w = -height % multiple, -width % multiple
        padded = F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x
        skips, h = [], padded
        for block in self.down:
            h = block(h)
            skips.append(h)
            h = F.max_pool2d(h, 2)
        h = self.bottom(h)
        for up, merge, skip in zip(self.up, self.merge, reversed(skips), strict=True):
            h = merge(torch.cat([up(h), skip], dim=1))
        out = self.head(h)[..., :height, :width]
        return out + x[:, : self.out_channels] if self.residual_output else out
