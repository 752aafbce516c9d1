"""NadamW and a public-style submission run every ImageNet workload through `algoperf-ray run`.

Synthetic images at the reduced model size (--reduced: 32x32 images, small
models, evals capped at 256 examples) with the baseline's real global
batch: slow (JAX compiles each variant), so marked slow.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest

from algoperf_ray.store import Store

HERE = Path(__file__).resolve().parent
NAMES = ["imagenet_resnet", "imagenet_resnet_silu", "imagenet_resnet_gelu",
         "imagenet_resnet_large_bn_init", "imagenet_vit", "imagenet_vit_glu",
         "imagenet_vit_post_ln", "imagenet_vit_map"]


def _run(workload: str, args: list[str], cwd: Path) -> str:
    proc = subprocess.run(["algoperf-ray", "run", "--workload", workload, "--data", "synthetic",
                           "--reduced", "--max-steps", "2", *args],
                          capture_output=True, text=True, timeout=1200, cwd=cwd)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def _check_store(store: Path, workload: str) -> None:
    evals = Store(str(store)).read_evals().to_pylist()
    assert evals and {r["workload"] for r in evals} == {workload}
    assert evals[-1]["global_step"] == 2
    for split in ("train", "validation", "test"):
        assert all(math.isfinite(r[f"{split}/loss"]) for r in evals)
        assert all(0 <= r[f"{split}/accuracy"] <= 1 for r in evals)
    assert [t["status"] for t in Store(str(store)).read_trials().to_pylist()] == ["completed"]


@pytest.mark.exhaustive  # NadamW already trains these families in the real-format runs
@pytest.mark.slow
@pytest.mark.parametrize("framework", ["jax", "pytorch"])
@pytest.mark.parametrize("workload", NAMES)
def test_nadamw_runs_a_few_synthetic_steps(workload, framework, repo_root, tmp_path):
    store = tmp_path / "store"
    submission = repo_root / "submissions" / "nadamw" / framework / "submission.py"
    out = _run(workload, ["--framework", framework, "--submission", str(submission),
                          "--store", str(store)], tmp_path)
    assert "2 steps, status completed" in out
    _check_store(store, workload)


@pytest.mark.slow
@pytest.mark.parametrize("workload", ["imagenet_resnet", "imagenet_vit"])
def test_public_style_sgd_runs(workload, tmp_path):
    store = tmp_path / "store"
    submission = HERE / "public_style" / "pytorch" / "submission.py"
    _run(workload, ["--framework", "pytorch", "--submission", str(submission),
                    "--hparams", '{"learning_rate": 0.01}', "--store", str(store)], tmp_path)
    _check_store(store, workload)
