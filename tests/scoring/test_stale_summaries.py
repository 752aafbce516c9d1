"""A stale or missing per-trial summary never gives a wrong score; the recompute is exact."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pytest

import algoperf_ray.scoring.trials as scoring
from algoperf_ray.benchmark.versions import get_version
from algoperf_ray.scoring.scoring import score_store, summarize
from algoperf_ray.store import Store, TrialKey
from algoperf_ray.store.synthetic import synthetic_evals, write_synthetic_store

pytestmark = pytest.mark.filterwarnings("ignore::algoperf_ray.scoring.scoring.ScoringWarning")


def _key(trial: int, submission: str = "sub") -> TrialKey:
    return TrialKey("0.6", "external", submission, "jax", "fastmri", 0, trial)


def _rows(hit_at: int, n: int = 4) -> list[dict]:
    """fastmri rows (target: validation/ssim >= ~0.72) first reaching it at eval ``hit_at``."""
    return [{"accumulated_submission_time": 10.0 * (i + 1),
             "validation/ssim": 0.9 if i >= hit_at else 0.1} for i in range(n)]


def _ttt(store: Store) -> dict[tuple[str, int], float]:
    tt = score_store(store, "external", "0.6").trial_times.to_pydict()
    return dict(zip(zip(tt["submission"], tt["trial"], strict=True), tt["time_to_target"],
                    strict=True))


def _recomputed(monkeypatch) -> list:
    """Record which eval files the scorer recomputes from their eval rows."""
    seen: list = []
    real = scoring.summarize_eval_files

    def spy(store, files, *args, **kwargs):
        seen.extend(f.path.rsplit("/", 1)[-1] for f in files)
        return real(store, files, *args, **kwargs)

    monkeypatch.setattr(scoring, "summarize_eval_files", spy)
    return seen


def test_crash_between_eval_rename_and_summary_write(tmp_path, monkeypatch):
    store = Store(str(tmp_path))
    store.write_evals(_key(0), _rows(hit_at=3))
    store.write_evals(_key(1), _rows(hit_at=2))
    assert _ttt(store) == {("sub", 0): 40.0, ("sub", 1): 30.0}
    real_write = Store._atomic_write

    def die_on_summary(self, table, path):  # the process dies right after the eval rename
        if path.endswith(".arrow"):
            raise KeyboardInterrupt("killed")
        real_write(self, table, path)

    monkeypatch.setattr(Store, "_atomic_write", die_on_summary)
    with pytest.raises(KeyboardInterrupt):
        store.write_evals(_key(0), _rows(hit_at=0))
    monkeypatch.undo()
    seen = _recomputed(monkeypatch)
    # The new eval rows are in place, their summary is not: the score uses the new rows.
    assert _ttt(store) == {("sub", 0): 10.0, ("sub", 1): 30.0}
    assert seen == ["jax__fastmri__study0__trial0.parquet"]  # only the stale trial
    full = score_store(store, "external", "0.6", use_summaries=False)
    assert full.scores.equals(score_store(store, "external", "0.6").scores)


def test_summary_older_than_its_eval_file_is_not_used(tmp_path, monkeypatch):
    """A writer without the delete-first order (or a hand edit) left an old summary."""
    store = Store(str(tmp_path))
    store.write_evals(_key(0), _rows(hit_at=3))
    (summary,) = (tmp_path / "summaries").rglob("*.arrow")
    old = summary.read_bytes()
    store.write_evals(_key(0), _rows(hit_at=1))
    (evals,) = (tmp_path / "evals").rglob("*.parquet")
    summary.write_bytes(old)  # the old summary is back, one second older than the evals
    stamp = os.stat(evals).st_mtime_ns - 1_000_000_000
    os.utime(summary, ns=(stamp, stamp))
    seen = _recomputed(monkeypatch)
    assert _ttt(store) == {("sub", 0): 20.0}
    assert len(seen) == 1


def test_crash_while_rewriting_a_trial_inside_an_ingest_segment(tmp_path, monkeypatch):
    v = get_version("0.6")
    store = Store(str(tmp_path))
    write_synthetic_store(store, v, "external", 2, evals=10, studies=1, trials=2)
    before = score_store(store, "external", "0.6")
    key = TrialKey("0.6", "external", "sub0000", "jax", "fastmri", 0, 1)
    real_write = Store._atomic_write
    calls = []

    def die_on_second_summary(self, table, path):
        if path.endswith(".arrow"):
            calls.append(path)
            if len(calls) == 2:  # segment rewritten + summarized; the trial's file not
                raise KeyboardInterrupt("killed")
        real_write(self, table, path)

    monkeypatch.setattr(Store, "_atomic_write", die_on_second_summary)
    with pytest.raises(KeyboardInterrupt):
        store.write_evals(key, _rows(hit_at=0))
    monkeypatch.undo()
    after = score_store(store, "external", "0.6").trial_times.to_pandas()
    row = after[(after.submission == "sub0000") & (after.workload == "fastmri")
                & (after.trial == 1)]
    assert row.time_to_target.tolist() == [10.0]  # the new rows, counted once
    assert len(after) == before.trial_times.num_rows
    full = score_store(store, "external", "0.6", use_summaries=False).trial_times.to_pandas()
    cols = ["submission", "workload", "study", "trial"]
    assert full.sort_values(cols).reset_index(drop=True).equals(
        after.sort_values(cols).reset_index(drop=True))


def test_orphan_summary_without_eval_file_is_ignored(tmp_path):
    store = Store(str(tmp_path))
    store.write_evals(_key(0), _rows(hit_at=1))
    store.write_evals(_key(1, submission="gone"), _rows(hit_at=0))
    for path in (tmp_path / "evals").rglob("*.parquet"):
        if "submission=gone" in str(path):
            path.unlink()  # e.g. ingest died between deleting evals and summaries
    assert _ttt(store) == {("sub", 0): 20.0}


def test_run_layout_fast_path_equals_any_order_path():
    v = get_version("0.5")
    table = synthetic_evals(v, 4, studies=2, trials=3, evals=15, nan_fraction=0.1, seed=7)
    fast = summarize(table, v)
    perm = np.random.default_rng(0).permutation(table.num_rows)
    shuffled = summarize(table.take(pa.array(perm)), v)  # rows in any order
    keys = [(c, "ascending") for c in ("submission", "framework", "workload", "study", "trial")]
    assert fast.sort_by(keys).equals(shuffled.sort_by(keys))
    assert np.isfinite(fast.column("time_to_target").to_numpy()).sum() > 10
