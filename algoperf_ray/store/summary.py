"""Per-trial summaries: eval rows reduced to one row per trial.

This is the row-level half of scoring, kept apart so that both the store
(which writes a summary next to every eval file, as a cache) and the scorer
(which recomputes stale or damaged caches) use one implementation without
importing each other. It depends only on numpy, pyarrow and the benchmark
version's targets.

A summary row holds a trial's time-to-target (``accumulated_submission_time``
at the first eval whose target metric meets the version's target; NaN and
null never meet it), that eval's index (inf: never), the number of evals and
whether the target metric had any value at all. The columns are
``algoperf_ray.store.schema.SUMMARY_SCHEMA`` (plus ``submission`` when the
rows carry one).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from algoperf_ray.benchmark.versions import BenchmarkVersion

__all__ = ["SummaryError", "float_column", "name_codes", "summarize"]


class SummaryError(ValueError):
    """Eval rows that cannot be reduced to trial summaries; the message says why."""


def name_codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Integer codes (in name order) and the names, via Arrow's hash encoder."""
    indices, rank, names = _raw_codes(column)
    return rank[indices], names


def summarize(table: pa.Table, version: BenchmarkVersion) -> pa.Table:
    """One row per trial: time-to-target, hit index and eval count (the row-level work).

    Works on eval rows with or without a ``submission`` column. Workloads the
    version does not know get a null target (the scorer reports them). The
    store keeps these rows next to the evals, so scoring reads ~1 row per trial.

    Rows in the store's layout (each trial one contiguous run, in eval order)
    take a fast path: run boundaries, then per metric one comparison over its
    rows and one ``searchsorted`` for the first hits. Other row orders need
    ``eval_index`` and take the general path (dense group ids, ``minimum.at``).
    """
    n = table.num_rows
    raw = {c: _raw_codes(table.column(c)) if c in table.column_names else
           (np.zeros(n, np.int32), np.zeros(1, np.int64), [""])
           for c in ("submission", "framework", "workload")}
    study = table.column("study").to_numpy()
    trial = table.column("trial").to_numpy()
    eval_index = (table.column("eval_index").to_numpy()
                  if "eval_index" in table.column_names else None)
    names = {c: r[2] for c, r in raw.items()}
    wls = names["workload"]
    tgt = [version.workloads.get(w) for w in wls]
    s_max, t_max = (int(study.max()) + 1, int(trial.max()) + 1) if n else (1, 1)
    dims = (len(names["submission"]), len(names["framework"]), len(wls), s_max, t_max)
    starts = np.flatnonzero(_changes([raw[c][0] for c in raw] + [study, trial]))
    run_codes = [raw[c][1][raw[c][0][starts]] for c in raw] + [study[starts], trial[starts]]
    run_keys = _pack(run_codes, dims)
    lengths = np.diff(np.append(starts, n))
    if _is_run_layout(run_keys, starts, lengths, eval_index):
        hit, present = _run_first_hits(table, tgt, run_codes[2], starts, lengths)
        hit_rows = np.where(hit >= 0, starts + hit, -1)
        hit_index = np.where(hit >= 0, hit.astype(np.float64), np.inf)
        order = np.argsort(run_keys, kind="stable")
        found = (run_keys[order], lengths[order], hit_rows[order], hit_index[order],
                 present[order])
    elif eval_index is None:
        raise SummaryError("eval rows without 'eval_index' must hold each trial's rows "
                           "contiguously, in eval order")
    else:
        codes = [raw[c][1][raw[c][0]] for c in raw] + [study, trial]
        reached, present = _reached_and_present(table, tgt, codes[2])
        found = _first_hits_any_order(_pack(codes, dims), eval_index, reached, present)
    return _summary_table(found, table, names, tgt, dims, "submission" in table.column_names)


def _raw_codes(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Arrow's dictionary indices, their rank in name order, and the names in order."""
    encoded = column.unify_dictionaries().combine_chunks() if pa.types.is_dictionary(
        column.type) else column.combine_chunks().dictionary_encode()
    names = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    order = np.argsort(names.astype(str), kind="stable")
    rank = np.empty(len(names), np.int64)
    rank[order] = np.arange(len(names))
    return encoded.indices.to_numpy(zero_copy_only=False), rank, names[order].tolist()


def _changes(columns: list[np.ndarray]) -> np.ndarray:
    """Rows where any of ``columns`` differs from the row before (and row 0)."""
    n = len(columns[0])
    change = np.zeros(n, bool)
    change[:1] = True
    for c in columns:
        change[1:] |= c[1:] != c[:-1]
    return change


def _pack(codes: list[np.ndarray], dims: tuple[int, ...]) -> np.ndarray:
    """One int64 key from (submission, framework, workload, study, trial) codes."""
    key = codes[0].astype(np.int64)
    for c, d in zip(codes[1:], dims[1:], strict=True):
        key = key * d + c
    return key


def _is_run_layout(run_keys: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
                   eval_index: np.ndarray | None) -> bool:
    """Each trial one run (no key repeats), and eval_index 0, 1, ... within it if given."""
    ordered = np.sort(run_keys)
    if np.any(ordered[1:] == ordered[:-1]):
        return False
    return eval_index is None or np.array_equal(
        eval_index, np.arange(len(eval_index)) - np.repeat(starts, lengths))


def _run_first_hits(table: pa.Table, tgt: list, run_wl: np.ndarray, starts: np.ndarray,
                    lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per run: offset of the first eval meeting the target (-1: none), any metric value.

    Runs are grouped by (target metric, direction), so each group is one gather,
    one comparison over its rows and one ``searchsorted``; NaN and null never hit.
    """
    hit, present = np.full(len(starts), -1), np.zeros(len(starts), bool)
    kinds = sorted({(t.metric_column, t.minimize) for t in tgt if t is not None})
    kind = np.array([-1 if t is None else kinds.index((t.metric_column, t.minimize))
                     for t in tgt] or [-1])[run_wl]
    target = np.array([np.nan if t is None else t.validation_target for t in tgt] or [np.nan])
    for j, (metric, minimize) in enumerate(kinds):
        runs = np.flatnonzero(kind == j)
        if metric not in table.column_names or not runs.size:
            continue
        ln = lengths[runs]
        sub_starts = np.cumsum(ln) - ln
        rows = np.repeat(starts[runs] - sub_starts, ln) + np.arange(int(ln.sum()))
        data, valid = float_column(table.column(metric))
        value, goal = data[rows], np.repeat(target[run_wl[runs]], ln)
        with np.errstate(invalid="ignore"):
            ok = value <= goal if minimize else value >= goal
        if valid is None:
            present[runs] = True
        else:
            ok &= valid[rows]
            present[runs] = np.logical_or.reduceat(valid[rows], sub_starts)
        hits = np.flatnonzero(ok)
        pos = np.searchsorted(hits, sub_starts)
        cand = hits[np.minimum(pos, hits.size - 1)] if hits.size else sub_starts
        good = (pos < hits.size) & (cand < sub_starts + ln)
        hit[runs[good]] = (cand - sub_starts)[good]
    return hit, present


def float_column(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray | None]:
    """A float64 column's values (zero-copy; garbage where null) and validity (None: all)."""
    arr = col.combine_chunks() if col.num_chunks != 1 else col.chunk(0)
    if arr.type != pa.float64():
        arr = arr.cast(pa.float64())
    if len(arr) == 0 or arr.null_count == len(arr):
        return np.full(len(arr), np.nan), np.zeros(len(arr), bool)
    data = np.frombuffer(arr.buffers()[1], np.float64, len(arr), arr.offset * 8)
    if arr.null_count == 0:
        return data, None
    bits = np.unpackbits(np.frombuffer(arr.buffers()[0], np.uint8), bitorder="little")
    return data, bits[arr.offset:arr.offset + len(arr)].view(bool)


def _reached_and_present(table: pa.Table, tgt: list, wl: np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Per row: did its workload's target metric meet the target, and had it a value.

    Each metric is compared on just the rows of its workloads; nulls and NaN never
    reach a target. ``tgt`` holds each workload code's target (None: unknown).
    """
    n = table.num_rows
    reached, present = np.zeros(n, bool), np.zeros(n, bool)
    metrics = sorted({t.metric_column for t in tgt if t is not None})
    code = np.array([-1 if t is None else metrics.index(t.metric_column) for t in tgt] or [-1],
                    np.int8)
    target = np.array([t.validation_target if t else np.nan for t in tgt] or [np.nan])
    minimize = np.array([bool(t and t.minimize) for t in tgt] or [False])
    row_metric = code[wl]
    for j, metric in enumerate(metrics):  # a handful of metrics, never per trial
        if metric not in table.column_names:
            continue
        rows = np.flatnonzero(row_metric == j)
        data, valid = float_column(table.column(metric))
        value, w = data[rows], wl[rows]
        with np.errstate(invalid="ignore"):
            ok = np.where(minimize[w], value <= target[w], value >= target[w])
        if valid is not None:
            ok &= valid[rows]
        reached[rows] = ok
        present[rows] = True if valid is None else valid[rows]
    return reached, present


def _first_hits_any_order(key: np.ndarray, eval_index: np.ndarray, reached: np.ndarray,
                          present: np.ndarray) -> tuple[np.ndarray, ...]:
    """Sorted trial keys, eval counts, first-hit row (-1: none), its eval index (inf:
    none) and whether any value of the metric exists, for rows in any order."""
    tkeys, tid = _dense_ids(key)
    hits = np.flatnonzero(reached)  # first hit: smallest (eval_index, row) among hits
    packed = np.full(len(tkeys), np.iinfo(np.int64).max)
    np.minimum.at(packed, tid[hits], (eval_index[hits].astype(np.int64) << 32) | hits)
    ids = np.flatnonzero(packed != np.iinfo(np.int64).max)
    hit_rows, hit_index = np.full(len(tkeys), -1), np.full(len(tkeys), np.inf)
    hit_rows[ids] = packed[ids] & 0xFFFFFFFF
    hit_index[ids] = eval_index[hit_rows[ids]]
    return (tkeys, np.bincount(tid, minlength=len(tkeys)), hit_rows, hit_index,
            np.bincount(tid, weights=present, minlength=len(tkeys)) > 0)


def _dense_ids(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Like ``np.unique(key, return_inverse=True)``, in O(n) when keys are compact."""
    size = int(key.max()) + 1 if key.size else 0
    if size > 8 * key.size + 1_000_000:
        uniq, inverse = np.unique(key, return_inverse=True)
        return uniq, inverse
    seen = np.zeros(size, bool)
    seen[key] = True
    remap = np.cumsum(seen) - 1
    return np.flatnonzero(seen), remap[key]


def _summary_table(found: tuple, table: pa.Table, names: dict, tgt: list,
                   dims: tuple[int, ...], with_submission: bool) -> pa.Table:
    """The summary rows from sorted trial keys and their first hits."""
    tkeys, n_evals, hit_rows, hit_index, any_present = found
    ttt = np.full(len(tkeys), np.inf)
    ok = np.flatnonzero(hit_rows >= 0)
    if ok.size:  # gather just the hit rows (null -> NaN)
        times = table.column("accumulated_submission_time").take(pa.array(hit_rows[ok]))
        ttt[ok] = times.cast(pa.float64()).to_numpy(zero_copy_only=False)
    fields, rest = [], tkeys
    for d in reversed(dims[1:]):
        rest, f = np.divmod(rest, d)
        fields.append(f)
    t_trial, t_study, t_wl, t_fw = fields
    target = np.array([np.nan if t is None else t.validation_target for t in tgt] or [np.nan])
    cols = {"submission": np.array(names["submission"], dtype=object)[rest]} \
        if with_submission else {}
    cols.update({
        "framework": np.array(names["framework"], dtype=object)[t_fw],
        "workload": np.array(names["workload"], dtype=object)[t_wl],
        "study": t_study.astype(np.int32), "trial": t_trial.astype(np.int32),
        "n_evals": np.asarray(n_evals).astype(np.int32),
        "target": target[t_wl], "time_to_target": ttt, "hit_index": hit_index,
        "metric_present": any_present,
    })
    return pa.table(cols)
