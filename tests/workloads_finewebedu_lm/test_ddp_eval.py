"""Perplexity is corpus-level across shards: 2 gloo DDP ranks, or 4 JAX devices, = 1 process.

7 sequences in eval batches of 6: the last batch is padded, the batches are
split over ranks (PyTorch) or padded to a multiple of the devices (JAX), and
the summed token losses are all-reduced before the one normalisation.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest

CODE = """
import json, sys
import torch.distributed as dist
from algoperf_ray.benchmark import registry
from algoperf_ray.workload import rng as rng_lib
framework, ddp = sys.argv[1], len(sys.argv) > 2
if ddp:
    dist.init_process_group("gloo")
kw = {"vocab_size": 37, "seq_len": 8, "model_dim": 16, "num_heads": 2, "num_layers": 1,
      "mlp_dim": 16, "multiple_of": 16, "compute_dtype": "float32", "max_eval_examples": 7}
wl = registry.load_workload("finewebedu_lm", framework, data_mode="synthetic", **kw)
params, state = wl.init_model_fn(rng_lib.PRNGKey(0))
out = wl.eval_model(6, params, state, rng_lib.PRNGKey(1), None, None, 0)
out["shards"] = wl.placement.num_shards
if not ddp or dist.get_rank() == 0:
    print(json.dumps(out))
if ddp:
    dist.destroy_process_group()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _single(framework: str, env: dict[str, str] | None = None) -> dict:
    proc = subprocess.run([sys.executable, "-c", CODE, framework], capture_output=True,
                          text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _same(one: dict, other: dict) -> None:
    assert {k for k in one if k != "shards"} == {"train/loss", "train/ppl", "validation/loss",
                                                 "validation/ppl"}
    for key, value in one.items():
        if key != "shards":
            assert other[key] == pytest.approx(value, rel=1e-5)


def test_torch_two_ddp_ranks_equal_one_process():
    one = _single("pytorch")
    port, procs = str(_free_port()), []
    for rank in range(2):
        env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=port, RANK=str(rank),
                   LOCAL_RANK=str(rank), WORLD_SIZE="2", OMP_NUM_THREADS="1")
        procs.append(subprocess.Popen([sys.executable, "-c", CODE, "pytorch", "ddp"], env=env,
                                      text=True, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE))
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    two = json.loads(outs[0][0].strip().splitlines()[-1])
    assert (one["shards"], two["shards"]) == (1, 2)
    _same(one, two)


def test_jax_four_devices_equal_one_device(host_devices_env):
    one = _single("jax")
    four = _single("jax", host_devices_env(4))
    assert (one["shards"], four["shards"]) == (1, 4)
    _same(one, four)
