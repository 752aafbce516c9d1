"""JAX leaf base: batches become global arrays sharded over local devices."""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from algoperf_ray.workload import sharding_jax
from algoperf_ray.workload.base import BaseWorkload, NumpyBatch


class JaxWorkload(BaseWorkload):
    """Subclasses implement init_model_fn/model_fn/loss_fn and ``_eval_metrics``.

    ``_eval_metrics(params, model_state, batch, rng)`` is traced under jit and
    returns summed metrics as jnp scalars; this base jits it once and brings
    the results to host.
    """

    framework = "jax"

    def _to_device(self, batch: NumpyBatch, train: bool) -> dict[str, Any]:
        batch = sharding_jax.pad_to_multiple(batch, jax.local_device_count()) if not train \
            else batch
        return sharding_jax.shard_along_batch_dim(batch)

    def _eval_metrics(self, params: Any, model_state: Any, batch: dict[str, Any],
                      rng: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _eval_batch(self, params: Any, model_state: Any, batch: dict[str, Any],
                    rng: Any) -> dict[str, Any]:
        fn = self.__dict__.get("_jitted_eval")
        if fn is None:
            fn = self.__dict__["_jitted_eval"] = jax.jit(self._eval_metrics)
        return {k: np.asarray(v) for k, v in fn(params, model_state, batch, rng).items()}
