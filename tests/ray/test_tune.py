"""Ray Tune end to end on the session's local Ray: real runner, real store."""

from __future__ import annotations

import dataclasses
import math

import pytest

from algoperf_ray.tune.plan import make_plan, resolve_submission


def _specs(sub, studies, trials, hparams=None):
    ref = resolve_submission(sub, "pytorch")
    specs = make_plan(ruleset="external", submissions=[ref], workloads=["digits"],
                      framework="pytorch", studies=studies, trials=trials, seed=1)
    return [dataclasses.replace(s, hparams={**s.hparams, **(hparams or {}).get(i, {})})
            for i, s in enumerate(specs)]


def _opts(tmp_path, **kw):
    from algoperf_ray.tune.options import TuneOptions

    base = dict(experiment="t-" + tmp_path.name[-12:], storage_path=str(tmp_path / "ray"),
                store_uri=str(tmp_path / "store"), max_runtime_sec=2.5, eval_period_sec=0.5)
    return TuneOptions(**{**base, **kw})


def _trial_clock():
    """A driver callback recording when Tune started and finished each trial."""
    import time

    from ray import tune

    class Clock(tune.Callback):
        def __init__(self):
            self.started, self.finished = {}, {}

        def on_trial_start(self, iteration, trials, trial, **info):
            self.started[trial.trial_id] = time.time()

        def on_trial_complete(self, iteration, trials, trial, **info):
            self.finished[trial.trial_id] = time.time()

    return Clock()


def _assert_runner_bracketed(clock, trial_result):
    """The runner's loop start and return lie between Tune's start and finish."""
    (start,), (end,) = clock.started.values(), clock.finished.values()
    assert start < trial_result["loop_start_time"] < trial_result["runner_end_time"] < end


def test_failed_and_diverging_trials_never_stop_the_study(ray_session, tmp_path, sgd_submission):
    from algoperf_ray.store import Store
    from algoperf_ray.tune.driver import run_experiment

    # Study 0: trial 0 healthy, trial 1 turns NaN at step 3; study 1: trial 0 raises.
    specs = _specs(sgd_submission, 2, 2, {1: {"diverge": 3}, 2: {"raise_at": 2}})
    summary = run_experiment(specs, _opts(tmp_path), verbose=0)
    by_id = {t["trial_id"]: t for t in summary.trials}
    for s in specs[:2]:  # the runner returned (diverged or not): its timestamps are there
        assert by_id[s.trial_id]["loop_start_time"] < by_id[s.trial_id]["runner_end_time"]
    status = [by_id[s.trial_id]["algoperf_status"] for s in specs]
    assert status == ["completed", "failed", "failed", "completed"]
    assert "NaN" in by_id[specs[1].trial_id]["error"]
    assert "raised at step 2" in by_id[specs[2].trial_id]["error"]
    assert math.isinf(by_id[specs[1].trial_id]["time_to_target"])
    assert math.isfinite(by_id[specs[0].trial_id]["time_to_target"])  # digits is easy
    store = Store(str(tmp_path / "store"))
    trials = {(r["study"], r["trial"]): r for r in store.read_trials().to_pylist()}
    assert trials[(0, 1)]["status"] == "failed" and trials[(1, 0)]["status"] == "failed"
    assert trials[(0, 0)]["status"] == "completed"
    assert '"learning_rate"' in trials[(0, 0)]["hparams"]  # hparams recorded
    evals = store.read_evals().to_pylist()
    healthy = [r for r in evals if (r["study"], r["trial"]) == (0, 0)]
    steps = [r["global_step"] for r in healthy]
    assert len(healthy) >= 2 and steps == sorted(set(steps))  # no duplicated rows


def test_prune_dominated_stops_slow_siblings_and_keeps_the_winner(ray_session, tmp_path,
                                                                  sgd_submission):
    from algoperf_ray.tune.driver import run_experiment

    # One study, 2 trials; trial 1 sleeps per step so it is slower to the target.
    specs = _specs(sgd_submission, 1, 2, {1: {"sleep": 0.05, "learning_rate": 0.001}})
    summary = run_experiment(specs, _opts(tmp_path, prune_dominated=True, max_runtime_sec=6,
                                          max_concurrent=2), verbose=0)
    by_id = {t["trial_id"]: t for t in summary.trials}
    winner, slow = by_id[specs[0].trial_id], by_id[specs[1].trial_id]
    assert winner["algoperf_status"] == "completed" and math.isfinite(winner["time_to_target"])
    assert slow["algoperf_status"] == "pruned"
    assert slow["pruned_at"] > winner["time_to_target"]
    assert summary.saved_budget_sec > 0


@pytest.mark.parametrize("n", [1])
def test_already_completed_trials_are_skipped(ray_session, tmp_path, sgd_submission, n):
    from algoperf_ray.tune.driver import run_experiment

    specs = _specs(sgd_submission, 1, n)
    opts = _opts(tmp_path, max_runtime_sec=1.0)
    clock = _trial_clock()
    first = run_experiment(specs, opts, verbose=0, callbacks=[clock])
    assert first.count("completed") == n
    _assert_runner_bracketed(clock, first.trials[0])
    again = run_experiment(specs, dataclasses.replace(opts, experiment=opts.experiment + "b"),
                           verbose=0)
    assert again.trials == [] and again.skipped == n


def _get_json(info, path):
    import json
    import urllib.request

    req = urllib.request.Request(info["dashboard_url"] + path)
    if info["token"]:
        req.add_header("Authorization", f"Bearer {info['token']}")
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read())


def test_ddp_trial_on_ray_train_is_live_in_the_dashboard(ray_session, tmp_path, sgd_submission):
    """PyTorch DDP over 2 gloo workers via TorchTrainer; the run shows in the dashboard."""
    import urllib.error

    from algoperf_ray.store import Store
    from algoperf_ray.tune.driver import run_experiment

    specs = _specs(sgd_submission, 1, 1)
    opts = _opts(tmp_path, use_train="auto", workers_per_trial=2, max_runtime_sec=2.0)
    assert opts.wants_train("pytorch") and opts.num_workers("pytorch") == 2
    clock = _trial_clock()
    summary = run_experiment(specs, opts, verbose=0, callbacks=[clock])
    (trial,) = summary.trials
    assert trial["algoperf_status"] == "completed", trial
    _assert_runner_bracketed(clock, trial)  # the worker's result reaches the Tune trial
    rows = Store(opts.store_uri).read_evals().to_pylist()
    assert len(rows) >= 2 and len({r["global_step"] for r in rows}) == len(rows)  # rank 0 only
    # The Train run is named from the experiment and the AlgoPerf trial id.
    runs = _get_json(ray_session, "/api/train/v2/runs/v1")
    names = [r.get("name") for r in runs.get("train_runs", runs.get("runs", []))]
    assert f"{opts.experiment}-{specs[0].trial_id}" in names, names
    # Without the token the dashboard refuses the call.
    with pytest.raises(urllib.error.HTTPError):
        _get_json({**ray_session, "token": None}, "/api/train/v2/runs/v1")
