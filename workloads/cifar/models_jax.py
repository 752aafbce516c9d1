"""cifar in JAX/Flax: the reference ResNet-18 for 32x32 inputs.

Stem: 3x3 conv (stride 1) + batch norm + ReLU, no max-pool; four stages of
two basic blocks (64, 128, 256, 512 filters, stride 2 at the start of stages
2-4, 1x1 projection shortcut where the shape changes); 4x4 average pool;
Dense(10). Init as the reference: Flax default (LeCun normal) convs, the
last batch norm of every residual branch with zero scale, and a N(0, 0.01)
output layer. Batch norm: momentum 0.9, epsilon 1e-5; its statistics are
the model state (``{'batch_stats': ...}``).

One deliberate difference from the reference's Flax code: its 3x3 convs
use ``SAME`` padding, which for stride 2 pads 0 pixels before and 1 after,
while the reference PyTorch model pads 1 on both sides, so the two
reference frameworks compute slightly different functions. We pad 1 on
both sides in both frameworks (shapes and parameter counts are unchanged),
so that the same weights give the same logits (tests/workloads_dev).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
from flax import linen as nn


class ResNetBlock(nn.Module):
    filters: int
    conv: Any
    norm: Any
    strides: tuple[int, int] = (1, 1)

    @nn.compact
    def __call__(self, x):
        pad = [(1, 1), (1, 1)]
        y = self.conv(self.filters, (3, 3), self.strides, padding=pad)(x)
        y = nn.relu(self.norm()(y))
        y = self.conv(self.filters, (3, 3), padding=pad)(y)
        y = self.norm(scale_init=nn.initializers.zeros)(y)
        residual = x
        if x.shape != y.shape or self.strides != (1, 1):
            residual = self.conv(self.filters, (1, 1), self.strides, name="Conv_proj")(x)
            residual = self.norm(name="BatchNorm_proj")(residual)
        return nn.relu(residual + y)


class CifarResNet(nn.Module):
    stage_sizes: Sequence[int] = (2, 2, 2, 2)
    num_filters: int = 64
    num_classes: int = 10

    @nn.compact
    def __call__(self, x, train: bool = False):
        conv = functools.partial(nn.Conv, use_bias=False)
        norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=0.9,
                                 epsilon=1e-5)
        x = conv(self.num_filters, (3, 3), (1, 1), padding=[(1, 1), (1, 1)], name="Conv_init")(x)
        x = nn.relu(norm(name="BatchNorm_init")(x))
        for i, blocks in enumerate(self.stage_sizes):
            for j in range(blocks):
                strides = (2, 2) if i > 0 and j == 0 else (1, 1)
                x = ResNetBlock(self.num_filters * 2**i, conv=conv, norm=norm, strides=strides)(x)
        x = nn.avg_pool(x, (4, 4), strides=(4, 4))
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(self.num_classes, kernel_init=nn.initializers.normal(1e-2))(x)
