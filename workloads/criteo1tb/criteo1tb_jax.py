"""criteo1tb workloads (all variants) in JAX/Flax.

Params are the Flax ``variables['params']`` pytree, replicated over the
local devices; batches arrive as global arrays sharded along the batch.
There is no model state (no batch norm), so ``model_state`` is ``None``.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from algoperf_ray import spec
from algoperf_ray.compat import param_utils
from algoperf_ray.workload import metrics as metrics_lib
from algoperf_ray.workload import sharding_jax
from algoperf_ray.workloads.criteo1tb import models_jax
from algoperf_ray.workloads.criteo1tb.workload import Criteo1TbWorkload

_MODEL_FIELDS = ("vocab_size", "mlp_bottom_dims", "mlp_top_dims", "embed_dim",
                 "use_layer_norm", "embedding_init_multiplier")


def _as_key(rng: Any) -> Any:
    """A JAX key from a typed key, a raw jax key or the harness's uint32[2] numpy key."""
    if jnp.issubdtype(getattr(rng, "dtype", np.uint32), jax.dtypes.prng_key):
        return rng
    return jnp.asarray(rng, jnp.uint32)


class Criteo1TbJaxWorkload(Criteo1TbWorkload):
    """DLRMsmall (or the residual DLRM for criteo1tb_resnet) in Flax."""

    framework = "jax"

    def build_model(self) -> Any:
        """The Flax module of this variant (no parameters are created)."""
        cls = models_jax.DLRMResNet if self.config["use_resnet"] else models_jax.DlrmSmall
        return cls(**{k: self.config[k] for k in _MODEL_FIELDS})

    def init_model_fn(self, rng: spec.RandomState, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[Any, None]:
        del aux_dropout_rate  # the model has a single dropout
        self._dropout_rate = self._rate(dropout_rate)
        self._model = self.build_model()
        params_rng, _ = jax.random.split(_as_key(rng))
        fake = jnp.ones((2, 39), jnp.float32)
        params = jax.jit(lambda r, x: self._model.init({"params": r}, x, train=False))(
            params_rng, fake)["params"]
        self._param_shapes = param_utils.jax_param_shapes(params)
        self._param_types = param_utils.jax_param_types(self._param_shapes)
        return sharding_jax.replicate(params), None

    def is_output_params(self, param_key: Any) -> bool:
        keys = param_key if isinstance(param_key, tuple | list) else (param_key,)
        return any(getattr(k, "key", k) == "Dense_7" for k in keys)

    def model_fn(self, params: Any, augmented_and_preprocessed_input_batch: dict[str, Any],
                 model_state: Any, mode: spec.ForwardPassMode, rng: spec.RandomState,
                 update_batch_norm: bool, dropout_rate: float | None = None) -> tuple[Any, None]:
        del model_state, update_batch_norm
        train = mode == spec.ForwardPassMode.TRAIN
        kwargs: dict[str, Any] = {"train": train, "dropout_rate": self._rate(dropout_rate)}
        if train and rng is not None:
            kwargs["rngs"] = {"dropout": _as_key(rng)}
        logits = self._model.apply({"params": params},
                                   augmented_and_preprocessed_input_batch["inputs"], **kwargs)
        return logits, None

    def loss_fn(self, label_batch: Any, logits_batch: Any, mask_batch: Any = None,
                label_smoothing: float = 0.0) -> dict[str, Any]:
        """Per-example sigmoid binary cross entropy (label smoothing is ignored, as in
        the reference)."""
        del label_smoothing
        n = label_batch.shape[0]
        logits = jnp.reshape(logits_batch, (n,))
        targets = jnp.reshape(label_batch, (n,))
        per_example = -(targets * jax.nn.log_sigmoid(logits)
                        + (1 - targets) * jax.nn.log_sigmoid(-logits))
        mask = None if mask_batch is None else jnp.reshape(mask_batch, (n,))
        return metrics_lib.masked_loss_dict(per_example, mask, jnp)
