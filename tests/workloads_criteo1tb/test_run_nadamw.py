"""The NadamW baseline trains criteo1tb variants for a few steps through `algoperf-ray run`.

Synthetic data at the reduced size (REDUCED_SIZE_KWARGS via --reduced) but the
baseline's real global batch of 262,144 examples: ~30 s of CPU per run, so slow.
"""

from __future__ import annotations

import math
import subprocess

import pytest

from algoperf_ray.store import Store

CASES = [("criteo1tb", "jax"), ("criteo1tb", "pytorch"), ("criteo1tb_layernorm", "jax"),
         ("criteo1tb_embed_init", "pytorch"), ("criteo1tb_resnet", "jax"),
         ("criteo1tb_resnet", "pytorch")]


@pytest.mark.slow
@pytest.mark.parametrize(("workload", "framework"), CASES)
def test_nadamw_runs_a_few_synthetic_steps(workload, framework, repo_root, tmp_path):
    store = tmp_path / "store"
    submission = repo_root / "submissions" / "nadamw" / framework / "submission.py"
    proc = subprocess.run(
        ["algoperf-ray", "run", "--workload", workload, "--framework", framework,
         "--submission", str(submission), "--data", "synthetic", "--reduced",
         "--max-steps", "3", "--store", str(store)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "3 steps, status completed" in proc.stdout
    evals = Store(str(store)).read_evals().to_pylist()
    assert [r["workload"] for r in evals] == [workload] * len(evals) and evals
    assert evals[-1]["global_step"] == 3
    losses = [r["validation/loss"] for r in evals]
    assert all(math.isfinite(v) and v > 0 for v in losses)
    trials = Store(str(store)).read_trials().to_pylist()
    assert [t["status"] for t in trials] == ["completed"]
