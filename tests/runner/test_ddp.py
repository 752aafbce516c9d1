"""PyTorch DDP with gloo, 2 processes on CPU: shards, synced time, rank-0 duties."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import torch
from runner_fakes import FakeTorchWorkload

from algoperf_ray.runner.loop import split_seed
from algoperf_ray.workload.rng import to_seed

HERE = Path(__file__).resolve().parent


def _free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def test_ddp_two_gloo_processes(tmp_path):
    proc = subprocess.run([sys.executable, str(HERE / "ddp_worker.py"), str(tmp_path),
                           _free_port()], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in (0, 1))

    # each process gets its half of the same global batch
    data_rng = split_seed(0)[0]
    first = next(FakeTorchWorkload().host_batches("train", to_seed(data_rng), None, 8, True))
    assert r0["shards"][0].shape == (4, 2)
    assert torch.equal(torch.cat([r0["shards"][0], r1["shards"][0]]),
                       torch.from_numpy(first["inputs"]))

    # time is agreed across ranks (max), so both record the same timings
    cols = ("accumulated_submission_time", "accumulated_eval_time", "total_duration")
    assert [[r[c] for c in cols] for r in r0["rows"]] == [[r[c] for c in cols] for r in r1["rows"]]

    # hooks ran on rank 0 only; its pruning decision stopped both ranks together
    assert (r0["hook_calls"], r1["hook_calls"]) == (3, 0)
    assert r0["status"] == r1["status"] == "pruned"
    assert len(r0["rows"]) == len(r1["rows"]) == 3

    # rank 0 wrote one checkpoint and both ranks resumed from it
    assert [p.name for p in (tmp_path / "ckpt").iterdir()] == ["checkpoint.pt"]
    assert r0["resumed_step"] == r1["resumed_step"] == 3
    assert r0["resumed_preemptions"] == r1["resumed_preemptions"] == 1
