"""Eval of criteo1tb on tiny real-format data across 2 ranks / 2 devices (spawned by a test).

Usage: python dist_worker.py {pytorch|jax} DATA_DIR OUT_JSON [PORT]
``pytorch``: two gloo DDP processes; ``jax``: one process with 2 fake CPU devices
(XLA_FLAGS set by the caller). Writes {"loss": validation loss, "shard": rows per rank}.
"""

from __future__ import annotations

import json
import os
import sys

SMALL = {"vocab_size": 1024}


def _eval(framework: str, data_dir: str) -> tuple[float, int]:
    from algoperf_ray.benchmark import registry
    from algoperf_ray.workload import rng as rng_lib

    workload = registry.load_workload("criteo1tb", framework, data_mode="real", **SMALL)
    params, state = workload.init_model_fn(rng_lib.PRNGKey(4))
    loss = workload._eval_model_on_split("validation", 10**6, 16, params, state,
                                         rng_lib.PRNGKey(0), data_dir)["loss"]
    host = next(workload.host_batches("validation", 0, data_dir, 16, train=False))
    shard = workload._to_device(host, train=False)["inputs"]
    return loss, int(getattr(shard, "addressable_shards", [shard])[0].data.shape[0]
                     if framework == "jax" else shard.shape[0])


def _torch_rank(rank: int, data_dir: str, out: str, port: str) -> None:
    import torch.distributed as dist

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    loss, rows = _eval("pytorch", data_dir)
    if rank == 0:
        with open(out, "w") as f:
            json.dump({"loss": loss, "shard": rows}, f)
    dist.destroy_process_group()


def main() -> None:
    framework, data_dir, out = sys.argv[1:4]
    if framework == "pytorch":
        import torch.multiprocessing as mp

        mp.spawn(_torch_rank, args=(data_dir, out, sys.argv[4]), nprocs=2, join=True)
        return
    import jax

    assert jax.local_device_count() == 2, jax.devices()
    loss, rows = _eval("jax", data_dir)
    with open(out, "w") as f:
        json.dump({"loss": loss, "shard": rows}, f)


if __name__ == "__main__":
    main()
