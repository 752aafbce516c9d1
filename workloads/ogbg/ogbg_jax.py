"""ogbg in JAX: the GNN of ``models_jax`` behind the AlgoPerf workload API.

Params are the Flax ``params`` pytree, replicated over the local devices;
there is no model state. One class serves all four variants (the variant's
architecture comes from ``meta.model_kwargs``).
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from algoperf_ray import spec
from algoperf_ray.compat import param_utils
from algoperf_ray.workload import sharding_jax
from algoperf_ray.workloads.ogbg import input_pipeline, models_jax
from algoperf_ray.workloads.ogbg.workload import OgbgWorkload


class OgbgJaxWorkload(OgbgWorkload):
    """All four ogbg workloads in JAX."""

    framework = "jax"

    def _xp(self) -> Any:
        return jnp

    def _build_model(self) -> models_jax.GNN:
        cfg = self.model_config
        return models_jax.GNN(num_outputs=self._num_outputs, latent_dim=cfg["latent_dim"],
                              hidden_dims=cfg["hidden_dims"],
                              num_message_passing_steps=cfg["num_message_passing_steps"],
                              activation=cfg["activation"])

    def init_model_fn(self, rng: spec.RandomState, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[Any, None]:
        del aux_dropout_rate  # the GNN has one dropout rate
        self._dropout_rate = self._rate(dropout_rate)
        self._model = self._build_model()
        params_rng, _ = jax.random.split(rng, 2)
        variables = self._model.init({"params": params_rng}, models_jax.fake_graph(),
                                     train=False)
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
        train = mode == spec.ForwardPassMode.TRAIN
        logits = self._model.apply(
            {"params": params}, augmented_and_preprocessed_input_batch["inputs"], train=train,
            dropout_rate=self._rate(dropout_rate), rngs={"dropout": rng} if train else {})
        return logits, None

    def _to_device(self, batch: dict[str, Any], train: bool) -> dict[str, Any]:
        """One global graph: shard-local node indices become global, then the placement."""
        inputs = input_pipeline.globalize_indices(batch["inputs"], self.placement.num_shards)
        return self.placement.put({**batch, "inputs": inputs}, train=train)
