"""JAX: jit sharded over 2 fake CPU devices, checkpoint and resume (subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def test_jax_two_devices_sharded_with_checkpoint_resume(tmp_path, repo_root, host_devices_env):
    proc = subprocess.run([sys.executable, str(HERE / "jax_worker.py"), str(tmp_path)],
                          capture_output=True, text=True, timeout=300, cwd=repo_root,
                          env=host_devices_env(2))
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["devices"] == 2
    first = out["first"]
    # the global batch is split across both devices; params are replicated on both
    assert first["devices"] == 2 and sum(first["shards"]) == first["global"]
    assert len(first["shards"]) == 2 and first["param_devices"] == 2
    # preempted after the eval of step 6, resumed from its checkpoint at step 6
    assert first["step"] == 6
    assert out["steps"] == list(range(1, 13))
    assert out["preemptions"] == [0] * 6 + [1] * 6
    assert out["scores"] == sorted(out["scores"])
    assert out["files"] == ["checkpoint.pkl"]
    # restored params and optimizer state keep training: the loss after resume
    # continues down from the checkpoint instead of jumping back to step 1's
    loss = out["loss"]
    assert loss[6] < loss[5] < loss[0] and loss[-1] < loss[5]
