"""The NadamW baseline reaches the digits target, in both frameworks.

Drives the real runner (``algoperf_ray.runner.run_trial``, wall clock, real
data, the workload's own budget and eval period) with
``submissions/nadamw`` at its self-tuning fixed point, in a fresh process
per framework. ``OMP_NUM_THREADS=1`` because PyTorch's intra-op thread pool
slows a tiny MLP by ~25x when the CPU is oversubscribed (measured: 200 steps
0.6 s vs 17 s on this shared 2-core box); the target and budget are not
loosened for it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from algoperf_ray.benchmark.registry import get_meta

SCRIPT = r"""
import json, sys
from algoperf_ray.runner import TrialConfig, run_trial
fw, store = sys.argv[1], sys.argv[2]
cfg = TrialConfig(workload="digits", framework=fw, ruleset="self", seed=0,
                  submission_path=f"submissions/nadamw/{fw}/submission.py",
                  data_mode="real", store_uri=store)
r = run_trial(cfg)
print("RESULT" + json.dumps({"status": r.status, "error": r.error, "ttt": r.time_to_target,
                             "rows": r.eval_rows, "steps": r.global_step}))
"""


@pytest.mark.parametrize("framework", ["pytorch", "jax"])
def test_nadamw_reaches_digits_target(framework, repo_root, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, framework, str(tmp_path / "store")],
                          cwd=repo_root, env=env, capture_output=True, text=True, timeout=300)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    result = json.loads(lines[-1][len("RESULT"):])
    meta = get_meta("digits")
    assert result["status"] == "completed", result["error"]
    budget = 1.5 * meta.max_runtime_sec  # self-tuning budget
    assert result["ttt"] is not None and result["ttt"] < budget
    hit = [r for r in result["rows"] if r["validation/accuracy"] >= meta.validation_target]
    assert hit and hit[0]["accumulated_submission_time"] == pytest.approx(result["ttt"])
    # The runner stops once both targets are reached; the last row shows it.
    last = result["rows"][-1]
    assert last["validation/accuracy"] >= meta.validation_target
    assert last["test/accuracy"] >= meta.test_target
