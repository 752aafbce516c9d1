"""JAX backend: block on results before reading time, numpy-pickle checkpoints.

One process owns all local devices (params replicated, batches sharded by
jit), so there is nothing to agree on across ranks. Checkpoints hold the
array leaves as host numpy; restore puts each one back with the sharding
of the freshly initialised leaf, so the tree layout need not be pickled.
"""

from __future__ import annotations

import pickle
from typing import Any

import jax
import numpy as np

from algoperf_ray.runner.backend import device_error
from algoperf_ray.runner.checkpoint import SKIPPED, restore_leaves

_SCALARS = (int, float, bool, np.generic)


def _is_saveable(leaf: Any) -> bool:
    return isinstance(leaf, (jax.Array, np.ndarray, *_SCALARS))


def _leaves(tree: Any) -> list[Any]:
    return [np.asarray(jax.device_get(x)) if isinstance(x, jax.Array) else
            (x if _is_saveable(x) else SKIPPED) for x in jax.tree_util.tree_leaves(tree)]


def _place(fresh: Any, saved: Any) -> Any:
    if isinstance(fresh, jax.Array):
        if tuple(fresh.shape) != tuple(np.shape(saved)):
            raise ValueError(f"checkpoint leaf shape {np.shape(saved)} != fresh {fresh.shape}")
        return jax.device_put(np.asarray(saved, dtype=fresh.dtype), fresh.sharding)
    return saved


class JaxBackend:
    framework = "jax"
    checkpoint_name = "checkpoint.pkl"
    sync_every_step = False
    pads_eval_batches = True
    rank = 0
    world_size = 1

    def __init__(self) -> None:
        self.num_batch_shards = jax.local_device_count()

    def check_devices(self, gpus: int) -> None:
        """JAX owns every GPU of the host, so it must see at least the ``gpus`` given."""
        if gpus <= 0:
            return
        try:
            seen = len(jax.devices("gpu"))
        except RuntimeError:
            seen = 0
        if seen < gpus:
            detail = f"jax {jax.__version__} default backend {jax.default_backend()!r}"
            raise device_error("jax", gpus, seen, detail)

    def compile_model(self, workload: Any, params: Any, workload_name: str) -> Any:
        return params  # JAX workloads are jitted already; --torch-compile is torch only

    def sync(self, tree: Any) -> None:
        jax.block_until_ready(tree)

    def max_across_ranks(self, value: float) -> float:
        return value

    def broadcast_flag(self, flag: bool) -> bool:
        return flag

    def save_checkpoint(self, path: str, params: Any, optimizer_state: Any,
                        model_state: Any, bookkeeping: dict[str, Any]) -> None:
        payload = {"params": _leaves(params), "optimizer_state": _leaves(optimizer_state),
                   "model_state": _leaves(model_state), "bookkeeping": bookkeeping}
        with open(path, "wb") as f:
            pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)

    def load_checkpoint(self, path: str, params: Any, optimizer_state: Any,
                        model_state: Any) -> tuple[Any, Any, Any, dict[str, Any]]:
        with open(path, "rb") as f:
            payload = pickle.load(f)
        restored = []
        for name, fresh in (("params", params), ("optimizer_state", optimizer_state),
                            ("model_state", model_state)):
            leaves, treedef = jax.tree_util.tree_flatten(fresh)
            new = restore_leaves(leaves, payload[name], name, path, _place)
            restored.append(jax.tree_util.tree_unflatten(treedef, new))
        return restored[0], restored[1], restored[2], payload["bookkeeping"]
