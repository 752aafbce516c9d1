"""The ogbg GNN in JAX/Flax: the reference GraphNetwork, message passing by segment sums.

Layer creation order (and so Flax's automatic names ``Dense_i``/``LayerNorm_i``)
follows the reference: per step the edge, node and global MLPs, then the
decoder, so parameter trees have the reference's keys and shapes. Dropout
takes its rate at call time (possibly traced), through the shared layer.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from algoperf_ray.workload.dropout_jax import Dropout
from algoperf_ray.workloads.ogbg import input_pipeline
from algoperf_ray.workloads.ogbg.metadata import EDGE_FEATURES, NODE_FEATURES

_ACTIVATIONS = {"relu": nn.relu, "gelu": nn.gelu, "silu": nn.silu}  # nn.gelu: tanh approx.


class GNN(nn.Module):
    """Embed, ``num_message_passing_steps`` GraphNetwork blocks, decode the globals."""

    num_outputs: int
    latent_dim: int = 256
    hidden_dims: tuple[int, ...] = (256,)
    num_message_passing_steps: int = 5
    activation: str = "relu"

    def _mlp(self, x: jax.Array, train: bool, dropout_rate: Any) -> jax.Array:
        for dim in self.hidden_dims:
            x = nn.Dense(dim)(x)
            x = nn.LayerNorm()(x)
            x = _ACTIVATIONS[self.activation](x)
            x = Dropout()(x, deterministic=not train, rate=dropout_rate)
        return x

    @nn.compact
    def __call__(self, graph: Any, train: bool, dropout_rate: Any = 0.1) -> jax.Array:
        n_graph = graph.n_node.shape[0]
        nodes = nn.Dense(self.latent_dim, name="node_embedding")(graph.nodes)
        edges = nn.Dense(self.latent_dim, name="edge_embedding")(graph.edges)
        globals_ = jnp.zeros((n_graph, self.num_outputs), nodes.dtype)
        graph_idx = jnp.arange(n_graph)
        node_graph = jnp.repeat(graph_idx, graph.n_node, total_repeat_length=nodes.shape[0])
        edge_graph = jnp.repeat(graph_idx, graph.n_edge, total_repeat_length=edges.shape[0])
        for _ in range(self.num_message_passing_steps):
            edges = self._mlp(jnp.concatenate(
                [edges, nodes[graph.senders], nodes[graph.receivers], globals_[edge_graph]],
                axis=-1), train, dropout_rate)
            num_nodes = nodes.shape[0]
            nodes = self._mlp(jnp.concatenate(
                [nodes, jax.ops.segment_sum(edges, graph.senders, num_nodes),
                 jax.ops.segment_sum(edges, graph.receivers, num_nodes), globals_[node_graph]],
                axis=-1), train, dropout_rate)
            globals_ = self._mlp(jnp.concatenate(
                [jax.ops.segment_sum(nodes, node_graph, n_graph),
                 jax.ops.segment_sum(edges, edge_graph, n_graph), globals_], axis=-1),
                train, dropout_rate)
        return nn.Dense(self.num_outputs)(globals_)


def fake_graph() -> input_pipeline.GraphsTuple:
    """A one-node, one-edge graph: enough to initialise every layer."""
    return input_pipeline.GraphsTuple(
        nodes=jnp.ones((1, NODE_FEATURES)), edges=jnp.ones((1, EDGE_FEATURES)),
        receivers=jnp.zeros((1,), jnp.int32), senders=jnp.zeros((1,), jnp.int32),
        globals=None, n_node=jnp.ones((1,), jnp.int32), n_edge=jnp.ones((1,), jnp.int32))
