"""The runner writes eval rows and trial rows into the real Parquet store."""

from __future__ import annotations

import dataclasses
import json

from runner_fakes import FakeTorchWorkload, ScriptedSubmission

from algoperf_ray.benchmark.identity import TrialSpec
from algoperf_ray.runner import FakeClock, TrialConfig, run_loaded_trial, run_trial
from algoperf_ray.store import Store, TrialKey

KEY = TrialKey(version="0.6", ruleset="external", submission="scripted", framework="pytorch",
               workload="fake", study=1, trial=2)


def test_eval_and_trial_rows_land_in_the_store(tmp_path):
    uri = str(tmp_path / "store")
    clock = FakeClock()
    spec = TrialSpec(KEY, submission_path="scripted.py", seed=7, hparams={"learning_rate": 0.5})
    config = TrialConfig(spec, store_uri=uri, max_global_steps=3, eval_period_sec=0.0)
    result = run_loaded_trial(config, FakeTorchWorkload(clock=clock), ScriptedSubmission(clock),
                              clock=clock)
    store = Store(uri)
    evals = store.read_evals().to_pylist()
    assert [r["global_step"] for r in evals] == [1, 2, 3]
    assert [r["accumulated_submission_time"] for r in evals] == [1.0, 2.0, 3.0]
    assert evals[0]["validation/accuracy"] == result.eval_rows[0]["validation/accuracy"]
    (trial,) = store.read_trials().to_pylist()
    assert trial["status"] == "completed" and trial["seed"] == 7
    assert json.loads(trial["hparams"]) == {"learning_rate": 0.5}
    assert store.completed_trials() == {KEY}


def test_rerun_replaces_rows_instead_of_duplicating(tmp_path):
    uri = str(tmp_path / "store")
    for _ in range(2):
        clock = FakeClock()
        config = TrialConfig(TrialSpec(KEY, "s.py", hparams={"learning_rate": 0.5}),
                             store_uri=uri, max_global_steps=2, eval_period_sec=0.0)
        run_loaded_trial(config, FakeTorchWorkload(clock=clock), ScriptedSubmission(clock),
                         clock=clock)
    assert Store(uri).read_evals().num_rows == 2


def test_a_failing_trial_is_recorded_as_failed(tmp_path):
    uri = str(tmp_path / "store")
    key = dataclasses.replace(KEY, workload="digits")
    config = TrialConfig(TrialSpec(key, str(tmp_path / "missing.py"),
                                   hparams={"learning_rate": 0.5}), store_uri=uri)
    result = run_trial(config)
    assert result.status == "failed" and "missing.py" in result.error
    (trial,) = Store(uri).read_trials().to_pylist()
    assert trial["status"] == "failed" and "missing.py" in trial["error"]
