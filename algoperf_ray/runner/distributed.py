"""A torchrun-style process group for ``run --nproc N`` (PyTorch only).

The reference launches PyTorch through ``torchrun``, so public submissions
may call ``torch.distributed`` (Distributed Shampoo, the v0.5 winner, needs
an initialized group). These helpers read the same environment variables as
``torchrun`` (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT): gloo on
CPU, NCCL when CUDA is present. The timed loop needs nothing more: with a
group initialized, the torch backend shards batches and agrees on time.
"""

from __future__ import annotations

import os
import socket

TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR",
                 "MASTER_PORT")


def free_port() -> int:
    """A TCP port free on this host now (the rendezvous of a local launch)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rank_env(rank: int, world_size: int, port: int) -> dict[str, str]:
    """The torchrun variables of one local process."""
    return {"RANK": str(rank), "WORLD_SIZE": str(world_size), "LOCAL_RANK": str(rank),
            "LOCAL_WORLD_SIZE": str(world_size), "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port)}


def env_rank() -> int:
    """This process's rank from the torchrun variables (0 outside a launch)."""
    return int(os.environ.get("RANK", "0"))


def init_from_env() -> str:
    """Initialize the default process group from the torchrun variables; its backend name.

    A world of one is set up in this process when no launcher set the variables.
    """
    import torch
    import torch.distributed as dist

    if dist.is_initialized():
        return str(dist.get_backend())
    if "WORLD_SIZE" not in os.environ:
        os.environ.update(rank_env(0, 1, free_port()))
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend, init_method="env://")
    return backend


def shutdown() -> None:
    """Destroy the default process group if this process made one."""
    import sys

    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
