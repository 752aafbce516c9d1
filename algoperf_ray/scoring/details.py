"""The per-workload detail of a score, as the reference scorer reports it.

For each submission and workload: whether the target was reached (the
workload's median time over studies is finite), the time to target (that
median, before the held-out rules), the best validation value of the target
metric over every eval of every trial and the submission time at which it was
first logged, how many trials reached the target, the median step time and
the step hint.

The step time follows the reference: per eval, the increase of
``accumulated_submission_time`` divided by the increase of ``global_step``
since the eval before (the first eval of a trial is measured from 0), and the
median of all those ratios of the workload (NaN ratios left out). Unlike the
reference, the best value ignores NaN evals (the reference's ``argmin`` picks
a NaN eval when there is one).

It needs the eval rows, not just the per-trial summaries, so it is computed
only on request (``algoperf-ray score --details``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from algoperf_ray.benchmark.versions import BenchmarkVersion, get_version
from algoperf_ray.scoring.leaderboard import ScoreResult, median_by_group
from algoperf_ray.scoring.trials import map_chunks, read_eval_chunk
from algoperf_ray.store.summary import float_column, name_codes

if TYPE_CHECKING:
    from algoperf_ray.store import Store



def workload_details(store: Store, result: ScoreResult, workers: int | None = None
                     ) -> pa.Table:
    """One row per (submission, workload) of ``result``, from the eval rows in ``store``."""
    v = get_version(result.version)
    subs = result.scores.column("submission").to_pylist()
    files = store.eval_files(v.name, result.ruleset, subs)
    metrics = sorted({v.target(w).metric_column for w in v.workloads})
    columns = ["framework", "workload", "study", "trial", "eval_index", "global_step",
               "accumulated_submission_time", *metrics]
    rows = map_chunks(lambda group: _eval_values(store, group, columns, v), files, workers, 64)
    return _per_workload(result.trial_times, rows, v)


_ROW_SCHEMA = pa.schema([("submission", pa.string()), ("workload", pa.string()),
                         ("value", pa.float64()), ("time", pa.float64()),
                         ("step_time", pa.float64())])


def _eval_values(store: Store, files: Sequence, columns: list[str], v: BenchmarkVersion
                 ) -> pa.Table:
    """Per eval row: its target-metric value, its time and its step time, in eval order."""
    table = read_eval_chunk(store, files, columns)
    if table is None or not table.num_rows:
        return _ROW_SCHEMA.empty_table()
    table = _in_eval_order(table)
    wl, wls = name_codes(table.column("workload"))
    value = np.full(table.num_rows, np.nan)
    for metric in sorted({v.target(w).metric_column for w in wls}):
        rows = np.isin(wl, [k for k, w in enumerate(wls) if v.target(w).metric_column == metric])
        if metric in table.column_names:
            data, valid = float_column(table.column(metric))
            value[rows] = data[rows] if valid is None else np.where(valid, data, np.nan)[rows]
    time, tvalid = float_column(table.column("accumulated_submission_time"))
    time = time if tvalid is None else np.where(tvalid, time, np.nan)
    step = (table.column("global_step").cast(pa.float64()).fill_null(np.nan).to_numpy()
            if "global_step" in table.column_names else np.full(table.num_rows, np.nan))
    start = np.zeros(table.num_rows, bool)
    start[0] = True
    for codes in _key_codes(table):
        start[1:] |= codes[1:] != codes[:-1]
    dt = np.where(start, time, np.diff(time, prepend=0.0))
    ds = np.where(start, step, np.diff(step, prepend=0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = dt / ds
    return pa.table({"submission": table.column("submission").cast(pa.string()),
                     "workload": table.column("workload").cast(pa.string()),
                     "value": value, "time": time, "step_time": ratio})


def _key_codes(table: pa.Table) -> list[np.ndarray]:
    """Integer codes of the trial key columns (names via Arrow's encoder)."""
    return [name_codes(table.column(c))[0] if c in ("submission", "framework", "workload")
            else table.column(c).to_numpy() for c in ("submission", "framework", "workload",
                                                        "study", "trial")]


def _in_eval_order(table: pa.Table) -> pa.Table:
    """Rows grouped by trial, in eval order (the store's layout already is: no copy then)."""
    keys = [*_key_codes(table), table.column("eval_index").to_numpy()]
    order = np.lexsort(keys[::-1])
    return table if np.array_equal(order, np.arange(len(order))) else table.take(order)


def _per_workload(trials: pa.Table, rows: pa.Table, v: BenchmarkVersion) -> pa.Table:
    """Reduce trial times and eval values to one row per (submission, workload)."""
    n_t = trials.num_rows
    sub, subs = name_codes(pa.chunked_array([trials.column("submission"),
                                             rows.column("submission")]))
    wl, wls = name_codes(pa.chunked_array([trials.column("workload"), rows.column("workload")]))
    g = sub * len(wls) + wl
    t_g, r_g = g[:n_t], g[n_t:]
    groups, t_gid = np.unique(t_g, return_inverse=True)  # every group has trials
    r_gid = np.searchsorted(groups, r_g)
    n = len(groups)
    ttt = trials.column("time_to_target").to_numpy()
    study_time, study_gid = _study_times(trials, t_gid, ttt)
    wl_of = [wls[k] for k in groups % len(wls)]
    best_value, time_to_best = _best_values(rows, r_gid, wl, n_t, wls, n, v)
    steps = rows.column("step_time").to_numpy()
    keep = ~np.isnan(steps)
    median_time = median_by_group(study_gid, study_time, n)
    return pa.table({
        "submission": [subs[k] for k in groups // len(wls)], "workload": wl_of,
        "metric": [v.target(w).metric_column for w in wl_of],
        "target": [v.target(w).validation_target for w in wl_of],
        "target_reached": np.isfinite(median_time), "time_to_target": median_time,
        "studies": np.bincount(study_gid, minlength=n),
        "trials": np.bincount(t_gid, minlength=n),
        "trials_reached": np.bincount(t_gid, weights=np.isfinite(ttt), minlength=n
                                      ).astype(np.int64),
        "best_value": best_value, "time_to_best": time_to_best,
        "step_time": median_by_group(r_gid[keep], steps[keep], n),
        "step_hint": [v.target(w).step_hint for w in wl_of]})


def _study_times(trials: pa.Table, t_gid: np.ndarray, ttt: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Per study: the winning trial's time (inf: none won) and the study's group."""
    study = trials.column("study").to_numpy().astype(np.int64)
    s_max = int(study.max()) + 1 if study.size else 1
    keys, sid = np.unique(t_gid * s_max + study, return_inverse=True)
    times = np.full(len(keys), np.inf)
    won = trials.column("winner").to_numpy(zero_copy_only=False)
    times[sid[won]] = ttt[won]
    return times, keys // s_max


def _best_values(rows: pa.Table, r_gid: np.ndarray, wl: np.ndarray, n_t: int,
                 wls: list[str], n: int, v: BenchmarkVersion) -> tuple[np.ndarray, np.ndarray]:
    """Per group: the best target-metric value (NaN ignored) and the time it was first seen."""
    value = rows.column("value").to_numpy()
    time = rows.column("time").to_numpy()
    minimize = np.array([v.target(w).minimize for w in wls] or [False])[wl[n_t:]]
    signed = np.where(minimize, value, -value)  # smaller is better
    ok = np.flatnonzero(~np.isnan(signed))
    order = ok[np.lexsort((time[ok], signed[ok], r_gid[ok]))]
    ids, first = np.unique(r_gid[order], return_index=True)
    best, at = np.full(n, np.nan), np.full(n, np.nan)
    best[ids], at[ids] = value[order[first]], time[order[first]]
    return best, at
