"""``run --nproc N``: a torchrun-style local launch of one trial on N processes.

The parent validates the trial once, writes its config to a file and starts
N copies of this module (``python -m algoperf_ray.cli.launch CONFIG``) with
the torchrun variables set. Each child joins the process group and runs the
trial; rank 0 alone prints and writes the store (the runner's rule). When
one rank fails the others would wait forever in a collective, so the parent
ends them. ``--nproc 1`` needs no child: the group of one is made in-process.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile
import time
from typing import Any

# Seconds the other ranks get to finish on their own after one rank failed.
GRACE_SEC = 10.0


def launch(config: Any, nproc: int) -> int:
    """Run ``config`` on ``nproc`` local processes; the exit code (rank 0's first)."""
    from algoperf_ray.runner.distributed import free_port, rank_env

    with tempfile.TemporaryDirectory(prefix="algoperf-launch-") as tmp:
        path = os.path.join(tmp, "config.pkl")
        with open(path, "wb") as f:
            pickle.dump(config, f)
        port = free_port()
        procs = [subprocess.Popen([sys.executable, "-m", "algoperf_ray.cli.launch", path],
                                  env={**os.environ, **rank_env(r, nproc, port)})
                 for r in range(nproc)]
        return _wait(procs)


def _wait(procs: list[subprocess.Popen]) -> int:
    """Wait for every rank; after a failure, end the rest (they may block in a collective)."""
    failed_at = None
    while any(p.poll() is None for p in procs):
        if failed_at is None and any(p.returncode not in (None, 0) for p in procs):
            failed_at = time.monotonic()
        if failed_at is not None and time.monotonic() - failed_at > GRACE_SEC:
            for p in procs:
                if p.poll() is None:
                    p.terminate()
        time.sleep(0.1)
    codes = [p.returncode for p in procs]
    return codes[0] if codes[0] != 0 else max(codes, key=abs)


def _child(path: str) -> int:
    """One rank: join the group, run the trial, leave the group."""
    from algoperf_ray.cli.execute import execute
    from algoperf_ray.runner.distributed import init_from_env, shutdown

    with open(path, "rb") as f:
        config = pickle.load(f)
    init_from_env()
    try:
        return execute(config)
    finally:
        shutdown()


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
