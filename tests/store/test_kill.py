"""SIGKILL a real ``algoperf-ray ingest`` of real v0.5 logs at every step of its commit.

After each kill the store must score exactly as before the ingest or exactly
as after a clean one (never a partial store), and a re-ingest must give the
clean result. The kills are placed by the store's crash hook
(``$ALGOPERF_RAY_STORE_CRASH_AT=N``: SIGKILL at the N-th file operation), so
every step is hit; a few more kills come at random times from outside.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from algoperf_ray.scoring.scoring import score_store
from algoperf_ray.store import Store
from algoperf_ray.store.ingest import ingest

pytestmark = pytest.mark.filterwarnings("ignore::algoperf_ray.scoring.scoring.ScoringWarning")

SUBMISSIONS = ("amos", "baseline")
WORKLOADS = ("ogbg_", "fastmri_")
PARALLEL = 4  # kill runs at once (each is mostly interpreter start-up)


@pytest.fixture(scope="module")
def logs(shared_data, tmp_path_factory) -> Path:
    """Three submissions x three workloads of the real v0.5 external-tuning logs."""
    out = tmp_path_factory.mktemp("v05_subset")

    def wanted(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
        parts = member.name.split("/")
        if len(parts) < 4 or parts[2] != "external_tuning" or parts[3] not in SUBMISSIONS:
            return None
        if len(parts) > 5 and not parts[5].startswith(WORKLOADS):
            return None
        return tarfile.data_filter(member, path)

    with tarfile.open(shared_data / "algoperf_v05_logs.tar.xz") as tar:
        tar.extractall(out, filter=wanted)
    return out / "algoperf_v05" / "logs" / "external_tuning"


def _state(store_dir: Path) -> tuple:
    result = score_store(Store(str(store_dir)), "external", "0.5")
    keys = [(c, "ascending") for c in ("submission", "workload", "study", "trial")]
    return result.scores.to_pylist(), result.trial_times.sort_by(keys).to_pylist()


def _cli(logs: Path, store: Path, **env: str) -> subprocess.Popen:
    cmd = [sys.executable, "-c", "from algoperf_ray.cli import main; main()", "ingest", str(logs), "--store", str(store),
           "--ruleset", "external", "--version", "0.5"]
    return subprocess.Popen(cmd, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


@pytest.fixture(scope="module")
def states(logs, tmp_path_factory) -> tuple[Path, tuple, tuple]:
    """A store before (an older ingest: one study of one submission), both states."""
    tmp = tmp_path_factory.mktemp("kill_states")
    old_logs = tmp / "old_logs"
    for sub in SUBMISSIONS[:1]:
        shutil.copytree(logs / sub / "study_0", old_logs / sub / "study_0")
    before_dir, after_dir = tmp / "before", tmp / "after"
    ingest(str(old_logs), Store(str(before_dir)), "external", "0.5")
    ingest(str(logs), Store(str(after_dir)), "external", "0.5")
    before, after = _state(before_dir), _state(after_dir)
    assert before != after
    return before_dir, before, after


def test_killed_ingest_leaves_the_old_store_or_the_new_one(logs, states, tmp_path):
    before_dir, before, after = states
    outcomes = {"before": 0, "after": 0}
    step, done = 1, False
    while not done:  # crash at steps 1, 2, ... until the ingest runs to its end
        runs = []
        for k in range(step, step + PARALLEL):
            work = tmp_path / f"work{k}"
            shutil.copytree(before_dir, work)
            runs.append((k, work, _cli(logs, work, ALGOPERF_RAY_STORE_CRASH_AT=str(k))))
        for k, work, proc in runs:
            _, err = proc.communicate(timeout=120)
            if proc.returncode == 0:
                done = True
                continue
            assert proc.returncode == -signal.SIGKILL, err.decode()
            state = _state(work)
            assert state in (before, after), f"partial store after a kill at step {k}"
            outcomes["before" if state == before else "after"] += 1
            last_killed = work
        step += PARALLEL
    work = last_killed
    assert outcomes["before"] >= 5 and outcomes["after"] >= 3, outcomes
    # The last killed store (published, not cleaned up): the next writer
    # recovers it, then ingests cleanly.
    assert _cli(logs, work).wait(timeout=120) == 0
    assert _state(work) == after
    assert not list((work / "_staging").glob("*")), "a journal was left behind"
    _check_only_live_files(work)


def test_kill_at_random_times_then_reingest(logs, states, tmp_path):
    before_dir, before, after = states
    store = tmp_path / "store"
    shutil.copytree(before_dir, store)
    rng = random.Random(0)
    for _ in range(3):
        proc = _cli(logs, store)
        time.sleep(rng.uniform(0.3, 2.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        assert _state(store) in (before, after)
    assert _cli(logs, store).wait(timeout=120) == 0
    assert _state(store) == after
    _check_only_live_files(store)


def _check_only_live_files(store_dir: Path) -> None:
    """After a clean write, the folders hold exactly the manifest's files (plus summaries)."""
    manifest = Store(str(store_dir)).snapshot()
    live = {str(store_dir / manifest.physical(p)) for p in manifest.files}
    on_disk = {str(p) for table in ("evals", "trials") for p in (store_dir / table).rglob("*")
               if p.is_file()}
    assert on_disk == live
