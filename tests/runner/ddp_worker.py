"""Two-process gloo DDP run of the fake workload (spawned by test_ddp.py).

Usage: python ddp_worker.py OUT_DIR PORT. Each rank writes rank<r>.pt with
its batch shards, eval rows, hook calls and restored step.
"""

from __future__ import annotations

import os
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from runner_fakes import FakeTorchWorkload, ScriptedSubmission  # noqa: E402

from algoperf_ray.runner import RunnerHooks, TrialConfig, run_loaded_trial  # noqa: E402


class SkewedClock:
    """Rank 1's clock runs 50 s ahead: synced time must follow the max (rank 1)."""

    def __init__(self, rank: int) -> None:
        self.offset = 50.0 * rank

    def now(self) -> float:
        return time.time() + self.offset


class PruneAtThirdEval(RunnerHooks):
    def __init__(self) -> None:
        self.calls = 0

    def on_eval(self, row, checkpoint_dir):
        self.calls += 1

    def should_stop(self, row):
        return self.calls >= 3


def worker(rank: int, out: str, port: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=port)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.set_num_threads(1)
    config = TrialConfig.build(workload="fake", framework="pytorch", submission_path="scripted.py",
                               eval_period_sec=0.0, max_global_steps=10,
                               checkpoint_dir=os.path.join(out, "ckpt"))
    sub = ScriptedSubmission(batch_size=8)
    hooks = PruneAtThirdEval()
    result = run_loaded_trial(config, FakeTorchWorkload(), sub, hooks=hooks,
                              clock=SkewedClock(rank))
    # a second run resumes from rank 0's checkpoint on both ranks
    again_sub = ScriptedSubmission(batch_size=8)
    again = run_loaded_trial(config, FakeTorchWorkload(), again_sub, clock=SkewedClock(rank))
    torch.save({"shards": [e["batch"]["inputs"] for e in sub.log], "rows": result.eval_rows,
                "status": result.status, "hook_calls": hooks.calls,
                "resumed_step": again_sub.log[0]["step"] if again_sub.log else None,
                "resumed_preemptions": again.preemption_count},
               os.path.join(out, f"rank{rank}.pt"))
    dist.destroy_process_group()


if __name__ == "__main__":
    mp.spawn(worker, args=(sys.argv[1], sys.argv[2]), nprocs=2, join=True)
