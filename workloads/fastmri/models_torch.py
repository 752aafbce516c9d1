"""The fastMRI U-Net in PyTorch, with the reference port's module names.

Module paths match the reference PyTorch model, so parameter names are
``down_sample_layers.<i>.conv_layers.{0,4}.weight`` (plus ``.{1,5}.weight/bias``
when the layer-norm variant puts a ``GroupNorm(1, C)`` there),
``conv.conv_layers...``, ``up_transpose_conv.<i>.layers.0.weight``,
``up_conv.<i>.conv_layers...`` and, for the last decoder stage, a two-slot
container ``up_conv.<n-1>.0`` (conv block) and ``up_conv.<n-1>.1`` (the 1x1
output conv, the only layer with a bias). Sequential slots that hold no
parameters (activations, dropout) are kept so that the indices line up.

Dropout is ``dropout2d`` (a whole channel per example), at the rate given at
call time, so a submission's ``dropout_rate`` reaches every block.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

DROPOUT_RATE = 0.0


def lecun_normal_(module: nn.Module) -> None:
    """Truncated LeCun-normal weights and zero bias (the reference's PyTorch init).

    PyTorch's fan-in rule applies: for ``ConvTranspose2d`` it is
    ``out_channels * k * k`` (dimension 1 of the weight), as in the reference.
    """
    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(module.weight)
    std = math.sqrt(1.0 / fan_in) / 0.87962566103423978
    nn.init.trunc_normal_(module.weight, std=std, a=-2 * std, b=2 * std)
    if module.bias is not None:
        nn.init.zeros_(module.bias)


class ChannelDropout(nn.Module):
    """A parameter-free slot that applies ``dropout2d`` at the call-time rate."""

    def forward(self, x: torch.Tensor, rate: float) -> torch.Tensor:
        return F.dropout2d(x, rate, training=self.training)


class RateSequential(nn.Sequential):
    """``nn.Sequential`` that hands the dropout rate to the slots that take one."""

    def forward(self, x: torch.Tensor, rate: float) -> torch.Tensor:  # type: ignore[override]
        for layer in self:
            x = layer(x, rate) if isinstance(layer, (ChannelDropout, ConvBlock)) else layer(x)
        return x


def _activation(use_tanh: bool) -> nn.Module:
    return nn.Tanh() if use_tanh else nn.LeakyReLU(negative_slope=0.2)


def _norm(channels: int, use_layer_norm: bool) -> nn.Module:
    """Instance norm without affine parameters, or a per-sample LayerNorm over (C, H, W).

    ``GroupNorm(1, C)`` normalises each sample over all of (C, H, W) and has a
    per-channel scale and bias, the same function as Flax's
    ``LayerNorm(reduction_axes=(1, 2, 3))`` on NHWC inputs.
    """
    if use_layer_norm:
        return nn.GroupNorm(1, channels, eps=1e-6)
    return nn.InstanceNorm2d(channels)


class ConvBlock(nn.Module):
    """Two rounds of 3x3 conv (no bias) -> norm -> activation -> channel dropout."""

    def __init__(self, in_ch: int, out_ch: int, use_tanh: bool, use_layer_norm: bool) -> None:
        super().__init__()
        self.conv_layers = RateSequential(
            nn.Conv2d(in_ch, out_ch, kernel_size=3, padding=1, bias=False),
            _norm(out_ch, use_layer_norm), _activation(use_tanh), ChannelDropout(),
            nn.Conv2d(out_ch, out_ch, kernel_size=3, padding=1, bias=False),
            _norm(out_ch, use_layer_norm), _activation(use_tanh), ChannelDropout(),
        )

    def forward(self, x: torch.Tensor, rate: float) -> torch.Tensor:
        return self.conv_layers(x, rate)


class TransposeConvBlock(nn.Module):
    """2x2 stride-2 transposed conv (no bias) -> instance norm -> activation.

    The reference keeps instance norm here even in the layer-norm variant.
    """

    def __init__(self, in_ch: int, out_ch: int, use_tanh: bool) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.ConvTranspose2d(in_ch, out_ch, kernel_size=2, stride=2, bias=False),
            nn.InstanceNorm2d(out_ch), _activation(use_tanh))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class UNet(nn.Module):
    """U-Net: ``num_pool_layers`` down stages, a bottleneck, as many up stages.

    Takes ``(N, 1, H, W)`` and returns ``(N, 1, H, W)``. Channel widths double
    per down stage from ``num_channels``.
    """

    def __init__(self, num_channels: int = 32, num_pool_layers: int = 4,
                 use_tanh: bool = False, use_layer_norm: bool = False,
                 in_chans: int = 1, out_chans: int = 1) -> None:
        super().__init__()
        block = {"use_tanh": use_tanh, "use_layer_norm": use_layer_norm}
        ch = num_channels
        self.down_sample_layers = nn.ModuleList([ConvBlock(in_chans, ch, **block)])
        for _ in range(num_pool_layers - 1):
            self.down_sample_layers.append(ConvBlock(ch, ch * 2, **block))
            ch *= 2
        self.conv = ConvBlock(ch, ch * 2, **block)
        self.up_conv = nn.ModuleList()
        self.up_transpose_conv = nn.ModuleList()
        for _ in range(num_pool_layers - 1):
            self.up_transpose_conv.append(TransposeConvBlock(ch * 2, ch, use_tanh))
            self.up_conv.append(ConvBlock(ch * 2, ch, **block))
            ch //= 2
        self.up_transpose_conv.append(TransposeConvBlock(ch * 2, ch, use_tanh))
        self.up_conv.append(RateSequential(ConvBlock(ch * 2, ch, **block),
                                           nn.Conv2d(ch, out_chans, kernel_size=1)))
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                lecun_normal_(m)

    def forward(self, x: torch.Tensor, dropout_rate: float = DROPOUT_RATE) -> torch.Tensor:
        skips = []
        out = x
        for layer in self.down_sample_layers:
            out = layer(out, dropout_rate)
            skips.append(out)
            out = F.avg_pool2d(out, kernel_size=2, stride=2)
        out = self.conv(out, dropout_rate)
        for up, conv in zip(self.up_transpose_conv, self.up_conv, strict=True):
            skip = skips.pop()
            out = up(out)
            # Odd sizes: the upsampled map is one short; reflect-pad right/bottom.
            pad_w = int(out.shape[-1] != skip.shape[-1])
            pad_h = int(out.shape[-2] != skip.shape[-2])
            if pad_w or pad_h:
                out = F.pad(out, [0, pad_w, 0, pad_h], mode="reflect")
            out = conv(torch.cat([out, skip], dim=1), dropout_rate)
        return out
