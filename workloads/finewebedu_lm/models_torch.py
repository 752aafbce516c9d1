"""The finewebedu_lm decoder-only Transformer in PyTorch (plainLM style).

Parameter names follow the reference's PyTorch model: ``embed_tokens``,
``layers.<i>.{attn_norm, attn.{w_qkv, w_out, attn_scale}, mlp_norm,
mlp.{fc1, fc2}}``, ``out_norm`` and ``lm_head`` (tied to ``embed_tokens``,
so ``named_parameters()`` lists the matrix once). q/k/v are one fused
``w_qkv`` Linear ``[3 * model_dim, model_dim]`` (rows q, then k, then v).

The maths equals ``models_jax`` (rotary pairs, QK-norm with a learned
scale, ``value * sigmoid(gate)`` feed-forward, tied logits) with one
reference detail kept per framework: the reference's PyTorch QK-norm adds
``eps`` after the division (``q / |q| + eps``) where its Flax model divides
by ``|q| + eps``; with eps = 1e-6 the logits differ by ~1e-5.
Mixed precision is the workload's business (``torch.autocast``), as in the
reference; parameters stay float32.
"""

from __future__ import annotations

import contextlib

import torch
import torch.nn.functional as F
from torch import nn

from algoperf_ray.workloads.finewebedu_lm.config import ModelConfig


def rope_table(cfg: ModelConfig) -> torch.Tensor:
    """cos/sin of the rotary angles, float32 ``[seq_len, head_dim // 2, 2]``."""
    dim = cfg.head_dim
    inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.float32) / dim))
    angles = torch.outer(torch.arange(cfg.seq_len, dtype=torch.float32), inv_freq)
    return torch.stack([angles.cos(), angles.sin()], dim=-1)


def apply_rope(x: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Rotate interleaved pairs of ``x`` [B, L, H, Dh] by position (in float32)."""
    length = x.shape[1]
    pairs = x.float().unflatten(-1, (-1, 2))
    cos = table[None, :length, None, :, 0]
    sin = table[None, :length, None, :, 1]
    real, imag = pairs[..., 0], pairs[..., 1]
    rotated = torch.stack([real * cos - imag * sin, imag * cos + real * sin], dim=-1)
    return rotated.flatten(-2).type_as(x)


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.w_qkv = nn.Linear(cfg.model_dim, 3 * cfg.model_dim, bias=False)
        self.w_out = nn.Linear(cfg.model_dim, cfg.model_dim, bias=False)
        self.attn_scale = nn.Parameter(torch.tensor(cfg.attn_scale_init))

    def forward(self, x: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        cfg = self.cfg
        b, length, d = x.shape
        q, k, v = (t.view(b, length, cfg.num_heads, cfg.head_dim)
                   for t in self.w_qkv(x).split(d, dim=-1))
        q, k = apply_rope(q, table), apply_rope(k, table)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))  # [B, H, L, Dh]
        q = q / torch.linalg.vector_norm(q, dim=-1, keepdim=True) + cfg.qknorm_epsilon
        k = k / torch.linalg.vector_norm(k, dim=-1, keepdim=True) + cfg.qknorm_epsilon
        q = q * self.attn_scale.to(q.dtype)
        out = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=1.0)
        return self.w_out(out.transpose(1, 2).reshape(b, length, d))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.fc1 = nn.Linear(cfg.model_dim, 2 * cfg.hidden_dim, bias=False)
        self.fc2 = nn.Linear(cfg.hidden_dim, cfg.model_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.glu(self.fc1(x), dim=-1))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.attn = Attention(cfg)
        self.attn_norm = nn.RMSNorm(cfg.model_dim, eps=cfg.rmsnorm_epsilon)
        self.mlp = MLP(cfg)
        self.mlp_norm = nn.RMSNorm(cfg.model_dim, eps=cfg.rmsnorm_epsilon)

    def forward(self, x: torch.Tensor, table: torch.Tensor, dropout_rate: float) -> torch.Tensor:
        h = self.attn(self.attn_norm(x), table)
        x = x + F.dropout(h, p=dropout_rate, training=self.training)
        h = self.mlp(self.mlp_norm(x))
        return x + F.dropout(h, p=dropout_rate, training=self.training)


class Transformer(nn.Module):
    """Decoder-only LM: token ids [B, L] -> next-token logits [B, L, vocab]."""

    def __init__(self, cfg: ModelConfig, device: torch.device | str | None = None) -> None:
        super().__init__()
        self.cfg = cfg
        # No device given: build on the ambient default (describe() uses "meta").
        with torch.device(device) if device is not None else contextlib.nullcontext():
            self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.model_dim)
            self.layers = nn.ModuleList([Block(cfg) for _ in range(cfg.num_layers)])
            self.out_norm = nn.RMSNorm(cfg.model_dim, eps=cfg.rmsnorm_epsilon)
            self.lm_head = nn.Linear(cfg.model_dim, cfg.vocab_size, bias=False)
            self.register_buffer("rope", rope_table(cfg), persistent=False)
        self.lm_head.weight = self.embed_tokens.weight  # tied embeddings
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Reference init: N(0, 0.02) everywhere, residual outputs N(0, 0.02/sqrt(2L))."""
        for name, p in self.named_parameters():
            if name.endswith("norm.weight"):
                nn.init.ones_(p)
            elif name.endswith("attn_scale"):
                p.fill_(self.cfg.attn_scale_init)
            elif name.endswith(("fc2.weight", "w_out.weight")):
                nn.init.normal_(p, std=self.cfg.residual_init_std)
            else:
                nn.init.normal_(p, std=0.02)

    def forward(self, tokens: torch.Tensor, dropout_rate: float = 0.0) -> torch.Tensor:
        x = self.embed_tokens(tokens)
        for layer in self.layers:
            x = layer(x, self.rope, dropout_rate)
        return self.lm_head(self.out_norm(x))
