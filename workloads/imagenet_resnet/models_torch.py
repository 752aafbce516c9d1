"""ResNet-50 (v1.5) in PyTorch, with the reference's module names.

The same network and init as :mod:`workloads.imagenet_resnet.models_jax`,
named as the reference's PyTorch model (``conv1``, ``bn1``,
``layer<s>.<b>.{conv1..3, bn1..3, downsample.conv, downsample.bn}``, ``fc``)
so that parameter names, shapes and their order match it. Inputs are NCHW.
Batch-norm buffers live in the module (momentum 0.1 = Flax's 0.9).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

# In place where PyTorch allows it, as the reference's (and torchvision's) ResNet:
# each activation then writes over the batch-norm output instead of allocating.
ACTIVATIONS = {
    "relu": lambda: nn.ReLU(inplace=True),
    "silu": lambda: nn.SiLU(inplace=True),
    "gelu": lambda: nn.GELU(approximate="tanh"),
}


def lecun_normal_(module: nn.Module) -> None:
    """Flax's default kernel init: truncated normal with variance 1/fan_in.

    The std is divided by the std of a unit normal truncated to [-2, 2]
    (0.8796...), so the variance after truncation is exactly 1/fan_in.
    """
    fan_in = module.weight[0].numel()
    std = math.sqrt(1.0 / fan_in) / 0.87962566103423978
    nn.init.trunc_normal_(module.weight, std=std, a=-2 * std, b=2 * std)
    if getattr(module, "bias", None) is not None:
        nn.init.zeros_(module.bias)


def _conv(cin: int, cout: int, kernel: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=kernel, stride=stride, padding=kernel // 2,
                     bias=False)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand (x4), plus the shortcut."""

    expansion = 4

    def __init__(self, cin: int, width: int, stride: int, activation: str) -> None:
        super().__init__()
        cout = width * self.expansion
        self.conv1 = _conv(cin, width, 1)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = _conv(width, width, 3, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = _conv(width, cout, 1)
        self.bn3 = nn.BatchNorm2d(cout)
        self.act_fnc = ACTIVATIONS[activation]()
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(OrderedDict(
                [("conv", _conv(cin, cout, 1, stride)), ("bn", nn.BatchNorm2d(cout))]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act_fnc(self.bn1(self.conv1(x)))
        out = self.act_fnc(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.act_fnc(out + identity)


class ResNet(nn.Module):
    """Stem, ``len(stage_sizes)`` stages of bottlenecks, average pool, ``fc``."""

    def __init__(self, stage_sizes: Sequence[int] = (3, 4, 6, 3), num_classes: int = 1000,
                 num_filters: int = 64, activation: str = "relu",
                 bn_init_scale: float = 0.0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, num_filters, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(num_filters)
        self.act_fnc = ACTIVATIONS[activation]()
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        cin = num_filters
        self.num_stages = len(stage_sizes)
        for i, blocks in enumerate(stage_sizes):
            width = num_filters * 2**i
            layer = []
            for j in range(blocks):
                layer.append(Bottleneck(cin, width, 2 if i > 0 and j == 0 else 1, activation))
                cin = width * Bottleneck.expansion
            self.add_module(f"layer{i + 1}", nn.Sequential(*layer))
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(cin, num_classes)
        self.reset_parameters(bn_init_scale)

    def reset_parameters(self, bn_init_scale: float) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                lecun_normal_(m)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, Bottleneck):  # the residual branch's last norm
                nn.init.constant_(m.bn3.weight, bn_init_scale)
        nn.init.normal_(self.fc.weight, std=1e-2)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.act_fnc(self.bn1(self.conv1(x))))
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        return self.fc(torch.flatten(self.avgpool(x), 1))
