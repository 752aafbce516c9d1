"""The NadamW baseline trains every wmt variant a few steps through `algoperf-ray run`.

Synthetic packed sentence pairs at the reduced model size (--reduced: 32-token
rows, eval splits capped at 16 examples) with the baseline's real global batch
(128 rows); evals decode with beam search. ~30 s of CPU per run, so slow.
"""

from __future__ import annotations

import math
import subprocess

import pytest

from algoperf_ray.store import Store

CASES = [(w, f) for w in ("wmt", "wmt_post_ln", "wmt_attention_temp", "wmt_glu_tanh")
         for f in ("jax", "pytorch")]


@pytest.mark.slow
@pytest.mark.parametrize(("workload", "framework"), CASES)
def test_nadamw_runs_a_few_synthetic_steps(workload, framework, repo_root, tmp_path):
    store = tmp_path / "store"
    nadamw = repo_root / "submissions" / "nadamw"
    proc = subprocess.run(
        ["algoperf-ray", "run", "--workload", workload, "--framework", framework,
         "--submission", str(nadamw / framework / "submission.py"),
         "--search-space", str(nadamw / "tuning_search_space.json"), "--trial", "1",
         "--data", "synthetic", "--reduced", "--max-steps", "3", "--store", str(store)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Random token pairs keep an untrained model's BLEU far below the target.
    assert "target NOT reached" in proc.stdout and "3 steps, status completed" in proc.stdout
    evals = Store(str(store)).read_evals().to_pylist()
    assert evals and {r["workload"] for r in evals} == {workload}
    assert evals[-1]["global_step"] == 3
    for split in ("train", "validation", "test"):
        assert all(math.isfinite(r[f"{split}/loss"]) and r[f"{split}/loss"] > 0 for r in evals)
        assert all(0 <= r[f"{split}/bleu"] < 29 for r in evals)
        assert all(0 <= r[f"{split}/accuracy"] <= 1 for r in evals)
    trials = Store(str(store)).read_trials().to_pylist()
    assert [t["status"] for t in trials] == ["completed"]
