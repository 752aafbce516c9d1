"""The fastMRI eval on 2 DDP ranks (gloo) and on 2 fake JAX devices equals one device.

DDP: each rank decodes only its half of every eval batch and sums SSIM and
loss over its rows; the shared loop all-reduces the sums. JAX: an eval batch
of 3 rows is zero-padded to 4 for 2 devices, with weight 0 on the padding.
Same weights (seeded init), same tiny real-format data: the metrics agree.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from algoperf_ray.benchmark.registry import load_workload
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.fastmri.metadata import REDUCED_SIZE_KWARGS

from .conftest import NUM_VALIDATION_FILES

KWARGS = {**REDUCED_SIZE_KWARGS["fastmri"], "max_eval_examples": 2}

WORKER = """
import json
import torch.distributed as dist
from algoperf_ray.benchmark.registry import load_workload
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.fastmri import input_pipeline
input_pipeline.NUM_VALIDATION_FILES = {num_val}
dist.init_process_group("gloo")
wl = load_workload("fastmri", "pytorch", data_mode="real", **{kwargs!r})
model, _ = wl.init_model_fn(rng_lib.PRNGKey(0))
res = wl.eval_model(4, model, None, rng_lib.PRNGKey(3), {data_dir!r}, None, 0)
if dist.get_rank() == 0:
    print(json.dumps(res))
dist.destroy_process_group()
"""

JAX_WORKER = """
import json, jax
from algoperf_ray.benchmark.registry import load_workload
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads.fastmri import input_pipeline
input_pipeline.NUM_VALIDATION_FILES = {num_val}
assert jax.local_device_count() == 2
wl = load_workload("fastmri", "jax", data_mode="real", **{kwargs!r})
params, _ = wl.init_model_fn(rng_lib.PRNGKey(0))
print(json.dumps(wl.eval_model(3, params, None, rng_lib.PRNGKey(3), {data_dir!r}, None, 0)))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_ddp_eval_equals_single_process(fastmri_dir: Path, tiny_split: None) -> None:
    code = WORKER.format(num_val=NUM_VALIDATION_FILES, kwargs=KWARGS, data_dir=str(fastmri_dir))
    port = str(_free_port())
    procs = []
    for rank in range(2):
        env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=port, RANK=str(rank),
                   LOCAL_RANK=str(rank), WORLD_SIZE="2", OMP_NUM_THREADS="1")
        procs.append(subprocess.Popen([sys.executable, "-c", code], env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    outs = [p.communicate(timeout=900) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    ddp = json.loads(outs[0][0].strip().splitlines()[-1])

    wl = load_workload("fastmri", "pytorch", data_mode="real", **KWARGS)
    model, _ = wl.init_model_fn(rng_lib.PRNGKey(0))
    single = wl.eval_model(4, model, None, rng_lib.PRNGKey(3), str(fastmri_dir), None, 0)
    assert set(ddp) == set(single)
    for key, value in single.items():
        assert ddp[key] == pytest.approx(value, abs=1e-5), key


@pytest.mark.slow
def test_two_jax_devices_equal_one(fastmri_dir: Path, tiny_split: None, host_devices_env) -> None:
    kwargs = {**KWARGS, "max_eval_examples": 3}
    code = JAX_WORKER.format(num_val=NUM_VALIDATION_FILES, kwargs=kwargs,
                             data_dir=str(fastmri_dir))
    env = host_devices_env(2, JAX_PLATFORMS="cpu")
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    two = json.loads(proc.stdout.strip().splitlines()[-1])

    wl = load_workload("fastmri", "jax", data_mode="real", **kwargs)
    params, _ = wl.init_model_fn(rng_lib.PRNGKey(0))
    one = wl.eval_model(3, params, None, rng_lib.PRNGKey(3), str(fastmri_dir), None, 0)
    assert set(two) == set(one)
    for key, value in one.items():
        assert two[key] == pytest.approx(value, abs=1e-5), key
