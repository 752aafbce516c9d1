"""DeepSpeech2-style speech model with a CTC head, in Flax (arXiv:1512.02595).

Log-mel front end, SpecAugment (train only), two stride-2 convolutions, six
bidirectional LSTM layers (each after a masked batch norm, or a layer norm),
three feed-forward layers, an optional decoder layer norm and a projection to
the vocabulary; residual connections around the LSTM and FFN layers unless
disabled. Parameter paths equal the reference's, including the LSTM's
``BatchRNN_0/LSTM_0/LSTM/LSTMSequenceEncoder_0/cell/{ii,...,ho}``.

The LSTM is a ``flax.linen.scan`` over ``OptimizedLSTMCell`` (one fused XLA
loop under jit). Padding is handled as the reference does: the forward pass
runs over the padded tail (those outputs are ignored downstream), and the
backward pass reverses each sequence within its own length, so every valid
output only sees valid inputs.
"""

from __future__ import annotations

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
class DeepspeechConfig:
    """Model options; defaults are the benchmark's full size."""

    vocab_size: int = 1024
    encoder_dim: int = 512
    num_lstm_layers: int = 6
    num_ffn_layers: int = 3
    use_specaug: bool = True
    freq_mask_count: int = 2
    time_mask_count: int = 10
    batch_norm_momentum: float = 0.999
    batch_norm_epsilon: float = 0.001
    enable_residual_connections: bool = True
    enable_decoder_layer_norm: bool = True
    use_tanh: bool = False
    layernorm_everywhere: bool = False


def reverse_within_length(x: Array, lengths: Array) -> Array:
    """Reverse each row's first ``length`` steps; padded steps stay after them.

    Row ``b`` becomes ``x[b, (L_b - 1 - t) mod T]`` (the reference's rule): the
    valid prefix reversed, the padded tail (order irrelevant) behind it.
    Applying it twice is the identity.
    """
    t = x.shape[1]
    idx = (jnp.arange(t - 1, -1, -1)[None, :] + lengths[:, None]) % t
    return jnp.take_along_axis(x, idx[:, :, None], axis=1)


_ScannedCell = nn.scan(nn.OptimizedLSTMCell, variable_broadcast="params",
                       split_rngs={"params": False}, in_axes=1, out_axes=1)


class _SequenceEncoder(nn.Module):
    hidden_size: int
    reverse: bool = False

    @nn.compact
    def __call__(self, inputs: Array, lengths: Array) -> Array:
        if self.reverse:
            inputs = reverse_within_length(inputs, lengths)
        zeros = jnp.zeros((inputs.shape[0], self.hidden_size), inputs.dtype)
        _, outputs = _ScannedCell(self.hidden_size, name="cell")((zeros, zeros), inputs)
        return reverse_within_length(outputs, lengths) if self.reverse else outputs


class _BiLSTM(nn.Module):
    hidden_size: int

    @nn.compact
    def __call__(self, inputs: Array, lengths: Array) -> Array:
        fwd = _SequenceEncoder(self.hidden_size, name="LSTMSequenceEncoder_0")(inputs, lengths)
        bwd = _SequenceEncoder(self.hidden_size, reverse=True,
                               name="LSTMSequenceEncoder_1")(inputs, lengths)
        return jnp.concatenate([fwd, bwd], axis=-1)


class LSTM(nn.Module):
    """One bidirectional LSTM layer (the reference nests it under ``LSTM_0/LSTM``)."""

    hidden_size: int

    @nn.compact
    def __call__(self, inputs: Array, lengths: Array) -> Array:
        return _BiLSTM(self.hidden_size, name="LSTM")(inputs, lengths)


def _norm(cfg: DeepspeechConfig, x: Array, paddings: Array, train: bool, bn_update: bool):
    if cfg.layernorm_everywhere:
        return LayerNorm(cfg.encoder_dim)(x)
    return BatchNorm(cfg.encoder_dim, cfg.batch_norm_momentum,
                     cfg.batch_norm_epsilon)(x, paddings, not train, bn_update)


class BatchRNN(nn.Module):
    config: DeepspeechConfig

    @nn.compact
    def __call__(self, x, paddings, train: bool, bn_update: bool):
        lengths = jnp.sum(1 - paddings, axis=-1).astype(jnp.int32)
        x = _norm(self.config, x, paddings, train, bn_update)
        return LSTM(self.config.encoder_dim // 2)(x, lengths)


class FeedForwardModule(nn.Module):
    config: DeepspeechConfig

    @nn.compact
    def __call__(self, x, paddings, train: bool, bn_update: bool, dropout_rate):
        cfg = self.config
        x = dense(cfg.encoder_dim)(_norm(cfg, x, paddings, train, bn_update))
        x = jnp.tanh(x) if cfg.use_tanh else jax.nn.relu(x)
        x = x * (1 - paddings)[..., None]
        return Dropout(deterministic=not train)(x, rate=dropout_rate)


class Subsample(nn.Module):
    config: DeepspeechConfig

    @nn.compact
    def __call__(self, x, paddings, train: bool, dropout_rate):
        dim, act = self.config.encoder_dim, ("tanh" if self.config.use_tanh else "relu")
        x, paddings = Conv2dSubsampling(1, dim, act)(x[..., None], paddings)
        x, paddings = Conv2dSubsampling(dim, dim, act)(x, paddings)
        x = dense(dim)(flatten_subsampled(x))
        return Dropout(deterministic=not train)(x, rate=dropout_rate), paddings


class Deepspeech(nn.Module):
    """Waveforms [B, T] (+ paddings) -> logits [B, T', vocab] (+ paddings)."""

    config: DeepspeechConfig

    @nn.compact
    def __call__(self, inputs, input_paddings, train: bool,
                 update_batch_norm: bool | None = None, dropout_rate=DROPOUT_RATE):
        cfg = self.config
        bn_update = train if update_batch_norm is None else update_batch_norm
        x, paddings = logmel_frontend(inputs, input_paddings)
        if train and cfg.use_specaug:
            x, paddings = SpecAug(freq_mask_count=cfg.freq_mask_count,
                                  time_mask_count=cfg.time_mask_count)(x, paddings)
        x, paddings = Subsample(cfg)(x, paddings, train, dropout_rate)
        for _ in range(cfg.num_lstm_layers):
            y = BatchRNN(cfg)(x, paddings, train, bn_update)
            x = x + y if cfg.enable_residual_connections else y
        for _ in range(cfg.num_ffn_layers):
            y = FeedForwardModule(cfg)(x, paddings, train, bn_update, dropout_rate)
            x = x + y if cfg.enable_residual_connections else y
        if cfg.enable_decoder_layer_norm:
            x = LayerNorm(cfg.encoder_dim)(x)
        return dense(cfg.vocab_size)(x), paddings
