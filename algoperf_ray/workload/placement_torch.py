"""PyTorch placement: each DDP rank holds its slice of every global batch.

A global host batch of ``N`` rows gives rank ``r`` of ``W`` the rows
``[r * N / W, (r + 1) * N / W)`` as tensors on its device; eval results are
gathered (rank order) or all-reduced over the process group. Without an
initialised process group everything degrades to one process on one device.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.distributed as dist


def ddp_info() -> tuple[bool, int, int]:
    """(using DDP, rank, world size) of the current process group."""
    if dist.is_available() and dist.is_initialized():
        return True, dist.get_rank(), dist.get_world_size()
    return False, 0, 1


def default_device() -> torch.device:
    """This rank's CUDA device when there is one (rank modulo GPUs), else the CPU."""
    if torch.cuda.is_available():
        _, rank, _ = ddp_info()
        return torch.device(f"cuda:{rank % torch.cuda.device_count()}")
    return torch.device("cpu")


def _to_host(value: Any) -> Any:
    if torch.is_tensor(value):
        return value.detach().cpu().numpy()
    if isinstance(value, dict):
        return {k: _to_host(v) for k, v in value.items()}
    return np.asarray(value)


class TorchPlacement:
    """:class:`~algoperf_ray.workload.placement.Placement` for PyTorch (DDP)."""

    framework = "pytorch"

    @property
    def num_shards(self) -> int:
        return self.world_size

    @property
    def rank(self) -> int:
        return ddp_info()[1]

    @property
    def world_size(self) -> int:
        return ddp_info()[2]

    @property
    def device(self) -> torch.device:
        return default_device()

    def place_model(self, model: torch.nn.Module) -> torch.nn.Module:
        """``model`` on this rank's device, DDP-wrapped when a process group is up.

        Written once so that every PyTorch leaf places its model the same way;
        a shape-only model (parameters on the ``meta`` device, for ``describe``)
        comes back untouched because it can neither move nor synchronise.
        """
        if any(p.is_meta for p in model.parameters()):
            return model
        device = self.device
        model = model.to(device)
        if ddp_info()[0]:
            from torch.nn.parallel import DistributedDataParallel

            ids = [device.index] if device.type == "cuda" else None
            model = DistributedDataParallel(model, device_ids=ids)
        return model

    def put(self, batch: Any, train: bool) -> Any:
        """This rank's rows of every array (recursing into tuples such as graph batches)."""
        del train  # every rank gets equal rows, train or eval
        device = self.device
        return self._put(batch, device)

    def _put(self, value: Any, device: torch.device) -> Any:
        if value is None:
            return None
        if isinstance(value, dict):
            return {k: self._put(v, device) for k, v in value.items()}
        if isinstance(value, tuple):
            parts = [self._put(v, device) for v in value]
            return type(value)(*parts) if hasattr(value, "_fields") else tuple(parts)
        shard = self.local_part(np.asarray(value))
        return torch.from_numpy(shard).to(device, non_blocking=True)

    def local_part(self, array: np.ndarray) -> np.ndarray:
        _, rank, world = ddp_info()
        if world == 1:
            return array
        n = array.shape[0]
        if n % world:
            raise ValueError(f"a global batch of {n} rows does not divide over {world} "
                             "processes; choose a global batch size that is a multiple of the "
                             "number of workers.")
        per = n // world
        return np.ascontiguousarray(array[rank * per:(rank + 1) * per])

    def gather(self, array: np.ndarray) -> np.ndarray:
        use_ddp, _, world = ddp_info()
        if not use_ddp or world == 1:
            return array
        t = torch.from_numpy(np.ascontiguousarray(array))
        if dist.get_backend() == "nccl":
            t = t.to(self.device)
        parts = [torch.empty_like(t) for _ in range(world)]
        dist.all_gather(parts, t)
        return torch.cat(parts).cpu().numpy()

    def all_reduce(self, totals: dict[str, float]) -> dict[str, float]:
        use_ddp, _, _ = ddp_info()
        if not use_ddp or not totals:
            return totals
        keys = sorted(totals)
        t = torch.tensor([totals[k] for k in keys], dtype=torch.float64)
        if dist.get_backend() == "nccl":
            t = t.to(self.device)
        dist.all_reduce(t)
        return dict(zip(keys, t.cpu().tolist(), strict=True))

    def compile_eval(self, fn: Callable[..., Any], jit: bool = True) -> Callable[..., Any]:
        del jit  # eager PyTorch; the no_grad context is what matters

        def run(*args: Any) -> Any:
            with torch.no_grad():
                return _to_host(fn(*args))

        return run
