"""Sharded graph batches: 4 fake JAX devices, and 2 gloo DDP ranks in PyTorch.

Both must give exactly what running each self-contained shard alone gives.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from algoperf_ray.workloads.ogbg import input_pipeline as ip
from algoperf_ray.workloads.ogbg import metrics

JAX_SCRIPT = textwrap.dedent("""
    import json, numpy as np, jax
    from algoperf_ray.benchmark import registry
    from algoperf_ray.workload import rng
    from algoperf_ray.workloads.ogbg import input_pipeline as ip
    from algoperf_ray.workloads.ogbg.metadata import REDUCED_SIZE_KWARGS
    w = registry.load_workload("ogbg", "jax", data_mode="synthetic", **REDUCED_SIZE_KWARGS["ogbg"])
    params, _ = w.init_model_fn(rng.PRNGKey(0))
    host = next(ip.batch_graphs(ip.synthetic_graphs(1), 16, w.placement.num_shards, pad_last=True))
    dev = w._to_device(host, train=False)
    sharded = w._compiled("_eval_outputs")(params, None, dev, None)["logits"]
    alone = []
    for k in range(4):
        part = ip.GraphsTuple(*(None if a is None else np.split(a, 4)[k] for a in host["inputs"]))
        alone.append(np.asarray(w._model.apply({"params": params}, part, train=False)))
    print(json.dumps({"devices": len(dev["inputs"].nodes.sharding.device_set),
                      "max_diff": float(np.abs(sharded - np.concatenate(alone)).max()),
                      "scale": float(np.abs(sharded).max())}))
""")

DDP_SCRIPT = textwrap.dedent("""
    import json, os, sys, torch, torch.distributed as dist
    from algoperf_ray.benchmark import registry
    from algoperf_ray.workload import rng
    from algoperf_ray.workloads.ogbg.metadata import REDUCED_SIZE_KWARGS
    rank = int(sys.argv[1])
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.set_num_threads(1)
    w = registry.load_workload("ogbg", "pytorch", data_mode="synthetic",
                               **REDUCED_SIZE_KWARGS["ogbg"])
    model, _ = w.init_model_fn(rng.PRNGKey(0))
    out = w._eval_model_on_split("validation", 40, 16, model, None, rng.PRNGKey(0), None)
    if rank == 0:
        torch.save(model.module.state_dict(), sys.argv[2] + "/weights.pt")
        print(json.dumps(out))
    dist.destroy_process_group()
""")


def _env(**extra: str) -> dict[str, str]:
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return {**os.environ, "PYTHONPATH": root, **extra}


def test_jax_four_devices_equal_shards_run_alone(host_devices_env) -> None:
    env = host_devices_env(4, PYTHONPATH=_env()["PYTHONPATH"])
    proc = subprocess.run([sys.executable, "-c", JAX_SCRIPT], capture_output=True, text=True,
                          timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["devices"] == 4
    assert out["scale"] > 1e-2 and out["max_diff"] < 1e-5


@pytest.mark.slow
def test_torch_ddp_eval_gathers_all_shards(tmp_path) -> None:
    import torch

    from algoperf_ray.benchmark import registry
    from algoperf_ray.workloads.ogbg.metadata import REDUCED_SIZE_KWARGS

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = str(s.getsockname()[1])
    env = _env(MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
    procs = [subprocess.Popen([sys.executable, "-c", DDP_SCRIPT, str(r), str(tmp_path)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
             for r in (0, 1)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs[0][1][-2000:] + outs[1][1][-2000:]
    got = json.loads(outs[0][0].strip().splitlines()[-1])
    # The same global batches, each rank's shard run alone in this process.
    w = registry.load_workload("ogbg", "pytorch", data_mode="synthetic",
                               **REDUCED_SIZE_KWARGS["ogbg"])
    model, _ = w.init_model_fn(np.array([0, 0], np.uint32))
    model.load_state_dict(torch.load(tmp_path / "weights.pt"))
    model.eval()
    logits, labels, weights = [], [], []
    batches = ip.batch_graphs(ip.synthetic_graphs(0), 16, 2, pad_last=True)
    for host in [next(batches) for _ in range(3)]:  # ceil(40 / 16) eval batches
        for k in range(2):
            part = ip.GraphsTuple(*(None if a is None else torch.from_numpy(np.split(a, 2)[k])
                                    for a in host["inputs"]))
            with torch.no_grad():
                logits.append(model(part).numpy())
            labels.append(np.split(host["targets"], 2)[k])
            weights.append(np.split(host["weights"], 2)[k])
    want = metrics.eval_metrics(*(np.concatenate(a) for a in (logits, labels, weights)))
    for k, v in want.items():
        assert got[k] == pytest.approx(v, rel=1e-5), k
