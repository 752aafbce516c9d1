"""ViT (S/16 for the benchmark) in Flax, with the reference's parameter tree.

Facts from the AlgoPerf reference: a 16x16/16 patch conv to width 384, a
fixed sine-cosine position embedding, 12 pre-LN encoder blocks (6-head
self-attention, a GELU MLP of width 1536), a final LayerNorm, global average
pooling (or multi-head attention pooling for ``imagenet_vit_map``), a
``tanh`` pre-logits layer of the model width and a zero-initialised
1000-way head. Variants: ``use_glu`` (a gated MLP), ``use_post_layer_norm``
(LayerNorm after each residual sum, no final LayerNorm), ``use_map``.

Dropout (default rate 0.0) sits where the reference's Flax model puts it:
after the position embedding, after the attention output, after the MLP's
activation and after the MLP. The rate is a call argument (it may be a
traced value under ``jax.jit``). The PyTorch twin uses the same places.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
from flax import linen as nn

from algoperf_ray.workload.dropout_jax import Dropout
from algoperf_ray.workloads.imagenet_vit.posemb import posemb_sincos_2d

_MLP_INITS = {"kernel_init": nn.initializers.xavier_uniform(),
              "bias_init": nn.initializers.normal(stddev=1e-6)}


class MlpBlock(nn.Module):
    """Dense -> GELU (tanh) [-> gate] -> dropout -> Dense back to the input width."""

    mlp_dim: int
    use_glu: bool = False

    @nn.compact
    def __call__(self, x: Any, train: bool, dropout_rate: Any = 0.0) -> Any:
        width = x.shape[-1]
        x = nn.gelu(nn.Dense(self.mlp_dim, **_MLP_INITS)(x), approximate=True)
        if self.use_glu:
            x = x * nn.Dense(self.mlp_dim, **_MLP_INITS)(x)
        x = Dropout()(x, deterministic=not train, rate=dropout_rate)
        return nn.Dense(width, **_MLP_INITS)(x)


def _self_attention(num_heads: int, name: str) -> nn.MultiHeadDotProductAttention:
    return nn.MultiHeadDotProductAttention(num_heads=num_heads, deterministic=True,
                                           kernel_init=nn.initializers.xavier_uniform(),
                                           name=name)


class Encoder1DBlock(nn.Module):
    """Self-attention and MLP residual branches, pre- or post-LayerNorm."""

    mlp_dim: int
    num_heads: int
    use_glu: bool = False
    use_post_layer_norm: bool = False

    @nn.compact
    def __call__(self, x: Any, train: bool, dropout_rate: Any = 0.0) -> Any:
        attention = _self_attention(self.num_heads, "MultiHeadDotProductAttention_1")
        norm_attn, norm_mlp = nn.LayerNorm(name="LayerNorm_0"), nn.LayerNorm(name="LayerNorm_2")
        mlp = MlpBlock(mlp_dim=self.mlp_dim, use_glu=self.use_glu, name="MlpBlock_3")
        drop = Dropout()
        if self.use_post_layer_norm:
            x = norm_attn(x + drop(attention(x), deterministic=not train, rate=dropout_rate))
            y = mlp(x, train, dropout_rate)
            return norm_mlp(x + drop(y, deterministic=not train, rate=dropout_rate))
        y = attention(norm_attn(x))
        x = x + drop(y, deterministic=not train, rate=dropout_rate)
        y = mlp(norm_mlp(x), train, dropout_rate)
        return x + drop(y, deterministic=not train, rate=dropout_rate)


class Encoder(nn.Module):
    depth: int
    mlp_dim: int
    num_heads: int
    use_glu: bool = False
    use_post_layer_norm: bool = False

    @nn.compact
    def __call__(self, x: Any, train: bool, dropout_rate: Any = 0.0) -> Any:
        for i in range(self.depth):
            x = Encoder1DBlock(mlp_dim=self.mlp_dim, num_heads=self.num_heads,
                               use_glu=self.use_glu, use_post_layer_norm=self.use_post_layer_norm,
                               name=f"encoderblock_{i}")(x, train, dropout_rate)
        if self.use_post_layer_norm:
            return x
        return nn.LayerNorm(name="encoder_layernorm")(x)


class MAPHead(nn.Module):
    """Multi-head attention pooling: one learned probe attends over the tokens."""

    mlp_dim: int
    num_heads: int

    @nn.compact
    def __call__(self, x: Any) -> Any:
        n, _, width = x.shape
        probe = self.param("probe", nn.initializers.xavier_uniform(), (1, 1, width), x.dtype)
        probe = jnp.tile(probe, [n, 1, 1])
        x = nn.MultiHeadDotProductAttention(num_heads=self.num_heads, use_bias=True,
                                            kernel_init=nn.initializers.xavier_uniform())(probe, x)
        y = nn.LayerNorm()(x)
        x = x + MlpBlock(mlp_dim=self.mlp_dim)(y, train=False)
        return x[:, 0]


class ViT(nn.Module):
    num_classes: int = 1000
    patch_size: tuple[int, int] = (16, 16)
    width: int = 384
    depth: int = 12
    mlp_dim: int = 1536
    num_heads: int = 6
    use_glu: bool = False
    use_post_layer_norm: bool = False
    use_map: bool = False

    @nn.compact
    def __call__(self, x: Any, train: bool = False, dropout_rate: Any = 0.0) -> Any:
        x = nn.Conv(self.width, self.patch_size, strides=self.patch_size, padding="VALID",
                    name="conv_patch_extract")(x)
        n, h, w, c = x.shape
        x = jnp.reshape(x, [n, h * w, c]) + jnp.asarray(posemb_sincos_2d(h, w, c), x.dtype)
        x = Dropout()(x, deterministic=not train, rate=dropout_rate)
        x = Encoder(depth=self.depth, mlp_dim=self.mlp_dim, num_heads=self.num_heads,
                    use_glu=self.use_glu, use_post_layer_norm=self.use_post_layer_norm,
                    name="Transformer")(x, train, dropout_rate)
        if self.use_map:
            x = MAPHead(mlp_dim=self.mlp_dim, num_heads=self.num_heads)(x)
        else:
            x = jnp.mean(x, axis=1)
        x = nn.tanh(nn.Dense(self.width, name="pre_logits")(x))
        return nn.Dense(self.num_classes, kernel_init=nn.initializers.zeros, name="head")(x)
