"""PyTorch layers shared by the LibriSpeech Conformer and DeepSpeech models.

Mirror images of :mod:`workloads._librispeech_common_jax`: the same front end
constants (from :mod:`workloads._librispeech_common_frontend`), the same
SpecAugment sampling rule, the same masked batch norm. Attribute names follow
the reference's PyTorch models so parameter names match.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from algoperf_ray.workloads import _librispeech_common_frontend as fe


class LogMelFrontend(nn.Module):
    """Raw waveforms [B, T] -> normalised log-mel [B, frames, 80] and frame paddings."""

    def __init__(self) -> None:
        super().__init__()
        # Constants as non-persistent buffers: they follow .to(device), stay out of
        # state_dict (nothing to restore) and out of the parameter list.
        self.register_buffer("window", torch.from_numpy(fe.hann_window()), persistent=False)
        self.register_buffer("mel", torch.from_numpy(fe.mel_matrix()), persistent=False)
        self.register_buffer("mean", torch.from_numpy(fe.MEAN_VECTOR), persistent=False)
        self.register_buffer("std", torch.from_numpy(fe.STD_VECTOR), persistent=False)

    def forward(self, audio: Tensor, paddings: Tensor) -> tuple[Tensor, Tensor]:
        audio = audio * (1.0 - paddings) * fe.INPUT_SCALE
        frames = audio.unfold(1, fe.FRAME_SIZE, fe.FRAME_STEP)  # [B, F, 401]
        out_paddings = paddings.unfold(1, fe.FRAME_SIZE, fe.FRAME_STEP).amin(dim=-1)
        emphasised = torch.cat(
            [frames[..., :1] * (1.0 - fe.PREEMPH),
             frames[..., 1:-1] - fe.PREEMPH * frames[..., :-2]], dim=-1)
        power = torch.fft.rfft(emphasised * self.window, fe.FFT_SIZE, dim=-1).abs().square()
        logmel = torch.log((power @ self.mel).clamp(min=fe.LOG_FLOOR))
        return (logmel - self.mean) / self.std, out_paddings


def _block_mask(choose_range: Tensor, mask_size: int, max_length: Tensor, count: int,
                max_ratio: float) -> Tensor:
    """Keep-mask [B, mask_size]; same sampling rule as the JAX twin."""
    batch, device = choose_range.shape[0], choose_range.device
    size = (max_length[:, None] * torch.rand(batch, count, device=device)).long()
    ranges = choose_range[:, None].expand(batch, count)
    bound = (max_ratio * ranges).long()
    length = torch.minimum(size, bound.clamp(min=1))
    start = (torch.rand(batch, count, device=device) * (ranges - length + 1)).long()
    pos = torch.arange(mask_size, device=device)[None, None, :]
    inside = (pos >= start[..., None]) & (pos <= (start + length - 1)[..., None])
    return 1.0 - inside.any(dim=1).float()


class SpecAug(nn.Module):
    """SpecAugment with the reference's settings (dynamic time-mask size)."""

    def __init__(self, freq_mask_count: int = 2, freq_mask_max_bins: int = 27,
                 time_mask_count: int = 10, time_mask_max_ratio: float = 0.05) -> None:
        super().__init__()
        self.freq_mask_count = freq_mask_count
        self.freq_mask_max_bins = freq_mask_max_bins
        self.time_mask_count = time_mask_count
        self.time_mask_max_ratio = time_mask_max_ratio

    def forward(self, inputs: Tensor, paddings: Tensor) -> tuple[Tensor, Tensor]:
        batch, time, freq = inputs.shape
        if self.time_mask_count > 0 and self.time_mask_max_ratio > 0:
            lengths = (1 - paddings).sum(dim=-1).long()
            keep_t = _block_mask(lengths, time, lengths.float() * self.time_mask_max_ratio,
                                 self.time_mask_count, self.time_mask_max_ratio)
            inputs = inputs * keep_t[:, :, None]
        if self.freq_mask_count > 0 and self.freq_mask_max_bins > 0:
            ranges = torch.full((batch,), freq, device=inputs.device, dtype=torch.long)
            max_len = torch.full((batch,), float(self.freq_mask_max_bins), device=inputs.device)
            keep_f = _block_mask(ranges, freq, max_len, self.freq_mask_count, 1.0)
            inputs = inputs * keep_f[:, None, :]
        return inputs, paddings


class LayerNorm(nn.Module):
    """Layer norm with ``(1 + scale)`` gain, scale initialised to zero (reference)."""

    def __init__(self, dim: int, epsilon: float = 1e-6) -> None:
        super().__init__()
        self.dim, self.epsilon = dim, epsilon
        self.scale = nn.Parameter(torch.zeros(dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: Tensor) -> Tensor:
        return F.layer_norm(x, (self.dim,), 1 + self.scale, self.bias, self.epsilon)


class MaskedBatchNorm(nn.Module):
    """Batch norm over non-padded steps; ``momentum`` weighs the NEW statistic.

    ``gain_name`` is ``scale`` (Conformer) or ``weight`` (DeepSpeech), as in the
    reference. ``sync=True`` sums the statistics over DDP ranks (the reference
    DeepSpeech does; JAX computes them over the global batch anyway).
    ``update_stats`` is switched off by the workload when ``update_batch_norm``
    is False.
    """

    def __init__(self, dim: int, momentum: float = 0.001, epsilon: float = 0.001,
                 gain_name: str = "scale", sync: bool = False) -> None:
        super().__init__()
        self.register_buffer("running_mean", torch.zeros(dim))
        self.register_buffer("running_var", torch.ones(dim))
        self.gain_name = gain_name
        setattr(self, gain_name, nn.Parameter(torch.zeros(dim)))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.momentum, self.epsilon, self.sync = momentum, epsilon, sync
        self.update_stats = True

    def _all_reduce(self, t: Tensor) -> Tensor:
        if self.sync and dist.is_available() and dist.is_initialized() \
                and dist.get_world_size() > 1:
            import torch.distributed.nn as dist_nn  # differentiable all-reduce
            return dist_nn.all_reduce(t)
        return t

    def forward(self, inputs: Tensor, paddings: Tensor) -> Tensor:
        mask = 1 - paddings[:, :, None]
        if self.training:
            count = self._all_reduce(mask.sum()).clamp(min=1.0)
            masked = inputs * mask
            mean = self._all_reduce(masked.sum(dim=(0, 1))) / count
            var = self._all_reduce((torch.square(masked - mean) * mask).sum(dim=(0, 1))) / count
            if self.update_stats:
                with torch.no_grad():
                    self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                    self.running_var.mul_(1 - self.momentum).add_(self.momentum * var)
        else:
            mean, var = self.running_mean, self.running_var
        gain = getattr(self, self.gain_name)
        out = (inputs - mean) * ((1 + gain) * torch.rsqrt(var + self.epsilon)) + self.bias
        return out * mask


class Conv2dSubsampling(nn.Module):
    """3x3 stride-2 conv with TensorFlow 'SAME' padding, plus time paddings."""

    def __init__(self, input_channels: int, output_channels: int,
                 activation: str = "relu") -> None:
        super().__init__()
        self.kernel = nn.Parameter(
            nn.init.xavier_uniform_(torch.empty(output_channels, input_channels, 3, 3)))
        self.bias = nn.Parameter(torch.zeros(output_channels))
        self.activation = activation

    @staticmethod
    def _same_pad(n: int) -> tuple[int, int]:
        total = max(3 - (2 if n % 2 == 0 else n % 2), 0)
        return total // 2, total - total // 2

    def forward(self, inputs: Tensor, paddings: Tensor) -> tuple[Tensor, Tensor]:
        # inputs: [B, C, T, F]
        top, bottom = self._same_pad(inputs.shape[2])
        left, right = self._same_pad(inputs.shape[3])
        x = F.conv2d(F.pad(inputs, (left, right, top, bottom)), self.kernel, self.bias,
                     stride=2)
        x = torch.tanh(x) if self.activation == "tanh" else F.relu(x)
        out_paddings = paddings[:, ::2]
        return x * (1 - out_paddings)[:, None, :, None], out_paddings


def subsampled_features(encoder_dim: int) -> int:
    """Width of the flattened conv output: channels x (80 mel bins / 4)."""
    bins = fe.NUM_MEL_BINS
    for _ in range(2):
        bins = (bins + 1) // 2
    return encoder_dim * bins


def flatten_subsampled(x: Tensor) -> Tensor:
    """[B, C, T, F] -> [B, T, F * C] (freq-major, channel-minor, like the JAX layout)."""
    b, c, t, f = x.shape
    return x.permute(0, 2, 3, 1).reshape(b, t, f * c)


def xavier_init(module: nn.Module) -> None:
    """Reference init: Xavier-uniform Linear/Conv1d weights, zero biases."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def set_batch_norm_update(module: nn.Module, update: bool) -> None:
    """Freeze/unfreeze running-statistic updates of every masked batch norm."""
    for m in module.modules():
        if isinstance(m, MaskedBatchNorm):
            m.update_stats = update
