"""Flax layers shared by the LibriSpeech Conformer and DeepSpeech models.

Class names matter: Flax derives parameter paths from them (``LayerNorm_0``,
``BatchNorm_0``, ``Conv2dSubsampling_1``...), and these names equal the
reference's so checkpoints and per-parameter rules line up. The audio front
end uses the numpy constants of :mod:`workloads._librispeech_common_frontend`.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from flax import linen as nn

from algoperf_ray.workloads import _librispeech_common_frontend as fe

Array = jax.Array


def logmel_frontend(audio: Array, paddings: Array) -> tuple[Array, Array]:
    """Raw waveforms [B, T] -> normalised log-mel [B, frames, 80] and frame paddings.

    A frame is padding only when all its samples are (min over the window),
    as the reference's ``reduce_window(min)`` does.
    """
    idx = jnp.asarray(fe.frame_indices(audio.shape[1]))
    audio = audio.astype(jnp.float32) * (1.0 - paddings) * fe.INPUT_SCALE
    frames = audio[:, idx]  # [B, F, 401]
    out_paddings = jnp.min(paddings[:, idx], axis=-1)
    emphasised = jnp.concatenate(
        [frames[..., :1] * (1.0 - fe.PREEMPH),
         frames[..., 1:-1] - fe.PREEMPH * frames[..., :-2]], axis=-1)
    windowed = emphasised * jnp.asarray(fe.hann_window())
    power = jnp.square(jnp.abs(jnp.fft.rfft(windowed, fe.FFT_SIZE, axis=-1)))
    mel = jnp.einsum("btf,fn->btn", power, jnp.asarray(fe.mel_matrix()))
    logmel = jnp.log(jnp.maximum(mel, fe.LOG_FLOOR))
    normed = (logmel - jnp.asarray(fe.MEAN_VECTOR)) / jnp.asarray(fe.STD_VECTOR)
    return normed, out_paddings


def _block_mask(rng: Array, choose_range: Array, mask_size: int, max_length: Array,
                count: int, max_ratio: float) -> Array:
    """1/0 keep-mask [B, mask_size] with ``count`` random blocks zeroed per row.

    Lingvo's SpecAugment sampling: block length ``floor(u * max_length)`` capped
    at ``max(1, floor(max_ratio * range))``, start uniform in the valid range.
    """
    batch = choose_range.shape[0]
    k_len, k_start = jax.random.split(rng)
    size = (max_length[:, None] * jax.random.uniform(k_len, (batch, count))).astype(jnp.int32)
    ranges = jnp.tile(choose_range[:, None], (1, count))
    bound = (max_ratio * ranges).astype(jnp.int32)
    length = jnp.minimum(size, jnp.maximum(bound, 1))
    start = (jax.random.uniform(k_start, (batch, count)) * (ranges - length + 1)).astype(jnp.int32)
    pos = jnp.arange(mask_size)[None, None, :]
    inside = (pos >= start[..., None]) & (pos <= (start + length - 1)[..., None])
    return 1.0 - jnp.any(inside, axis=1).astype(jnp.float32)


class SpecAug(nn.Module):
    """SpecAugment with the reference's settings (dynamic time-mask size).

    Time masks: ``time_mask_count`` blocks of up to ``time_mask_max_ratio`` of
    each utterance's length; frequency masks: ``freq_mask_count`` blocks of up
    to ``freq_mask_max_bins`` bins. Randomness comes from the 'dropout' stream.
    """

    freq_mask_count: int = 2
    freq_mask_max_bins: int = 27
    time_mask_count: int = 10
    time_mask_max_ratio: float = 0.05

    @nn.compact
    def __call__(self, inputs: Array, paddings: Array) -> tuple[Array, Array]:
        batch, time, freq = inputs.shape
        k_time, k_freq = jax.random.split(self.make_rng("dropout"))
        if self.time_mask_count > 0 and self.time_mask_max_ratio > 0:
            lengths = jnp.sum(1.0 - paddings, axis=-1).astype(jnp.int32)
            keep_t = _block_mask(k_time, lengths, time,
                                 lengths.astype(jnp.float32) * self.time_mask_max_ratio,
                                 self.time_mask_count, self.time_mask_max_ratio)
            inputs = inputs * keep_t[:, :, None]
        if self.freq_mask_count > 0 and self.freq_mask_max_bins > 0:
            ranges = jnp.full((batch,), freq, jnp.int32)
            keep_f = _block_mask(k_freq, ranges, freq,
                                 jnp.full((batch,), float(self.freq_mask_max_bins)),
                                 self.freq_mask_count, 1.0)
            inputs = inputs * keep_f[:, None, :]
        return inputs, paddings


class LayerNorm(nn.Module):
    """Layer norm with ``(1 + scale)`` gain, scale initialised to zero (reference)."""

    dim: int = 0
    epsilon: float = 1e-6

    @nn.compact
    def __call__(self, inputs: Array) -> Array:
        scale = self.param("scale", nn.initializers.zeros, (self.dim,))
        bias = self.param("bias", nn.initializers.zeros, (self.dim,))
        mean = jnp.mean(inputs, axis=-1, keepdims=True)
        var = jnp.mean(jnp.square(inputs - mean), axis=-1, keepdims=True)
        return (inputs - mean) * jax.lax.rsqrt(var + self.epsilon) * (1 + scale) + bias


class BatchNorm(nn.Module):
    """Batch norm over non-padded time steps only (lingvo style, reference defaults).

    Statistics live in the ``batch_stats`` collection as ``mean``/``var``;
    running averages use ``momentum`` as the weight of the old value.
    """

    dim: int = 0
    momentum: float = 0.999
    epsilon: float = 0.001

    @nn.compact
    def __call__(self, inputs: Array, paddings: Array, use_running_average: bool,
                 update_stats: bool) -> Array:
        ra_mean = self.variable("batch_stats", "mean", lambda: jnp.zeros((self.dim,)))
        ra_var = self.variable("batch_stats", "var", lambda: jnp.ones((self.dim,)))
        scale = self.param("scale", nn.initializers.zeros, (self.dim,))
        bias = self.param("bias", nn.initializers.zeros, (self.dim,))
        mask = 1.0 - paddings[..., None]
        if use_running_average:
            mean, var = ra_mean.value, ra_var.value
        else:
            axes = tuple(range(inputs.ndim - 1))
            count = jnp.maximum(jnp.sum(jnp.ones_like(inputs) * mask, axis=axes), 1.0)
            mean = jnp.sum(inputs * mask, axis=axes) / count
            var = jnp.sum(jnp.square(inputs - mean) * mask, axis=axes) / count
            if update_stats and not self.is_initializing():
                ra_mean.value = self.momentum * ra_mean.value + (1 - self.momentum) * mean
                ra_var.value = self.momentum * ra_var.value + (1 - self.momentum) * var
        out = (inputs - mean) * ((1 + scale) / jnp.sqrt(var + self.epsilon)) + bias
        return out * mask


class Conv2dSubsampling(nn.Module):
    """3x3 stride-2 'SAME' conv over (time, freq) plus the matching time paddings."""

    input_channels: int = 0
    output_channels: int = 0
    activation: str = "relu"

    @nn.compact
    def __call__(self, inputs: Array, paddings: Array) -> tuple[Array, Array]:
        kernel = self.param("kernel", nn.initializers.xavier_uniform(),
                            (3, 3, self.input_channels, self.output_channels))
        bias = self.param("bias", nn.initializers.zeros, (self.output_channels,))
        out = jax.lax.conv_general_dilated(
            inputs, kernel, window_strides=(2, 2), padding="SAME",
            dimension_numbers=("NHWC", "HWIO", "NHWC")) + bias
        out = jnp.tanh(out) if self.activation == "tanh" else jax.nn.relu(out)
        # A 1-wide stride-2 window over paddings keeps every other step.
        out_paddings = paddings[:, ::2]
        return out * (1.0 - out_paddings)[:, :, None, None], out_paddings


def dense(features: int, **kwargs: Any) -> nn.Dense:
    """Dense layer with the reference's Xavier-uniform kernel init."""
    return nn.Dense(features, kernel_init=nn.initializers.xavier_uniform(), **kwargs)


def flatten_subsampled(outputs: Array) -> Array:
    """[B, T, F, C] -> [B, T, F * C] (freq-major, channel-minor, as the reference)."""
    b, t, f, c = outputs.shape
    return outputs.reshape(b, t, f * c)


def zeros_batch(batch: int, num_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """A dummy (audio, paddings) pair used to initialise models."""
    return np.zeros((batch, num_samples), np.float32), np.zeros((batch, num_samples), np.float32)
