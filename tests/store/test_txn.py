"""Trial writes are transactions: killed at any step, never duplicate rows or a half trial.

Writers are forked processes that SIGKILL themselves at the N-th file
operation (the store's crash hook), so no cleanup code runs: as after a real
``kill -9``. Forking keeps each kill in milliseconds.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal

import pytest

from algoperf_ray.store import Store, TrialKey, txn
from algoperf_ray.store.synthetic import write_synthetic_store

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


def _key(trial: int) -> TrialKey:
    return TrialKey("0.6", "external", "sub0000", "jax", "fastmri", 0, trial)


def _rows(n: int) -> list[dict]:
    return [{"accumulated_submission_time": 7.0 * (i + 1), "validation/ssim": 0.9}
            for i in range(n)]


def _run_killed(step: int, fn) -> int:
    """Run ``fn`` in a forked child that SIGKILLs itself at crash point ``step``."""
    def child() -> None:
        os.environ[txn._CRASH_ENV] = str(step)
        txn._crash_count = 0
        fn()

    proc = mp.get_context("fork").Process(target=child)
    proc.start()
    proc.join(60)
    return proc.exitcode


def _trial_rows(store: Store) -> dict[int, list]:
    t = store.read_evals(columns=["workload", "study", "trial", "accumulated_submission_time"],
                         filters={"workload": "fastmri", "study": 0}).to_pydict()
    out: dict[int, list] = {}
    for trial, time in zip(t["trial"], t["accumulated_submission_time"], strict=True):
        out.setdefault(trial, []).append(time)
    return {k: sorted(v) for k, v in out.items()}


def _trial_status(store: Store, trial: int) -> str | None:
    rows = store.read_trials(filters={"trial": trial, "workload": "fastmri", "study": 0})
    return rows.column("status")[0].as_py() if rows.num_rows else None


def test_kill_while_replacing_a_trial_inside_a_segment(tmp_path):
    """The reproduction: a kill during a per-trial rewrite left the trial's rows twice."""
    base = tmp_path / "base"
    from algoperf_ray.benchmark.versions import get_version

    write_synthetic_store(Store(str(base)), get_version("0.6"), "external", 1, evals=6,
                          studies=1, trials=3, workloads=("fastmri", "ogbg"))
    before = _trial_rows(Store(str(base)))
    after = {**before, 1: [7.0, 14.0]}
    seen = set()
    for step in range(1, 40):
        work = tmp_path / f"w{step}"
        os.system(f"cp -r {base} {work}")  # noqa: S605 - a plain copy of a test folder
        store = Store(str(work))
        code = _run_killed(step, lambda s=store: s.publish_trial(
            _key(1), _rows(2), trial={"hparams": {"lr": 1}, "status": "completed"}))
        state = _trial_rows(store)
        status = _trial_status(store, 1)
        if state == before:
            assert status == "completed" and code == -signal.SIGKILL  # the segment's old row
            seen.add("before")
        else:
            assert state == after, f"step {step}: {state[1]}"
            assert status == "completed"
            seen.add("after")
        store.write_evals(_key(2), _rows(1))  # the next writer recovers and writes
        assert _trial_rows(store)[1] == state[1] and _trial_rows(store)[2] == [7.0]
        assert not list((work / "_staging").glob("*"))
        if code == 0:
            break
    assert seen == {"before", "after"}


def test_evals_and_trial_row_are_published_together(tmp_path):
    store = Store(str(tmp_path))
    store.publish_trial(_key(0), _rows(1), trial={"hparams": None, "status": "running"})
    for step in range(1, 20):
        code = _run_killed(step, lambda: store.publish_trial(
            _key(0), _rows(3), trial={"hparams": None, "status": "completed"}))
        rows, status = _trial_rows(store)[0], _trial_status(store, 0)
        assert (len(rows), status) in ((1, "running"), (3, "completed")), step
        if code == 0:
            assert (len(rows), status) == (3, "completed")
            break
        store.publish_trial(_key(0), _rows(1), trial={"hparams": None, "status": "running"})


def _hammer(root: str, worker: int) -> None:
    store = Store(root)
    for t in range(4):
        if worker == 0:
            from algoperf_ray.benchmark.versions import get_version

            write_synthetic_store(store, get_version("0.6"), "external", 1, evals=3, studies=1,
                                  trials=2, workloads=("fastmri",))
        else:
            store.publish_trial(_key(10 * worker + t), _rows(2),
                                trial={"hparams": None, "status": "completed"})
        store.read_evals()
        store.eval_files("0.6", "external")


def test_concurrent_ingest_trial_writes_and_reads(tmp_path):
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_hammer, args=(str(tmp_path), w)) for w in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    rows = _trial_rows(Store(str(tmp_path)))
    # The last segment write replaced the partition; every trial's rows appear once.
    assert all(len(v) in (2, 3) for v in rows.values())
