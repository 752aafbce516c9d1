"""Scoring, stage 1: from the store's eval rows to one summary row per trial.

The store keeps a summary next to every eval file (``store.summary``), so this
stage normally reads one row per trial. The summaries are a cache, and a cache
is never trusted over the data it derives from: an eval file is recomputed
from its eval rows when its summary is missing, older than the file, computed
with other targets than the version's, or unreadable (a truncated file; that
case also warns, naming the file). Only the store's public read API is used.

The result of the stage is :class:`TrialTimes`, a typed record of numpy
arrays (one entry per trial) that the leaderboard stage works on.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from algoperf_ray.benchmark.versions import BenchmarkVersion
from algoperf_ray.scoring.errors import ScoringError, StaleSummaryError, SummaryCacheWarning
from algoperf_ray.store.schema import SUMMARY_SCHEMA
from algoperf_ray.store.summary import SummaryError, name_codes, summarize

if TYPE_CHECKING:
    from algoperf_ray.store import Store

# Submission names stay dictionary-encoded end to end: the codes are what scoring uses.
SUMMARY_WITH_SUBMISSION = pa.schema([("submission", pa.dictionary(pa.int32(), pa.string())),
                                     *SUMMARY_SCHEMA])
# What reading a summary or eval file can raise when the file is damaged.
_READ_ERRORS = (pa.ArrowException, OSError, ValueError, EOFError)


@dataclass(frozen=True)
class TrialTimes:
    """One entry per trial (arrays aligned), names decoded once.

    ``sub`` and ``wl`` index ``submissions`` and ``workloads`` (both in name
    order); ``scored_col`` maps a workload code to its column in the
    version's scored workloads (-1: not scored).
    """

    submissions: tuple[str, ...]
    workloads: tuple[str, ...]
    scored_col: np.ndarray
    sub: np.ndarray
    wl: np.ndarray
    study: np.ndarray
    trial: np.ndarray
    time_to_target: np.ndarray  # inf: never reached
    hit_index: np.ndarray  # eval index of the first hit; inf: never

    @property
    def n_wl(self) -> int:
        return len(self.workloads)

    @property
    def group(self) -> np.ndarray:
        """Per trial: its (submission, workload) group, ``sub * n_wl + wl``."""
        return self.sub * self.n_wl + self.wl

    @property
    def study_max(self) -> int:
        return int(self.study.max()) + 1 if self.study.size else 1

    @property
    def study_key(self) -> np.ndarray:
        """Per trial: its study, as one integer ``group * study_max + study``."""
        return self.group * self.study_max + self.study


def trial_times(summ: pa.Table, v: BenchmarkVersion) -> TrialTimes:
    """The typed record of summary rows, validated against ``v``'s targets."""
    sub, subs = name_codes(summ.column("submission"))
    wl, wls = name_codes(summ.column("workload"))
    for w in wls:
        v.target(w)  # raises, listing the valid names, for unknown workloads
    target = np.array([v.target(w).validation_target for w in wls] or [np.nan])
    stored = summ.column("target").to_numpy(zero_copy_only=False)
    if not np.array_equal(stored, target[wl]):
        raise StaleSummaryError("stored trial summaries use other targets than "
                                f"v{v.name}'s; rescore with use_summaries=False")
    scored = v.scored_workloads
    present = summ.column("metric_present").to_numpy(zero_copy_only=False)
    _check_metric_present(present, sub * len(wls) + wl, subs, wls, v)
    return TrialTimes(
        submissions=tuple(subs), workloads=tuple(wls),
        scored_col=np.array([scored.index(w) if w in scored else -1 for w in wls], np.int64),
        sub=sub.astype(np.int64), wl=wl.astype(np.int64),
        study=summ.column("study").to_numpy().astype(np.int64),
        trial=summ.column("trial").to_numpy().astype(np.int64),
        time_to_target=summ.column("time_to_target").to_numpy(zero_copy_only=False),
        hit_index=summ.column("hit_index").to_numpy(zero_copy_only=False))


def _check_metric_present(present: np.ndarray, sw: np.ndarray, subs: list[str],
                          wls: list[str], version: BenchmarkVersion) -> None:
    """Each (submission, workload) needs at least one value of its target metric."""
    n_wl = len(wls)
    has = np.bincount(sw[present], minlength=len(subs) * n_wl)
    rows = np.bincount(sw, minlength=len(subs) * n_wl)
    bad = np.flatnonzero((rows > 0) & (has == 0))
    if bad.size:
        items = [f"{subs[i // n_wl]}/{wls[i % n_wl]} needs "
                 f"{version.target(wls[i % n_wl]).metric_column!r}" for i in bad[:10]]
        raise ScoringError("target-metric column missing (no values at all) for: "
                           + "; ".join(items) + ". Re-ingest logs that include the "
                           "validation metric, or fix the workload name.")


def collect_summaries(store: Store, files: Sequence, v: BenchmarkVersion, ruleset: str,
                      use_summaries: bool = True, workers: int | None = None) -> pa.Table:
    """Summary rows (with ``submission``) of every eval file in ``files``.

    Stored summaries where usable; the rest recomputed from the eval rows
    (``use_summaries=False`` recomputes every file).
    """
    fresh = [f for f in files if f.summary] if use_summaries else []
    stored, redo = stored_summaries(store, fresh, v, ruleset)
    done = {f.path for f in fresh} - {f.path for f in redo}
    redo = [f for f in files if f.path not in done]
    parts = [stored] if stored is not None and stored.num_rows else []
    if redo:
        parts.append(summarize_eval_files(store, redo, v, workers))
    if not parts:
        return SUMMARY_WITH_SUBMISSION.empty_table()
    return pa.concat_tables([p.cast(SUMMARY_WITH_SUBMISSION) for p in parts])


def stored_summaries(store: Store, files: list, v: BenchmarkVersion, ruleset: str
                     ) -> tuple[pa.Table | None, list]:
    """The usable stored summaries of ``files``, and the files to recompute instead.

    One read of every summary in the common case. Only when that read fails
    (a damaged cache file) or some rows carry other targets, each file is
    read on its own to find which ones to recompute.
    """
    if not files:
        return None, []
    try:
        table = store.read_summaries(v.name, ruleset, files=files)
    except _READ_ERRORS:
        return _stored_summaries_per_file(store, files, v, ruleset)
    if _stale_rows(table, v).any():
        return _stored_summaries_per_file(store, files, v, ruleset)
    return table, []


def _stale_rows(table: pa.Table, v: BenchmarkVersion) -> np.ndarray:
    """Rows whose stored target is not the version's (NaN stored counts as stale)."""
    wl, wls = name_codes(table.column("workload"))
    expected = np.array([v.workloads[w].validation_target if w in v.workloads else np.nan
                         for w in wls] or [np.nan])[wl]
    stored = table.column("target").to_numpy(zero_copy_only=False)
    return ~np.isnan(expected) & (stored != expected)


def _stored_summaries_per_file(store: Store, files: list, v: BenchmarkVersion, ruleset: str
                               ) -> tuple[pa.Table | None, list]:
    good, redo, damaged = [], [], []
    for f in files:
        try:
            table = store.read_summaries(v.name, ruleset, files=[f])
        except _READ_ERRORS as e:
            redo.append(f)
            damaged.append(f"{f.summary} ({type(e).__name__}: {str(e)[:80]})")
            continue
        if table.num_rows and _stale_rows(table, v).any():
            redo.append(f)
        else:
            good.append(table.cast(SUMMARY_WITH_SUBMISSION))
    if damaged:
        warnings.warn(
            f"{len(damaged)} summary cache file(s) could not be read and were rebuilt from "
            f"their eval rows (the scores are exact): {'; '.join(damaged[:5])}"
            + (f"; ... {len(damaged) - 5} more" if len(damaged) > 5 else "")
            + ". The cache is derived data: delete the damaged files, or rewrite the trials, "
            "to stop recomputing them.", SummaryCacheWarning, stacklevel=3)
    return (pa.concat_tables(good) if good else None), redo


def _metric_columns(version: BenchmarkVersion) -> list[str]:
    return sorted({version.target(w).metric_column for w in version.workloads})


def read_eval_chunk(store: Store, files: Sequence, columns: list[str]) -> pa.Table | None:
    """The ``columns`` each eval file of ``files`` has, as one table with ``submission``.

    Files of different workloads hold different metric columns; a column a
    file lacks reads as null (schemas are unified, not required to match).
    """
    tables, codes, index = [], [], {}
    for f in files:
        try:
            t = store.read_eval_file(f.path, columns)
        except (pa.ArrowException, OSError, EOFError) as e:  # the store's errors name the file
            raise ScoringError(f"cannot read eval file {f.path}: {e}. Re-ingest its logs "
                               "(`algoperf-ray ingest`) or rerun the trial.") from e
        if t.num_rows:
            tables.append(t)
            codes.append(np.full(t.num_rows, index.setdefault(f.submission, len(index)),
                                 np.int32))
    if not tables:
        return None
    table = pa.concat_tables(tables, promote_options="default").unify_dictionaries()
    names = pa.array(list(index), pa.string())
    submission = pa.DictionaryArray.from_arrays(pa.array(np.concatenate(codes)), names)
    return table.add_column(0, "submission", submission)


def summarize_eval_files(store: Store, files: Sequence, version: BenchmarkVersion,
                         workers: int | None = None, chunk: int = 64) -> pa.Table:
    """Per-trial summaries recomputed from the eval rows of ``files`` (``EvalFile``s).

    Trials never span files, so files are read (only the columns scoring
    needs, names dictionary-encoded) and reduced in chunks of ``chunk`` files
    on ``workers`` threads (pyarrow and numpy release the GIL): no table of
    all eval rows is ever built, and the Python cost is per chunk, not per trial.
    """
    columns = ["framework", "workload", "study", "trial", "accumulated_submission_time",
               *_metric_columns(version)]

    def one(group: Sequence) -> pa.Table:
        table = read_eval_chunk(store, group, columns)
        if table is None:
            return SUMMARY_WITH_SUBMISSION.empty_table()
        try:
            out = summarize(table, version)
        except SummaryError:  # rows not in the store's layout: order them by eval_index
            out = summarize(read_eval_chunk(store, group, [*columns, "eval_index"]), version)
        return out.cast(SUMMARY_WITH_SUBMISSION)

    return map_chunks(one, files, workers, chunk)


def map_chunks(fn, files: Sequence, workers: int | None, chunk: int) -> pa.Table:
    """``fn`` over chunks of ``files`` on a few threads, results concatenated in order."""
    n = max(1, min(workers or os.cpu_count() or 1, 8, len(files)))
    size = max(1, min(chunk, -(-len(files) // (4 * n))))
    groups = [files[k:k + size] for k in range(0, len(files), size)]
    if n == 1:
        parts = [fn(g) for g in groups]
    else:
        with ThreadPoolExecutor(max_workers=n) as pool:
            parts = list(pool.map(fn, groups))
    return pa.concat_tables(parts)
