"""Checkpoint at eval and resume: state, time, RNG and eval history carry over."""

from __future__ import annotations

import os

import pytest
import torch
from runner_fakes import FakeTorchWorkload, ScriptedSubmission, bare

from algoperf_ray.runner import FakeClock, RunnerHooks, TrialConfig, run_loaded_trial
from algoperf_ray.runner.checkpoint import CheckpointMismatchError


class Preempted(Exception):
    pass


class PreemptAtStep(RunnerHooks):
    """Dies right after the checkpoint of the eval at ``step`` was written."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_eval(self, row, checkpoint_dir):
        if row["global_step"] == self.step:
            raise Preempted


def _run(ckpt_dir, hooks=None, seed=0, max_steps=6):
    clock = FakeClock()  # a fresh process: its clock knows nothing of the last run
    config = TrialConfig.build(workload="fake", framework="pytorch", submission_path="scripted.py",
                               seed=seed, max_global_steps=max_steps, eval_period_sec=0.0,
                               checkpoint_dir=ckpt_dir)
    workload = FakeTorchWorkload(clock=clock)
    sub = ScriptedSubmission(clock, batch_from_step=True, quality=lambda s: s / 100)
    return run_loaded_trial(config, workload, sub, hooks=hooks, clock=clock), sub


@pytest.fixture
def uninterrupted():
    result, sub = _run(None)
    return result, sub


def test_resume_restores_params_optimizer_time_rng_and_history(tmp_path, uninterrupted):
    full, full_sub = uninterrupted
    ckpt = str(tmp_path / "ckpt")
    with pytest.raises(Preempted):
        _run(ckpt, hooks=PreemptAtStep(3))
    resumed, sub = _run(ckpt)

    # global step, eval history and preemption count continue
    assert sub.log[0]["step"] == 3 and sub.log[0]["num_evals"] == 3
    assert resumed.global_step == 6 and resumed.preemption_count == 1
    assert [r["global_step"] for r in resumed.eval_rows] == [1, 2, 3, 4, 5, 6]
    assert [r["preemption_count"] for r in resumed.eval_rows] == [0, 0, 0, 1, 1, 1]
    # accumulated submission time continues from the checkpoint
    assert [r["accumulated_submission_time"] for r in resumed.eval_rows] == [1, 2, 3, 4, 5, 6]
    # per-step RNGs are those of the uninterrupted run
    assert [e["rng"] for e in sub.log] == [e["rng"] for e in full_sub.log[3:]]
    # params and SGD momentum restored exactly: the final model is the same
    for a, b in zip(full.eval_rows, resumed.eval_rows, strict=True):
        assert a["validation/loss"] == pytest.approx(b["validation/loss"], rel=1e-6, abs=1e-7)
    assert resumed.eval_rows[-1]["validation/accuracy"] == pytest.approx(0.06)


def test_checkpoint_is_one_file_written_atomically(tmp_path):
    ckpt = tmp_path / "ckpt"
    _run(str(ckpt))
    assert os.listdir(ckpt) == ["checkpoint.pt"]
    payload = torch.load(ckpt / "checkpoint.pt", weights_only=False)
    assert payload["bookkeeping"]["global_step"] == 6
    assert "momentum_buffer" in str(payload["optimizer_state"])


def test_resume_of_a_finished_trial_does_no_more_steps(tmp_path):
    ckpt = str(tmp_path / "ckpt")
    _run(ckpt)
    again, sub = _run(ckpt)
    assert sub.log == [] and again.global_step == 6 and len(again.eval_rows) == 6


def test_checkpoint_of_another_trial_is_refused(tmp_path):
    ckpt = str(tmp_path / "ckpt")
    _run(ckpt, max_steps=2)
    with pytest.raises(CheckpointMismatchError, match="seed"):
        _run(ckpt, seed=1)


def test_restored_model_equals_saved_model(tmp_path):
    ckpt = str(tmp_path / "ckpt")
    with pytest.raises(Preempted):
        _run(ckpt, hooks=PreemptAtStep(2))
    saved = torch.load(os.path.join(ckpt, "checkpoint.pt"), weights_only=False)["params"]
    clock = FakeClock()
    workload = FakeTorchWorkload(clock=clock)
    sub = ScriptedSubmission(clock)
    seen = {}

    class Stop(RunnerHooks):
        def on_eval(self, row, checkpoint_dir):
            raise Preempted

    orig = sub.update_params

    def spy(**kw):
        seen.update({k: v.clone() for k, v in bare(kw["current_param_container"])
                     .state_dict().items()})
        return orig(**kw)

    sub.update_params = spy
    config = TrialConfig.build(workload="fake", framework="pytorch", submission_path="scripted.py",
                               max_global_steps=6, eval_period_sec=0.0, checkpoint_dir=ckpt)
    with pytest.raises(Preempted):
        run_loaded_trial(config, workload, sub, hooks=Stop(), clock=clock)
    assert set(seen) == set(saved)
    for k in saved:
        assert torch.equal(seen[k], saved[k])
