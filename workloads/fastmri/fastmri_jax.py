"""fastMRI in JAX/Flax: the four U-Net workloads (variant from metadata).

Params are the Flax ``params`` dict, replicated over the local devices; the
U-Net has no model state. The dropout rate goes to the model at call time,
so a traced ``dropout_rate`` works under ``jax.jit``; ``init_model_fn``'s
``dropout_rate`` becomes the default used when ``model_fn`` gets none.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

from algoperf_ray import spec
from algoperf_ray.compat import param_utils
from algoperf_ray.workload import sharding_jax
from algoperf_ray.workloads.fastmri.models_jax import DROPOUT_RATE, UNet
from algoperf_ray.workloads.fastmri.workload import FastMRIWorkload


class FastMRIJaxWorkload(FastMRIWorkload):
    """All four fastMRI workloads in JAX."""

    framework = "jax"

    def _xp(self) -> Any:
        return jnp

    def init_model_fn(self, rng: spec.RandomState, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[Any, None]:
        del aux_dropout_rate  # the U-Net has one dropout rate
        self._dropout_rate = DROPOUT_RATE if dropout_rate is None else dropout_rate
        self._model = UNet(**self.model_config)
        # Parameter shapes do not depend on the image size: init on the smallest
        # image the pooling allows, which compiles far faster than 320x320.
        side = 2 ** self.model_config["num_pool_layers"]
        dummy = jnp.zeros((1, side, side), jnp.float32)
        params_rng, _ = jax.random.split(jnp.asarray(rng))
        variables = jax.jit(self._model.init, static_argnames="train")(
            {"params": params_rng}, dummy, train=False)
        params = variables["params"]
        self._param_shapes = param_utils.jax_param_shapes(params)
        self._param_types = param_utils.jax_param_types(self._param_shapes)
        return sharding_jax.replicate(params), None

    def is_output_params(self, param_key: spec.ParameterKey) -> bool:
        return param_key == "Conv_0"

    def model_fn(self, params: Any, augmented_and_preprocessed_input_batch: dict[str, Any],
                 model_state: Any, mode: spec.ForwardPassMode, rng: spec.RandomState,
                 update_batch_norm: bool, dropout_rate: float | None = None) -> tuple[Any, None]:
        del model_state, update_batch_norm  # no batch norm, no state
        train = mode == spec.ForwardPassMode.TRAIN
        rate = getattr(self, "_dropout_rate", DROPOUT_RATE) if dropout_rate is None \
            else dropout_rate
        outputs = self._model.apply(
            {"params": params}, augmented_and_preprocessed_input_batch["inputs"], train=train,
            dropout_rate=rate, rngs={"dropout": rng} if train and rng is not None else {})
        return outputs, None
