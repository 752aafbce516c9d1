"""A v0.5-style pmap submission runs in legacy mode on 2 fake CPU devices.

Each test starts a fresh Python with ``XLA_FLAGS`` forcing the host device
count (JAX fixes it at start-up), so the pmap really splits over two devices.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

from algoperf_ray.store import Store

HERE = Path(__file__).resolve().parent
FIXTURE = HERE.parent / "submissions" / "fixtures" / "pmap_jax"


@pytest.fixture
def run(host_devices_env):
    """``run(args, devices=2)``: run a command on ``devices`` fake CPU devices; its stdout."""

    def run_(args: list[str], devices: int = 2, timeout: int = 900) -> str:
        env = host_devices_env(devices, JAX_PLATFORMS="cpu")
        env.pop("ALGOPERF_RAY_LEGACY_PMAP", None)  # the default (auto) must pick legacy mode
        proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout,
                              cwd=HERE)
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        return proc.stdout

    return run_


def test_pmap_placement_pieces_on_two_devices(run):
    assert "placement ok" in run([sys.executable, str(HERE / "pmap_worker.py"), "placement"])


def _losses(run, workload: str, devices: int) -> dict:
    out = run([sys.executable, str(HERE / "pmap_worker.py"), "losses", workload], devices)
    return json.loads(out.strip().splitlines()[-1])


def test_two_devices_train_like_one(run):
    """psum'd gradients over 2 devices of 32 rows == one device of 64 rows."""
    one, two = _losses(run, "mnist", 1), _losses(run, "mnist", 2)
    assert len(two["losses"]) == 5 and two["evals"] >= 2
    assert all(math.isfinite(x) for x in two["losses"])
    for a, b in zip(one["losses"], two["losses"], strict=True):
        assert a == pytest.approx(b, rel=1e-4)


def _cli_run(run, workload: str, store: Path, steps: int, *extra: str) -> list[dict]:
    out = run(["algoperf-ray", "run", "--workload", workload, "--framework", "jax",
               "--submission", str(FIXTURE), "--hparams", '{"learning_rate": 0.01}',
               "--data", "synthetic", "--max-steps", str(steps), "--store", str(store),
               "--eval-period", "1000000", *extra])
    assert "status completed" in out, out
    rows = Store(str(store)).read_evals().to_pylist()
    return sorted(rows, key=lambda r: r["global_step"])


def test_pmap_submission_trains_mnist_through_the_cli(tmp_path, run):
    rows = _cli_run(run, "mnist", tmp_path / "store", 8)
    assert [r["global_step"] for r in rows] == [1, 8]
    assert all(math.isfinite(r["validation/loss"]) for r in rows)
    assert rows[-1]["train/loss"] < rows[0]["train/loss"]


@pytest.mark.slow
def test_pmap_submission_runs_criteo1tb_through_the_cli(tmp_path, run):
    rows = _cli_run(run, "criteo1tb", tmp_path / "store", 3, "--reduced")
    assert [r["global_step"] for r in rows] == [1, 3]
    assert all(math.isfinite(r["validation/loss"]) and r["validation/loss"] > 0 for r in rows)
