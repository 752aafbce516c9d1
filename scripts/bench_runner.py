"""Per-step overhead of the AlgoPerf runner against a bare training loop.

For each (workload, framework) the same submission trains on the same
pre-built device batches twice, side by side, ``--repeats`` times:

* **runner**: :func:`algoperf_ray.runner.run_loaded_trial`, whose input queue
  replays the batches. Per-step time is its own measurement, the
  submission-time difference between the evals after step 1 and step N
  (the first step, which compiles, is left out; evals are untimed).
* **bare**: a loop that only calls the submission's ``update_params`` on the
  same batches and syncs the device once at the end.

Overhead = runner / bare - 1 on the medians. It contains everything the
timed loop adds per step: ``data_selection``, the device sync and clock
reads the rules require, and bookkeeping. On a busy machine that ratio is
dominated by noise, so a third measurement isolates the loop itself: the
runner with a no-op ``update_params`` ("loop only"), whose per-step time is
pure harness cost; "loop / bare" is that cost relative to a real step.

    python scripts/bench_runner.py                 # digits + synthetic mnist, both frameworks
    python scripts/bench_runner.py --steps 400 --frameworks pytorch --json out.json
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import itertools
import json
import platform
import statistics
import time
from typing import Any

from rich.console import Console
from rich.table import Table

from algoperf_ray.benchmark.registry import load_workload
from algoperf_ray.runner import TrialConfig, run_loaded_trial
from algoperf_ray.runner.backend import get_backend
from algoperf_ray.runner.loop import split_seed
from algoperf_ray.submission.loader import find_search_space, load_submission
from algoperf_ray.submission.search_space import load_search_space, make_hparams
from algoperf_ray.workload import rng as rng_lib

DATA_MODE = {"digits": "real", "mnist": "synthetic", "cifar": "synthetic"}


def _setup(workload_name: str, framework: str, submission: str, steps: int) -> dict[str, Any]:
    sub = load_submission(submission, framework)
    hp = load_search_space(find_search_space(sub.path)).draw(1, 0)[0]
    workload = load_workload(workload_name, framework, data_mode=DATA_MODE[workload_name])
    batch_size = sub.get_batch_size(workload_name)
    data_rng = split_seed(0)[0]
    batches = list(itertools.islice(
        workload._build_input_queue(data_rng, "train", None, batch_size), steps))
    # Both loops see exactly these device batches; the runner's queue replays them.
    workload._build_input_queue = lambda *a, **k: iter(batches)
    return {"sub": sub, "hp": hp, "workload": workload, "batches": batches,
            "backend": get_backend(framework), "framework": framework}


def _noop_update(workload: Any, current_param_container: Any, current_params_types: Any,
                 model_state: Any, hyperparameters: Any, batch: Any, loss_type: Any,
                 optimizer_state: Any, eval_results: Any, global_step: int, rng: Any) -> Any:
    return optimizer_state, current_param_container, model_state


def loop_only_step_time(s: dict[str, Any]) -> float:
    """The runner's own per-step cost: a no-op update_params through the full loop."""
    noop = dataclasses.replace(s["sub"], update_params=_noop_update,
                               update_accepts_train_state=False)
    return runner_step_time({**s, "sub": noop})


def runner_step_time(s: dict[str, Any]) -> float:
    n = len(s["batches"])
    config = TrialConfig.build(workload=s["workload"].workload_name, framework=s["framework"],
                               submission_path=s["sub"].path, hparams=s["hp"], max_global_steps=n,
                               eval_period_sec=1e9, max_runtime_sec=1e9)  # evals: step 1 and N
    rows = run_loaded_trial(config, s["workload"], s["sub"]).eval_rows
    first, last = rows[0], rows[-1]
    if (first["global_step"], last["global_step"]) != (1, n):
        raise RuntimeError(f"expected evals after steps 1 and {n}, got "
                           f"{[r['global_step'] for r in rows]}")
    return (last["accumulated_submission_time"] - first["accumulated_submission_time"]) / (n - 1)


def bare_step_time(s: dict[str, Any]) -> float:
    wl, sub, hp, batches = s["workload"], s["sub"], make_hparams(s["hp"]), s["batches"]
    _, opt_rng, model_rng, loop_rng = split_seed(0)
    params, model_state = wl.init_model_fn(model_rng, None, None)
    opt = sub.init_optimizer_state(wl, params, model_state, hp, opt_rng)
    rng = rng_lib.split(loop_rng, 4)[1]

    def step(i: int, batch: Any) -> None:
        nonlocal opt, params, model_state
        opt, params, model_state = sub.update_params(
            workload=wl, current_param_container=params,
            current_params_types=wl.model_params_types, model_state=model_state,
            hyperparameters=hp, batch=batch, loss_type=wl.loss_type, optimizer_state=opt,
            eval_results=[], global_step=i, rng=rng)

    step(0, batches[0])  # compile / warm up, like the runner's step 1
    s["backend"].sync(params)
    start = time.perf_counter()
    for i, batch in enumerate(batches[1:], start=1):
        step(i, batch)
    s["backend"].sync(params)
    return (time.perf_counter() - start) / (len(batches) - 1)


def bench(workload: str, framework: str, submission: str, steps: int,
          repeats: int) -> dict[str, Any]:
    s = _setup(workload, framework, submission, steps)
    runner, bare, loop = [], [], []
    for _ in range(repeats):  # interleaved, so load changes hit both alike
        runner.append(runner_step_time(s))
        bare.append(bare_step_time(s))
        loop.append(loop_only_step_time(s))
    r, b, lo = (statistics.median(x) for x in (runner, bare, loop))
    return {"workload": workload, "framework": framework, "data": DATA_MODE[workload],
            "steps": steps, "repeats": repeats, "bare_ms": 1e3 * b, "runner_ms": 1e3 * r,
            "overhead_pct": 100.0 * (r / b - 1.0), "loop_us": 1e6 * lo,
            "loop_pct": 100.0 * lo / b}


def render(results: list[dict[str, Any]]) -> Table:
    table = Table(title="runner per-step overhead vs a bare update_params loop (medians)")
    for col in ("workload", "framework", "data", "steps", "bare ms/step", "runner ms/step",
                "overhead", "loop only µs/step", "loop / bare"):
        table.add_column(col, justify="left" if col in ("workload", "framework", "data")
                         else "right")
    for r in results:
        table.add_row(r["workload"], r["framework"], r["data"], str(r["steps"]),
                      f"{r['bare_ms']:.3f}", f"{r['runner_ms']:.3f}",
                      f"{r['overhead_pct']:+.1f} %", f"{r['loop_us']:.1f}",
                      f"{r['loop_pct']:.2f} %")
    return table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workloads", default="digits,mnist")
    p.add_argument("--frameworks", default="pytorch,jax")
    p.add_argument("--submission", default="submissions/nadamw")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--torch-threads", type=int, default=1,
                   help="torch intra-op threads (1: tiny ops on a shared CPU measure "
                        "thread contention, not the runner)")
    p.add_argument("--json", help="also write the results here")
    a = p.parse_args()
    if "pytorch" in a.frameworks:
        import torch

        torch.set_num_threads(a.torch_threads)
    results = [bench(w, f, a.submission, a.steps, a.repeats)
               for w in a.workloads.split(",") for f in a.frameworks.split(",")]
    Console().print(render(results))
    if a.json:
        meta = {"date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                "machine": platform.processor() or platform.machine(),
                "torch_threads": a.torch_threads, "results": results}
        with open(a.json, "w") as f:
            json.dump(meta, f, indent=2)


if __name__ == "__main__":
    main()
