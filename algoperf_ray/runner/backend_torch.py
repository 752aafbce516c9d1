"""PyTorch backend: CUDA sync, DDP time/flag agreement, torch.save checkpoints.

Under DDP every rank holds the same params and optimizer state, so rank 0
writes the checkpoint and every rank restores from it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from algoperf_ray.runner.backend import device_error
from algoperf_ray.runner.checkpoint import SKIPPED, is_skipped
from algoperf_ray.workload.placement_torch import ddp_info, default_device

# The reference runner's torch.compile table (submission_runner.py, train_once),
# keyed by base workload: models it leaves eager, and workloads whose loss it
# also compiles. Every other workload's model gets torch.compile's default mode.
COMPILE_SKIPPED = ("librispeech_conformer", "ogbg", "criteo1tb", "imagenet_vit",
                   "librispeech_deepspeech")
LOSS_COMPILED = ("fastmri", "librispeech_deepspeech", "ogbg", "wmt")
_PLAIN = (int, float, bool, str, bytes, type(None), np.ndarray, np.generic)


def unwrap_module(module: Any) -> Any:
    """The bare nn.Module under DDP and torch.compile wrappers."""
    while True:
        if isinstance(module, torch.nn.parallel.DistributedDataParallel):
            module = module.module
        elif hasattr(module, "_orig_mod"):
            module = module._orig_mod
        else:
            return module


def to_saveable(obj: Any) -> Any:
    """A torch.save-able copy: state_dicts for stateful objects, SKIPPED for the rest."""
    if isinstance(obj, (torch.Tensor, *_PLAIN)):
        return obj
    if hasattr(obj, "state_dict") and callable(obj.state_dict):
        return {"__state_dict__": obj.state_dict()}
    if isinstance(obj, dict):
        return {k: to_saveable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_saveable(v) for v in obj]
    return SKIPPED


def restore_into(fresh: Any, saved: Any) -> Any:
    """Inverse of :func:`to_saveable`, loading state_dicts into the fresh objects."""
    if is_skipped(saved):
        return fresh
    if isinstance(saved, dict) and "__state_dict__" in saved:
        fresh.load_state_dict(saved["__state_dict__"])
        return fresh
    if isinstance(fresh, torch.Tensor) and isinstance(saved, torch.Tensor):
        return saved.to(fresh.device)
    if isinstance(fresh, dict) and isinstance(saved, dict):
        return {k: restore_into(fresh.get(k), v) for k, v in saved.items()}
    if isinstance(fresh, list | tuple) and isinstance(saved, list):
        items = [restore_into(f, s) for f, s in zip(fresh, saved, strict=True)]
        return type(fresh)(*items) if hasattr(fresh, "_fields") else type(fresh)(items)
    return saved


class TorchBackend:
    framework = "pytorch"
    checkpoint_name = "checkpoint.pt"
    sync_every_step = True
    pads_eval_batches = False

    def __init__(self) -> None:
        self.use_ddp, self.rank, self.world_size = ddp_info()
        self.num_batch_shards = self.world_size
        self.device = default_device()
        self._cuda = torch.cuda.is_available()

    def check_devices(self, gpus: int) -> None:
        """Each DDP rank uses one GPU, so one visible CUDA device is enough per process."""
        if gpus > 0 and not self._cuda:
            detail = (f"torch {torch.__version__} is a CPU-only build"
                      if torch.version.cuda is None else "torch.cuda.is_available() is False")
            raise device_error("pytorch", gpus, 0, detail)

    def compile_model(self, workload: Any, params: Any, workload_name: str) -> Any:
        """``torch.compile`` the model (and some losses) for the reference's workloads."""
        import logging

        from algoperf_ray.benchmark.registry import get_meta

        try:
            meta = get_meta(workload_name)
            base = meta.base or meta.name
        except Exception:  # noqa: BLE001 - a test's fake workload: compile it
            base = workload_name
        log = logging.getLogger(__name__)
        if base in COMPILE_SKIPPED:
            log.warning("%s: the reference does not torch.compile this workload; "
                        "running it eager", workload_name)
            return params
        if base in LOSS_COMPILED:
            workload.loss_fn = torch.compile(workload.loss_fn)
        return torch.compile(params)

    def sync(self, tree: Any) -> None:
        if self._cuda:
            torch.cuda.synchronize()

    def _all_reduce(self, value: float, op: Any) -> float:
        on_gpu = dist.get_backend() == "nccl"
        t = torch.tensor(value, dtype=torch.float64, device=self.device if on_gpu else "cpu")
        dist.all_reduce(t, op=op)
        return float(t.item())

    def max_across_ranks(self, value: float) -> float:
        if not self.use_ddp:
            return value
        return self._all_reduce(value, dist.ReduceOp.MAX)

    def broadcast_flag(self, flag: bool) -> bool:
        if not self.use_ddp:
            return flag
        # Only rank 0 decides; the other ranks contribute 0 to the sum.
        return self._all_reduce(float(flag) if self.rank == 0 else 0.0, dist.ReduceOp.SUM) > 0

    def save_checkpoint(self, path: str, params: Any, optimizer_state: Any,
                        model_state: Any, bookkeeping: dict[str, Any]) -> None:
        payload = {
            "params": unwrap_module(params).state_dict(),
            "optimizer_state": to_saveable(optimizer_state),
            "model_state": to_saveable(model_state),
            "torch_rng": torch.get_rng_state(),
            "bookkeeping": bookkeeping,
        }
        with open(path, "wb") as f:  # a file object: torch rejects some temp names
            torch.save(payload, f)

    def load_checkpoint(self, path: str, params: Any, optimizer_state: Any,
                        model_state: Any) -> tuple[Any, Any, Any, dict[str, Any]]:
        payload = torch.load(path, map_location=self.device, weights_only=False)
        unwrap_module(params).load_state_dict(payload["params"])
        optimizer_state = restore_into(optimizer_state, payload["optimizer_state"])
        model_state = restore_into(model_state, payload["model_state"])
        torch.set_rng_state(payload["torch_rng"].cpu())
        return params, optimizer_state, model_state, payload["bookkeeping"]
