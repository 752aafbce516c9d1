"""NadamW and a public-style Adam train fastMRI through `algoperf-ray run`.

Synthetic 320x320 batches at the reduced model size (--reduced: 4-8 channels,
1-2 pooling layers, eval splits capped at 8 slices). NadamW uses its real
global batch (32, the reference baseline's) on the base workload and the
model-size variant; the public-style submission batch 8 and a traced
dropout rate. Every variant also trains in ``test_train_step`` (synthetic)
and ``test_real_format`` (tiny real files). About a minute of CPU per run,
so slow.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest

from algoperf_ray.store import Store

HERE = Path(__file__).resolve().parent


def _run(workload: str, args: list[str], cwd: Path, steps: int = 2) -> None:
    proc = subprocess.run(["algoperf-ray", "run", "--workload", workload, *args,
                           "--data", "synthetic", "--reduced", "--max-steps", str(steps),
                           "--store", str(cwd / "store")],
                          capture_output=True, text=True, timeout=1500, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # Random targets: SSIM stays far below the ~0.72 target.
    assert "target NOT reached" in proc.stdout
    assert f"{steps} steps, status completed" in proc.stdout
    evals = Store(str(cwd / "store")).read_evals().to_pylist()
    assert evals and {r["workload"] for r in evals} == {workload}
    assert evals[-1]["global_step"] == steps
    for split in ("train", "validation", "test"):
        for r in evals:
            assert math.isfinite(r[f"{split}/loss"]) and r[f"{split}/loss"] > 0
            assert -1 <= r[f"{split}/ssim"] < 0.5
    assert [t["status"] for t in Store(str(cwd / "store")).read_trials().to_pylist()] == \
        ["completed"]


@pytest.mark.exhaustive  # NadamW already trains these families in the real-format runs
@pytest.mark.slow
@pytest.mark.parametrize(("name", "framework"), [("fastmri", "jax"), ("fastmri", "pytorch"),
                                                 ("fastmri_model_size", "jax"),
                                                 ("fastmri_layernorm", "pytorch")])
def test_nadamw_runs_a_few_synthetic_steps(name: str, framework: str, repo_root: Path,
                                           tmp_path: Path) -> None:
    nadamw = repo_root / "submissions" / "nadamw"
    _run(name, ["--framework", framework, "--submission",
                str(nadamw / framework / "submission.py")], tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("framework", ["jax", "pytorch"])
def test_public_style_adam_runs(framework: str, tmp_path: Path) -> None:
    submission = HERE / "public_style" / framework / "submission.py"
    _run("fastmri", ["--framework", framework, "--submission", str(submission),
                     "--hparams", '{"learning_rate": 0.001, "dropout_rate": 0.1}'], tmp_path)
