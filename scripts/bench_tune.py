"""Measure what Ray Tune / Ray Train cost per AlgoPerf trial, and what they buy.

Three measurements, on the ``digits`` workload with a tiny SGD submission
(``tests/ray/fixtures/sgd_torch``), all on real Ray:

1. **Per-trial overhead**, direct (the runner inside the Tune trial) vs. Ray
   Train (a TorchTrainer worker group per trial): trials run one at a time
   with a single training step and one eval, so the wall time per trial is
   scheduling + startup (imports, model init) + teardown; the difference
   between the two modes is what Train adds.
2. **Scheduling throughput**: many one-step trials, as many at once as fit.
3. **Concurrent studies vs. sequential** on a simulated multi-node cluster
   (``ray.cluster_utils.Cluster``, one node per trial): trials that spend
   their steps waiting (``sleep``, standing in for accelerator time), run
   concurrently by Tune vs. one after another as the reference's scripts do.

Usage: ``python scripts/bench_tune.py [--trials 4] [--tiny 16] [--skip-cluster]``
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SUB = REPO / "tests" / "ray" / "fixtures" / "sgd_torch"


def _specs(n: int, hparams: dict | None = None):
    from algoperf_ray.plan import make_plan, resolve_submission

    ref = resolve_submission(SUB, "pytorch")
    specs = make_plan(ruleset="external", submissions=[ref], workloads=["digits"],
                      framework="pytorch", studies=1, trials=n, seed=0)
    return [dataclasses.replace(s, hparams={**s.hparams, **(hparams or {})}) for s in specs]


def _run(specs, tmp: str, name: str, **kw) -> tuple[float, list[dict]]:
    from algoperf_ray.tuning import TuneOptions, run_experiment

    opts = TuneOptions(experiment=name, storage_path=f"{tmp}/ray", store_uri=f"{tmp}/{name}",
                       eval_period_sec=1e9, **kw)
    t0 = time.perf_counter()
    summary = run_experiment(specs, opts, verbose=0)
    return time.perf_counter() - t0, summary.trials


def overhead(n: int, tmp: str) -> dict[str, float]:
    """Seconds per one-step trial, run one at a time: direct vs. Ray Train."""
    out = {}
    for mode in ("never", "always"):
        wall, trials = _run(_specs(n), tmp, f"overhead-{mode}", use_train=mode,
                            max_global_steps=1, max_concurrent=1)
        assert all(t["algoperf_status"] == "completed" for t in trials), trials
        out[mode] = wall / n
    return out


def throughput(n: int, tmp: str) -> float:
    """One-step trials per minute, two at a time on two CPUs."""
    wall, trials = _run(_specs(n), tmp, "throughput", use_train="never", max_global_steps=1)
    assert len(trials) == n
    return 60 * n / wall


def concurrent_vs_sequential(n: int, steps: int, sleep: float) -> dict[str, float]:
    """Wall-clock of n waiting-bound trials on n simulated nodes: Tune vs. one by one."""
    import ray
    from ray.cluster_utils import Cluster

    ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for _ in range(n):
        cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    out = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            specs = _specs(n, {"sleep": sleep})
            for label, cap in (("concurrent", None), ("sequential", 1)):
                wall, _ = _run(specs, tmp, f"cluster-{label}", use_train="never",
                               max_global_steps=steps, max_concurrent=cap)
                out[label] = wall
    finally:
        ray.shutdown()
        cluster.shutdown()
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--trials", type=int, default=4, help="trials for the overhead runs")
    p.add_argument("--tiny", type=int, default=16, help="trials for the throughput run")
    p.add_argument("--skip-cluster", action="store_true")
    args = p.parse_args(argv)
    os.environ.setdefault("RAY_TRAIN_ENABLE_PREEMPTION_WATCHER", "0")
    import ray

    ray.init(num_cpus=2, include_dashboard=True, log_to_driver=False)
    with tempfile.TemporaryDirectory() as tmp:
        o = overhead(args.trials, tmp)
        print(f"per-trial wall, one-step trial, one at a time: direct {o['never']:.1f} s, "
              f"Ray Train {o['always']:.1f} s (+{o['always'] - o['never']:.1f} s per trial)")
        print(f"throughput: {throughput(args.tiny, tmp):.1f} one-step trials/min on 2 CPUs")
    if not args.skip_cluster:
        c = concurrent_vs_sequential(4, steps=20, sleep=0.5)
        print(f"4 trials x 20 steps x 0.5 s on 4 simulated nodes: concurrent "
              f"{c['concurrent']:.1f} s vs sequential {c['sequential']:.1f} s "
              f"({c['sequential'] / c['concurrent']:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
