"""DLRMsmall and the residual DLRM in PyTorch, matching the reference.

Module and parameter names follow the reference ``criteo1tb_pytorch/models.py``
(``embedding_chunk_0..3``, ``bot_mlp.<i>``, ``top_mlp.<i>``, ``embed_ln``),
including its storage of the embedding table as 4 row chunks; shapes and
counts therefore equal the reference's, and the JAX model's up to that split.
Dropout takes its rate at call time (``dropout_rate``), as the reference's
custom dropout does, so submissions can change it per step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

NUM_CHUNKS = 4


class RateDropout(nn.Module):
    """Dropout whose probability is passed to ``forward``."""

    takes_rate = True

    def forward(self, x: torch.Tensor, p: float) -> torch.Tensor:
        return F.dropout(x, p, training=self.training) if p else x


class DropoutSequential(nn.Sequential):
    """Sequential that hands the dropout rate to the modules that take one."""

    takes_rate = True

    def forward(self, x: torch.Tensor, p: float = 0.0) -> torch.Tensor:
        for module in self:
            x = module(x, p) if getattr(module, "takes_rate", False) else module(x)
        return x


class DenseBlock(nn.Module):
    """``module(x)`` with an optional residual connection (reference naming)."""

    takes_rate = True

    def __init__(self, module: nn.Module, resnet: bool = False) -> None:
        super().__init__()
        self.module = module
        self.resnet = resnet

    def forward(self, x: torch.Tensor, p: float = 0.0) -> torch.Tensor:
        y = self.module(x, p) if getattr(self.module, "takes_rate", False) else self.module(x)
        return y + x if self.resnet else y


def register_table(model: nn.Module, vocab_size: int, embed_dim: int,
                   multiplier: float | None) -> None:
    """Add the embedding table to ``model`` as ``embedding_chunk_0..3`` (reference layout).

    Entries are U[0, 1) times ``multiplier`` (default ``1/sqrt(vocab_size)``).
    """
    scale = 1.0 / math.sqrt(vocab_size) if multiplier is None else multiplier
    for i in range(NUM_CHUNKS):
        chunk = nn.Parameter(torch.empty(vocab_size // NUM_CHUNKS, embed_dim))
        with torch.no_grad():
            chunk.uniform_(0, 1).mul_(scale)
        model.register_parameter(f"embedding_chunk_{i}", chunk)


def lookup(model: nn.Module, ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Rows of the chunked table for float ids (cast to int32, modulo ``vocab_size``).

    Equal to indexing the concatenated table, as the reference does, without
    its copy of the whole table (~2 GB at full size) every step: each id is
    gathered once, from the chunk that holds it. Gathering every id from every
    chunk and masking (an earlier version) did 4x the gather and scatter-add
    work and was 1.6x slower than the reference's step at a small vocabulary
    (``scripts/bench_vs_reference.py``). The per-chunk ``nonzero`` costs a
    device sync; a PyTorch step syncs anyway. A table with no more rows than
    ids to look up (reduced sizes) is concatenated instead, as the reference
    does: there the copy costs less than routing (8,192 rows, 13,312 ids:
    12 ms against 15 ms per forward and backward; 131,072 rows: 110 against
    61 ms, one CPU thread).
    """
    ids = ids.to(torch.int32).reshape(-1) % vocab_size
    chunks = [getattr(model, f"embedding_chunk_{i}") for i in range(NUM_CHUNKS)]
    if vocab_size <= ids.numel():
        return F.embedding(ids.long(), torch.cat(chunks))
    rows = vocab_size // NUM_CHUNKS
    chunk_of, row = ids // rows, (ids % rows).long()
    where, parts = [], []
    for i in range(NUM_CHUNKS):
        mine = (chunk_of == i).nonzero(as_tuple=True)[0]
        where.append(mine)
        parts.append(F.embedding(row[mine], chunks[i]))
    gathered = torch.cat(parts)
    out = torch.empty_like(gathered)
    out[torch.cat(where)] = gathered
    return out


def _init_linears(module: nn.Module, bottom: bool) -> None:
    for m in module.modules():
        if isinstance(m, nn.Linear):
            with torch.no_grad():
                if bottom:  # Glorot uniform
                    limit = math.sqrt(6.0 / (m.in_features + m.out_features))
                    m.weight.uniform_(-limit, limit)
                else:
                    m.weight.normal_(0.0, math.sqrt(2.0 / (m.in_features + m.out_features)))
                m.bias.normal_(0.0, math.sqrt(1.0 / m.out_features))


class DlrmSmall(nn.Module):
    """Bottom MLP, embeddings, dot interaction, top MLP (reference DLRMsmall)."""

    def __init__(self, vocab_size: int, num_dense_features: int = 13,
                 mlp_bottom_dims: Sequence[int] = (512, 256, 128),
                 mlp_top_dims: Sequence[int] = (1024, 1024, 512, 256, 1), embed_dim: int = 128,
                 use_layer_norm: bool = False,
                 embedding_init_multiplier: float | None = None) -> None:
        super().__init__()
        self.vocab_size, self.num_dense_features, self.embed_dim = \
            vocab_size, num_dense_features, embed_dim
        register_table(self, vocab_size, embed_dim, embedding_init_multiplier)
        layers: list[nn.Module] = []
        fan_in = num_dense_features
        for dim in mlp_bottom_dims:
            layers += [nn.Linear(fan_in, dim), nn.ReLU(inplace=True)]
            layers += [nn.LayerNorm(dim, eps=1e-6)] if use_layer_norm else []
            fan_in = dim
        self.bot_mlp = nn.Sequential(*layers)
        _init_linears(self.bot_mlp, bottom=True)
        num_features = 26 + 1
        fan_in = mlp_bottom_dims[-1] + num_features * (num_features + 1) // 2
        self.register_buffer("triu", torch.triu_indices(num_features, num_features),
                             persistent=False)
        layers = []
        for i, fan_out in enumerate(mlp_top_dims):
            layers.append(nn.Linear(fan_in, fan_out))
            if i < len(mlp_top_dims) - 1:
                layers.append(nn.ReLU(inplace=True))
                layers += [nn.LayerNorm(fan_out, eps=1e-6)] if use_layer_norm else []
            if i == len(mlp_top_dims) - 2:
                layers.append(RateDropout())
            fan_in = fan_out
        self.top_mlp = DropoutSequential(*layers)
        self.embed_ln = nn.LayerNorm(embed_dim, eps=1e-6) if use_layer_norm else None
        _init_linears(self.top_mlp, bottom=False)

    def forward(self, x: torch.Tensor, dropout_rate: float = 0.0) -> torch.Tensor:
        dense, cat = torch.split(x, [self.num_dense_features, x.shape[1] - self.num_dense_features],
                                 1)
        dense = self.bot_mlp(dense)
        emb = lookup(self, cat, self.vocab_size)
        emb = emb.reshape(x.shape[0], -1, self.embed_dim)
        if self.embed_ln is not None:
            emb = self.embed_ln(emb)
        stack = torch.cat([dense.unsqueeze(1), emb], dim=1)
        inter = torch.bmm(stack, stack.transpose(1, 2))[:, self.triu[0], self.triu[1]]
        return self.top_mlp(torch.cat([dense, inter], dim=1), dropout_rate)


class DLRMResNet(nn.Module):
    """Residual MLPs around a flat embedding concat (reference DLRMResNet)."""

    def __init__(self, vocab_size: int, num_dense_features: int = 13,
                 mlp_bottom_dims: Sequence[int] = (256, 256, 256),
                 mlp_top_dims: Sequence[int] = (256, 256, 256, 256, 1), embed_dim: int = 128,
                 use_layer_norm: bool = False,  # unused, as in the reference
                 embedding_init_multiplier: float | None = None) -> None:  # unused too
        super().__init__()
        self.vocab_size, self.num_dense_features, self.embed_dim = \
            vocab_size, num_dense_features, embed_dim
        register_table(self, vocab_size, embed_dim, None)
        blocks, fan_in = [], num_dense_features
        for i, dim in enumerate(mlp_bottom_dims):
            block = nn.Sequential(nn.Linear(fan_in, dim), nn.ReLU(inplace=True))
            blocks.append(DenseBlock(block, resnet=i > 0))
            fan_in = dim
        self.bot_mlp = nn.Sequential(*blocks)
        _init_linears(self.bot_mlp, bottom=True)
        fan_in, last = 26 * embed_dim + mlp_bottom_dims[-1], len(mlp_top_dims) - 1
        blocks = []
        for i, fan_out in enumerate(mlp_top_dims):
            layers: list[nn.Module] = [nn.Linear(fan_in, fan_out)]
            layers += [nn.ReLU(inplace=True)] if i < last else []
            layers += [RateDropout()] if i == last - 1 else []
            blocks.append(DenseBlock(DropoutSequential(*layers), resnet=0 < i < last))
            fan_in = fan_out
        self.top_mlp = DropoutSequential(*blocks)
        _init_linears(self.top_mlp, bottom=False)

    def forward(self, x: torch.Tensor, dropout_rate: float = 0.0) -> torch.Tensor:
        dense, cat = torch.split(x, [self.num_dense_features, x.shape[1] - self.num_dense_features],
                                 1)
        dense = self.bot_mlp(dense)
        emb = lookup(self, cat, self.vocab_size).reshape(x.shape[0], -1)
        return self.top_mlp(torch.cat([dense, emb], dim=1), dropout_rate)
