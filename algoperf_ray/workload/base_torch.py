"""Compatibility names for PyTorch leaves written before placements existed.

New leaves subclass their family class and set ``framework = "pytorch"``;
the placement (:mod:`algoperf_ray.workload.placement_torch`) does the DDP
sharding, gathering and all-reduce this module used to do. Kept so that
older leaves, the runner and test fakes import.
"""

from __future__ import annotations

from algoperf_ray.workload.base import BaseWorkload
from algoperf_ray.workload.placement_torch import ddp_info, default_device

__all__ = ["TorchWorkload", "ddp_info", "default_device"]


class TorchWorkload(BaseWorkload):
    """``BaseWorkload`` with ``framework = "pytorch"``."""

    framework = "pytorch"
