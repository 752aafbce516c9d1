"""The wmt Transformer in Flax (linen), laid out as the AlgoPerf reference.

Parameter names and shapes follow the reference Flax model (itself the Flax
WMT example): a shared ``shared_embedding`` (N(0, 1) init) used for inputs,
targets and the output projection (logits divided by sqrt(emb_dim)); fixed
sinusoidal positions; bias-free multi-head attention; Xavier-uniform kernels
and N(0, 1e-6) biases; LayerNorm eps 1e-6; pre-LN by default with a final
LayerNorm on encoder and decoder (post-LN variant: no final LayerNorm).
The attention temperature multiplies the query input.
"""

from __future__ import annotations

from typing import Any

import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from algoperf_ray.workload.dropout_jax import Dropout
from algoperf_ray.workloads.wmt.config import DROPOUT_RATE, ModelConfig

_KERNEL_INIT = nn.initializers.xavier_uniform()
_BIAS_INIT = nn.initializers.normal(stddev=1e-6)


def sinusoidal_table(max_len: int, dim: int) -> np.ndarray:
    """[max_len, dim] fixed position table (sin half, then cos half)."""
    position = np.arange(max_len)[:, None]
    scale = -np.log(10000.0) / (dim // 2 - 1)
    div = np.exp(np.arange(dim // 2) * scale)
    table = np.zeros((max_len, dim), np.float32)
    table[:, :dim // 2] = np.sin(position * div)
    table[:, dim // 2:2 * (dim // 2)] = np.cos(position * div)
    return table


def shift_right(x: Any) -> Any:
    return jnp.pad(x, ((0, 0), (1, 0)))[:, :-1]


def add_positions(x: Any, positions: Any | None, cfg: ModelConfig) -> Any:
    table = jnp.asarray(sinusoidal_table(cfg.max_len, x.shape[-1]))
    if positions is None:
        return x + table[None, :x.shape[1]]
    return x + jnp.take(table, positions, axis=0)


def _layer_norm(cfg: ModelConfig, name: str | None = None) -> nn.LayerNorm:
    return nn.LayerNorm(epsilon=cfg.layer_norm_eps, name=name)


class MlpBlock(nn.Module):
    cfg: ModelConfig

    @nn.compact
    def __call__(self, x: Any, dropout_rate: Any, deterministic: bool) -> Any:
        cfg = self.cfg
        act = {"relu": nn.relu, "tanh": jnp.tanh}[cfg.activation]
        dense = dict(kernel_init=_KERNEL_INIT, bias_init=_BIAS_INIT)
        h = act(nn.Dense(cfg.mlp_dim, **dense)(x))
        if cfg.glu:
            h = h * nn.Dense(cfg.mlp_dim, **dense)(x)
        h = Dropout()(h, deterministic=deterministic, rate=dropout_rate)
        out = nn.Dense(x.shape[-1], **dense)(h)
        return Dropout()(out, deterministic=deterministic, rate=dropout_rate)


def _attention(cfg: ModelConfig, decode: bool = False) -> nn.Module:
    """Attention without dropout on its weights: as the reference's JAX model, the
    dropout follows the attention block, so a traced rate never reaches Flax's
    attention (which branches on its rate in Python).

    ``decode=True`` (decoder self-attention while beam searching) keeps every
    past position's keys/values in Flax's ``cache`` collection, so each step
    projects only the newest token; the parameters are the same."""
    return nn.MultiHeadDotProductAttention(
        num_heads=cfg.num_heads, qkv_features=cfg.qkv_dim, kernel_init=_KERNEL_INIT,
        bias_init=_BIAS_INIT, use_bias=False, broadcast_dropout=False, dropout_rate=0.0,
        deterministic=True, decode=decode)


class EncoderBlock(nn.Module):
    cfg: ModelConfig

    @nn.compact
    def __call__(self, x: Any, mask: Any, dropout_rate: Any, deterministic: bool) -> Any:
        cfg = self.cfg
        h = _layer_norm(cfg)(x) if cfg.pre_ln else x
        h = _attention(cfg)(cfg.attention_temp * h, h, mask=mask)
        x = Dropout()(h, deterministic=deterministic, rate=dropout_rate) + x
        if not cfg.pre_ln:
            x = _layer_norm(cfg)(x)
        h = _layer_norm(cfg)(x) if cfg.pre_ln else x
        h = MlpBlock(cfg)(h, dropout_rate, deterministic)
        return x + h if cfg.pre_ln else _layer_norm(cfg)(x + h)


class DecoderBlock(nn.Module):
    cfg: ModelConfig
    decode: bool = False

    @nn.compact
    def __call__(self, y: Any, encoded: Any, self_mask: Any, cross_mask: Any,
                 dropout_rate: Any, deterministic: bool) -> Any:
        cfg = self.cfg
        h = _layer_norm(cfg)(y) if cfg.pre_ln else y
        h = _attention(cfg, self.decode)(cfg.attention_temp * h, h, mask=self_mask)
        y = Dropout()(h, deterministic=deterministic, rate=dropout_rate) + y
        if not cfg.pre_ln:
            y = _layer_norm(cfg)(y)
        h = _layer_norm(cfg)(y) if cfg.pre_ln else y
        h = _attention(cfg)(cfg.attention_temp * h, encoded, mask=cross_mask)
        y = Dropout()(h, deterministic=deterministic, rate=dropout_rate) + y
        if not cfg.pre_ln:
            y = _layer_norm(cfg)(y)
        h = _layer_norm(cfg)(y) if cfg.pre_ln else y
        h = MlpBlock(cfg)(h, dropout_rate, deterministic)
        return y + h if cfg.pre_ln else _layer_norm(cfg)(y + h)


class Encoder(nn.Module):
    cfg: ModelConfig
    embed: nn.Module

    @nn.compact
    def __call__(self, inputs: Any, positions: Any, mask: Any, dropout_rate: Any,
                 deterministic: bool) -> Any:
        x = add_positions(self.embed(inputs.astype(jnp.int32)), positions, self.cfg)
        x = Dropout()(x, deterministic=deterministic, rate=dropout_rate)
        for i in range(self.cfg.num_layers):
            x = EncoderBlock(self.cfg, name=f"encoderblock_{i}")(x, mask, dropout_rate,
                                                                 deterministic)
        return _layer_norm(self.cfg, "encoder_layernorm")(x) if self.cfg.pre_ln else x


class Decoder(nn.Module):
    cfg: ModelConfig
    embed: nn.Module
    decode: bool = False

    @nn.compact
    def __call__(self, encoded: Any, targets: Any, positions: Any, self_mask: Any,
                 cross_mask: Any, dropout_rate: Any, deterministic: bool,
                 index: Any = None) -> Any:
        # Cached decoding feeds the newest input token itself (already shifted).
        y = self.embed(targets.astype(jnp.int32) if self.decode
                       else shift_right(targets.astype(jnp.int32)))
        y = Dropout()(add_positions(y, positions, self.cfg), deterministic=deterministic,
                      rate=dropout_rate)
        for i in range(self.cfg.num_layers):
            y = DecoderBlock(self.cfg, self.decode, name=f"encoderdecoderblock_{i}")(
                y, encoded, self_mask, cross_mask, dropout_rate, deterministic)
        if index is not None:  # decoding: only the next position's logits are needed
            y = jnp.take(y, index, axis=1)[:, None]
        if self.cfg.pre_ln:
            y = _layer_norm(self.cfg, "encoderdecoder_layernorm")(y)
        return self.embed.attend(y.astype(jnp.float32)) / jnp.sqrt(y.shape[-1])


def _pair_mask(q: Any, k: Any, fn: Any = jnp.logical_and) -> Any:
    return fn(q[:, None, :, None], k[:, None, None, :])


class Transformer(nn.Module):
    """Encoder-decoder; ``__call__`` gives [batch, len, vocab] logits.

    ``cached=True`` builds the same parameters for cached beam search:
    :meth:`decode_step` then consumes one token per call, keeping past keys
    and values in the ``cache`` collection (see :func:`init_cache`).
    """

    cfg: ModelConfig
    cached: bool = False

    def setup(self) -> None:
        self.shared_embedding = nn.Embed(self.cfg.vocab_size, self.cfg.emb_dim,
                                         embedding_init=nn.initializers.normal(stddev=1.0))
        self.encoder = Encoder(self.cfg, self.shared_embedding)
        self.decoder = Decoder(self.cfg, self.shared_embedding, self.cached)

    def encode(self, inputs: Any, inputs_positions: Any = None, inputs_segmentation: Any = None,
               dropout_rate: Any = DROPOUT_RATE, deterministic: bool = True) -> Any:
        valid = inputs > 0
        mask = _pair_mask(valid, valid)
        if inputs_segmentation is not None:
            mask &= _pair_mask(inputs_segmentation, inputs_segmentation, jnp.equal)
        return self.encoder(inputs, inputs_positions, mask, dropout_rate, deterministic)

    def decode(self, encoded: Any, inputs: Any, targets: Any, targets_positions: Any = None,
               inputs_segmentation: Any = None, targets_segmentation: Any = None,
               dropout_rate: Any = DROPOUT_RATE, deterministic: bool = True,
               index: Any = None) -> Any:
        """Logits of every target position, or with ``index`` only of that one.

        With ``index`` (beam-search decoding) targets are a generated prefix:
        every position counts as valid, as in the reference's cached decoder.
        """
        t_valid = targets > 0 if index is None else jnp.ones(targets.shape, bool)
        length = targets.shape[1]
        causal = jnp.tril(jnp.ones((length, length), bool))[None, None]
        self_mask = _pair_mask(t_valid, t_valid) & causal
        cross_mask = _pair_mask(t_valid, inputs > 0)
        if inputs_segmentation is not None:
            self_mask &= _pair_mask(targets_segmentation, targets_segmentation, jnp.equal)
            cross_mask &= _pair_mask(targets_segmentation, inputs_segmentation, jnp.equal)
        return self.decoder(encoded, targets, targets_positions, self_mask, cross_mask,
                            dropout_rate, deterministic, index)

    def decode_step(self, encoded: Any, inputs: Any, token: Any, index: Any) -> Any:
        """[rows, 1, vocab] logits of position ``index`` given its input ``token``.

        Needs ``cached=True`` and a ``cache`` (mutable) holding positions
        ``< index``; Flax's cached attention masks the positions not yet
        written, so no self-attention mask is passed.
        """
        positions = jnp.full((token.shape[0], 1), index, jnp.int32)
        cross_mask = _pair_mask(jnp.ones((token.shape[0], 1), bool), inputs > 0)
        return self.decoder(encoded, token[:, None], positions, None, cross_mask, 0.0, True,
                            None)

    def __call__(self, inputs: Any, targets: Any, inputs_positions: Any = None,
                 targets_positions: Any = None, inputs_segmentation: Any = None,
                 targets_segmentation: Any = None, dropout_rate: Any = DROPOUT_RATE,
                 deterministic: bool = True) -> Any:
        encoded = self.encode(inputs, inputs_positions, inputs_segmentation, dropout_rate,
                              deterministic)
        return self.decode(encoded, inputs, targets, targets_positions, inputs_segmentation,
                           targets_segmentation, dropout_rate, deterministic)


def init_cache(cfg: ModelConfig, rows: int, max_len: int, encoded_len: int) -> Any:
    """An empty key/value cache for ``rows`` decoded sequences of ``max_len`` tokens.

    Shapes come from ``jax.eval_shape`` (nothing but the zeros is allocated).
    """
    import jax

    model = Transformer(cfg, cached=True)
    targets = jnp.ones((rows, max_len), jnp.int32)
    inputs = jnp.ones((rows, encoded_len), jnp.int32)
    encoded = jnp.zeros((rows, encoded_len, cfg.emb_dim), jnp.float32)

    def init() -> Any:
        return model.init(jax.random.PRNGKey(0), encoded, inputs, targets,
                          method=Transformer.decode)["cache"]

    shapes = jax.eval_shape(init)
    return jax.tree_util.tree_map(lambda s: jnp.zeros(s.shape, s.dtype), shapes)
