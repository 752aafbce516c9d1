"""Fault tolerance on real Ray: a node killed mid-trial, a driver killed mid-run.

Both are slow (they start extra Ray processes). The node test runs in a
subprocess with its own ``ray.cluster_utils.Cluster`` so it never disturbs
the session's Ray.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SUB = HERE / "fixtures" / "sgd_torch"


def _rows(store, **where):
    rows = store.read_evals().to_pylist()
    rows = [r for r in rows if all(r[k] == v for k, v in where.items())]
    return sorted(rows, key=lambda r: (r["study"], r["trial"], r["eval_index"]))


def _check_rows(rows):
    steps = [r["global_step"] for r in rows]
    times = [r["accumulated_submission_time"] for r in rows]
    assert steps == sorted(set(steps)), steps  # none lost twice, none duplicated
    assert times == sorted(times), times  # accumulated time continues


def node_kill_scenario(tmp: str) -> None:
    """Run one trial on node A, kill A mid-trial, let Tune retry on node B."""
    import dataclasses

    import ray
    from ray.cluster_utils import Cluster

    from algoperf_ray.store import Store
    from algoperf_ray.tune.driver import run_experiment
    from algoperf_ray.tune.options import TuneOptions
    from algoperf_ray.tune.plan import make_plan, resolve_submission

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    node_a = cluster.add_node(num_cpus=1)
    ray.init(address=cluster.address, log_to_driver=False)
    ref = resolve_submission(SUB, "pytorch")
    (spec,) = make_plan(ruleset="external", submissions=[ref], workloads=["digits"],
                        framework="pytorch", studies=1, trials=1, seed=0)
    # A tiny learning rate: the trial never reaches the target, so it runs its budget.
    spec = dataclasses.replace(spec, hparams={"learning_rate": 1e-5, "sleep": 0.02})
    opts = TuneOptions(experiment="nodekill", storage_path=f"{tmp}/ray", store_uri=f"{tmp}/store",
                       max_runtime_sec=8.0, eval_period_sec=0.5, max_failures=3)
    box = {}
    thread = threading.Thread(target=lambda: box.update(s=run_experiment([spec], opts,
                                                                           verbose=0)))
    thread.start()
    store = Store(opts.store_uri)
    deadline = time.time() + 180
    while len(_rows(store)) < 3 and time.time() < deadline:
        time.sleep(0.3)
    before = _rows(store)
    assert len(before) >= 3, "the trial never got going"
    cluster.add_node(num_cpus=1)
    cluster.remove_node(node_a)  # the trial's node dies mid-trial
    thread.join(timeout=300)
    (trial,) = box["s"].trials
    assert trial["algoperf_status"] == "completed", trial
    after = _rows(store)
    _check_rows(after)
    assert after[-1]["preemption_count"] == 1
    assert max(r["preemption_count"] for r in after) == 1
    kept = [(r["global_step"], r["accumulated_submission_time"]) for r in after]
    # Rows written before the kill up to the restored checkpoint survive unchanged.
    assert kept[:len(before) - 1] == [(r["global_step"], r["accumulated_submission_time"])
                                      for r in before][:len(before) - 1]
    assert after[-1]["accumulated_submission_time"] > before[-1]["accumulated_submission_time"]
    print("NODE-KILL-OK", len(before), len(after))
    ray.shutdown()
    cluster.shutdown()


@pytest.mark.slow
def test_node_killed_mid_trial_resumes_from_checkpoint(tmp_path):
    res = subprocess.run([sys.executable, __file__, "node", str(tmp_path)], capture_output=True,
                         text=True, timeout=600)
    assert "NODE-KILL-OK" in res.stdout, (res.stdout[-2000:], res.stderr[-5000:])


def _tune_cmd(ray_session, tmp_path, *extra):
    # Tiny learning rates: no trial reaches the target, each runs its 4 s budget.
    space = tmp_path / "points.json"
    space.write_text(json.dumps([{"learning_rate": 1e-5 * (i + 1), "sleep": 0.02}
                                 for i in range(3)]))
    return [sys.executable, "-c", "from algoperf_ray.cli import main; main()", "tune",
            "--ruleset", "external", "--submission", str(SUB), "--search-space", str(space),
            "--workloads", "digits",
            "--framework", "pytorch", "--studies", "1", "--trials", "3",
            "--max-runtime-sec", "4", "--eval-period-sec", "0.5", "--max-concurrent", "1",
            "--address", ray_session["address"], "--name", "driverkill", "--no-score",
            "--store", str(tmp_path / "store"), "--storage-path", str(tmp_path / "ray"), *extra]


@pytest.mark.slow
def test_driver_killed_then_resume_completes_without_rerunning(ray_session, tmp_path):
    from algoperf_ray.store import Store

    proc = subprocess.Popen(_tune_cmd(ray_session, tmp_path), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    store = Store(str(tmp_path / "store"))
    deadline = time.time() + 300
    while time.time() < deadline:
        done = store.completed_trials() if (tmp_path / "store").exists() else set()
        running = [r for r in _rows(store) if r["trial"] not in {k.trial for k in done}] \
            if done else []
        if done and len(running) >= 2:
            break
        time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGKILL)  # the driver dies mid-experiment
    proc.wait()
    finished = {k.trial for k in store.completed_trials()}
    assert finished and len(finished) < 3
    files = {p: p.stat().st_mtime_ns for p in (tmp_path / "store" / "evals").rglob("*.parquet")
             if any(p.name.endswith(f"__trial{t}.parquet") for t in finished)}
    assert len(files) == len(finished)
    time.sleep(2)
    res = subprocess.run(_tune_cmd(ray_session, tmp_path, "--resume"), capture_output=True,
                         text=True, timeout=400)
    assert res.returncode == 0, res.stderr[-3000:]
    assert {k.trial for k in store.completed_trials()} == {0, 1, 2}
    for trial in range(3):
        _check_rows(_rows(store, trial=trial))
    assert any(r["preemption_count"] == 1 for r in _rows(store))  # the interrupted one resumed
    for p, mtime in files.items():
        if p.exists():
            assert p.stat().st_mtime_ns == mtime, f"finished trial rewritten: {p}"


if __name__ == "__main__":
    if sys.argv[1] == "node":
        node_kill_scenario(sys.argv[2])
