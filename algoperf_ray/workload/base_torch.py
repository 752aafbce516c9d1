"""PyTorch leaf base: each process gets its shard of the global batch (DDP)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from algoperf_ray.workload.base import BaseWorkload, NumpyBatch


def ddp_info() -> tuple[bool, int, int]:
    """(using DDP, rank, world size)."""
    if dist.is_available() and dist.is_initialized():
        return True, dist.get_rank(), dist.get_world_size()
    return False, 0, 1


def default_device() -> torch.device:
    if torch.cuda.is_available():
        _, rank, _ = ddp_info()
        return torch.device(f"cuda:{rank % torch.cuda.device_count()}")
    return torch.device("cpu")


class TorchWorkload(BaseWorkload):
    """Subclasses implement init_model_fn/model_fn/loss_fn and ``_eval_metrics``.

    ``_eval_metrics(params, model_state, batch, rng)`` returns summed metrics
    as tensors for this process's shard; totals are all-reduced across ranks.
    """

    framework = "pytorch"

    @property
    def device(self) -> torch.device:
        return default_device()

    def _to_device(self, batch: NumpyBatch, train: bool) -> dict[str, Any]:
        _, rank, world = ddp_info()
        out = {}
        for k, v in batch.items():
            n = v.shape[0]
            if n % world:
                raise ValueError(f"global batch of {n} is not divisible by {world} processes "
                                 f"(workload {self.meta.name!r}); pick a multiple.")
            per = n // world
            shard = np.ascontiguousarray(v[rank * per:(rank + 1) * per])
            out[k] = torch.from_numpy(shard).to(self.device, non_blocking=True)
        return out

    def _eval_metrics(self, params: Any, model_state: Any, batch: dict[str, Any],
                      rng: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _eval_batch(self, params: Any, model_state: Any, batch: dict[str, Any],
                    rng: Any) -> dict[str, Any]:
        with torch.no_grad():
            metrics = self._eval_metrics(params, model_state, batch, rng)
        return {k: float(v.detach().double().sum().cpu()) if torch.is_tensor(v) else float(v)
                for k, v in metrics.items()}

    def _reduce_eval_totals(self, totals: dict[str, float]) -> dict[str, float]:
        use_ddp, _, _ = ddp_info()
        if not use_ddp or not totals:
            return totals
        keys = sorted(totals)
        t = torch.tensor([totals[k] for k in keys], dtype=torch.float64)
        if dist.get_backend() == "nccl":
            t = t.to(self.device)
        dist.all_reduce(t)
        return dict(zip(keys, t.cpu().tolist(), strict=True))
