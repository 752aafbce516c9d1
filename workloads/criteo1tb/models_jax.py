"""DLRMsmall and the residual DLRM in Flax, matching the reference.

Parameter names (``Dense_0`` .. ``Dense_7``, ``LayerNorm_<i>``,
``embedding_table``), shapes, initialisers and the dot interaction follow
the reference ``criteo1tb_jax/models.py``, so ``param_shapes`` and counts
agree with it. Categorical ids arrive as float32 columns of ``x`` and are
cast to int32 and taken modulo the table size here, as in the reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax.numpy as jnp
from jax import nn as jnn

from algoperf_ray.workload.dropout_jax import Dropout

NUM_SPARSE = 26


def _embedding_init(vocab_size: int, multiplier: float | None):
    """U[0, 1) scaled by ``multiplier`` (default ``1/sqrt(vocab_size)``)."""
    scale = 1.0 / jnp.sqrt(vocab_size) if multiplier is None else multiplier

    def init(key, shape, dtype=jnp.float32):
        return jnn.initializers.uniform(scale=1.0)(key, shape, dtype) * scale

    return init


def _top_dense(fan_in: int, fan_out: int, bias_std: float | None = None) -> nn.Dense:
    return nn.Dense(
        fan_out,
        kernel_init=jnn.initializers.normal(stddev=jnp.sqrt(2.0 / (fan_in + fan_out))),
        bias_init=jnn.initializers.normal(
            stddev=jnp.sqrt(1.0 / fan_out) if bias_std is None else bias_std))


def _bottom_dense(fan_out: int) -> nn.Dense:
    return nn.Dense(fan_out, kernel_init=jnn.initializers.glorot_uniform(),
                    bias_init=jnn.initializers.normal(stddev=jnp.sqrt(1.0 / fan_out)))


def dot_interact(features: jnp.ndarray) -> jnp.ndarray:
    """Upper triangle (with diagonal) of the pairwise dot products, row-major.

    ``features``: [B, F, D] -> [B, F * (F + 1) / 2].
    """
    xactions = jnp.einsum("bfd,bgd->bfg", features, features)
    rows, cols = jnp.triu_indices(features.shape[1])
    return xactions[:, rows, cols]


def embed(module: nn.Module, cat_features: jnp.ndarray, vocab_size: int, embed_dim: int,
          multiplier: float | None) -> jnp.ndarray:
    """[B, 26] float ids -> [B, 26, embed_dim] rows of ``module``'s ``embedding_table``."""
    ids = jnp.asarray(cat_features, dtype=jnp.int32).reshape(-1) % vocab_size
    table = module.param("embedding_table", _embedding_init(vocab_size, multiplier),
                         [vocab_size, embed_dim])
    return table[ids].reshape(cat_features.shape[0], -1, embed_dim)


class DlrmSmall(nn.Module):
    """Bottom MLP, embeddings, dot interaction, top MLP (reference DLRMsmall)."""

    vocab_size: int
    num_dense_features: int = 13
    mlp_bottom_dims: Sequence[int] = (512, 256, 128)
    mlp_top_dims: Sequence[int] = (1024, 1024, 512, 256, 1)
    embed_dim: int = 128
    use_layer_norm: bool = False
    embedding_init_multiplier: float | None = None

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool, dropout_rate: Any = 0.0) -> jnp.ndarray:
        dense, cat = jnp.split(x, [self.num_dense_features], 1)
        for dim in self.mlp_bottom_dims:
            dense = nn.relu(_bottom_dense(dim)(dense))
            if self.use_layer_norm:
                dense = nn.LayerNorm()(dense)
        embedded = embed(self, cat, self.vocab_size, self.embed_dim,
                         self.embedding_init_multiplier)
        if self.use_layer_norm:
            embedded = nn.LayerNorm()(embedded)
        stack = jnp.concatenate([dense[:, None, :], embedded], axis=1)
        y = jnp.concatenate([dense, dot_interact(stack)], axis=-1)
        last = len(self.mlp_top_dims) - 1
        for i, fan_out in enumerate(self.mlp_top_dims):
            fan_in = y.shape[-1]
            y = _top_dense(fan_in, fan_out)(y)
            if i < last:
                y = nn.relu(y)
                if self.use_layer_norm:
                    y = nn.LayerNorm()(y)
            if i == last - 1:
                y = Dropout()(y, deterministic=not train, rate=dropout_rate)
        return y


class DLRMResNet(nn.Module):
    """Residual MLPs around a flat embedding concat (reference DLRMResNet)."""

    vocab_size: int
    num_dense_features: int = 13
    mlp_bottom_dims: Sequence[int] = (256, 256, 256)
    mlp_top_dims: Sequence[int] = (256, 256, 256, 256, 1)
    embed_dim: int = 128
    use_layer_norm: bool = False  # unused, as in the reference
    embedding_init_multiplier: float | None = None  # unused, as in the reference

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool, dropout_rate: Any = 0.0) -> jnp.ndarray:
        dense, cat = jnp.split(x, [self.num_dense_features], 1)
        dense = nn.relu(_bottom_dense(self.mlp_bottom_dims[0])(dense))
        for dim in self.mlp_bottom_dims[1:]:
            dense = dense + nn.relu(_bottom_dense(dim)(dense))
        embedded = embed(self, cat, self.vocab_size, self.embed_dim, None)
        y = jnp.concatenate([dense, embedded.reshape(x.shape[0], -1)], axis=1)
        top = self.mlp_top_dims
        y = nn.relu(_top_dense(y.shape[-1], top[0])(y))
        for i in range(1, len(top) - 1):
            h = nn.relu(_top_dense(top[i - 1], top[i])(y))
            if i == len(top) - 2:
                h = Dropout()(h, deterministic=not train, rate=dropout_rate)
            y = y + h
        return _top_dense(top[-2], 1, bias_std=1.0)(y)
