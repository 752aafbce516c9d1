"""Damaged caches, mixed metric columns, interrupted trials and missing workloads."""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from typer.testing import CliRunner

import algoperf_ray.store.summary as summary_module
from algoperf_ray.benchmark.versions import get_version
from algoperf_ray.cli import app
from algoperf_ray.scoring.errors import ScoringError, ScoringWarning, SummaryCacheWarning
from algoperf_ray.scoring.leaderboard import score_table
from algoperf_ray.scoring.scoring import score_store
from algoperf_ray.store import Store, TrialKey
from algoperf_ray.store.synthetic import synthetic_evals, write_synthetic_store

pytestmark = pytest.mark.filterwarnings("ignore::algoperf_ray.scoring.errors.ScoringWarning")

# Per workload: its target metric and a value that reaches the v0.6 target.
HITS = {"fastmri": ("validation/ssim", 0.9), "wmt": ("validation/bleu", 35.0),
        "criteo1tb": ("validation/loss", 0.1)}


def _key(workload: str, trial: int = 0, submission: str = "sub") -> TrialKey:
    return TrialKey("0.6", "external", submission, "jax", workload, 0, trial)


def _rows(workload: str, hit_at: int, n: int = 4) -> list[dict]:
    metric, good = HITS[workload]
    bad = 0.5 if metric == "validation/loss" else 0.01
    return [{"accumulated_submission_time": 10.0 * (i + 1), "global_step": 100 * (i + 1),
             metric: good if i >= hit_at else bad} for i in range(n)]


def _ttt(result) -> dict:
    tt = result.trial_times.to_pydict()
    return dict(zip(zip(tt["workload"], tt["trial"], strict=True), tt["time_to_target"],
                    strict=True))


def _damaged_store(tmp_path) -> tuple[Store, Path]:
    store = Store(str(tmp_path))
    store.write_evals(_key("fastmri", 0), _rows("fastmri", 2))
    store.write_evals(_key("fastmri", 1), _rows("fastmri", 1))
    (damaged,) = [p for p in (tmp_path / "summaries").rglob("*.arrow") if "trial1" in p.name]
    damaged.write_bytes(damaged.read_bytes()[:40])  # a write cut short
    return store, damaged


def test_truncated_summary_cache_is_rebuilt_with_a_warning(tmp_path):
    store, damaged = _damaged_store(tmp_path)
    with pytest.warns(UserWarning) as caught:
        result = score_store(store, "external", "0.6")
    said = [str(w.message) for w in caught if damaged.name in str(w.message)]
    assert said and "rebuilt from" in said[0], [str(w.message) for w in caught]
    assert _ttt(result) == {("fastmri", 0): 30.0, ("fastmri", 1): 20.0}
    full = score_store(store, "external", "0.6", use_summaries=False)
    assert full.scores.equals(result.scores)


def test_cli_says_which_cache_file_was_rebuilt(tmp_path):
    store, damaged = _damaged_store(tmp_path)
    res = CliRunner().invoke(app, ["score", "--store", store.uri, "--ruleset", "external",
                                   "--version", "0.6", "--out", str(tmp_path / "o.parquet")])
    assert res.exit_code == 0, res.output
    assert damaged.name in res.output and "rebuilt" in res.output


def test_scorer_rebuilds_when_the_store_read_raises_on_a_damaged_cache(tmp_path, monkeypatch):
    """Whatever the store does with a damaged cache file, a raise is caught per file."""
    store, damaged = _damaged_store(tmp_path)
    real = Store.read_summaries

    def strict_read(self, version, ruleset, submissions=None, files=None):
        if any(f.summary and f.summary.endswith(damaged.name) for f in files or []):
            raise pa.ArrowInvalid("Not an Arrow file")
        return real(self, version, ruleset, submissions, files)

    monkeypatch.setattr(Store, "read_summaries", strict_read)
    with pytest.warns(SummaryCacheWarning, match=r"1 summary cache file\(s\).*rebuilt from "
                                                 r"their eval rows.*trial1\.arrow"):
        result = score_store(store, "external", "0.6")
    assert _ttt(result) == {("fastmri", 0): 30.0, ("fastmri", 1): 20.0}


def test_stale_summaries_of_workloads_with_different_metric_columns(tmp_path):
    """Recomputing many files at once: chunks mix files lacking each other's metric."""
    store = Store(str(tmp_path))
    for wl in ("fastmri", "wmt", "criteo1tb"):
        for trial in range(4):
            store.write_evals(_key(wl, trial), _rows(wl, trial))
    for path in (tmp_path / "summaries").rglob("*.arrow"):
        path.unlink()  # every summary stale
    # One thread: 12 files go in chunks of 3, so a chunk holds two workloads.
    result = score_store(store, "external", "0.6", workers=1)
    assert _ttt(result) == {(wl, t): 10.0 * (t + 1) for wl in ("fastmri", "wmt", "criteo1tb")
                            for t in range(4)}
    assert score_store(store, "external", "0.6", use_summaries=False).scores.equals(
        result.scores)


def test_recompute_on_a_store_with_ingested_and_per_trial_files(tmp_path):
    v = get_version("0.6")
    store = Store(str(tmp_path))
    write_synthetic_store(store, v, "external", 1, evals=5, studies=1, trials=1)
    # Per-trial files (as `run` writes) beside the ingested segment of that submission;
    # with one thread, 8 files go in chunks of 2: the last chunk mixes the two kinds.
    for trial in range(1, 8):
        store.write_evals(_key("fastmri", trial, submission="sub0000"), _rows("fastmri", 1))
    stored = score_store(store, "external", "0.6")
    full = score_store(store, "external", "0.6", use_summaries=False, workers=1)
    assert full.scores.equals(stored.scores)
    assert _ttt(full)[("fastmri", 7)] == 20.0
    assert full.trial_times.num_rows == len(v.base_workloads) + 7


def test_interrupted_trials_are_reported_not_silently_counted(tmp_path):
    store = Store(str(tmp_path))
    for trial in range(3):
        store.write_evals(_key("fastmri", trial), _rows("fastmri", trial))
        store.write_trial(_key("fastmri", trial), hparams={"lr": 0.1},
                          status="running" if trial else "completed")
    with pytest.warns(ScoringWarning, match=r"2 interrupted trial\(s\).*"
                                            r"sub-jax-fastmri-s0-t1, sub-jax-fastmri-s0-t2"):
        result = score_store(store, "external", "0.6")
    assert result.interrupted == ["sub-jax-fastmri-s0-t1", "sub-jax-fastmri-s0-t2"]
    with pytest.raises(ScoringError, match=r"--strict.*2 interrupted trial"):
        score_store(store, "external", "0.6", strict=True)
    res = CliRunner().invoke(app, ["score", "--store", str(tmp_path), "--ruleset", "external",
                                   "--version", "0.6", "--out", str(tmp_path / "o.parquet")])
    assert res.exit_code == 0, res.output
    assert "2 interrupted trial(s)" in res.output and "sub-jax-fastmri-s0-t2" in res.output


def test_interrupted_check_reads_trial_rows_only_where_runs_wrote(tmp_path, monkeypatch):
    """Ingested segments hold completed trials only; a run beside them is checked."""
    v = get_version("0.6")
    store = Store(str(tmp_path))
    write_synthetic_store(store, v, "external", 2, evals=3, studies=1, trials=1)
    reads: list = []
    real = Store.read_trials

    def spy(self, filters=None):
        reads.append(filters)
        return real(self, filters)

    monkeypatch.setattr(Store, "read_trials", spy)
    assert score_store(store, "external", "0.6").interrupted == []
    assert reads == []  # nothing but ingested segments: no trial rows read
    key = _key("fastmri", 9, submission="sub0001")
    store.write_evals(key, _rows("fastmri", 1))
    store.write_trial(key, hparams=None, status="running")
    assert score_store(store, "external", "0.6").interrupted == ["sub0001-jax-fastmri-s0-t9"]
    assert [f["submission"] for f in reads] == [["sub0001"]]


def test_no_interrupted_warning_for_finished_trials(tmp_path):
    store = Store(str(tmp_path))
    store.write_evals(_key("fastmri"), _rows("fastmri", 0))
    store.write_trial(_key("fastmri"), hparams=None, status="completed")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScoringWarning)
        with pytest.raises(ScoringWarning, match="expected 8 workloads"):  # only the counts
            score_store(store, "external", "0.6")
    assert score_store(store, "external", "0.6").interrupted == []


def test_missing_base_workload_warning_follows_the_version():
    v06 = get_version("0.6")
    table = synthetic_evals(v06, 2, studies=3, trials=5, evals=5, workloads=v06.base_workloads)
    lm = get_version("0.6-lm")
    assert len(lm.base_workloads) == 9
    with pytest.warns(ScoringWarning, match=r"sub0000: expected 9 workloads, found 8 \(missing "
                                            r"base workload\(s\) of v0.6-lm: finewebedu_lm"):
        result = score_table(table, lm, "external")
    assert len(result.warnings) == 2
    assert np.isinf(result.scores.column("finewebedu_lm").to_numpy()).all()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ScoringWarning)
        score_table(table, v06, "external")  # complete under 0.6: no warning


def test_summary_module_imports_neither_the_scorer_nor_the_store_io():
    tree = ast.parse(Path(summary_module.__file__).read_text())
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {a.name for node in ast.walk(tree) if isinstance(node, ast.Import)
                 for a in node.names}
    assert not {m for m in imported if m and ("scoring" in m or m.endswith("store.io"))}


def test_trial_times_is_a_typed_frozen_record():
    import dataclasses

    from algoperf_ray.scoring.trials import TrialTimes, trial_times

    v = get_version("0.6")
    summ = summary_module.summarize(synthetic_evals(v, 2, evals=4, studies=2, trials=2), v)
    tt = trial_times(summ, v)
    assert isinstance(tt, TrialTimes) and tt.submissions == ("sub0000", "sub0001")
    assert tt.time_to_target.shape == tt.trial.shape == (summ.num_rows,)
    with pytest.raises(dataclasses.FrozenInstanceError):
        tt.trial = np.zeros(1)  # type: ignore[misc]
    assert pa.types.is_floating(summ.schema.field("time_to_target").type)


def test_store_writes_summaries_without_loading_the_scorer(tmp_path):
    """No store -> scoring import: the store summarizes with ``store.summary`` alone."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from algoperf_ray.store import Store, TrialKey\n"
        f"s = Store({str(tmp_path)!r})\n"
        "s.write_evals(TrialKey('0.6', 'external', 'sub', 'jax', 'fastmri', 0, 0),\n"
        "              [{'accumulated_submission_time': 1.0, 'validation/ssim': 0.9}])\n"
        "print(sorted(m for m in sys.modules if m.startswith('algoperf_ray.scoring')))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
    assert list(tmp_path.rglob("*.arrow"))  # the summary was written, by store.summary
