"""AlgoPerf scoring, vectorized over whole columns of the results store.

From eval rows to the leaderboard, following the published scoring code:

1. per trial, time-to-target = ``score`` at the first eval whose validation
   metric meets the target (NaN never meets it);
2. per study, the winning trial (``rule``, below); per workload, the median
   over studies (inf takes part);
3. v0.5 held-out variants: a variant is inf where its base is inf/NaN; any
   time over 4x the best submission's becomes inf; a base is inf where its
   variant is inf/NaN; only base workloads enter the profile;
4. ratios to the best submission per workload; rho(tau) on
   ``linspace(1, 4, 100)``; score = trapezoid integral / 3.

``rule="published"`` picks, per study, the trial that reaches the target at
the earliest *eval index* (the reference code's behaviour, which produced the
published leaderboards); ``rule="documented"`` picks the trial with the
smallest time-to-target (the written rules). Ties go to the lowest trial number.

The work splits in two, both vectorized (no Python loop per trial or row):
:func:`summarize` reduces eval rows to one row per trial (run boundaries and
``searchsorted`` for the first hit, or dense group ids and ``np.minimum.at``
for rows in any order); :func:`score_summaries` does studies, medians (sorted
groups), the held-out rules and the profile (broadcasting over tau). The store
keeps each trial's summary, so :func:`score_store` normally reads one row per
trial; it recomputes from the eval rows only the files whose summary is
missing, older than the file, or computed with other targets.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from algoperf_ray.benchmark.versions import BenchmarkVersion, check_ruleset, get_version
from algoperf_ray.store.io import with_submission
from algoperf_ray.store.schema import SUMMARY_SCHEMA

if TYPE_CHECKING:
    from algoperf_ray.store import Store

RULES = ("published", "documented")
TAUS = np.linspace(1.0, 4.0, 100)


class ScoringError(ValueError):
    """The rows cannot be scored as asked; the message says what and how to fix it."""


class ScoringWarning(UserWarning):
    """A count of workloads, studies or trials differs from the rules (non-strict)."""


@dataclass
class ScoreResult:
    """Everything the scorer computed, as Arrow tables (``.to_pandas()`` works)."""

    version: str
    ruleset: str
    rule: str
    scores: pa.Table  # submission, score, one column per base workload (seconds, inf=missed)
    profiles: pa.Table  # submission, tau, rho
    workload_times: pa.Table  # submission, workload, time (median over studies, raw)
    trial_times: pa.Table  # per trial: time_to_target, hit_index
    warnings: list[str] = field(default_factory=list)

    def score_of(self, submission: str) -> float:
        subs = self.scores.column("submission").to_pylist()
        return float(self.scores.column("score")[subs.index(submission)].as_py())


def _metric_columns(version: BenchmarkVersion) -> list[str]:
    return sorted({version.target(w).metric_column for w in version.workloads})


def score_store(store: Store, ruleset: str, version: str, submissions: Sequence[str] | None = None,
                strict: bool = False, rule: str = "published", use_summaries: bool = True,
                workers: int | None = None) -> ScoreResult:
    """Score (version, ruleset) of ``store``.

    Reads the per-trial summaries the store keeps (one row per trial). Eval
    files whose summary is missing, older than the file, or computed with other
    targets are recomputed from their eval rows, and only those
    (``use_summaries=False`` recomputes every file), in ``workers`` threads.
    """
    v = get_version(version)
    check_ruleset(ruleset)
    files = store.eval_files(v.name, ruleset, submissions)
    if not files:
        present = ", ".join(f"v{a}/{b}" for a, b in store.versions()) or "nothing"
        raise ScoringError(
            f"no eval rows for version {v.name}, ruleset {ruleset!r}"
            + (f", submissions {', '.join(submissions)}" if submissions else "")
            + f" in store {store.uri!r} (it holds: {present}). Ingest logs with "
            f"`algoperf-ray ingest LOGS --store ... --ruleset {ruleset} --version {v.name}` "
            f"or run trials first.")
    fresh = [f for f in files if f.summary] if use_summaries else []
    summ, stale_fresh = _fresh_summaries(store, fresh, v)
    stale = [f for f in files if not (use_summaries and f.summary)] + stale_fresh
    parts = [summ] if summ is not None and summ.num_rows else []
    if stale:
        parts.append(summarize_eval_files(store, stale, v, workers))
    table = pa.concat_tables([p.cast(parts[0].schema) for p in parts]) if len(parts) > 1 \
        else parts[0]
    _check_submissions(table, submissions, v, ruleset)
    return score_summaries(table, v, ruleset, strict=strict, rule=rule)


def _fresh_summaries(store: Store, files: list, v: BenchmarkVersion
                     ) -> tuple[pa.Table | None, list]:
    """Stored summaries of ``files``, less the files computed with other targets (returned)."""
    if not files:
        return None, []
    parts = [(f.submission, store._read_file(f.summary)) for f in files]
    table = with_submission(parts)
    file_code = np.repeat(np.arange(len(parts)), [t.num_rows for _, t in parts])
    wl, wls = _codes(table.column("workload"))
    expected = np.array([v.workloads[w].validation_target if w in v.workloads else np.nan
                         for w in wls] or [np.nan])[wl]
    stored = table.column("target").to_numpy(zero_copy_only=False)
    stale_rows = ~np.isnan(expected) & (stored != expected)  # NaN stored: stale too
    bad = np.unique(file_code[stale_rows])
    if bad.size:
        table = table.filter(pa.array(~np.isin(file_code, bad)))
    return table, [files[k] for k in bad]


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

    def reduce(group: Sequence, cols: list[str]) -> pa.Table:
        parts = [(f.submission, store.read_eval_file(f.path, cols)) for f in group]
        table = with_submission([(s, t) for s, t in parts if t.num_rows]) if any(
            t.num_rows for _, t in parts) else None
        if table is None:
            return SUMMARY_SCHEMA.empty_table().add_column(0, "submission", pa.array([], "str"))
        return summarize(table.unify_dictionaries(), version)

    def one(group: Sequence) -> pa.Table:
        try:
            out = reduce(group, columns)
        except ScoringError:  # rows not in the store's layout: order them by eval_index
            out = reduce(group, [*columns, "eval_index"])
        return out.cast(pa.schema([("submission", pa.string()), *SUMMARY_SCHEMA]))

    n = max(1, min(workers or os.cpu_count() or 1, 8, len(files)))
    size = max(1, min(chunk, -(-len(files) // (4 * n))))
    groups = [files[k:k + size] for k in range(0, len(files), size)]
    if n == 1:
        parts = [one(g) for g in groups]
    else:
        with ThreadPoolExecutor(max_workers=n) as pool:
            parts = list(pool.map(one, groups))
    table = pa.concat_tables(parts)
    return table.set_column(0, "submission", table.column(0).dictionary_encode())


def _check_submissions(table: pa.Table, submissions: Sequence[str] | None,
                       v: BenchmarkVersion, ruleset: str) -> None:
    if not submissions:
        return
    found = set(table.column("submission").unique().to_pylist())
    if missing := [s for s in submissions if s not in found]:
        raise ScoringError(f"submissions not in the store for v{v.name}/{ruleset}: "
                           f"{', '.join(missing)}; found: {', '.join(sorted(found))}")


def _codes(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Integer codes (in name order) and the names, via Arrow's hash encoder."""
    indices, rank, names = _raw_codes(column)
    return rank[indices], names


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


def _first_per_group(group: np.ndarray, *sort_keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group ids and the index of each group's first element under ``sort_keys``."""
    order = np.lexsort((*reversed(sort_keys), group)) if sort_keys else np.argsort(group,
                                                                                   kind="stable")
    ids, first = np.unique(group[order], return_index=True)
    return ids, order[first]


def _target_lookup(version: BenchmarkVersion, wl_names: list[str]) -> tuple[np.ndarray, ...]:
    """Per workload code: target value, minimise flag, index into the scored list."""
    for w in wl_names:
        version.target(w)  # raises, listing the valid names, for unknown workloads
    scored = version.scored_workloads
    target = np.array([version.target(w).validation_target for w in wl_names])
    minimize = np.array([version.target(w).minimize for w in wl_names])
    col = np.array([scored.index(w) if w in scored else -1 for w in wl_names])
    return target, minimize, col


def _float_column(col: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray | None]:
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
        data, valid = _float_column(table.column(metric))
        value, w = data[rows], wl[rows]
        with np.errstate(invalid="ignore"):
            ok = np.where(minimize[w], value <= target[w], value >= target[w])
        if valid is not None:
            ok &= valid[rows]
        reached[rows] = ok
        present[rows] = True if valid is None else valid[rows]
    return reached, present


def _check_metric_present(present: np.ndarray, sw: np.ndarray, n_wl: int, subs: list[str],
                          wls: list[str], version: BenchmarkVersion) -> None:
    """Each (submission, workload) needs at least one value of its target metric."""
    has = np.bincount(sw[present], minlength=len(subs) * n_wl)
    rows = np.bincount(sw, minlength=len(subs) * n_wl)
    bad = np.flatnonzero((rows > 0) & (has == 0))
    if bad.size:
        items = [f"{subs[i // n_wl]}/{wls[i % n_wl]} needs "
                 f"{version.target(wls[i % n_wl]).metric_column!r}" for i in bad[:10]]
        raise ScoringError("target-metric column missing (no values at all) for: "
                           + "; ".join(items) + ". Re-ingest logs that include the "
                           "validation metric, or fix the workload name.")


def _median_sorted(group: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """np.median per group (inf takes part), from one lexsort."""
    order = np.lexsort((values, group))
    g, v = group[order], values[order]
    counts = np.bincount(g, minlength=n_groups)
    starts = np.cumsum(counts) - counts
    out = np.full(n_groups, np.nan)
    ok = counts > 0
    lo = v[(starts + (counts - 1) // 2)[ok]]
    hi = v[(starts + counts // 2)[ok]]
    with np.errstate(invalid="ignore"):
        out[ok] = np.where(lo == hi, lo, (lo + hi) / 2)
    return out


def _apply_held_out_rules(times: np.ndarray, version: BenchmarkVersion) -> np.ndarray:
    """Variant/base coupling and the 4x rule on a [submission, scored workload] matrix."""
    t = times.copy()
    scored = version.scored_workloads
    pairs = [(scored.index(h), scored.index(version.target(h).base))
             for h in version.held_out_workloads]
    for h, b in pairs:  # a variant's time counts only where its base reached the target
        t[:, h] = np.where(np.isfinite(t[:, b]), t[:, h], np.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        best = np.nanmin(t, axis=0)
    with np.errstate(invalid="ignore"):
        t[t > 4 * best] = np.inf
    for h, b in pairs:  # a base counts only where its variant reached the target
        t[:, b] = np.where(np.isfinite(t[:, h]), t[:, b], np.inf)
    return t


def performance_profile(base_times: np.ndarray, n_base: int) -> tuple[np.ndarray, np.ndarray]:
    """rho[submission, tau] and scores from a [submission, base workload] time matrix."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        best = np.nanmin(base_times, axis=0)
        ratios = base_times / best
    rho = (ratios[:, :, None] <= TAUS[None, None, :]).sum(axis=1) / n_base
    scores = np.trapezoid(rho, TAUS, axis=1) / (TAUS[-1] - TAUS[0])
    return rho, scores


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
        raise ScoringError("eval rows without 'eval_index' must hold each trial's rows "
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
        data, valid = _float_column(table.column(metric))
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


def _study_times(tt: dict, rule: str) -> tuple[np.ndarray, np.ndarray]:
    """Per study: its (sub*n_wl + wl) group and the winning trial's time."""
    if rule not in RULES:
        raise ScoringError(f"unknown rule {rule!r}; choose one of: {', '.join(RULES)}")
    first_key = tt["hit_index"] if rule == "published" else tt["ttt"]
    skeys, sid = np.unique(tt["t_study_key"], return_inverse=True)
    ids, winner = _first_per_group(sid, first_key, tt["t_trial"])
    study_time = np.full(len(skeys), np.inf)
    study_time[ids] = tt["ttt"][winner]
    return skeys // tt["study_max"], study_time


def _count_checks(tt: dict, study_sw: np.ndarray, version: BenchmarkVersion, ruleset: str
                  ) -> list[str]:
    """Messages where workload, study or trial counts differ from the rules."""
    subs, wls, n_wl, col = tt["subs"], tt["wls"], tt["n_wl"], tt["scored_col"]
    msgs = []
    n_scored = len(version.scored_workloads)
    scored_sw = np.unique(study_sw[col[study_sw % n_wl] >= 0])
    per_sub = np.bincount(scored_sw // n_wl, minlength=len(subs))
    for s in np.flatnonzero(per_sub != n_scored):
        msgs.append(f"{subs[s]}: expected {n_scored} workloads, found {per_sub[s]}")
    want_studies = version.studies[ruleset]
    studies = np.bincount(study_sw, minlength=len(subs) * n_wl)
    for g in np.flatnonzero((studies != want_studies) & (studies > 0)
                            & (col[np.arange(len(studies)) % n_wl] >= 0)):
        msgs.append(f"{subs[g // n_wl]}/{wls[g % n_wl]}: expected {want_studies} studies, "
                    f"found {studies[g]}")
    if ruleset == "external":
        want = version.trials[ruleset]
        skeys, per_study = np.unique(tt["t_study_key"], return_counts=True)
        for k in np.flatnonzero(per_study != want):
            g, st = divmod(int(skeys[k]), int(tt["study_max"]))
            if col[g % n_wl] >= 0:
                msgs.append(f"{subs[g // n_wl]}/{wls[g % n_wl]} study {st}: expected {want} "
                            f"trials, found {per_study[k]}")
    return msgs


class StaleSummaryError(ScoringError):
    """Stored per-trial summaries were computed with other targets than this version's."""


def _trials_from_summaries(summ: pa.Table, v: BenchmarkVersion) -> dict:
    """Trial-level arrays and group codes from summary rows (validated against ``v``)."""
    sub, subs = _codes(summ.column("submission"))
    wl, wls = _codes(summ.column("workload"))
    target, _, scored_col = _target_lookup(v, wls)
    stored = summ.column("target").to_numpy(zero_copy_only=False)
    if not np.array_equal(stored, target[wl]):
        raise StaleSummaryError("stored trial summaries use other targets")
    n_wl = len(wls)
    sw = sub * n_wl + wl
    present = summ.column("metric_present").to_numpy(zero_copy_only=False)
    _check_metric_present(present, sw, n_wl, subs, wls, v)
    study = summ.column("study").to_numpy().astype(np.int64)
    s_max = int(study.max()) + 1
    return dict(subs=subs, wls=wls, scored_col=scored_col, n_wl=n_wl, study_max=s_max,
                t_trial=summ.column("trial").to_numpy().astype(np.int64),
                t_study_key=sw * s_max + study,
                ttt=summ.column("time_to_target").to_numpy(zero_copy_only=False),
                hit_index=summ.column("hit_index").to_numpy(zero_copy_only=False))


def score_table(table: pa.Table, version: BenchmarkVersion | str, ruleset: str,
                strict: bool = False, rule: str = "published") -> ScoreResult:
    """Score eval rows (columns as read by :func:`score_store`) of one version/ruleset."""
    v = get_version(version) if isinstance(version, str) else version
    return score_summaries(summarize(table, v), v, ruleset, strict=strict, rule=rule)


def score_summaries(summ: pa.Table, version: BenchmarkVersion | str, ruleset: str,
                    strict: bool = False, rule: str = "published") -> ScoreResult:
    """Score per-trial summaries (see :func:`summarize`): studies, medians, rules, profile."""
    v = get_version(version) if isinstance(version, str) else version
    tt = _trials_from_summaries(summ, v)
    study_sw, study_time = _study_times(tt, rule)
    msgs = _count_checks(tt, study_sw, v, ruleset)
    if msgs and strict:
        raise ScoringError(f"--strict: the logs do not meet the v{v.name} {ruleset} rules "
                           f"({len(msgs)} problems): " + "; ".join(msgs[:10])
                           + ". Run the missing workloads/studies/trials, or score without "
                           "--strict.")
    for m in msgs[:20]:
        warnings.warn(m, ScoringWarning, stacklevel=2)
    subs, n_wl = tt["subs"], tt["n_wl"]
    medians = _median_sorted(study_sw, study_time, len(subs) * n_wl)
    scored = v.scored_workloads
    times = np.full((len(subs), len(scored)), np.nan)
    groups = np.flatnonzero(~np.isnan(medians))
    keep = groups[tt["scored_col"][groups % n_wl] >= 0]
    times[keep // n_wl, tt["scored_col"][keep % n_wl]] = medians[keep]
    ruled = _apply_held_out_rules(times, v)
    base = ruled[:, : len(v.base_workloads)]
    rho, scores = performance_profile(base, len(v.base_workloads))
    return ScoreResult(
        version=v.name, ruleset=ruleset, rule=rule,
        scores=_scores_table(subs, scores, base, v.base_workloads),
        profiles=pa.table({"submission": np.repeat(subs, len(TAUS)),
                           "tau": np.tile(TAUS, len(subs)), "rho": rho.ravel()}),
        workload_times=pa.table({"submission": np.repeat(subs, len(scored)),
                                 "workload": np.tile(np.array(scored), len(subs)),
                                 "time": times.ravel()}),
        trial_times=_trial_table(tt), warnings=msgs)


def _scores_table(subs: list[str], scores: np.ndarray, base: np.ndarray,
                  names: Sequence[str]) -> pa.Table:
    order = np.lexsort((np.array(subs), -scores))
    cols = {"submission": np.array(subs)[order], "score": scores[order]}
    # A workload a submission never ran counts as missed (inf), as in the profile.
    filled = np.where(np.isnan(base), np.inf, base)[order]
    cols.update({w: filled[:, j] for j, w in enumerate(names)})
    return pa.table(cols)


def _trial_table(tt: dict) -> pa.Table:
    g = tt["t_study_key"] // tt["study_max"]
    return pa.table({
        "submission": np.array(tt["subs"])[g // tt["n_wl"]],
        "workload": np.array(tt["wls"])[g % tt["n_wl"]],
        "study": (tt["t_study_key"] % tt["study_max"]).astype(np.int32),
        "trial": tt["t_trial"].astype(np.int32),
        "time_to_target": tt["ttt"], "hit_index": tt["hit_index"]})


def speedups(result: ScoreResult, reference: str) -> pa.Table:
    """Geometric-mean speedup of every submission over ``reference``.

    Uses each base workload's median time (before the held-out rules), a miss
    counting as the workload's budget (x the self-tuning factor) + 1 s. A
    value below 1 means faster than the reference.
    """
    from scipy.stats import gmean

    v = get_version(result.version)
    wt = result.workload_times.to_pandas()
    wt = wt[wt["workload"].isin(v.base_workloads)]
    table = wt.pivot(index="submission", columns="workload", values="time")
    if reference not in table.index:
        raise ScoringError(f"reference submission {reference!r} is not among the scored "
                           f"submissions: {', '.join(table.index)}")
    budgets = np.array([v.max_runtime_sec(w, result.ruleset) + 1 for w in table.columns])
    filled = np.where(np.isfinite(table.to_numpy()), table.to_numpy(), budgets)
    ratio = filled / filled[list(table.index).index(reference)]
    return pa.table({"submission": list(table.index), "speedup": gmean(ratio, axis=1)})
