"""Measure what Ray Tune / Ray Train cost per AlgoPerf trial, and what they buy.

Three measurements, on the ``digits`` workload with a tiny SGD submission
(``tests/ray/fixtures/sgd_torch``), all on real Ray:

1. **Per-trial overhead**, direct (the runner inside the Tune trial) vs. Ray
   Train (a 1-worker TorchTrainer group per trial): trials run one at a time
   with a single training step and one eval, each split into phases by
   timestamps on this host's clock (median over the trials):

   * *launch*: Tune schedules the trial (the previous one finished, or the
     experiment started) -> its actor is up (``Callback.on_trial_start``);
   * *setup*: actor up -> the runner's timed loop starts, right before the
     first ``data_selection``/``update_params`` (``TrialResult.start_time``):
     imports, workload and model init and, with Train, the worker group;
   * *train*: loop start -> the runner returned (the step, the eval, the
     store rows and the checkpoint);
   * *teardown*: the runner returned -> Tune has the trial finished
     (``Callback.on_trial_complete``).
2. **Scheduling throughput**: many one-step trials, as many at once as fit.
3. **Concurrent studies vs. sequential** on a simulated multi-node cluster
   (``ray.cluster_utils.Cluster``, one node per trial): trials that spend
   their steps waiting (``sleep``, standing in for accelerator time), run
   concurrently by Tune vs. one after another as the reference's scripts do.

Usage: ``python scripts/bench_tune.py [--trials 4] [--tiny 16] [--skip-throughput]
[--skip-cluster]``
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SUB = REPO / "tests" / "ray" / "fixtures" / "sgd_torch"


def _specs(n: int, hparams: dict | None = None):
    from algoperf_ray.tune.plan import make_plan, resolve_submission

    ref = resolve_submission(SUB, "pytorch")
    specs = make_plan(ruleset="external", submissions=[ref], workloads=["digits"],
                      framework="pytorch", studies=1, trials=n, seed=0)
    return [dataclasses.replace(s, hparams={**s.hparams, **(hparams or {})}) for s in specs]


def _run(specs, tmp: str, name: str, callbacks=None, **kw) -> tuple[float, list[dict]]:
    from algoperf_ray.tune.driver import run_experiment
    from algoperf_ray.tune.options import TuneOptions

    opts = TuneOptions(experiment=name, storage_path=f"{tmp}/ray", store_uri=f"{tmp}/{name}",
                       eval_period_sec=1e9, **kw)
    t0 = time.perf_counter()
    summary = run_experiment(specs, opts, verbose=0, callbacks=callbacks)
    return time.perf_counter() - t0, summary.trials


def _trial_clock():
    """A Tune callback timestamping when each trial was scheduled, started and finished.

    "Scheduled" is when the slot it runs in became free: the experiment's
    start or the previous trial's end, so it is only meaningful one trial at
    a time (``max_concurrent=1``).
    """
    from ray import tune

    from algoperf_ray.benchmark.identity import TrialSpec

    def trial_id(trial) -> str:
        return TrialSpec.from_dict(trial.config["spec"]).trial_id

    class TrialClock(tune.Callback):
        def __init__(self) -> None:
            self.free_since = time.time()
            self.times: dict[str, dict[str, float]] = {}

        def on_trial_start(self, iteration, trials, trial, **info) -> None:
            self.times[trial_id(trial)] = {"scheduled": self.free_since, "started": time.time()}

        def on_trial_complete(self, iteration, trials, trial, **info) -> None:
            self.free_since = time.time()
            self.times[trial_id(trial)]["finished"] = self.free_since

    return TrialClock()


PHASES = {
    "launch": "launch: scheduled -> actor up",
    "setup": "setup: actor up -> first step",
    "first_step": "(a) scheduled -> first step",
    "train": "(b) train: first step -> returned",
    "teardown": "(c) teardown: returned -> finished",
    "total": "total: scheduled -> finished",
}


def _phases(times: dict[str, float], result: dict) -> dict[str, float]:
    """One trial's phases from Tune's timestamps and the runner's (same host clock)."""
    sched, started, finished = times["scheduled"], times["started"], times["finished"]
    loop_start, returned = result["loop_start_time"], result["runner_end_time"]
    return {"launch": started - sched, "setup": loop_start - started,
            "first_step": loop_start - sched, "train": returned - loop_start,
            "teardown": finished - returned, "total": finished - sched}


def overhead(n: int, tmp: str) -> dict[str, dict[str, float]]:
    """Median seconds per phase of a one-step trial, one at a time: direct vs. Ray Train."""
    out = {}
    for mode in ("never", "always"):
        clock = _trial_clock()
        _, trials = _run(_specs(n), tmp, f"overhead-{mode}", callbacks=[clock],
                         use_train=mode, max_global_steps=1, max_concurrent=1)
        assert all(t["algoperf_status"] == "completed" for t in trials), trials
        per_trial = [_phases(clock.times[t["trial_id"]], t) for t in trials]
        out[mode] = {p: statistics.median(x[p] for x in per_trial) for p in PHASES}
    return out


def overhead_table(o: dict[str, dict[str, float]]) -> str:
    """The phases side by side, with what Train adds and the ratio (medians per phase)."""
    lines = [f"{'phase (median s per trial)':<36}{'direct':>8}{'Ray Train':>11}{'+Train':>8}"
             f"{'ratio':>7}"]
    for p, label in PHASES.items():
        d, t = o["never"][p], o["always"][p]
        ratio = f"{t / d:.1f}x" if d >= 0.05 else "-"  # no ratio of near-zero times
        lines.append(f"{label:<36}{d:>8.2f}{t:>11.2f}{t - d:>+8.2f}{ratio:>7}")
    return "\n".join(lines)


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
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--skip-cluster", action="store_true")
    args = p.parse_args(argv)
    os.environ.setdefault("RAY_TRAIN_ENABLE_PREEMPTION_WATCHER", "0")
    import ray

    ray.init(num_cpus=2, include_dashboard=True, log_to_driver=False)
    with tempfile.TemporaryDirectory() as tmp:
        o = overhead(args.trials, tmp)
        print(f"per-trial overhead, one-step digits trial, {args.trials} trials one at a time:")
        print(overhead_table(o))
        if not args.skip_throughput:
            print(f"throughput: {throughput(args.tiny, tmp):.1f} one-step trials/min on 2 CPUs")
    if not args.skip_cluster:
        c = concurrent_vs_sequential(4, steps=20, sleep=0.5)
        print(f"4 trials x 20 steps x 0.5 s on 4 simulated nodes: concurrent "
              f"{c['concurrent']:.1f} s vs sequential {c['sequential']:.1f} s "
              f"({c['sequential'] / c['concurrent']:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
