"""Where a workload's batches and eval results live: one small protocol per framework.

The shared workload code (:mod:`algoperf_ray.workload.base`) is written over
numpy and never imports a framework. Everything that depends on *where* data
sits (JAX devices of one process, or one PyTorch DDP rank among many) goes
through a :class:`Placement`, chosen from the leaf class's ``framework``
attribute. This keeps the eval loop, the DDP shard-and-gather and the JAX
padding in one place instead of one copy per family.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np

FRAMEWORKS = ("jax", "pytorch")
_CACHE: dict[str, Placement] = {}


@runtime_checkable
class Placement(Protocol):
    """Move host batches to devices and bring results back, for one framework."""

    framework: str

    @property
    def num_shards(self) -> int:
        """Parts a global batch is split over (JAX: local devices; PyTorch: ranks)."""

    @property
    def rank(self) -> int:
        """This process's index among :attr:`world_size` processes."""

    @property
    def world_size(self) -> int:
        """Number of processes that each hold part of a global batch."""

    @property
    def device(self) -> Any:
        """The device this process computes on (PyTorch: a ``torch.device``)."""

    def put(self, batch: Any, train: bool) -> Any:
        """A global host batch on the devices (JAX: sharded; PyTorch: this rank's rows)."""

    def local_part(self, array: np.ndarray) -> np.ndarray:
        """This process's rows of a global host array."""

    def gather(self, array: np.ndarray) -> np.ndarray:
        """Concatenate per-process arrays in rank order (identity for one process)."""

    def all_reduce(self, totals: dict[str, float]) -> dict[str, float]:
        """Sum scalar totals across processes (identity for one process)."""

    def place_model(self, model: Any) -> Any:
        """A model on this process's device (PyTorch: DDP-wrapped under a process group)."""

    def compile_eval(self, fn: Callable[..., Any], jit: bool = True) -> Callable[..., Any]:
        """``fn`` compiled for eval (JAX: jit; PyTorch: no_grad), results as host numpy."""


def get_placement(framework: str) -> Placement:
    """The (shared, stateless) placement of ``framework``; imports it lazily."""
    if framework not in _CACHE:
        if framework == "jax":
            from algoperf_ray.workload.placement_jax import JaxPlacement

            _CACHE[framework] = JaxPlacement()
        elif framework == "pytorch":
            from algoperf_ray.workload.placement_torch import TorchPlacement

            _CACHE[framework] = TorchPlacement()
        else:
            raise ValueError(f"no placement for framework {framework!r}; a workload leaf class "
                             f"must set the class attribute framework to one of {FRAMEWORKS}.")
    return _CACHE[framework]


def batch_rows(batch: dict[str, Any]) -> int | None:
    """Rows of a flat batch (leading dim of its first plain array), None if it has none."""
    for value in batch.values():
        if isinstance(value, np.ndarray) and value.ndim:
            return int(value.shape[0])
    return None
