"""The ogbg GNN in PyTorch: the reference port, module names as in the reference.

Each DDP rank runs the model on its own self-contained shard of the global
graph batch (node indices local to the shard), so message passing needs no
communication. The dropout rate is a call-time argument, as in JAX.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from algoperf_ray.workloads.ogbg.metadata import EDGE_FEATURES, NODE_FEATURES

_ACTIVATIONS = {"relu": nn.ReLU, "gelu": lambda: nn.GELU(approximate="tanh"), "silu": nn.SiLU}


def lecun_normal_(linear: nn.Linear) -> None:
    """Truncated-normal LeCun init (Flax's Dense default), zero bias."""
    std = math.sqrt(1.0 / linear.in_features) / 0.87962566103423978
    nn.init.trunc_normal_(linear.weight, std=std, a=-2 * std, b=2 * std)
    nn.init.zeros_(linear.bias)


class MLP(nn.Module):
    """Dense -> LayerNorm -> activation -> dropout, per hidden width."""

    def __init__(self, in_dim: int, hidden_dims: tuple[int, ...], activation: str) -> None:
        super().__init__()
        self.depth = len(hidden_dims)
        for i, dim in enumerate(hidden_dims):
            self.add_module(f"dense_{i}", nn.Linear(in_dim, dim))
            self.add_module(f"norm_{i}", nn.LayerNorm(dim, eps=1e-6))
            self.add_module(f"activation_fn_{i}", _ACTIVATIONS[activation]())
            in_dim = dim

    def forward(self, x: torch.Tensor, dropout_rate: float) -> torch.Tensor:
        for i in range(self.depth):
            x = getattr(self, f"activation_fn_{i}")(getattr(self, f"norm_{i}")(
                getattr(self, f"dense_{i}")(x)))
            x = F.dropout(x, dropout_rate, training=self.training)
        return x


class GraphNetwork(nn.Module):
    """One message-passing block: update edges, then nodes, then globals."""

    def __init__(self, edge_in: int, node_in: int, global_in: int,
                 hidden_dims: tuple[int, ...], activation: str) -> None:
        super().__init__()
        self.update_edge_fn = MLP(edge_in, hidden_dims, activation)
        self.update_node_fn = MLP(node_in, hidden_dims, activation)
        self.update_global_fn = MLP(global_in, hidden_dims, activation)

    def forward(self, nodes: torch.Tensor, edges: torch.Tensor, globals_: torch.Tensor,
                graph: Any, segments: tuple[torch.Tensor, torch.Tensor],
                dropout_rate: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        node_graph, edge_graph = segments
        senders, receivers = graph.senders.long(), graph.receivers.long()
        # index_select, not x[idx]: its backward is one index_add_, where advanced
        # indexing's is a (slower) accumulating index_put_.
        edges = self.update_edge_fn(torch.cat(
            [edges, nodes.index_select(0, senders), nodes.index_select(0, receivers),
             globals_.index_select(0, edge_graph)], dim=-1),
            dropout_rate)
        nodes = self.update_node_fn(torch.cat(
            [nodes, _segment_sum(edges, senders, len(nodes)),
             _segment_sum(edges, receivers, len(nodes)), globals_.index_select(0, node_graph)],
            dim=-1), dropout_rate)
        n_graph = len(globals_)
        globals_ = self.update_global_fn(torch.cat(
            [_segment_sum(nodes, node_graph, n_graph), _segment_sum(edges, edge_graph, n_graph),
             globals_], dim=-1), dropout_rate)
        return nodes, edges, globals_


def _segment_sum(values: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    out = torch.zeros((size, values.shape[-1]), dtype=values.dtype, device=values.device)
    return out.index_add_(0, index, values)


class GNN(nn.Module):
    """The reference GNN: embeddings, GraphNetwork blocks, decoder on globals."""

    def __init__(self, num_outputs: int = 128, activation: str = "relu", latent_dim: int = 256,
                 hidden_dims: tuple[int, ...] = (256,), num_message_passing_steps: int = 5) -> None:
        super().__init__()
        self.num_outputs = num_outputs
        self.node_embedder = nn.Linear(NODE_FEATURES, latent_dim)
        self.edge_embedder = nn.Linear(EDGE_FEATURES, latent_dim)
        h = hidden_dims[-1]
        blocks = []
        for step in range(num_message_passing_steps):
            if step == 0:  # embeddings and zero globals of width num_outputs
                dims = (3 * latent_dim + num_outputs, latent_dim + 2 * h + num_outputs,
                        2 * h + num_outputs)
            else:
                dims = (4 * h, 4 * h, 3 * h)
            blocks.append(GraphNetwork(*dims, hidden_dims, activation))
        self.graph_network = nn.ModuleList(blocks)
        self.decoder = nn.Linear(h, num_outputs)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                lecun_normal_(m)

    def forward(self, graph: Any, dropout_rate: float = 0.1) -> torch.Tensor:
        n_node, n_edge = graph.n_node.long(), graph.n_edge.long()
        n_graph = len(n_node)
        idx = torch.arange(n_graph, device=n_node.device)
        nodes = self.node_embedder(graph.nodes)
        edges = self.edge_embedder(graph.edges)
        segments = (torch.repeat_interleave(idx, n_node, output_size=len(nodes)),
                    torch.repeat_interleave(idx, n_edge, output_size=len(edges)))
        globals_ = torch.zeros((n_graph, self.num_outputs), dtype=nodes.dtype,
                               device=nodes.device)
        for block in self.graph_network:
            nodes, edges, globals_ = block(nodes, edges, globals_, graph, segments, dropout_rate)
        return self.decoder(globals_)
