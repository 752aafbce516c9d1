"""ogbg in JAX/Flax: the reference GraphNetwork GNN, message passing by segment sums.

Layer creation order (and so Flax's automatic names ``Dense_i``/``LayerNorm_i``)
follows the reference: per step the edge, node and global MLPs, then the
decoder, so parameter trees have the reference's keys and shapes.
"""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from algoperf_ray.workloads.ogbg import input_pipeline
from algoperf_ray.workloads.ogbg.metadata import EDGE_FEATURES, NODE_FEATURES
from algoperf_ray.workloads.ogbg.workload import OgbgWorkloadMixin

from algoperf_ray import spec
from algoperf_ray.compat import param_utils
from algoperf_ray.workload import sharding_jax
from algoperf_ray.workload.base_jax import JaxWorkload

DROPOUT_RATE = 0.1
_ACTIVATIONS = {"relu": nn.relu, "gelu": nn.gelu, "silu": nn.silu}  # nn.gelu: tanh approx.


class GNN(nn.Module):
    """Embed, ``num_message_passing_steps`` GraphNetwork blocks, decode the globals."""

    num_outputs: int
    latent_dim: int = 256
    hidden_dims: tuple[int, ...] = (256,)
    dropout_rate: float | None = DROPOUT_RATE
    num_message_passing_steps: int = 5
    activation: str = "relu"

    def _mlp(self, x: jax.Array, train: bool) -> jax.Array:
        rate = DROPOUT_RATE if self.dropout_rate is None else self.dropout_rate
        for dim in self.hidden_dims:
            x = nn.Dense(dim)(x)
            x = nn.LayerNorm()(x)
            x = _ACTIVATIONS[self.activation](x)
            x = nn.Dropout(rate=rate, deterministic=not train)(x)
        return x

    @nn.compact
    def __call__(self, graph: Any, train: bool) -> jax.Array:
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
                axis=-1), train)
            num_nodes = nodes.shape[0]
            nodes = self._mlp(jnp.concatenate(
                [nodes, jax.ops.segment_sum(edges, graph.senders, num_nodes),
                 jax.ops.segment_sum(edges, graph.receivers, num_nodes), globals_[node_graph]],
                axis=-1), train)
            globals_ = self._mlp(jnp.concatenate(
                [jax.ops.segment_sum(nodes, node_graph, n_graph),
                 jax.ops.segment_sum(edges, edge_graph, n_graph), globals_], axis=-1), train)
        return nn.Dense(self.num_outputs)(globals_)


def _fake_graph() -> input_pipeline.GraphsTuple:
    """A one-node, one-edge graph: enough to initialise every layer."""
    return input_pipeline.GraphsTuple(
        nodes=jnp.ones((1, NODE_FEATURES)), edges=jnp.ones((1, EDGE_FEATURES)),
        receivers=jnp.zeros((1,), jnp.int32), senders=jnp.zeros((1,), jnp.int32),
        globals=None, n_node=jnp.ones((1,), jnp.int32), n_edge=jnp.ones((1,), jnp.int32))


class OgbgJaxWorkload(OgbgWorkloadMixin, JaxWorkload):
    """All four ogbg workloads in JAX; the variant comes from ``meta.model_kwargs``."""

    def _xp(self) -> Any:
        return jnp

    def _num_shards(self) -> int:
        return jax.local_device_count()

    def _build_model(self, dropout_rate: float | None) -> GNN:
        cfg = self.model_config
        return GNN(num_outputs=self._num_outputs, latent_dim=cfg["latent_dim"],
                   hidden_dims=cfg["hidden_dims"], dropout_rate=dropout_rate,
                   num_message_passing_steps=cfg["num_message_passing_steps"],
                   activation=cfg["activation"])

    def init_model_fn(self, rng: spec.RandomState, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[Any, None]:
        del aux_dropout_rate  # the GNN has one dropout rate
        params_rng, dropout_rng = jax.random.split(rng, 2)
        self._model = self._build_model(dropout_rate)
        variables = self._model.init(
            {"params": params_rng, "dropout": dropout_rng}, _fake_graph(), train=False)
        params = variables["params"]
        self._param_shapes = param_utils.jax_param_shapes(params)
        self._param_types = param_utils.jax_param_types(self._param_shapes)
        return sharding_jax.replicate(params), None

    def is_output_params(self, param_key: Any) -> bool:
        cfg = self.model_config
        dense_layers = 3 * cfg["num_message_passing_steps"] * len(cfg["hidden_dims"])
        return param_key == f"Dense_{dense_layers}"

    def model_fn(self, params: Any, augmented_and_preprocessed_input_batch: dict[str, Any],
                 model_state: Any, mode: spec.ForwardPassMode, rng: spec.RandomState,
                 update_batch_norm: bool, dropout_rate: float | None = None) -> tuple[Any, None]:
        del update_batch_norm  # no batch norm in the GNN
        if model_state is not None:
            raise ValueError(f"ogbg has no model state; got {type(model_state).__name__}.")
        model = self._model if dropout_rate is None else self._build_model(dropout_rate)
        train = mode == spec.ForwardPassMode.TRAIN
        logits = model.apply({"params": params}, augmented_and_preprocessed_input_batch["inputs"],
                             train=train, rngs={"dropout": rng} if train else {})
        return logits, None

    def _to_device(self, batch: dict[str, Any], train: bool) -> dict[str, Any]:
        """One global graph: shard-local node indices become global, then shard."""
        inputs = input_pipeline.globalize_indices(batch["inputs"], self._num_shards())
        return sharding_jax.shard_along_batch_dim({**batch, "inputs": inputs})

    def _predict(self, params: Any, model_state: Any, batch: dict[str, Any]) -> np.ndarray:
        fn = self.__dict__.get("_jitted_predict")
        if fn is None:
            def predict(p: Any, inputs: Any) -> jax.Array:
                return self._model.apply({"params": p}, inputs, train=False)
            fn = self.__dict__["_jitted_predict"] = jax.jit(predict)
        return np.asarray(fn(params, batch["inputs"]))
