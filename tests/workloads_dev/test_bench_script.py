"""scripts/bench_workloads.py measures every registered framework of a workload."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_bench_workloads_reports_both_frameworks(repo_root, tmp_path):
    out = tmp_path / "rows.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "JAX_PLATFORMS": "cpu"}
    proc = subprocess.run(
        [sys.executable, "scripts/bench_workloads.py", "--workloads", "digits", "--reduced",
         "--batch-size", "16", "--steps", "2", "--json", str(out)],
        cwd=repo_root, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rows = json.loads(out.read_text())
    assert [(r["workload"], r["framework"]) for r in rows] == [("digits", "jax"),
                                                               ("digits", "pytorch")]
    for r in rows:
        assert r["batch_size"] == 16 and r["train_step_ms"] > 0 and r["eval_examples_per_s"] > 0


def test_bench_workloads_unknown_workload_fails_listing_valid_names(repo_root):
    proc = subprocess.run([sys.executable, "scripts/bench_workloads.py", "--workloads", "nope"],
                          cwd=repo_root, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Valid workloads:" in proc.stderr and "digits" in proc.stderr
    assert "Traceback" not in proc.stderr
