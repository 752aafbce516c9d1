"""PyTorch baselines and public-style submissions under DDP (gloo, 2 processes)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from algoperf_ray.submission.loader import load_submission
from algoperf_ray.submission.search_space import make_hparams

WORKER = """
import json, sys
import torch.distributed as dist
sys.path.insert(0, {helper_dir!r})
import tiny_workloads as tiny
from algoperf_ray.submission.search_space import make_hparams
from algoperf_ray.submission.loader import load_submission
dist.init_process_group("gloo")
sub = load_submission({path!r})
params, _, losses = tiny.train(sub, tiny.torch_workload(), make_hparams({point!r}), steps=8)
if dist.get_rank() == 0:
    w = params.module.weight.detach().numpy()
    print(json.dumps({{"weight": w.tolist(), "losses": losses}}))
dist.destroy_process_group()
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_ddp(code: str) -> dict:
    port = str(_free_port())
    procs = []
    for rank in range(2):
        env = dict(os.environ, MASTER_ADDR="127.0.0.1", MASTER_PORT=port, RANK=str(rank),
                   LOCAL_RANK=str(rank), WORLD_SIZE="2", OMP_NUM_THREADS="1")
        procs.append(subprocess.Popen([sys.executable, "-c", code], env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    outs = [p.communicate(timeout=180) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    return json.loads(outs[0][0].strip().splitlines()[-1])


@pytest.mark.parametrize("path, point", [
    ("submissions/nadamw/pytorch/submission.py",
     {"learning_rate": 0.01, "one_minus_beta1": 0.1, "beta2": 0.999, "weight_decay": 0.01,
      "warmup_factor": 0.0, "grad_clip": 0.5}),
    pytest.param("tests/submissions/fixtures/public_pytorch/submission.py",
                 {"learning_rate": 0.1, "one_minus_beta1": 0.1}, marks=pytest.mark.slow),
], ids=["nadamw", "public_pytorch"])
def test_ddp_matches_one_process_on_the_same_global_batches(repo_root, tiny, path, point):
    """Each rank trains on its half of each global batch; weights equal one process's."""
    full = str(repo_root / path)
    code = textwrap.dedent(WORKER.format(helper_dir=str(tiny.__file__).rsplit("/", 1)[0],
                                         path=full, point=point))
    result = _run_ddp(code)
    params, _, losses = tiny.train(load_submission(full), tiny.torch_workload(),
                                   make_hparams(point), steps=8)
    np.testing.assert_allclose(result["weight"], params.weight.detach().numpy(),
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(result["losses"], losses, rtol=1e-5)
