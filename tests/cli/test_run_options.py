"""``algoperf-ray run`` options: statuses, --stop-on-nan, --nproc, --gpus, usage errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from algoperf_ray.cli import app
from algoperf_ray.store import Store

TESTS = Path(__file__).resolve().parents[1]
DIST_SUB = TESTS / "runner" / "fixtures" / "dist_torch"
SGD_SUB = TESTS / "ray" / "fixtures" / "sgd_torch"


def _run(*args: str):
    return CliRunner().invoke(app, list(args))


def _text(res) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(res.output.split())


def _digits(sub: Path, store: Path, *extra: str, hparams: str = "{}") -> list[str]:
    return ["run", "--workload", "digits", "--framework", "pytorch", "--submission", str(sub),
            "--hparams", hparams, "--store", str(store), *extra]


@pytest.mark.parametrize("args, message", [
    (["--max-runtime", "-1"], "--max-runtime must be >= 0"),
    (["--eval-period", "-0.5"], "--eval-period must be >= 0"),
    (["--stop-on-nan", "0"], "--stop-on-nan must be >= 1"),
    (["--nproc", "0"], "--nproc must be >= 1"),
    (["--gpus", "-1"], "--gpus must be >= 0"),
])
def test_bad_run_options_are_usage_errors(tmp_path, args, message):
    res = _run(*_digits(SGD_SUB, tmp_path / "store", *args))
    assert res.exit_code == 2, res.output
    assert message in _text(res)
    assert not (tmp_path / "store").exists()  # nothing ran


@pytest.mark.parametrize("args, message", [
    (["--nproc", "2"], "--nproc launches PyTorch processes"),
    (["--torch-compile"], "--torch-compile applies to PyTorch only"),
])
def test_torch_only_options_refuse_jax(tmp_path, repo_root, args, message):
    res = _run("run", "--workload", "digits", "--framework", "jax", "--submission",
               str(repo_root / "submissions" / "nadamw"), "--ruleset", "self",
               "--store", str(tmp_path / "s"), *args)
    assert res.exit_code == 2 and message in _text(res), res.output


@pytest.mark.parametrize("args, message", [
    (["--max-runtime-sec", "-5"], "--max-runtime-sec must be >= 0"),
    (["--eval-period-sec", "-1"], "--eval-period-sec must be >= 0"),
    (["--stop-on-nan", "0"], "--stop-on-nan must be >= 1"),
    (["--ddp", "--use-train", "never"], "--ddp runs trials on Ray Train workers"),
])
def test_bad_tune_options_are_usage_errors(tmp_path, args, message):
    res = _run("tune", "--ruleset", "external", "--store", str(tmp_path / "s"), *args)
    assert res.exit_code == 2 and message in _text(res), res.output


def test_store_that_is_a_file_fails_before_training(tmp_path):
    not_a_folder = tmp_path / "store.txt"
    not_a_folder.write_text("x")
    start = time.monotonic()
    res = _run(*_digits(SGD_SUB, not_a_folder))
    assert res.exit_code == 2, res.output
    assert "is a file, not a folder" in _text(res) and "step" not in res.output
    assert time.monotonic() - start < 30


def test_a_diverged_run_says_so_and_is_recorded_failed(tmp_path):
    store = tmp_path / "store"
    res = _run(*_digits(SGD_SUB, store, "--max-steps", "6", "--eval-period", "0",
                        hparams='{"learning_rate": 0.1, "diverge": 2}'))
    assert res.exit_code == 1, res.output
    last = res.output.strip().splitlines()[-1]
    assert "DIVERGED" in last and "time-to-target inf" in last and "6 steps" in last
    (row,) = Store(str(store)).read_trials().to_pylist()
    assert row["status"] == "failed" and row["error"].startswith("diverged:")


def test_stop_on_nan_ends_a_run_early(tmp_path):
    store = tmp_path / "store"
    res = _run(*_digits(SGD_SUB, store, "--max-steps", "40", "--eval-period", "0",
                        "--stop-on-nan", "2", hparams='{"learning_rate": 0.1, "diverge": 2}'))
    assert res.exit_code == 1, res.output
    evals = Store(str(store)).read_evals().to_pylist()
    assert max(r["global_step"] for r in evals) < 10
    assert "DIVERGED" in res.output


def test_a_row_left_running_is_reported_interrupted_on_the_next_start(tmp_path):
    from algoperf_ray.benchmark.identity import TrialKey

    store = tmp_path / "store"
    key = TrialKey(version="0.6", ruleset="external", submission="sgd_torch",
                   framework="pytorch", workload="digits", study=0, trial=0)
    Store(str(store)).write_trial(key, hparams={}, status="running")  # a killed run's row
    proc = subprocess.run([sys.executable, "-m", "algoperf_ray.cli",
                           *_digits(SGD_SUB, store, "--max-steps", "1")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "interrupted" in proc.stderr and key.trial_id in proc.stderr
    assert Store(str(store)).read_trials().to_pylist()[0]["status"] == "completed"


def test_a_gpu_trial_on_a_cpu_only_torch_fails_at_once_naming_the_fix(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    res = _run(*_digits(SGD_SUB, tmp_path / "store", "--gpus", "1"))
    assert res.exit_code == 1, res.output
    assert "sees 0" in _text(res) and "CUDA build of torch" in _text(res)
    assert "step " not in res.output  # no training happened


def _launch(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DIST_FIXTURE_OUT": str(tmp_path)}
    for var in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK"):
        env.pop(var, None)
    cmd = [sys.executable, "-m", "algoperf_ray.cli",
           *_digits(DIST_SUB, tmp_path / "store", "--max-steps", "4", "--eval-period", "0"),
           *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=400, env=env)


def test_without_nproc_a_distributed_submission_fails_clearly(tmp_path):
    proc = _launch(tmp_path)
    assert proc.returncode == 1
    assert "needs torch.distributed to be initialized" in proc.stdout + proc.stderr


@pytest.mark.slow
# --nproc 1 on a benchmark workload runs in CI through the every-workload fixture
# (tests/submissions/test_every_workload.py), so the digits repeat is exhaustive.
@pytest.mark.parametrize("nproc", [pytest.param(1, marks=pytest.mark.exhaustive), 2])
def test_nproc_gives_the_submission_an_initialized_process_group(tmp_path, nproc):
    proc = _launch(tmp_path, "--nproc", str(nproc))
    assert proc.returncode == 0, proc.stderr[-3000:]
    seen = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(nproc)]
    for s in seen:
        assert s["world_size"] == nproc and s["all_reduce"] == nproc
        assert s["ranks"] == [float(r) for r in range(nproc)] and s["backend"] == "gloo"
    # rank 0 alone prints the summary and writes the store
    assert proc.stdout.count("digits/pytorch dist_torch") == 1
    (trial,) = Store(str(tmp_path / "store")).read_trials().to_pylist()
    assert trial["status"] == "completed"
    evals = Store(str(tmp_path / "store")).read_evals().to_pylist()
    assert [r["global_step"] for r in evals] == [1, 2, 3, 4]
