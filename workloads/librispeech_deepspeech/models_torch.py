"""DeepSpeech2-style speech model with a CTC head, in PyTorch (twin of ``models_jax``).

Parameter names equal the reference PyTorch model's. The LSTM is
``torch.nn.LSTM`` over packed sequences (cuDNN on GPU); it has two bias
vectors per gate (``bias_ih`` and ``bias_hh``) where Flax's LSTM cell has
one, so this model has 12,288 more parameters than the JAX one (6 layers x 2
directions x 4 gates x 256), exactly as the two reference implementations
differ. Outputs at padded steps are zero here and arbitrary in JAX; only
valid steps reach the CTC loss.
"""

from __future__ import annotations

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
class DeepspeechConfig:
    """Model options; defaults are the benchmark's full size."""

    vocab_size: int = 1024
    encoder_dim: int = 512
    num_lstm_layers: int = 6
    num_ffn_layers: int = 3
    use_specaug: bool = True
    freq_mask_count: int = 2
    time_mask_count: int = 10
    batch_norm_momentum: float = 1 - 0.999  # weight of the new statistic
    batch_norm_epsilon: float = 0.001
    enable_residual_connections: bool = True
    enable_decoder_layer_norm: bool = True
    use_tanh: bool = False
    layernorm_everywhere: bool = False


def _attach_norm(module: nn.Module, cfg: DeepspeechConfig) -> None:
    """Reference attribute names: ``normalization_layer`` (LN) / ``bn_normalization_layer``."""
    if cfg.layernorm_everywhere:
        module.normalization_layer = LayerNorm(cfg.encoder_dim)
    else:
        module.bn_normalization_layer = MaskedBatchNorm(
            cfg.encoder_dim, cfg.batch_norm_momentum, cfg.batch_norm_epsilon,
            gain_name="weight", sync=True)


def _apply_norm(module: nn.Module, x: Tensor, paddings: Tensor) -> Tensor:
    if hasattr(module, "normalization_layer"):
        return module.normalization_layer(x)
    return module.bn_normalization_layer(x, paddings)


class Subsample(nn.Module):
    def __init__(self, cfg: DeepspeechConfig) -> None:
        super().__init__()
        act = "tanh" if cfg.use_tanh else "relu"
        self.conv1 = Conv2dSubsampling(1, cfg.encoder_dim, act)
        self.conv2 = Conv2dSubsampling(cfg.encoder_dim, cfg.encoder_dim, act)
        self.lin = nn.Linear(subsampled_features(cfg.encoder_dim), cfg.encoder_dim)

    def forward(self, x: Tensor, paddings: Tensor, dropout_rate: float):
        x, paddings = self.conv1(x[:, None], paddings)
        x, paddings = self.conv2(x, paddings)
        x = self.lin(flatten_subsampled(x))
        return F.dropout(x, dropout_rate, training=self.training), paddings


class BatchRNN(nn.Module):
    """Norm then one bidirectional LSTM layer over each sequence's valid steps."""

    def __init__(self, cfg: DeepspeechConfig) -> None:
        super().__init__()
        _attach_norm(self, cfg)
        self.lstm = nn.LSTM(cfg.encoder_dim, cfg.encoder_dim // 2, bidirectional=True,
                            batch_first=True)

    def forward(self, x: Tensor, paddings: Tensor) -> Tensor:
        x = _apply_norm(self, x, paddings)
        # pack_padded_sequence needs host lengths >= 1.
        lengths = (1 - paddings).sum(dim=1).long().clamp(min=1).cpu()
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True,
                                                   enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True,
                                                  total_length=x.shape[1])
        return out


class FeedForwardModule(nn.Module):
    def __init__(self, cfg: DeepspeechConfig) -> None:
        super().__init__()
        _attach_norm(self, cfg)
        self.lin = nn.Linear(cfg.encoder_dim, cfg.encoder_dim)
        self.use_tanh = cfg.use_tanh

    def forward(self, x: Tensor, paddings: Tensor, dropout_rate: float) -> Tensor:
        x = self.lin(_apply_norm(self, x, paddings))
        x = torch.tanh(x) if self.use_tanh else F.relu(x)
        x = x * (1 - paddings)[:, :, None]
        return F.dropout(x, dropout_rate, training=self.training)


class DeepspeechEncoderDecoder(nn.Module):
    """Waveforms [B, T] (+ paddings) -> logits [B, T', vocab] (+ paddings)."""

    def __init__(self, cfg: DeepspeechConfig) -> None:
        super().__init__()
        self.config = cfg
        self.specaug = SpecAug(freq_mask_count=cfg.freq_mask_count,
                               time_mask_count=cfg.time_mask_count)
        self.preprocessor = LogMelFrontend()
        self.subsample = Subsample(cfg)
        self.lstms = nn.ModuleList([BatchRNN(cfg) for _ in range(cfg.num_lstm_layers)])
        self.ffns = nn.ModuleList([FeedForwardModule(cfg) for _ in range(cfg.num_ffn_layers)])
        self.ln = LayerNorm(cfg.encoder_dim) if cfg.enable_decoder_layer_norm else nn.Identity()
        self.lin = nn.Linear(cfg.encoder_dim, cfg.vocab_size)
        xavier_init(self)  # LSTM weights keep PyTorch's default init, as the reference

    def forward(self, inputs: Tensor, input_paddings: Tensor,
                dropout_rate: float = DROPOUT_RATE) -> tuple[Tensor, Tensor]:
        cfg = self.config
        x, paddings = self.preprocessor(inputs, input_paddings)
        if self.training and cfg.use_specaug:
            x, paddings = self.specaug(x, paddings)
        x, paddings = self.subsample(x, paddings, dropout_rate)
        for layer in self.lstms:
            y = layer(x, paddings)
            x = x + y if cfg.enable_residual_connections else y
        for layer in self.ffns:
            y = layer(x, paddings, dropout_rate)
            x = x + y if cfg.enable_residual_connections else y
        return self.lin(self.ln(x)), paddings
