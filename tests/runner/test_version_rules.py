"""The runner runs a trial under the rules of the version its key names.

The v0.5 rules gave self-tuning submissions 3x the workload budget, v0.6
gives 1.5x; before the trial's version reached the runner, every trial got
1.5x. These tests go through the runner's own budget and eval-period
computation (``build_context``) and through a real timed run.
"""

from __future__ import annotations

import pytest
from runner_fakes import FakeTorchWorkload, ScriptedSubmission, make_meta

from algoperf_ray.benchmark.versions import get_version
from algoperf_ray.runner import FakeClock, TrialConfig, run_loaded_trial
from algoperf_ray.runner.trial import build_context


def _config(workload: str, version: str, ruleset: str, **options) -> TrialConfig:
    hparams = None if ruleset == "self" else {"learning_rate": 0.1}
    return TrialConfig.build(workload=workload, framework="pytorch",
                                   submission_path="scripted.py", ruleset=ruleset, version=version,
                                   hparams=hparams, **options)


@pytest.mark.parametrize("version, factor, budget", [("0.5", 3.0, 18_477), ("0.6", 1.5, 12_011)])
def test_self_tuning_budget_comes_from_the_trials_version(version, factor, budget):
    # The workload object's own numbers are deliberately wrong: the version decides.
    workload = FakeTorchWorkload(make_meta(name="ogbg", max_runtime_sec=1.0,
                                           eval_period_sec=1.0))
    sub = ScriptedSubmission()
    rules = get_version(version)
    for ruleset, expected in (("external", budget), ("self", budget * factor)):
        ctx = build_context(_config("ogbg", version, ruleset), workload, sub)
        assert ctx.budget_sec == expected == rules.max_runtime_sec("ogbg", ruleset)
        assert ctx.eval_period_sec == 240 == rules.eval_period_sec("ogbg")
    assert rules.self_tuning_budget_factor == factor


@pytest.mark.parametrize("version, last_step", [("0.5", 11), ("0.6", 5)])
def test_a_timed_self_tuning_run_stops_at_its_versions_budget(version, last_step):
    """A 4 s override: v0.5 self-tuning trains 12 s of submission time, v0.6 trains 6 s."""
    clock = FakeClock()
    config = _config("fake", version, "self", max_runtime_sec=4.0, eval_period_sec=0.0)
    result = run_loaded_trial(config, FakeTorchWorkload(clock=clock),
                              ScriptedSubmission(clock, step_cost=1.0), clock=clock)
    assert [r["global_step"] for r in result.eval_rows] == list(range(1, last_step + 1))
    assert result.eval_rows[-1]["accumulated_submission_time"] == last_step


def test_time_to_target_uses_the_versions_target_and_the_inclusive_rule():
    """mnist's version target is 0.97; the fake model's own target (0.99) only stops training."""
    clock = FakeClock()
    meta = make_meta(name="mnist", validation_target=0.99, test_target=0.99)
    config = _config("mnist", "0.6", "external", max_global_steps=120, eval_period_sec=0.0,
                     max_runtime_sec=1000.0)  # mnist's own 60 s budget would end it first
    sub = ScriptedSubmission(clock, quality=lambda step: step / 100 + 0.001)
    result = run_loaded_trial(config, FakeTorchWorkload(meta, clock=clock), sub, clock=clock)
    assert result.time_to_target == 97.0  # first eval with accuracy >= 0.97
    assert result.global_step == 99  # stopped by the strict rule: 0.991 > 0.99


def test_an_unknown_version_is_refused_before_anything_runs():
    with pytest.raises(ValueError, match="Valid versions: 0.5, 0.6, 0.6-lm"):
        _config("ogbg", "0.9", "self")
