"""Conformer speech encoder with a CTC head, in PyTorch (twin of ``models_jax``).

Parameter names equal the reference PyTorch model's (``conformers.0.conv.bn.
scale``...). Two reference details are kept on purpose: attention uses one
fused ``in_proj`` (JAX has separate query/key/value kernels, same count), and
with the GELU variant the conv module uses exact GELU while the feed-forward
modules use the tanh approximation (JAX uses tanh in both).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from algoperf_ray.workloads._librispeech_common_torch import (
    Conv2dSubsampling,
    LayerNorm,
    LogMelFrontend,
    MaskedBatchNorm,
    SpecAug,
    flatten_subsampled,
    subsampled_features,
    xavier_init,
)

DROPOUT_RATE = 0.1


@dataclass(frozen=True)
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
    batch_norm_momentum: float = 1 - 0.999  # weight of the new statistic
    batch_norm_epsilon: float = 0.001
    use_specaug: bool = True
    attention_temperature: float = 1.0
    activation_function_name: str = "swish"
    use_post_layer_norm: bool = True


def _activation(name: str, approximate_gelu: bool):
    if name == "swish":
        return F.silu
    if name == "gelu":
        return lambda x: F.gelu(x, approximate="tanh" if approximate_gelu else "none")
    raise ValueError(f"activation_function_name must be 'swish' or 'gelu', got {name!r}")


def sinusoidal_positions(length: int, dim: int, device: torch.device) -> Tensor:
    """[1, length, dim] sin/cos position signal (timescales 1 to 1e4)."""
    half = dim // 2
    inv = torch.exp(torch.arange(half, dtype=torch.float32, device=device)
                    * -(math.log(10_000.0) / max(half - 1, 1)))
    scaled = torch.arange(length, dtype=torch.float32, device=device)[:, None] * inv[None]
    signal = torch.cat([torch.sin(scaled), torch.cos(scaled)], dim=1)
    return F.pad(signal, (0, dim % 2))[None]


class Subsample(nn.Module):
    def __init__(self, encoder_dim: int) -> None:
        super().__init__()
        self.encoder_dim = encoder_dim
        self.conv1 = Conv2dSubsampling(1, encoder_dim)
        self.conv2 = Conv2dSubsampling(encoder_dim, encoder_dim)
        self.linear = nn.Linear(subsampled_features(encoder_dim), encoder_dim)

    def forward(self, x: Tensor, paddings: Tensor, dropout_rate: float):
        x, paddings = self.conv1(x[:, None], paddings)
        x, paddings = self.conv2(x, paddings)
        x = self.linear(flatten_subsampled(x))
        x = x + sinusoidal_positions(x.shape[1], self.encoder_dim, x.device)
        return F.dropout(x, dropout_rate, training=self.training), paddings


class FeedForwardModule(nn.Module):
    def __init__(self, cfg: ConformerConfig) -> None:
        super().__init__()
        hidden = cfg.encoder_dim * cfg.feed_forward_expansion_factor
        self.ln = LayerNorm(cfg.encoder_dim)
        self.linear1 = nn.Linear(cfg.encoder_dim, hidden)
        self.linear2 = nn.Linear(hidden, cfg.encoder_dim)
        self.act = _activation(cfg.activation_function_name, approximate_gelu=True)

    def forward(self, x: Tensor, mask: Tensor, dropout_rate: float) -> Tensor:
        x = F.dropout(self.act(self.linear1(self.ln(x))), dropout_rate, training=self.training)
        x = self.linear2(x * mask) * mask
        return F.dropout(x, dropout_rate, training=self.training)


class QueryScaler(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.zeros(dim))

    def forward(self, x: Tensor) -> Tensor:
        return x * (1.442695041 * F.softplus(self.scale))


class MHSAwithQS(nn.Module):
    """Self-attention with a learned per-dimension query scale and a temperature."""

    def __init__(self, cfg: ConformerConfig) -> None:
        super().__init__()
        self.dim, self.heads = cfg.encoder_dim, cfg.num_attention_heads
        self.in_proj = nn.Linear(cfg.encoder_dim, 3 * cfg.encoder_dim)
        self.out_proj = nn.Linear(cfg.encoder_dim, cfg.encoder_dim)
        self.qs = QueryScaler(cfg.encoder_dim // cfg.num_attention_heads)
        self.temperature = cfg.attention_temperature

    def forward(self, x: Tensor, paddings: Tensor) -> Tensor:
        b, t, _ = x.shape
        q, k, v = (y.view(b, t, self.heads, -1) for y in self.in_proj(x).split(self.dim, dim=2))
        q = self.qs(q)
        keep = (paddings < 1)[:, None, None, :]
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2),
                                             v.transpose(1, 2), attn_mask=keep)
        out = out.transpose(1, 2).reshape(b, t, self.dim) * self.temperature
        return self.out_proj(out)


class MultiHeadedSelfAttention(nn.Module):
    def __init__(self, cfg: ConformerConfig) -> None:
        super().__init__()
        self.ln = LayerNorm(cfg.encoder_dim)
        self.self_attention = MHSAwithQS(cfg)

    def forward(self, x: Tensor, paddings: Tensor, dropout_rate: float) -> Tensor:
        x = self.self_attention(self.ln(x), paddings)
        return F.dropout(x, dropout_rate, training=self.training)


class ConvolutionBlock(nn.Module):
    def __init__(self, cfg: ConformerConfig) -> None:
        super().__init__()
        d = cfg.encoder_dim
        self.ln = LayerNorm(d)
        self.lin1 = nn.Linear(d, d)
        self.lin2 = nn.Linear(d, d)
        self.conv1 = nn.Conv1d(d, d, kernel_size=cfg.convolution_kernel_size, padding="same",
                               bias=False, groups=d)
        self.bn = MaskedBatchNorm(d, cfg.batch_norm_momentum, cfg.batch_norm_epsilon)
        self.lin3 = nn.Linear(d, d)
        self.act = _activation(cfg.activation_function_name, approximate_gelu=False)

    def forward(self, x: Tensor, paddings: Tensor, dropout_rate: float) -> Tensor:
        x = self.ln(x)
        x = self.lin1(x) * torch.sigmoid(self.lin2(x))
        x = x * (1 - paddings[:, :, None])
        x = self.conv1(x.transpose(1, 2)).transpose(1, 2)
        x = self.lin3(self.act(self.bn(x, paddings)))
        return F.dropout(x, dropout_rate, training=self.training)


class ConformerBlock(nn.Module):
    def __init__(self, cfg: ConformerConfig) -> None:
        super().__init__()
        self.ff1 = FeedForwardModule(cfg)
        self.mhsa = MultiHeadedSelfAttention(cfg)
        self.conv = ConvolutionBlock(cfg)
        self.ff2 = FeedForwardModule(cfg)
        self.ln = LayerNorm(cfg.encoder_dim) if cfg.use_post_layer_norm else None

    def forward(self, x: Tensor, paddings: Tensor, dropout_rate: float) -> Tensor:
        mask = 1 - paddings[:, :, None]
        x = x + 0.5 * self.ff1(x, mask, dropout_rate)
        x = x + self.mhsa(x, paddings, dropout_rate)
        x = x + self.conv(x, paddings, dropout_rate)
        x = x + 0.5 * self.ff2(x, mask, dropout_rate)
        return self.ln(x) if self.ln is not None else x


class ConformerEncoderDecoder(nn.Module):
    """Waveforms [B, T] (+ paddings) -> logits [B, T', vocab] (+ paddings)."""

    def __init__(self, cfg: ConformerConfig) -> None:
        super().__init__()
        self.config = cfg
        self.preprocessor = LogMelFrontend()
        self.specaug = SpecAug(freq_mask_count=cfg.freq_mask_count,
                               time_mask_count=cfg.time_mask_count)
        self.subsample = Subsample(cfg.encoder_dim)
        self.conformers = nn.ModuleList(
            [ConformerBlock(cfg) for _ in range(cfg.num_encoder_layers)])
        self.ln = LayerNorm(cfg.encoder_dim)
        self.lin = nn.Linear(cfg.encoder_dim, cfg.vocab_size)
        xavier_init(self)

    def forward(self, inputs: Tensor, input_paddings: Tensor,
                dropout_rate: float = DROPOUT_RATE) -> tuple[Tensor, Tensor]:
        x, paddings = self.preprocessor(inputs, input_paddings)
        if self.training and self.config.use_specaug:
            x, paddings = self.specaug(x, paddings)
        x, paddings = self.subsample(x, paddings, dropout_rate)
        for block in self.conformers:
            x = block(x, paddings, dropout_rate)
        return self.lin(self.ln(x)), paddings
