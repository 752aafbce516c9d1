"""One test per AlgoPerf timing rule, with a FakeClock and a scripted submission.

Costs are charged to the clock by the submission (selection, update,
prepare_for_eval), by the workload (init, eval) and by hooks (logging), so
every expected number below follows from the rules alone.
"""

from __future__ import annotations

import math
from types import MappingProxyType

import pytest
from runner_fakes import FakeTorchWorkload, ScriptedSubmission, make_meta

from algoperf_ray.runner import FakeClock, RunnerHooks, TrialConfig, run_loaded_trial
from algoperf_ray.runner.backend_torch import TorchBackend
from algoperf_ray.runner.loop import split_seed
from algoperf_ray.workload import rng as rng_lib


def run(*, meta_changes=None, workload_kw=None, hooks=None, clock=None, **kw):
    clock = clock or FakeClock()
    sub_kw = {k: kw.pop(k) for k in list(kw) if k in (
        "select_cost", "step_cost", "prep_cost", "opt_init_cost", "quality", "complete_at",
        "batch_from_step")}
    config = TrialConfig.build(workload="fake", framework="pytorch", submission_path="scripted.py",
                               hparams=kw.pop("hparams", None), **kw)
    workload = FakeTorchWorkload(make_meta(**(meta_changes or {})), clock=clock,
                                 **(workload_kw or {}))
    sub = ScriptedSubmission(clock, **sub_kw)
    result = run_loaded_trial(config, workload, sub, hooks=hooks, clock=clock)
    return result, sub, clock


def steps(result):
    return [r["global_step"] for r in result.eval_rows]


def scores(result):
    return [r["accumulated_submission_time"] for r in result.eval_rows]


def test_init_is_untimed():
    result, _, _ = run(workload_kw={"init_cost": 500.0}, opt_init_cost=300.0,
                       max_global_steps=4, eval_period_sec=0.0)
    assert scores(result) == [1.0, 2.0, 3.0, 4.0]


def test_data_selection_and_update_are_timed():
    result, _, _ = run(select_cost=0.25, step_cost=1.0, max_global_steps=3, eval_period_sec=0.0)
    assert scores(result) == [1.25, 2.5, 3.75]


def test_first_step_is_evaluated_then_every_eval_period():
    # last_eval_time starts at 0, so step 1 evals; then each eval needs
    # now - last_eval_time >= 10 with 3 s steps; completion (step 14) forces one.
    result, _, _ = run(step_cost=3.0, eval_period_sec=10.0, max_global_steps=14)
    assert steps(result) == [1, 5, 9, 13, 14]


def test_prepare_for_eval_is_timed():
    result, _, _ = run(step_cost=1.0, prep_cost=2.0, max_global_steps=5)
    # evals at step 1 (first) and 5 (complete); each prepare adds 2 s first.
    assert steps(result) == [1, 5]
    assert scores(result) == [3.0, 9.0]


def test_prepare_for_eval_can_use_up_the_budget_and_skip_the_eval():
    result, _, _ = run(step_cost=1.0, prep_cost=100.0, max_runtime_sec=10.0)
    assert result.eval_rows == [] and result.global_step == 1
    assert result.status == "completed" and result.time_to_target == math.inf


def test_eval_is_untimed():
    result, _, _ = run(workload_kw={"eval_cost": 5.0}, max_global_steps=3, eval_period_sec=0.0)
    assert scores(result) == [1.0, 2.0, 3.0]
    # 3 splits (train subset, validation, test) x 1 batch x 5 s per eval.
    assert [r["accumulated_eval_time"] for r in result.eval_rows] == [15.0, 30.0, 45.0]
    assert [r["total_duration"] for r in result.eval_rows] == [16.0, 32.0, 48.0]


def test_logging_time_is_untimed_and_recorded():
    class SlowLogger(RunnerHooks):
        def on_eval(self, row, checkpoint_dir):
            clock.advance(7.0)

    clock = FakeClock()
    result, _, _ = run(clock=clock, hooks=SlowLogger(), max_global_steps=3, eval_period_sec=0.0)
    assert scores(result) == [1.0, 2.0, 3.0]
    # each row carries the logging time accumulated before its own logging window
    assert [r["accumulated_logging_time"] for r in result.eval_rows] == [0.0, 7.0, 14.0]


def test_budget_stops_training_at_an_eval_point():
    result, _, _ = run(step_cost=3.0, eval_period_sec=0.0, max_runtime_sec=10.0)
    assert scores(result) == [3.0, 6.0, 9.0]
    assert result.global_step == 4  # 12 s >= 10 s: no eval, training ends


def test_budget_is_only_checked_when_an_eval_is_due():
    # as the reference: time runs past the budget until the next eval is due
    result, _, _ = run(step_cost=3.0, eval_period_sec=100.0, max_runtime_sec=10.0)
    assert steps(result) == [1]
    assert result.global_step == 35  # step 35 ends 102 s after step 1's eval


def test_self_tuning_budget_is_one_and_a_half_times():
    result, _, _ = run(ruleset="self", step_cost=1.0, eval_period_sec=0.0, max_runtime_sec=10.0)
    assert scores(result)[-1] == 14.0 and result.global_step == 15


def test_max_global_steps_ends_training_with_a_final_eval():
    result, _, _ = run(max_global_steps=7)
    assert result.global_step == 7 and steps(result) == [1, 7]


def test_training_complete_error_ends_training_with_a_final_eval():
    result, sub, _ = run(complete_at=4)
    assert result.global_step == 4 and steps(result) == [1, 4]
    assert len(sub.log) == 4


def test_training_stops_when_both_targets_are_reached():
    # quality = step / 8. The stop rule is strict, as the reference workloads':
    # validation 0.5 is passed at step 5, test 0.8 at step 7 -> stop at 7.
    # Time-to-target uses the scorer's inclusive rule: 0.5 is met at step 4.
    result, _, _ = run(meta_changes={"validation_target": 0.5, "test_target": 0.8},
                       quality=lambda step: step / 8, eval_period_sec=0.0)
    assert result.global_step == 7
    assert result.time_to_target == 4.0 and result.reached_target
    # A test target hit exactly (0.875 at step 7) does not stop training yet.
    result, _, _ = run(meta_changes={"validation_target": 0.5, "test_target": 0.875},
                       quality=lambda step: step / 8, eval_period_sec=0.0)
    assert result.global_step == 8


def test_every_eval_row_has_all_timing_columns():
    result, _, _ = run(max_global_steps=2, eval_period_sec=0.0)
    want = {"global_step", "accumulated_submission_time", "accumulated_eval_time",
            "accumulated_logging_time", "total_duration", "preemption_count",
            "train/accuracy", "validation/accuracy", "test/accuracy", "validation/loss"}
    for row in result.eval_rows:
        assert want <= set(row)
        assert all(isinstance(row[k], float | int) for k in want)


def test_time_is_read_after_a_device_sync():
    events = []

    class RecordingBackend(TorchBackend):
        def sync(self, tree):
            events.append("sync")

    class RecordingClock(FakeClock):
        def now(self):
            events.append("read")
            return super().now()

    clock = RecordingClock()
    config = TrialConfig.build(workload="fake", framework="pytorch", submission_path="s.py",
                               max_global_steps=3, eval_period_sec=0.0)
    run_loaded_trial(config, FakeTorchWorkload(clock=clock), ScriptedSubmission(clock),
                     clock=clock, backend=RecordingBackend())
    reads = [i for i, e in enumerate(events) if e == "read"]
    assert reads and all(events[i - 1] == "sync" for i in reads)


def test_train_state_is_a_read_only_view_with_reference_keys():
    _, sub, _ = run(max_global_steps=2)
    ts = sub.log[1]["train_state"]
    assert isinstance(ts, MappingProxyType)
    assert {"accumulated_submission_time", "accumulated_eval_time", "accumulated_logging_time",
            "last_eval_time", "last_step_end_time", "training_complete",
            "validation_goal_reached", "test_goal_reached", "is_time_remaining"} == set(ts)
    with pytest.raises(TypeError):
        ts["training_complete"] = True  # type: ignore[index]


def test_step_rngs_follow_the_reference_derivation():
    _, sub, _ = run(max_global_steps=3, seed=42)
    *_, loop_rng = split_seed(42)
    for entry in sub.log:
        expected = rng_lib.split(rng_lib.fold_in(loop_rng, entry["step"]), 4)[1]
        assert entry["rng"] == [int(x) for x in expected]


def test_hyperparameters_have_attribute_access():
    pytest.importorskip("algoperf_ray.submission.search_space")
    _, sub, _ = run(max_global_steps=1, hparams={"learning_rate": 0.1, "dropout_rate": 0.0})
    assert sub.log[0]["hparams"].learning_rate == 0.1


def test_hooks_may_be_any_object_with_the_two_methods():
    class Duck:  # no RunnerHooks base, no all_ranks attribute
        def __init__(self):
            self.steps = []

        def on_eval(self, row, checkpoint_dir=None):
            self.steps.append(row["global_step"])

        def should_stop(self, row):
            return False

    hooks = Duck()
    run(hooks=hooks, max_global_steps=3, eval_period_sec=0.0)
    assert hooks.steps == [1, 2, 3]


def test_should_stop_prunes_the_trial():
    class PruneAtSecondEval(RunnerHooks):
        def __init__(self):
            self.rows = []

        def on_eval(self, row, checkpoint_dir):
            self.rows.append(row)

        def should_stop(self, row):
            return len(self.rows) >= 2

    hooks = PruneAtSecondEval()
    result, _, _ = run(hooks=hooks, eval_period_sec=0.0, max_global_steps=10)
    assert result.status == "pruned" and result.global_step == 2
    assert [r["global_step"] for r in hooks.rows] == [1, 2]


def test_a_batch_size_that_does_not_split_over_processes_is_a_clear_error():
    class TwoRanks(TorchBackend):
        def __init__(self):
            super().__init__()
            self.num_batch_shards = 3

    config = TrialConfig.build(workload="fake", framework="pytorch", submission_path="s.py",
                               max_global_steps=1)
    with pytest.raises(ValueError, match=r"global batch size from get_batch_size \(8\).*3"):
        run_loaded_trial(config, FakeTorchWorkload(), ScriptedSubmission(), backend=TwoRanks())


def test_async_backend_records_exact_times_at_every_eval():
    # A device that runs work only when synced (the extreme of JAX's async
    # dispatch): unsynced reads see no time pass, yet every eval row and the
    # budget check must include all queued work, because the runner syncs
    # whenever an eval is due and the per-step sums telescope.
    clock, queued = FakeClock(), [0.0]

    class AsyncBackend(TorchBackend):
        sync_every_step = False

        def sync(self, tree):
            clock.advance(queued[0])
            queued[0] = 0.0

    class AsyncSubmission(ScriptedSubmission):
        def _charge(self, seconds):
            queued[0] += seconds

    config = TrialConfig.build(workload="fake", framework="pytorch", submission_path="s.py",
                               max_global_steps=5, eval_period_sec=10.0)
    result = run_loaded_trial(config, FakeTorchWorkload(clock=clock),
                              AsyncSubmission(clock, step_cost=3.0, prep_cost=1.0),
                              clock=clock, backend=AsyncBackend())
    assert steps(result) == [1, 5]
    assert scores(result) == [4.0, 17.0]  # 1 x 3 + 1, then 5 x 3 + 2 x 1
