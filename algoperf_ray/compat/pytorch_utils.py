"""PyTorch helpers with the public ``algoperf.pytorch_utils`` names.

Public PyTorch submissions call ``pytorch_setup()`` at import time to learn
whether they run under DDP (then they all-reduce their loss). Under Ray
Train or ``torchrun`` the process group may not exist yet when a submission
is imported, so DDP is detected from the launcher's environment as well as
from an initialised process group.

Unlike the reference's ``pytorch_init``, nothing here reconfigures JAX or
logging globally: the runner owns process setup.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from algoperf_ray import spec


def _env_world_size() -> int:
    try:
        return int(os.environ.get("WORLD_SIZE", "1"))
    except ValueError:
        return 1


def pytorch_setup() -> tuple[bool, int, torch.device, int]:
    """(use DDP, local rank, this process's device, number of visible GPUs)."""
    initialised = dist.is_available() and dist.is_initialized()
    launched = "LOCAL_RANK" in os.environ and _env_world_size() > 1
    use_ddp = initialised or launched
    rank = int(os.environ.get("LOCAL_RANK", "0")) if use_ddp else 0
    n_gpus = torch.cuda.device_count()
    device = torch.device(f"cuda:{rank % max(n_gpus, 1)}" if torch.cuda.is_available() else "cpu")
    return use_ddp, rank, device, n_gpus


def pytorch_init(use_pytorch_ddp: bool, rank: int, profiler: object = None) -> None:
    """Per-process setup: pick the GPU and create the process group if needed."""
    del profiler
    if torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True
    if not use_pytorch_ddp:
        return
    if torch.cuda.is_available():
        torch.cuda.set_device(rank % torch.cuda.device_count())
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")


def sync_ddp_time(time: float, device: torch.device) -> float:
    """The maximum of ``time`` over all ranks (the slowest rank sets the clock)."""
    if not (dist.is_available() and dist.is_initialized()):
        return float(time)
    if dist.get_backend() != "nccl":
        device = torch.device("cpu")
    t = torch.tensor(float(time), dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return float(t.item())


def update_batch_norm_fn(module: spec.ParameterContainer, update_batch_norm: bool) -> None:
    """Freeze (momentum 0) or restore batch-norm running statistics.

    Meant for ``model.apply(functools.partial(update_batch_norm_fn,
    update_batch_norm=...))``: with ``update_batch_norm=False`` a training
    forward pass leaves the running mean/var untouched.
    """
    if not isinstance(module, nn.modules.batchnorm._BatchNorm):
        return
    if not update_batch_norm:
        if not hasattr(module, "momentum_backup"):
            module.momentum_backup = module.momentum
        backup = module.momentum_backup
        module.momentum = torch.zeros_like(backup) if torch.is_tensor(backup) else 0.0
    elif hasattr(module, "momentum_backup"):
        module.momentum = module.momentum_backup


class CustomDropout(nn.Module):
    """Dropout whose rate is a call argument, so it can change without rebuilding."""

    def __init__(self) -> None:
        super().__init__()
        self._supports_custom_dropout = True

    def forward(self, x: Tensor, p: float) -> Tensor:
        return F.dropout(x, p, training=self.training)


class CustomDropout2d(nn.Module):
    """Channel dropout whose rate is a call argument."""

    def __init__(self) -> None:
        super().__init__()
        self._supports_custom_dropout = True

    def forward(self, x: Tensor, p: float) -> Tensor:
        return F.dropout2d(x, p, training=self.training)


class SequentialWithDropout(nn.Sequential):
    """``nn.Sequential`` that passes the dropout rate to modules that take one."""

    def __init__(self, *args: nn.Module, **kwargs: nn.Module) -> None:
        super().__init__(*args, **kwargs)
        self._supports_custom_dropout = True

    def forward(self, x: Tensor, p: float) -> Tensor:  # type: ignore[override]
        for module in self:
            x = module(x, p) if getattr(module, "_supports_custom_dropout", False) else module(x)
        return x
