"""The finewebedu_lm decoder-only Transformer in Flax (Nanodo style).

Parameter names and shapes follow the reference's Flax model, so that
``param_shapes`` and checkpoints line up: ``embed/embedding``,
``blocks_<i>/{RMSNorm_0, CausalAttn_0, RMSNorm_1, Mlp_0}`` and ``out_ln``;
attention keeps per-head ``query``/``key``/``value`` kernels
``[model_dim, heads, head_dim]``, a learned scalar ``attn_scale`` and
``attn_out_proj``; the feed-forward is ``Dense_0`` (to twice the inner
width, split into value and gate) and ``Dense_1``.

Numerics (as the reference):
- rotary positions on interleaved pairs, theta = 500,000, applied in float32;
- QK-norm: q and k divided by (L2 norm + eps), then q times ``attn_scale``,
  and the softmax uses no further 1/sqrt(d) scale;
- gated feed-forward ``value * sigmoid(gate)`` (``nn.glu``);
- tied embeddings: logits = final hidden states @ embedding^T.
The caller casts float32 parameters to the compute dtype (bfloat16); the
reference stores ``attn_scale`` itself in the compute dtype, and so do we.

Dropout: the reference model has none. ``dropout_rate`` is taken at call
time (it may be a traced value) and applied to both residual branches only
when given and not deterministic; the workload's default is 0.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import linen as nn

from algoperf_ray.workloads.finewebedu_lm.config import ModelConfig

Array = Any


def _dtype(name: str) -> Any:
    return jnp.dtype(name)


def rope_table(cfg: ModelConfig) -> Array:
    """cos/sin of the rotary angles, float32 ``[seq_len, head_dim // 2, 2]``."""
    dim = cfg.head_dim
    inv_freq = 1.0 / (cfg.rope_theta ** (jnp.arange(0, dim, 2, dtype=jnp.float32) / dim))
    angles = jnp.outer(jnp.arange(cfg.seq_len, dtype=jnp.float32), inv_freq)
    return jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=-1)


def apply_rope(x: Array, table: Array) -> Array:
    """Rotate interleaved pairs (x[2i], x[2i+1]) of ``x`` [B, L, H, Dh] by position."""
    length = x.shape[1]
    pairs = x.astype(jnp.float32).reshape(*x.shape[:-1], -1, 2)
    cos = table[None, :length, None, :, 0]
    sin = table[None, :length, None, :, 1]
    real, imag = pairs[..., 0], pairs[..., 1]
    rotated = jnp.stack([real * cos - imag * sin, imag * cos + real * sin], axis=-1)
    return rotated.reshape(x.shape).astype(x.dtype)


def _residual_dropout(x: Array, rate: Any, deterministic: bool) -> Array:
    """Dropout on a residual branch; a no-op unless a rate is given in training."""
    if deterministic or rate is None or (isinstance(rate, int | float) and rate == 0):
        return x
    from algoperf_ray.workload.dropout_jax import Dropout

    return Dropout(rate=rate)(x, deterministic=False)


class CausalAttn(nn.Module):
    cfg: ModelConfig

    @nn.compact
    def __call__(self, x: Array) -> Array:
        cfg = self.cfg
        dense = dict(use_bias=False, dtype=_dtype(cfg.compute_dtype),
                     param_dtype=_dtype(cfg.param_dtype))
        heads = dict(features=(cfg.num_heads, cfg.head_dim), axis=-1,
                     kernel_init=nn.initializers.normal(0.02), **dense)
        q = nn.DenseGeneral(name="query", **heads)(x)
        k = nn.DenseGeneral(name="key", **heads)(x)
        v = nn.DenseGeneral(name="value", **heads)(x)
        table = rope_table(cfg)
        q, k = apply_rope(q, table), apply_rope(k, table)
        eps = cfg.qknorm_epsilon
        q = q / (jnp.linalg.norm(q, axis=-1, keepdims=True) + eps)
        k = k / (jnp.linalg.norm(k, axis=-1, keepdims=True) + eps)
        scale = self.param("attn_scale", nn.initializers.constant(
            cfg.attn_scale_init, dtype=_dtype(cfg.compute_dtype)), ())
        q = q * scale.astype(q.dtype)
        out = jax.nn.dot_product_attention(q, k, v, is_causal=True, scale=1.0,
                                           implementation=_attention_impl(q.dtype))
        out = out.reshape(*x.shape[:-1], cfg.model_dim)
        return nn.DenseGeneral(features=cfg.model_dim, name="attn_out_proj",
                               kernel_init=nn.initializers.normal(cfg.residual_init_std),
                               **dense)(out)


def _attention_impl(dtype: Any) -> str | None:
    """cuDNN's fused attention on GPUs in half precision (as the reference); XLA elsewhere."""
    if dtype != jnp.float32 and jax.default_backend() == "gpu":
        return "cudnn"
    return None


class Mlp(nn.Module):
    cfg: ModelConfig

    @nn.compact
    def __call__(self, x: Array) -> Array:
        cfg = self.cfg
        dense = dict(use_bias=False, dtype=_dtype(cfg.compute_dtype),
                     param_dtype=_dtype(cfg.param_dtype))
        h = nn.Dense(2 * cfg.hidden_dim, kernel_init=nn.initializers.normal(0.02),
                     name="Dense_0", **dense)(x)
        h = nn.glu(h, axis=-1)
        return nn.Dense(cfg.model_dim, kernel_init=nn.initializers.normal(cfg.residual_init_std),
                        name="Dense_1", **dense)(h)


class TBlock(nn.Module):
    cfg: ModelConfig

    @nn.compact
    def __call__(self, x: Array, dropout_rate: Any = None, deterministic: bool = True) -> Array:
        cfg = self.cfg
        norm = dict(epsilon=cfg.rmsnorm_epsilon, param_dtype=_dtype(cfg.param_dtype))
        h = CausalAttn(cfg, name="CausalAttn_0")(nn.RMSNorm(name="RMSNorm_0", **norm)(x))
        x = x + _residual_dropout(h, dropout_rate, deterministic)
        h = Mlp(cfg, name="Mlp_0")(nn.RMSNorm(name="RMSNorm_1", **norm)(x))
        return x + _residual_dropout(h, dropout_rate, deterministic)


class TransformerDo(nn.Module):
    """Decoder-only LM: token ids [B, L] -> next-token logits [B, L, vocab]."""

    cfg: ModelConfig

    @nn.compact
    def __call__(self, tokens: Array, dropout_rate: Any = None,
                 deterministic: bool = True) -> Array:
        cfg = self.cfg
        embed = nn.Embed(cfg.vocab_size, cfg.model_dim, name="embed",
                         embedding_init=nn.initializers.normal(0.02),
                         dtype=_dtype(cfg.compute_dtype), param_dtype=_dtype(cfg.param_dtype))
        x = embed(tokens)
        for i in range(cfg.num_layers):
            x = TBlock(cfg, name=f"blocks_{i}")(x, dropout_rate, deterministic)
        x = nn.RMSNorm(epsilon=cfg.rmsnorm_epsilon, param_dtype=_dtype(cfg.param_dtype),
                       name="out_ln")(x)
        return embed.attend(x)


def cast_floats(tree: Any, dtype: Any) -> Any:
    """Cast every floating leaf of ``tree`` to ``dtype`` (the mixed-precision policy)."""
    def cast(x: Any) -> Any:
        return x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x
    return jax.tree_util.tree_map(cast, tree)
