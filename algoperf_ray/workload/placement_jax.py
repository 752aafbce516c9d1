"""JAX placement: one process drives its local devices through one batch-sharded mesh.

Batches become global ``jax.Array`` s sharded along axis 0 over the local
devices; eval batches whose rows do not divide by the device count are
zero-padded with ``weights == 0`` (padding never counts in a metric).
Multi-process JAX (one process per host) is served by the process-index
slicing and the ``multihost_utils`` all-gather below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from algoperf_ray.workload import sharding_jax


def _to_host(tree: Any) -> Any:
    return jax.tree_util.tree_map(np.asarray, tree)


class JaxPlacement:
    """:class:`~algoperf_ray.workload.placement.Placement` for JAX (jit + sharding)."""

    framework = "jax"

    @property
    def num_shards(self) -> int:
        return jax.local_device_count()

    @property
    def rank(self) -> int:
        return jax.process_index()

    @property
    def world_size(self) -> int:
        return jax.process_count()

    @property
    def device(self) -> Any:
        return jax.local_devices()[0]

    def put(self, batch: Any, train: bool) -> Any:
        if not train and isinstance(batch, dict):
            batch = self._pad_eval(batch)
        return sharding_jax.shard_along_batch_dim(batch)

    def _pad_eval(self, batch: dict[str, Any]) -> dict[str, Any]:
        rows = next((v.shape[0] for v in batch.values()
                     if isinstance(v, np.ndarray) and v.ndim), None)
        if rows is None or rows % self.num_shards == 0:
            return batch
        nested = [k for k, v in batch.items() if not isinstance(v, np.ndarray)]
        if nested:
            raise ValueError(f"eval batch of {rows} rows does not divide over "
                             f"{self.num_shards} devices and its fields {nested} are not plain "
                             "arrays, so it cannot be padded here; build eval batches whose "
                             "rows are a multiple of the device count.")
        return sharding_jax.pad_to_multiple(batch, self.num_shards)

    def local_part(self, array: np.ndarray) -> np.ndarray:
        if self.world_size == 1:
            return array
        per = len(array) // self.world_size
        return np.ascontiguousarray(array[self.rank * per:(self.rank + 1) * per])

    def gather(self, array: np.ndarray) -> np.ndarray:
        if self.world_size == 1:
            return array
        from jax.experimental import multihost_utils

        parts = multihost_utils.process_allgather(array, tiled=False)
        return np.concatenate(list(np.asarray(parts)))

    def all_reduce(self, totals: dict[str, float]) -> dict[str, float]:
        if self.world_size == 1 or not totals:
            return totals
        keys = sorted(totals)
        summed = self.gather(np.array([[totals[k] for k in keys]], np.float64)).sum(axis=0)
        return dict(zip(keys, summed.tolist(), strict=True))

    def place_model(self, model: Any) -> Any:
        """Flax modules hold no arrays: params are placed by sharding, so the model is as is."""
        return model

    def compile_eval(self, fn: Callable[..., Any], jit: bool = True) -> Callable[..., Any]:
        compiled = jax.jit(fn) if jit else fn

        def run(*args: Any) -> Any:
            return _to_host(compiled(*args))

        return run
