"""The wmt Transformer in PyTorch, laid out as the AlgoPerf reference.

Module names follow the reference PyTorch model (``shared_embedding``,
``encoder.encoder.layers.N.self_attn.in_proj``, ``decoder.decoder.layers.N.
multihead_attn.{q_proj,kv_proj}``, ``norm1..3``, ``linear1/2/_glu``) so
checkpoints and parameter-type rules line up. Self-attention uses one fused
q/k/v projection, cross-attention a q projection plus a fused k/v one, all
bias-free; Linear weights are Xavier-uniform, biases N(0, 1e-6), embeddings
N(0, 1). Masks are additive (-1e10), as in the reference.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from algoperf_ray.workloads.wmt.config import ModelConfig

_NEG = -1e10


def sinusoidal_table(max_len: int, dim: int) -> Tensor:
    position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(dim // 2, dtype=torch.float32) * (-math.log(10000.0)
                                                                    / (dim // 2 - 1)))
    table = torch.zeros(max_len, dim)
    table[:, :dim // 2] = torch.sin(position * div)
    table[:, dim // 2:2 * (dim // 2)] = torch.cos(position * div)
    return table


def _additive(mask: Tensor) -> Tensor:
    """Bool [B, Lq, Lk] (True = attend) -> float [B, 1, Lq, Lk] additive mask."""
    return torch.zeros(mask.shape, dtype=torch.float32, device=mask.device).masked_fill(
        ~mask, _NEG).unsqueeze(1)


class MultiheadAttention(nn.Module):
    def __init__(self, cfg: ModelConfig, self_attn: bool) -> None:
        super().__init__()
        d = cfg.emb_dim
        self.num_heads, self.temp, self.is_self = cfg.num_heads, cfg.attention_temp, self_attn
        if self_attn:
            self.in_proj = nn.Linear(d, 3 * d, bias=False)
        else:
            self.q_proj = nn.Linear(d, d, bias=False)
            self.kv_proj = nn.Linear(d, 2 * d, bias=False)
        self.out_proj = nn.Linear(d, d, bias=False)

    def forward(self, x: Tensor, mem: Tensor | None, mask: Tensor, dropout_rate: float) -> Tensor:
        d = x.shape[-1]
        if self.is_self:
            q, k, v = self.in_proj(x).split(d, dim=-1)
        else:
            q = self.q_proj(x)
            k, v = self.kv_proj(mem).split(d, dim=-1)

        def heads(t: Tensor) -> Tensor:
            return t.view(t.shape[0], t.shape[1], self.num_heads, -1).transpose(1, 2)

        out = F.scaled_dot_product_attention(
            heads(self.temp * q), heads(k), heads(v), mask,
            dropout_p=dropout_rate if self.training else 0.0)
        return self.out_proj(out.transpose(1, 2).reshape(x.shape[0], x.shape[1], d))

    def _heads(self, t: Tensor) -> Tensor:
        return t.view(t.shape[0], t.shape[1], self.num_heads, -1).transpose(1, 2)

    def memory_kv(self, mem: Tensor) -> tuple[Tensor, Tensor]:
        """Cross-attention keys/values of the encoder output, once per decoded batch."""
        k, v = self.kv_proj(mem).split(mem.shape[-1], dim=-1)
        return self._heads(k), self._heads(v)

    def step(self, x: Tensor, keys: Tensor, values: Tensor, mask: Tensor | None = None,
             index: int | None = None) -> Tensor:
        """Attention of one new position [B, 1, d] over cached keys/values [B, H, L, dh].

        Self-attention (``index`` given) first writes this position's key and
        value into the cache at ``index`` and attends to positions ``<= index``.
        """
        d = x.shape[-1]
        if index is not None:
            q, k, v = self.in_proj(x).split(d, dim=-1)
            keys[:, :, index] = self._heads(k)[:, :, 0]
            values[:, :, index] = self._heads(v)[:, :, 0]
            keys, values = keys[:, :, :index + 1], values[:, :, :index + 1]
        else:
            q = self.q_proj(x)
        out = F.scaled_dot_product_attention(self._heads(self.temp * q), keys, values, mask)
        return self.out_proj(out.transpose(1, 2).reshape(x.shape[0], 1, d))


class _FeedForward(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.linear1 = nn.Linear(cfg.emb_dim, cfg.mlp_dim)
        self.glu = cfg.glu
        if cfg.glu:
            self.linear_glu = nn.Linear(cfg.emb_dim, cfg.mlp_dim)
        self.linear2 = nn.Linear(cfg.mlp_dim, cfg.emb_dim)
        self.act = {"relu": F.relu, "tanh": torch.tanh}[cfg.activation]
        self.pre_ln = cfg.pre_ln

    def _ff_block(self, x: Tensor, p: float) -> Tensor:
        h = self.act(self.linear1(x))
        if self.glu:
            h = h * self.linear_glu(x)
        return F.dropout(self.linear2(F.dropout(h, p, self.training)), p, self.training)

    def _sub(self, x: Tensor, norm: nn.Module, fn, p: float) -> Tensor:
        """Residual sub-layer in the configured pre-/post-LN arrangement."""
        if self.pre_ln:
            return x + F.dropout(fn(norm(x)), p, self.training)
        return norm(x + F.dropout(fn(x), p, self.training))


class EncoderLayer(_FeedForward):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        self.self_attn = MultiheadAttention(cfg, self_attn=True)
        self.norm1 = nn.LayerNorm(cfg.emb_dim, eps=cfg.layer_norm_eps)
        self.norm2 = nn.LayerNorm(cfg.emb_dim, eps=cfg.layer_norm_eps)

    def forward(self, x: Tensor, mask: Tensor, p: float) -> Tensor:
        x = self._sub(x, self.norm1, lambda h: self.self_attn(h, None, mask, p), p)
        return self._sub(x, self.norm2, lambda h: self._ff_block(h, p), 0.0)


class DecoderLayer(_FeedForward):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        self.self_attn = MultiheadAttention(cfg, self_attn=True)
        self.multihead_attn = MultiheadAttention(cfg, self_attn=False)
        self.norm1, self.norm2, self.norm3 = (
            nn.LayerNorm(cfg.emb_dim, eps=cfg.layer_norm_eps) for _ in range(3))

    def forward(self, y: Tensor, mem: Tensor, self_mask: Tensor, cross_mask: Tensor,
                p: float) -> Tensor:
        y = self._sub(y, self.norm1, lambda h: self.self_attn(h, None, self_mask, p), p)
        y = self._sub(y, self.norm2, lambda h: self.multihead_attn(h, mem, cross_mask, p), p)
        return self._sub(y, self.norm3, lambda h: self._ff_block(h, p), 0.0)

    def step(self, y: Tensor, cache: dict, cross_mask: Tensor, index: int) -> Tensor:
        """One new position through the layer, reading/writing this layer's cache."""
        y = self._sub(y, self.norm1, lambda h: self.self_attn.step(
            h, cache["k"], cache["v"], index=index), 0.0)
        y = self._sub(y, self.norm2, lambda h: self.multihead_attn.step(
            h, cache["mem_k"], cache["mem_v"], cross_mask), 0.0)
        return self._sub(y, self.norm3, lambda h: self._ff_block(h, 0.0), 0.0)


class _Stack(nn.Module):
    """``layers`` + optional final ``norm`` (pre-LN only), as in the reference."""

    def __init__(self, cfg: ModelConfig, layer_cls: type) -> None:
        super().__init__()
        self.layers = nn.ModuleList([layer_cls(cfg) for _ in range(cfg.num_layers)])
        self.norm = nn.LayerNorm(cfg.emb_dim, eps=cfg.layer_norm_eps) if cfg.pre_ln else None


class _Half(nn.Module):
    def __init__(self, cfg: ModelConfig, layer_cls: type, attr: str) -> None:
        super().__init__()
        setattr(self, attr, _Stack(cfg, layer_cls))


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.shared_embedding = nn.Embedding(cfg.vocab_size, cfg.emb_dim)
        self.encoder = _Half(cfg, EncoderLayer, "encoder")
        self.decoder = _Half(cfg, DecoderLayer, "decoder")
        self.register_buffer("pos_table", sinusoidal_table(cfg.max_len, cfg.emb_dim),
                             persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.xavier_uniform_(module.weight)
                if module.bias is not None:
                    nn.init.normal_(module.bias, std=1e-6)
        nn.init.normal_(self.shared_embedding.weight, std=1.0)

    def _embed(self, tokens: Tensor, positions: Tensor | None, p: float) -> Tensor:
        x = self.shared_embedding(tokens)
        pe = self.pos_table[:tokens.shape[1]].unsqueeze(0) if positions is None \
            else self.pos_table[positions.long()]
        return F.dropout(x + pe, p, self.training)

    def encode(self, inputs: Tensor, inputs_positions: Tensor | None = None,
               inputs_segmentation: Tensor | None = None, dropout_rate: float = 0.0) -> Tensor:
        valid = inputs > 0
        mask = valid.unsqueeze(-1) & valid.unsqueeze(-2)
        if inputs_segmentation is not None:
            mask &= inputs_segmentation.unsqueeze(-1) == inputs_segmentation.unsqueeze(-2)
        mask = _additive(mask)
        x = self._embed(inputs.long(), inputs_positions, dropout_rate)
        stack = self.encoder.encoder
        for layer in stack.layers:
            x = layer(x, mask, dropout_rate)
        return stack.norm(x) if stack.norm is not None else x

    def decode(self, encoded: Tensor, inputs: Tensor, targets: Tensor,
               targets_positions: Tensor | None = None, inputs_segmentation: Tensor | None = None,
               targets_segmentation: Tensor | None = None, dropout_rate: float = 0.0,
               index: int | None = None) -> Tensor:
        """Logits of every target position, or with ``index`` only of that one.

        With ``index`` (beam-search decoding) targets are a generated prefix:
        every position counts as valid, as in the reference's cached decoder.
        """
        t_valid = targets > 0 if index is None else torch.ones_like(targets, dtype=torch.bool)
        i_valid = inputs > 0
        length = targets.shape[1]
        causal = torch.ones(length, length, dtype=torch.bool, device=targets.device).tril()
        self_mask = t_valid.unsqueeze(-1) & t_valid.unsqueeze(-2) & causal
        cross_mask = t_valid.unsqueeze(-1) & i_valid.unsqueeze(-2)
        if inputs_segmentation is not None:
            t_seg = targets_segmentation
            self_mask &= t_seg.unsqueeze(-1) == t_seg.unsqueeze(-2)
            cross_mask &= t_seg.unsqueeze(-1) == inputs_segmentation.unsqueeze(-2)
        shifted = F.pad(targets.long(), (1, 0))[:, :-1]
        y = self._embed(shifted, targets_positions, dropout_rate)
        stack = self.decoder.decoder
        self_mask, cross_mask = _additive(self_mask), _additive(cross_mask)
        for layer in stack.layers:
            y = layer(y, encoded, self_mask, cross_mask, dropout_rate)
        if index is not None:
            y = y[:, index:index + 1]
        if stack.norm is not None:
            y = stack.norm(y)
        return y @ self.shared_embedding.weight.T / math.sqrt(y.shape[-1])

    def init_cache(self, encoded: Tensor, inputs: Tensor, max_len: int) -> dict:
        """Per-layer key/value cache for cached beam search over ``max_len`` positions.

        Self-attention slots start empty; cross-attention keys/values of the
        encoder output are computed here once instead of at every step.
        """
        rows, heads = encoded.shape[0], self.cfg.num_heads
        shape = (rows, heads, max_len, self.cfg.qkv_dim // heads)
        layers = []
        for layer in self.decoder.decoder.layers:
            mem_k, mem_v = layer.multihead_attn.memory_kv(encoded)
            layers.append({"k": encoded.new_zeros(shape), "v": encoded.new_zeros(shape),
                           "mem_k": mem_k, "mem_v": mem_v})
        return {"layers": layers, "cross_mask": _additive((inputs > 0).unsqueeze(1))}

    @staticmethod
    def reorder_cache(cache: dict, rows: Tensor) -> dict:
        """The cache of the beams now in each row (beams re-rank within an example)."""
        for layer in cache["layers"]:
            layer["k"] = layer["k"].index_select(0, rows)
            layer["v"] = layer["v"].index_select(0, rows)
        return cache

    def decode_step(self, token: Tensor, index: int, cache: dict) -> Tensor:
        """[rows, vocab] logits of position ``index`` given its input token [rows]."""
        y = self.shared_embedding(token.long()[:, None]) + self.pos_table[index]
        stack = self.decoder.decoder
        for layer, layer_cache in zip(stack.layers, cache["layers"], strict=True):
            y = layer.step(y, layer_cache, cache["cross_mask"], index)
        if stack.norm is not None:
            y = stack.norm(y)
        return (y @ self.shared_embedding.weight.T / math.sqrt(y.shape[-1]))[:, 0]

    def forward(self, inputs: Tensor, targets: Tensor, inputs_positions: Tensor | None = None,
                targets_positions: Tensor | None = None,
                inputs_segmentation: Tensor | None = None,
                targets_segmentation: Tensor | None = None, dropout_rate: float = 0.0) -> Tensor:
        encoded = self.encode(inputs, inputs_positions, inputs_segmentation, dropout_rate)
        return self.decode(encoded, inputs, targets, targets_positions, inputs_segmentation,
                           targets_segmentation, dropout_rate)
