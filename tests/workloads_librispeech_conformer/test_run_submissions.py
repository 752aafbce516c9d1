"""NadamW and a public-style AdamW train the speech workloads through `algoperf-ray run`.

Synthetic speech (valid paddings, CTC-feasible targets) at the reduced model
size (--reduced: 2 s of audio, width 32, eval splits capped at 8). NadamW
uses its real global batch (256 utterances). Minutes of CPU per run, so slow.
"""

from __future__ import annotations

import math
import subprocess
from pathlib import Path

import pytest

from algoperf_ray.store import Store

HERE = Path(__file__).resolve().parent
TARGETS = {"librispeech_conformer": 0.085884, "librispeech_deepspeech": 0.119936}


def run_and_check(workload: str, args: list[str], tmp_path: Path, steps: int = 2) -> None:
    store = tmp_path / "store"
    proc = subprocess.run(["algoperf-ray", "run", "--workload", workload, *args,
                           "--data", "synthetic", "--reduced", "--max-steps", str(steps),
                           "--store", str(store)],
                          capture_output=True, text=True, timeout=1800, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "target NOT reached" in proc.stdout
    assert f"{steps} steps, status completed" in proc.stdout
    evals = Store(str(store)).read_evals().to_pylist()
    assert evals and {r["workload"] for r in evals} == {workload}
    assert evals[-1]["global_step"] == steps
    for r in evals:
        for split in ("train", "validation", "test"):
            assert math.isfinite(r[f"{split}/ctc_loss"]) and r[f"{split}/ctc_loss"] > 0
            assert r[f"{split}/wer"] > TARGETS[workload]
    assert [t["status"] for t in Store(str(store)).read_trials().to_pylist()] == ["completed"]


@pytest.mark.exhaustive  # NadamW already trains these families in the real-format runs
@pytest.mark.slow
@pytest.mark.parametrize("framework", ["jax", "pytorch"])
@pytest.mark.parametrize("workload", list(TARGETS))
def test_nadamw_runs_a_few_synthetic_steps(workload, framework, repo_root, tmp_path):
    submission = repo_root / "submissions" / "nadamw" / framework / "submission.py"
    run_and_check(workload, ["--framework", framework, "--submission", str(submission)],
                  tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize(("workload", "framework"), [("librispeech_conformer", "jax"),
                                                     ("librispeech_deepspeech", "pytorch")])
def test_public_style_adamw_runs(workload, framework, tmp_path):
    submission = HERE / "public_style" / framework / "submission.py"
    run_and_check(workload, ["--framework", framework, "--submission", str(submission),
                             "--hparams", '{"learning_rate": 0.001}'], tmp_path)
