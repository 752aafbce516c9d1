"""Conformer speech encoder with a CTC head, in Flax (arXiv:2005.08100).

Per block: ``x += 0.5 FF(x); x += MHSA(x); x += Conv(x); x += 0.5 FF(x);``
then an optional post LayerNorm. Inputs are raw waveforms; the log-mel front
end, SpecAugment (train only) and a 4x conv subsampler run inside the model.
Parameter paths equal the reference's (``ConformerBlock_0/ConvolutionBlock_0/
BatchNorm_0/scale``...). The dropout rate is a call argument so it may be
traced under ``jax.jit``.
"""

from __future__ import annotations

import functools
import math
from typing import Any

import flax.struct
import jax
import jax.numpy as jnp
from flax import linen as nn

from algoperf_ray.workload.dropout_jax import Dropout
from algoperf_ray.workloads._librispeech_common_jax import (
    BatchNorm,
    Conv2dSubsampling,
    LayerNorm,
    SpecAug,
    dense,
    flatten_subsampled,
    logmel_frontend,
)

DROPOUT_RATE = 0.1
Array = jax.Array


@flax.struct.dataclass
class ConformerConfig:
    """Model options; defaults are the benchmark's full size."""

    vocab_size: int = 1024
    encoder_dim: int = 512
    num_attention_heads: int = 8
    num_encoder_layers: int = 4
    convolution_kernel_size: int = 5
    feed_forward_expansion_factor: int = 4
    freq_mask_count: int = 2
    time_mask_count: int = 10
    batch_norm_momentum: float = 0.999
    batch_norm_epsilon: float = 0.001
    use_specaug: bool = True
    attention_temperature: float = 1.0
    activation_function_name: str = "swish"
    use_post_layer_norm: bool = True


def _activation(name: str):
    if name == "swish":
        return nn.swish
    if name == "gelu":
        return nn.gelu  # tanh approximation, as the reference
    raise ValueError(f"activation_function_name must be 'swish' or 'gelu', got {name!r}")


def sinusoidal_positions(length: int, dim: int) -> Array:
    """[1, length, dim] sin/cos position signal (timescales 1 to 1e4)."""
    half = dim // 2
    log_inc = math.log(10_000.0) / max(half - 1, 1)
    inv = jnp.exp(jnp.arange(half, dtype=jnp.float32) * -log_inc)
    scaled = jnp.arange(length, dtype=jnp.float32)[:, None] * inv[None, :]
    signal = jnp.concatenate([jnp.sin(scaled), jnp.cos(scaled)], axis=1)
    return jnp.pad(signal, ((0, 0), (0, dim % 2)))[None]


class Subsample(nn.Module):
    encoder_dim: int

    @nn.compact
    def __call__(self, inputs, paddings, train: bool, dropout_rate):
        x = inputs[..., None]
        x, paddings = Conv2dSubsampling(1, self.encoder_dim)(x, paddings)
        x, paddings = Conv2dSubsampling(self.encoder_dim, self.encoder_dim)(x, paddings)
        x = dense(self.encoder_dim)(flatten_subsampled(x))
        x = x + sinusoidal_positions(x.shape[1], self.encoder_dim)
        x = Dropout(deterministic=not train)(x, rate=dropout_rate)
        return x, paddings


class FeedForwardModule(nn.Module):
    config: ConformerConfig

    @nn.compact
    def __call__(self, inputs, mask, train: bool, dropout_rate):
        cfg = self.config
        x = LayerNorm(dim=cfg.encoder_dim)(inputs)
        x = dense(cfg.encoder_dim * cfg.feed_forward_expansion_factor)(x)
        x = _activation(cfg.activation_function_name)(x)
        x = Dropout(deterministic=not train)(x, rate=dropout_rate)
        x = dense(cfg.encoder_dim)(x * mask) * mask
        return Dropout(deterministic=not train)(x, rate=dropout_rate)


class QueryScaler(nn.Module):
    """Learned per-dimension query scale, ``softplus(s) / softplus(0)`` (init 1)."""

    dim: int

    @nn.compact
    def __call__(self, inputs):
        scale = self.param("scale", nn.initializers.zeros, (self.dim,))
        return inputs * (1.442695041 * jax.nn.softplus(scale))


def _scaled_query_attention(query, key, value, bias=None, mask=None, *,
                            temperature: float = 1.0, **kwargs: Any):
    """Dot-product attention with a learned query scale; output times temperature."""
    del kwargs  # attention dropout is 0 in the reference
    query = QueryScaler(dim=query.shape[-1])(query)
    weights = nn.attention.dot_product_attention_weights(query, key, bias, mask,
                                                         deterministic=True)
    return jnp.einsum("...hqk,...khd->...qhd", weights, value) * temperature


class MultiHeadedSelfAttention(nn.Module):
    config: ConformerConfig

    @nn.compact
    def __call__(self, inputs, paddings, train: bool, dropout_rate):
        cfg = self.config
        valid = paddings < 1
        mask = nn.make_attention_mask(valid, valid, dtype=jnp.float32)
        x = LayerNorm(dim=cfg.encoder_dim)(inputs)
        x = nn.MultiHeadDotProductAttention(
            num_heads=cfg.num_attention_heads, qkv_features=cfg.encoder_dim,
            kernel_init=nn.initializers.xavier_uniform(), bias_init=nn.initializers.zeros,
            broadcast_dropout=False, dropout_rate=0.0, deterministic=True,
            attention_fn=functools.partial(_scaled_query_attention,
                                           temperature=cfg.attention_temperature),
        )(x, mask=mask)
        return Dropout(deterministic=not train)(x, rate=dropout_rate)


class ConvolutionBlock(nn.Module):
    """LN -> GLU(dense, dense) -> depthwise conv -> masked BN -> act -> dense."""

    config: ConformerConfig

    @nn.compact
    def __call__(self, inputs, paddings, train: bool, bn_running: bool, bn_update: bool,
                 dropout_rate):
        cfg = self.config
        x = LayerNorm(dim=cfg.encoder_dim)(inputs)
        x = dense(cfg.encoder_dim)(x) * jax.nn.sigmoid(dense(cfg.encoder_dim)(x))
        x = x * (1 - paddings[..., None])
        x = nn.Conv(cfg.encoder_dim, kernel_size=(cfg.convolution_kernel_size,),
                    padding="SAME", feature_group_count=cfg.encoder_dim, use_bias=False,
                    kernel_init=nn.initializers.xavier_uniform())(x)
        x = BatchNorm(cfg.encoder_dim, cfg.batch_norm_momentum,
                      cfg.batch_norm_epsilon)(x, paddings, bn_running, bn_update)
        x = dense(cfg.encoder_dim)(_activation(cfg.activation_function_name)(x))
        return Dropout(deterministic=not train)(x, rate=dropout_rate)


class ConformerBlock(nn.Module):
    config: ConformerConfig

    @nn.compact
    def __call__(self, x, paddings, train: bool, bn_running: bool, bn_update: bool,
                 dropout_rate):
        cfg = self.config
        mask = (1 - paddings)[..., None]
        x = x + 0.5 * FeedForwardModule(cfg)(x, mask, train, dropout_rate)
        x = x + MultiHeadedSelfAttention(cfg)(x, paddings, train, dropout_rate)
        x = x + ConvolutionBlock(cfg)(x, paddings, train, bn_running, bn_update, dropout_rate)
        x = x + 0.5 * FeedForwardModule(cfg)(x, mask, train, dropout_rate)
        if cfg.use_post_layer_norm:
            x = LayerNorm(dim=cfg.encoder_dim)(x)
        return x


class Conformer(nn.Module):
    """Waveforms [B, T] (+ paddings) -> logits [B, T', vocab] (+ paddings)."""

    config: ConformerConfig

    @nn.compact
    def __call__(self, inputs, input_paddings, train: bool,
                 update_batch_norm: bool | None = None,
                 use_running_average_bn: bool | None = None,
                 dropout_rate=DROPOUT_RATE):
        cfg = self.config
        bn_update = train if update_batch_norm is None else update_batch_norm
        bn_running = (not train) if use_running_average_bn is None else use_running_average_bn
        x, paddings = logmel_frontend(inputs, input_paddings)
        if train and cfg.use_specaug:
            x, paddings = SpecAug(freq_mask_count=cfg.freq_mask_count,
                                  time_mask_count=cfg.time_mask_count)(x, paddings)
        x, paddings = Subsample(cfg.encoder_dim)(x, paddings, train, dropout_rate)
        for _ in range(cfg.num_encoder_layers):
            x = ConformerBlock(cfg)(x, paddings, train, bn_running, bn_update, dropout_rate)
        x = LayerNorm(dim=cfg.encoder_dim)(x)
        return dense(cfg.vocab_size)(x), paddings
