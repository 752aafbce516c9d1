"""The fastMRI U-Net in Flax, with the reference's parameter tree.

Submodules are created in the reference's order, so Flax's automatic names
are the reference's: ``ConvBlock_0 .. ConvBlock_<n-1>`` (down stages),
``ConvBlock_<n>`` (bottleneck), then per up stage ``TransposeConvBlock_<i>``
and ``ConvBlock_<n+1+i>``, and the 1x1 output ``Conv_0`` (the only layer with
a bias). Inside a block: ``Conv_0``, ``Conv_1`` (and ``LayerNorm_0/1`` in the
layer-norm variant); ``ConvTranspose_0`` in an up block.

The dropout rate is a call argument and may be a traced value, so
``model_fn(..., dropout_rate=<traced>)`` works under ``jax.jit``.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from algoperf_ray.workload.dropout_jax import Dropout

DROPOUT_RATE = 0.0


def instance_norm(x: jax.Array, epsilon: float = 1e-5) -> jax.Array:
    """Per-sample, per-channel normalisation over H and W, no learned parameters.

    Computed in at least float32 (like PyTorch's ``InstanceNorm2d`` default:
    biased variance, eps 1e-5, no affine).
    """
    x = jnp.asarray(x, jnp.promote_types(jnp.float32, x.dtype))
    mean = jnp.mean(x, axis=(1, 2), keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=(1, 2), keepdims=True)
    return (x - mean) * jax.lax.rsqrt(var + epsilon)


def _activation(use_tanh: bool) -> Any:
    return jnp.tanh if use_tanh else (lambda x: jax.nn.leaky_relu(x, negative_slope=0.2))


class ConvBlock(nn.Module):
    """Two rounds of 3x3 conv (no bias) -> norm -> activation -> channel dropout."""

    features: int
    use_tanh: bool = False
    use_layer_norm: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, train: bool, dropout_rate: Any) -> jax.Array:
        act = _activation(self.use_tanh)
        for _ in range(2):
            x = nn.Conv(self.features, kernel_size=(3, 3), use_bias=False)(x)
            # LayerNorm over (H, W, C) per sample, per-channel scale/bias (eps 1e-6).
            x = nn.LayerNorm(reduction_axes=(1, 2, 3))(x) if self.use_layer_norm \
                else instance_norm(x)
            # One mask per (sample, channel), shared over H and W: PyTorch's dropout2d.
            x = Dropout(broadcast_dims=(1, 2))(act(x), deterministic=not train,
                                               rate=dropout_rate)
        return x


class TransposeConvBlock(nn.Module):
    """2x2 stride-2 transposed conv (no bias) -> instance norm -> activation."""

    features: int
    use_tanh: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.ConvTranspose(self.features, kernel_size=(2, 2), strides=(2, 2),
                             use_bias=False)(x)
        return _activation(self.use_tanh)(instance_norm(x))


class UNet(nn.Module):
    """U-Net on ``(N, H, W)`` images; returns ``(N, H, W)``."""

    num_channels: int = 32
    num_pool_layers: int = 4
    use_tanh: bool = False
    use_layer_norm: bool = False

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = True,
                 dropout_rate: Any = DROPOUT_RATE) -> jax.Array:
        rate = DROPOUT_RATE if dropout_rate is None else dropout_rate
        opts = {"use_tanh": self.use_tanh, "use_layer_norm": self.use_layer_norm}
        ch = self.num_channels
        down = [ConvBlock(ch, **opts)]
        for _ in range(self.num_pool_layers - 1):
            ch *= 2
            down.append(ConvBlock(ch, **opts))
        bottleneck = ConvBlock(ch * 2, **opts)
        ups, up_convs = [], []
        for _ in range(self.num_pool_layers):  # creation order fixes the names
            ups.append(TransposeConvBlock(ch, use_tanh=self.use_tanh))
            up_convs.append(ConvBlock(ch, **opts))
            ch //= 2

        skips = []
        out = x[..., None]
        for block in down:
            out = block(out, train, rate)
            skips.append(out)
            out = nn.avg_pool(out, window_shape=(2, 2), strides=(2, 2))
        out = bottleneck(out, train, rate)
        for up, conv in zip(ups, up_convs, strict=True):
            skip = skips.pop()
            out = up(out)
            # Odd sizes: the upsampled map is one short; reflect-pad right/bottom.
            pad_h = int(out.shape[1] != skip.shape[1])
            pad_w = int(out.shape[2] != skip.shape[2])
            if pad_h or pad_w:
                out = jnp.pad(out, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="reflect")
            out = conv(jnp.concatenate([out, skip], axis=-1), train, rate)
        out = nn.Conv(1, kernel_size=(1, 1))(out)
        return out[..., 0]
