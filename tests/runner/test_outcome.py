"""How a trial ends: NaN divergence, --stop-on-nan, interrupted rows, the device check."""

from __future__ import annotations

import logging
import math
import time

import pytest
from runner_fakes import FakeTorchWorkload, ScriptedSubmission

from algoperf_ray.benchmark.identity import TrialSpec
from algoperf_ray.runner import FakeClock, TrialConfig, run_loaded_trial, run_trial
from algoperf_ray.runner.backend import DeviceError, get_backend
from algoperf_ray.runner.outcome import divergence, is_diverged
from algoperf_ray.store import Store, TrialKey

KEY = TrialKey(version="0.6", ruleset="external", submission="scripted", framework="pytorch",
               workload="fake", study=0, trial=0)
NAN = float("nan")


def _run(tmp_path, quality, **options):
    clock = FakeClock()
    config = TrialConfig(TrialSpec(KEY, "s.py", hparams={"learning_rate": 0.1}),
                         store_uri=str(tmp_path / "store"), eval_period_sec=0.0,
                         max_global_steps=options.pop("max_global_steps", 8), **options)
    sub = ScriptedSubmission(clock, quality=quality)
    return run_loaded_trial(config, FakeTorchWorkload(clock=clock), sub, clock=clock)


def _trial_row(tmp_path):
    (row,) = Store(str(tmp_path / "store")).read_trials().to_pylist()
    return row


def test_nan_at_the_last_eval_is_a_divergence_trained_to_its_budget(tmp_path):
    # target metric turns NaN from step 3 on; the default trains on to step 8
    result = _run(tmp_path, lambda step: NAN if step >= 3 else 0.5)
    assert result.global_step == 8 and len(result.eval_rows) == 8
    assert result.status == "failed" and is_diverged(result.error)
    assert "validation/accuracy" in result.error and "step 8" in result.error
    assert math.isinf(result.time_to_target)
    row = _trial_row(tmp_path)
    assert row["status"] == "failed" and row["error"].startswith("diverged:")
    # the eval rows and the trial row were published together
    assert Store(str(tmp_path / "store")).read_evals().num_rows == 8


def test_a_trial_that_recovers_from_a_nan_is_not_diverged(tmp_path):
    result = _run(tmp_path, lambda step: NAN if step == 2 else 1.0)
    assert result.status == "completed" and result.error is None
    assert _trial_row(tmp_path)["status"] == "completed"


def test_stop_on_nan_ends_the_trial_after_n_consecutive_nan_evals(tmp_path):
    result = _run(tmp_path, lambda step: NAN if step >= 3 else 0.5, stop_on_nan=2,
                  max_global_steps=20)
    assert result.global_step == 4  # NaN evals at steps 3 and 4
    assert result.status == "failed" and is_diverged(result.error)


def test_stop_on_nan_counts_only_consecutive_nans(tmp_path):
    result = _run(tmp_path, lambda step: NAN if step % 2 else 0.5, stop_on_nan=2)
    assert result.global_step == 8 and result.status == "completed"


def test_stop_on_nan_must_be_positive():
    with pytest.raises(ValueError, match="stop_on_nan must be >= 1"):
        TrialConfig(TrialSpec(KEY, "s.py"), stop_on_nan=0)


def test_divergence_looks_at_losses_and_the_target_column_only():
    assert divergence([{"train/loss": NAN, "global_step": 5}], None).startswith("diverged:")
    assert divergence([{"validation/other": NAN}], "validation/accuracy") is None
    assert divergence([], "validation/accuracy") is None


def test_a_row_left_running_by_a_killed_run_is_reported_as_interrupted(tmp_path, caplog):
    store = Store(str(tmp_path / "store"))
    store.write_trial(KEY, hparams={"learning_rate": 0.1}, status="running", seed=0)
    with caplog.at_level(logging.WARNING, logger="algoperf_ray.runner.trial"):
        result = _run(tmp_path, lambda step: 0.5, max_global_steps=2)
    assert result.status == "completed"
    assert any("interrupted" in r.getMessage() and KEY.trial_id in r.getMessage()
               for r in caplog.records)
    assert _trial_row(tmp_path)["status"] == "completed"


def test_a_fresh_trial_is_not_reported_as_interrupted(tmp_path, caplog):
    with caplog.at_level(logging.WARNING, logger="algoperf_ray.runner.trial"):
        _run(tmp_path, lambda step: 0.5, max_global_steps=2)
    assert not any("interrupted" in r.getMessage() for r in caplog.records)


def test_a_trial_given_a_gpu_on_a_cpu_only_torch_fails_at_once(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    uri = str(tmp_path / "store")
    key = TrialKey(version="0.6", ruleset="external", submission="nadamw",
                   framework="pytorch", workload="digits", study=0, trial=0)
    start = time.monotonic()
    result = run_trial(TrialConfig(TrialSpec(key, "submissions/nadamw", hparams={}),
                                   store_uri=uri, gpus=1))
    assert time.monotonic() - start < 20
    assert result.status == "failed" and "DeviceError" in result.error
    assert "1 GPU(s) but pytorch sees 0" in result.error
    assert "CUDA build of torch" in result.error
    assert "constraints/reference-frameworks.txt" in result.error
    assert Store(uri).read_trials().to_pylist()[0]["status"] == "failed"


def test_jax_backend_refuses_gpus_it_cannot_see():
    jax = pytest.importorskip("jax")
    if jax.default_backend() == "gpu":
        pytest.skip("this machine has a GPU")
    backend = get_backend("jax")
    backend.check_devices(0)  # no GPUs asked: fine
    with pytest.raises(DeviceError, match=r"jax\[cuda12\]"):
        backend.check_devices(2)
