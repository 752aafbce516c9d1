"""criteo1tb eval is the same on 1 process/device and on 2 DDP ranks / 2 JAX devices."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from algoperf_ray.benchmark import registry
from algoperf_ray.workload import rng as rng_lib

HERE = Path(__file__).resolve().parent


def _free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["jax", "pytorch"])
def test_sharded_eval_equals_single_process(framework, criteo_dir, tmp_path, host_devices_env):
    out = tmp_path / "out.json"
    env = host_devices_env(2)
    args = [sys.executable, str(HERE / "dist_worker.py"), framework, str(criteo_dir), str(out)]
    proc = subprocess.run(args + ([_free_port()] if framework == "pytorch" else []), env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    sharded = json.loads(out.read_text())
    assert sharded["shard"] == 8  # each rank/device holds half of the global batch of 16
    workload = registry.load_workload("criteo1tb", framework, data_mode="real", vocab_size=1024)
    params, state = workload.init_model_fn(rng_lib.PRNGKey(4))
    single = workload._eval_model_on_split("validation", 10**6, 16, params, state,
                                           rng_lib.PRNGKey(0), str(criteo_dir))["loss"]
    assert sharded["loss"] == pytest.approx(single, rel=1e-5)
