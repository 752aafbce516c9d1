"""TuneOptions -> the runner's TrialConfig: NaN stop, DDP opt-in, compile, GPUs per process."""

from __future__ import annotations

import pytest

from algoperf_ray.benchmark.identity import TrialKey, TrialSpec
from algoperf_ray.tune.options import TuneOptions, trial_config


def _spec(framework: str) -> TrialSpec:
    key = TrialKey(version="0.6", ruleset="external", submission="s", framework=framework,
                   workload="digits", study=0, trial=0)
    return TrialSpec(key=key, submission_path="s.py", seed=0, hparams={})


def test_single_worker_pytorch_trials_opt_into_ddp():
    plain, ddp = TuneOptions("e", "/tmp/x"), TuneOptions("e", "/tmp/x", ddp=True)
    assert not plain.wants_train("pytorch")  # default: no process group, as before
    assert ddp.wants_train("pytorch") and ddp.num_workers("pytorch") == 1
    assert not ddp.wants_train("jax")  # JAX owns the host from one process anyway
    with pytest.raises(ValueError, match="ddp needs Ray Train"):
        TuneOptions("e", "/tmp/x", ddp=True, use_train="never")


def test_run_options_reach_the_runner_config():
    opts = TuneOptions("e", "/tmp/x", stop_on_nan=3, torch_compile=True, gpus_per_trial=8)
    torch_cfg, jax_cfg = trial_config(_spec("pytorch"), opts), trial_config(_spec("jax"), opts)
    assert torch_cfg.stop_on_nan == 3 and torch_cfg.torch_compile
    # one GPU per DDP worker for PyTorch; a JAX process owns all the trial's GPUs
    assert torch_cfg.gpus == 1 and jax_cfg.gpus == 8
    assert trial_config(_spec("pytorch"), TuneOptions("e", "/tmp/x")).gpus == 0
    with pytest.raises(ValueError, match="stop_on_nan must be >= 1"):
        TuneOptions("e", "/tmp/x", stop_on_nan=0)
