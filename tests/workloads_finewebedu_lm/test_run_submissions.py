"""NadamW and a public-style AdamW train finewebedu_lm through `algoperf-ray run`.

Synthetic learnable token streams at the reduced model size (--reduced:
32-token windows, eval splits capped at 16 sequences) with the submissions'
real global batch (64 sequences, the reference baselines' size). About 50 s
of CPU per run (imports and compilation), so slow.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest

from algoperf_ray.store import Store

HERE = Path(__file__).resolve().parent


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    proc = subprocess.run(["algoperf-ray", "run", "--workload", "finewebedu_lm", *args,
                           "--data", "synthetic", "--reduced", "--max-steps", "3"],
                          capture_output=True, text=True, timeout=900, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "target NOT reached" in proc.stdout and "3 steps, status completed" in proc.stdout
    return proc


def _check_store(store: Path) -> None:
    evals = Store(str(store)).read_evals().to_pylist()
    assert evals and {r["workload"] for r in evals} == {"finewebedu_lm"}
    assert evals[-1]["global_step"] == 3
    for split in ("train", "validation"):
        for r in evals:
            assert math.isfinite(r[f"{split}/loss"]) and r[f"{split}/loss"] > 0
            assert r[f"{split}/ppl"] == pytest.approx(math.exp(r[f"{split}/loss"]))
            assert r[f"{split}/ppl"] > 22.2995  # far from the target after 3 steps
    assert [t["status"] for t in Store(str(store)).read_trials().to_pylist()] == ["completed"]


@pytest.mark.exhaustive  # NadamW already trains these families in the real-format runs
@pytest.mark.slow
@pytest.mark.parametrize("framework", ["jax", "pytorch"])
def test_nadamw_runs_a_few_synthetic_steps(framework, repo_root, tmp_path):
    nadamw = repo_root / "submissions" / "nadamw"
    _run(["--framework", framework, "--submission", str(nadamw / framework / "submission.py"),
          "--search-space", str(nadamw / "tuning_search_space.json"), "--trial", "1",
          "--store", str(tmp_path / "store")], tmp_path)
    _check_store(tmp_path / "store")


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["jax", "pytorch"])
def test_public_style_adamw_lowers_perplexity(framework, tmp_path):
    submission = HERE / "public_style" / framework / "submission.py"
    _run(["--framework", framework, "--submission", str(submission),
          "--hparams", '{"learning_rate": 0.003}', "--store", str(tmp_path / "store")],
         tmp_path)
    _check_store(tmp_path / "store")
    evals = Store(str(tmp_path / "store")).read_evals().to_pylist()
    # The synthetic streams are learnable: three AdamW steps already lower perplexity.
    assert evals[-1]["validation/ppl"] < evals[0]["validation/ppl"]
