"""ResNet-50 (v1.5) in Flax, with the reference's parameter tree.

Architecture (facts from the AlgoPerf reference): a 7x7/2 stem conv with
batch norm and the activation, a 3x3/2 max-pool, four stages of
(3, 4, 6, 3) bottleneck blocks of width 64, 128, 256, 512 (output 4x that),
the stride on the 3x3 conv of each stage's first block (v1.5), a 1x1
projection shortcut where the shape changes, global average pooling and a
1000-way dense head drawn from N(0, 0.01). Convs use Flax's default LeCun
normal init and no bias. Batch norm: momentum 0.9, epsilon 1e-5; the last
batch norm of every residual branch starts at ``bn_init_scale`` (0 for the
base workload, 8 for ``imagenet_resnet_large_bn_init``).

Parameter names are those the reference's Flax code produces (``Conv_init``,
``BatchNorm_init``, ``BottleneckResNetBlock_<i>/{Conv_0..2, BatchNorm_0..2,
Conv_proj, BatchNorm_proj}``, ``Dense_0``) so a submission that keys on
them behaves the same here.

One deliberate difference: the reference's 3x3 stride-2 convs use ``SAME``
padding, which on even inputs pads 0 rows before and 1 after, while its
PyTorch model pads 1 on both sides; the two reference frameworks therefore
compute different functions from the same weights. Here both frameworks
pad 1 on both sides (shapes and counts unchanged) so that equal weights give
equal logits (tests/workloads_imagenet_resnet/test_equivalence.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

import jax.numpy as jnp
from flax import linen as nn

ACTIVATIONS: dict[str, Callable[[Any], Any]] = {
    "relu": nn.relu,
    "silu": nn.silu,
    "gelu": functools.partial(nn.gelu, approximate=True),  # the reference's tanh form
}


class BottleneckResNetBlock(nn.Module):
    """1x1 reduce, 3x3 (strided), 1x1 expand (x4), plus the shortcut."""

    filters: int
    conv: Any
    norm: Any
    act: Callable[[Any], Any]
    strides: tuple[int, int] = (1, 1)
    bn_init_scale: float = 0.0

    @nn.compact
    def __call__(self, x: Any) -> Any:
        residual = x
        y = self.conv(self.filters, (1, 1))(x)
        y = self.act(self.norm()(y))
        y = self.conv(self.filters, (3, 3), self.strides, padding=[(1, 1), (1, 1)])(y)
        y = self.act(self.norm()(y))
        y = self.conv(self.filters * 4, (1, 1))(y)
        y = self.norm(scale_init=nn.initializers.constant(self.bn_init_scale))(y)
        if residual.shape != y.shape or self.strides != (1, 1):
            residual = self.conv(self.filters * 4, (1, 1), self.strides, name="Conv_proj")(x)
            residual = self.norm(name="BatchNorm_proj")(residual)
        return self.act(residual + y)


class ResNet(nn.Module):
    """ResNet with bottleneck blocks; ``train`` selects batch vs running statistics."""

    stage_sizes: Sequence[int] = (3, 4, 6, 3)
    num_classes: int = 1000
    num_filters: int = 64
    activation: str = "relu"
    bn_init_scale: float = 0.0

    @nn.compact
    def __call__(self, x: Any, train: bool = False) -> Any:
        act = ACTIVATIONS[self.activation]
        conv = functools.partial(nn.Conv, use_bias=False)
        norm = functools.partial(nn.BatchNorm, use_running_average=not train, momentum=0.9,
                                 epsilon=1e-5)
        x = conv(self.num_filters, (7, 7), (2, 2), padding=[(3, 3), (3, 3)], name="Conv_init")(x)
        x = act(norm(name="BatchNorm_init")(x))
        x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
        for i, blocks in enumerate(self.stage_sizes):
            for j in range(blocks):
                strides = (2, 2) if i > 0 and j == 0 else (1, 1)
                x = BottleneckResNetBlock(self.num_filters * 2**i, conv=conv, norm=norm, act=act,
                                          strides=strides, bn_init_scale=self.bn_init_scale)(x)
        x = jnp.mean(x, axis=(1, 2))
        return nn.Dense(self.num_classes, kernel_init=nn.initializers.normal(1e-2))(x)
