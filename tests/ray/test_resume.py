"""``tune --resume`` never relaunches a trial the store holds as finished (completed or pruned).

A restored Tune experiment relaunches every trial Tune had not seen finish,
including trials whose runner finished just before the driver died; rerunning
them rewrote their rows as a preempted rerun (``preemption_count`` 1). The
trial side now asks the store first, with the store's own notion of finished
(``Store.completed_trials``), and the driver plans only pending trials.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from algoperf_ray.store import Store
from algoperf_ray.tune.options import TuneOptions
from algoperf_ray.tune.plan import make_plan, resolve_submission
from algoperf_ray.tune.trial import run_here


def _setup(tmp_path, sub, statuses):
    ref = resolve_submission(sub, "pytorch")
    specs = make_plan(ruleset="external", submissions=[ref], workloads=["digits"],
                      framework="pytorch", studies=1, trials=len(statuses) + 1, seed=3)
    store = Store(str(tmp_path / "store"))
    for spec, status in zip(specs, statuses, strict=False):
        store.write_trial(spec.key, hparams=spec.hparams, status=status, seed=spec.seed,
                          extra={"global_step": 40, "preemption_count": 0,
                                 "time_to_target": 1.5 if status == "completed" else None})
    opts = TuneOptions(experiment="resume", storage_path=str(tmp_path / "ray"),
                       store_uri=str(tmp_path / "store"),
                       max_runtime_sec=1.0, eval_period_sec=0.5)
    return specs, store, opts


def _trial_files(tmp_path):
    return {p: p.stat().st_mtime_ns for p in (tmp_path / "store").rglob("*.parquet")}


@pytest.mark.parametrize("status", ["completed", "pruned"])
def test_a_relaunched_finished_trial_returns_its_stored_result_without_running(
        tmp_path, sgd_submission, status):
    specs, store, opts = _setup(tmp_path, sgd_submission, [status])
    before = _trial_files(tmp_path)
    reports = []
    result = run_here(specs[0], opts, report=reports.append)
    assert reports == []  # the runner never started: no eval was reported
    assert result["already_done"] and result["algoperf_status"] == status
    assert result["global_step"] == 40 and result["preemption_count"] == 0
    assert _trial_files(tmp_path) == before  # nothing rewritten
    (row,) = [r for r in store.read_trials().to_pylist() if r["trial"] == specs[0].key.trial]
    assert json.loads(row["extra"])["preemption_count"] == 0


def test_resume_plans_only_trials_the_store_has_not_finished(ray_session, tmp_path,
                                                             sgd_submission):
    from algoperf_ray.tune.driver import run_experiment

    specs, store, opts = _setup(tmp_path, sgd_submission, ["completed", "pruned"])
    before = _trial_files(tmp_path)
    summary = run_experiment(specs, dataclasses.replace(opts, experiment="resume2"), verbose=0,
                             resume=True)
    assert summary.skipped == 2
    assert [t["trial_id"] for t in summary.trials] == [specs[2].trial_id]
    for path, mtime in before.items():  # the finished trials' rows were not rewritten
        assert path.stat().st_mtime_ns == mtime
    assert {k.trial for k in store.completed_trials()} >= {0, 2}
