"""ViT (S/16 for the benchmark) in PyTorch, with the reference's module names.

The same network as :mod:`workloads.imagenet_vit.models_jax`, named as the
reference's PyTorch model (``pre_logits``, ``conv_patch_extract``,
``encoder.net.<i>.{layer_norm0, self_attention1.{query,key,value,out},
layer_norm2, mlp3.{linear1, glu_linear, linear2}}``, ``encoder.encoder_norm``,
``head``, ``map.{probe, mha.{q_proj, kv_proj, out_proj}, layer_norm, mlp}``),
registered in the same order, with the reference's PyTorch init. Inputs are
NCHW; dropout sits where the Flax model has it (see its docstring).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from algoperf_ray.workloads.imagenet_resnet.models_torch import lecun_normal_
from algoperf_ray.workloads.imagenet_vit.posemb import posemb_sincos_2d


def _xavier_linear(cin: int, cout: int, bias_std: float = 0.0) -> nn.Linear:
    layer = nn.Linear(cin, cout)
    nn.init.xavier_uniform_(layer.weight)
    if bias_std:
        nn.init.normal_(layer.bias, std=bias_std)
    else:
        nn.init.zeros_(layer.bias)
    return layer


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, heads: int) -> torch.Tensor:
    """Scaled dot-product attention over ``heads`` heads, [N, L, D] in and out."""
    n, lq, d = q.shape
    lk = k.shape[1]
    split = [t.reshape(n, length, heads, d // heads).transpose(1, 2)
             for t, length in ((q, lq), (k, lk), (v, lk))]
    out = F.scaled_dot_product_attention(*split)
    return out.transpose(1, 2).reshape(n, lq, d)


class MlpBlock(nn.Module):
    def __init__(self, width: int, mlp_dim: int, use_glu: bool = False) -> None:
        super().__init__()
        self.linear1 = _xavier_linear(width, mlp_dim, 1e-6)
        self.act_fnc = nn.GELU(approximate="tanh")
        self.glu_linear = _xavier_linear(mlp_dim, mlp_dim, 1e-6) if use_glu else None
        self.linear2 = _xavier_linear(mlp_dim, width, 1e-6)

    def forward(self, x: torch.Tensor, dropout_rate: float) -> torch.Tensor:
        x = self.act_fnc(self.linear1(x))
        if self.glu_linear is not None:
            x = x * self.glu_linear(x)
        x = F.dropout(x, dropout_rate, training=self.training)
        return self.linear2(x)


class SelfAttention(nn.Module):
    def __init__(self, width: int, num_heads: int) -> None:
        super().__init__()
        if width % num_heads:
            raise ValueError(f"imagenet_vit: width {width} is not divisible by "
                             f"{num_heads} heads.")
        self.num_heads = num_heads
        self.query = _xavier_linear(width, width)
        self.key = _xavier_linear(width, width)
        self.value = _xavier_linear(width, width)
        self.out = _xavier_linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(_attend(self.query(x), self.key(x), self.value(x), self.num_heads))


class Encoder1DBlock(nn.Module):
    def __init__(self, width: int, mlp_dim: int, num_heads: int, use_glu: bool,
                 use_post_layer_norm: bool) -> None:
        super().__init__()
        self.use_post_layer_norm = use_post_layer_norm
        self.layer_norm0 = nn.LayerNorm(width, eps=1e-6)
        self.self_attention1 = SelfAttention(width, num_heads)
        self.layer_norm2 = nn.LayerNorm(width, eps=1e-6)
        self.mlp3 = MlpBlock(width, mlp_dim, use_glu)

    def forward(self, x: torch.Tensor, dropout_rate: float) -> torch.Tensor:
        def drop(t: torch.Tensor) -> torch.Tensor:
            return F.dropout(t, dropout_rate, training=self.training)

        if self.use_post_layer_norm:
            x = self.layer_norm0(x + drop(self.self_attention1(x)))
            return self.layer_norm2(x + drop(self.mlp3(x, dropout_rate)))
        x = x + drop(self.self_attention1(self.layer_norm0(x)))
        return x + drop(self.mlp3(self.layer_norm2(x), dropout_rate))


class Encoder(nn.Module):
    def __init__(self, depth: int, width: int, mlp_dim: int, num_heads: int, use_glu: bool,
                 use_post_layer_norm: bool) -> None:
        super().__init__()
        self.net = nn.ModuleList([
            Encoder1DBlock(width, mlp_dim, num_heads, use_glu, use_post_layer_norm)
            for _ in range(depth)])
        self.encoder_norm = None if use_post_layer_norm else nn.LayerNorm(width, eps=1e-6)

    def forward(self, x: torch.Tensor, dropout_rate: float) -> torch.Tensor:
        for block in self.net:
            x = block(x, dropout_rate)
        return x if self.encoder_norm is None else self.encoder_norm(x)


class CrossAttention(nn.Module):
    """Queries from ``x``, keys and values (one fused projection) from ``mem``."""

    def __init__(self, width: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.q_proj = _xavier_linear(width, width, 1e-6)
        self.kv_proj = _xavier_linear(width, 2 * width, 1e-6)
        self.out_proj = _xavier_linear(width, width, 1e-6)

    def forward(self, x: torch.Tensor, mem: torch.Tensor) -> torch.Tensor:
        k, v = self.kv_proj(mem).chunk(2, dim=-1)
        return self.out_proj(_attend(self.q_proj(x), k, v, self.num_heads))


class MAPHead(nn.Module):
    def __init__(self, width: int, mlp_dim: int, num_heads: int) -> None:
        super().__init__()
        self.probe = nn.Parameter(torch.empty((1, 1, width)))
        nn.init.xavier_uniform_(self.probe)
        self.mha = CrossAttention(width, num_heads)
        self.layer_norm = nn.LayerNorm(width, eps=1e-6)
        self.mlp = MlpBlock(width, mlp_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.mha(self.probe.expand(x.shape[0], -1, -1), x)
        x = x + self.mlp(self.layer_norm(x), 0.0)
        return x[:, 0]


class ViT(nn.Module):
    def __init__(self, num_classes: int = 1000, patch_size: tuple[int, int] = (16, 16),
                 width: int = 384, depth: int = 12, mlp_dim: int = 1536, num_heads: int = 6,
                 use_glu: bool = False, use_post_layer_norm: bool = False,
                 use_map: bool = False) -> None:
        super().__init__()
        self.pre_logits = nn.Linear(width, width)
        self.conv_patch_extract = nn.Conv2d(3, width, patch_size, stride=patch_size,
                                            padding="valid")
        self.encoder = Encoder(depth, width, mlp_dim, num_heads, use_glu, use_post_layer_norm)
        self.head = nn.Linear(width, num_classes)
        self.map = MAPHead(width, mlp_dim, num_heads) if use_map else None
        lecun_normal_(self.conv_patch_extract)
        lecun_normal_(self.pre_logits)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor, dropout_rate: float = 0.0) -> torch.Tensor:
        x = self.conv_patch_extract(x)
        n, c, h, w = x.shape
        table = torch.tensor(posemb_sincos_2d(h, w, c), device=x.device, dtype=x.dtype)
        x = x.reshape(n, c, h * w).transpose(1, 2) + table
        x = F.dropout(x, dropout_rate, training=self.training)
        x = self.encoder(x, dropout_rate)
        x = x.mean(dim=1) if self.map is None else self.map(x)
        return self.head(torch.tanh(self.pre_logits(x)))
