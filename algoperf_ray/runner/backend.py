"""The small framework surface the timed loop needs.

The loop is written once; a backend only knows how to wait for the device,
agree on time and flags across processes, and save/restore the framework's
trees. Backends are imported lazily so that importing the runner pulls in
neither torch nor jax.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol

_BACKENDS = {
    "pytorch": "algoperf_ray.runner.backend_torch:TorchBackend",
    "jax": "algoperf_ray.runner.backend_jax:JaxBackend",
}


class Backend(Protocol):
    framework: str
    rank: int
    world_size: int
    # Devices one global batch is split over (DDP processes, or local JAX devices).
    num_batch_shards: int
    # JAX workloads pad the last eval batch to the device count; DDP shards must divide.
    pads_eval_batches: bool
    # Sync before every step's time read (torch, as the reference), or only
    # where a time is recorded or decides something (JAX async dispatch).
    sync_every_step: bool
    checkpoint_name: str

    def sync(self, tree: Any) -> None:
        """Block until pending device work that produced ``tree`` is done."""

    def max_across_ranks(self, value: float) -> float:
        """The max of ``value`` over processes (time sync under DDP)."""

    def broadcast_flag(self, flag: bool) -> bool:
        """Rank 0's ``flag`` on every rank."""

    def check_devices(self, gpus: int) -> None:
        """Raise :class:`DeviceError` when the framework cannot see the ``gpus`` given."""

    def compile_model(self, workload: Any, params: Any, workload_name: str) -> Any:
        """The model compiled as the reference's runner does (torch only; JAX jits)."""

    def save_checkpoint(self, path: str, params: Any, optimizer_state: Any,
                        model_state: Any, bookkeeping: dict[str, Any]) -> None:
        """Write one checkpoint file to ``path`` (the caller makes it atomic)."""

    def load_checkpoint(self, path: str, params: Any, optimizer_state: Any,
                        model_state: Any) -> tuple[Any, Any, Any, dict[str, Any]]:
        """Restore into the fresh ``params``/``optimizer_state``/``model_state``."""


class DeviceError(RuntimeError):
    """A trial was given GPUs that its framework cannot use (a CPU-only install)."""


FIXES = {
    "jax": "install a CUDA JAX, e.g. pip install 'jax[cuda12]' -c "
           "constraints/reference-frameworks.txt",
    "pytorch": "install a CUDA build of torch (pip install torch --index-url "
               "https://download.pytorch.org/whl/cu124, pinned by "
               "constraints/reference-frameworks.txt)",
}


def device_error(framework: str, asked: int, seen: int, detail: str) -> DeviceError:
    """One message for both frameworks: what was asked, what is seen, the fix."""
    return DeviceError(
        f"this trial was given {asked} GPU(s) but {framework} sees {seen} ({detail}); "
        f"it would silently train on the CPU. Fix: {FIXES[framework]}; or run without "
        f"GPUs (--gpus 0 / --gpus-per-trial 0).")


def get_backend(framework: str) -> Backend:
    """The backend for ``framework``; the error lists the valid ones."""
    if framework not in _BACKENDS:
        raise ValueError(f"unknown framework {framework!r}; choose one of: "
                         f"{', '.join(sorted(_BACKENDS))}.")
    module_name, _, cls_name = _BACKENDS[framework].partition(":")
    return getattr(importlib.import_module(module_name), cls_name)()
