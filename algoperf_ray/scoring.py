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
:func:`summarize` reduces eval rows to one row per trial (dense group ids and
``np.minimum.at`` for the first hit); :func:`score_summaries` does studies,
medians (sorted groups), the held-out rules and the profile (broadcasting over
tau). The store keeps each trial's summary, so :func:`score_store` normally
reads one row per trial and only falls back to the eval rows when the stored
summaries were computed with other targets.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

from algoperf_ray.versions import BenchmarkVersion, check_ruleset, get_version

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
                strict: bool = False, rule: str = "published",
                use_summaries: bool = True) -> ScoreResult:
    """Score (version, ruleset) of ``store``.

    Reads the per-trial summaries the store keeps (one row per trial); when
    they are missing or were computed with other targets, recomputes them
    from the eval rows (``use_summaries=False`` forces that path).
    """
    v = get_version(version)
    check_ruleset(ruleset)
    filters: dict = {"version": v.name, "ruleset": ruleset}
    if submissions:
        filters["submission"] = list(submissions)
    summ = store.read_summaries(v.name, ruleset, submissions) if use_summaries else None
    if summ is not None and summ.num_rows:
        _check_submissions(summ, submissions, v, ruleset)
        try:
            return score_summaries(summ, v, ruleset, strict=strict, rule=rule)
        except StaleSummaryError:
            pass
    columns = ["submission", "framework", "workload", "study", "trial", "eval_index",
               "accumulated_submission_time", *_metric_columns(v)]
    table = store.read_evals(columns=columns, filters=filters, dictionary=True)
    if table.num_rows == 0:
        present = ", ".join(f"v{a}/{b}" for a, b in store.versions()) or "nothing"
        raise ScoringError(
            f"no eval rows for version {v.name}, ruleset {ruleset!r}"
            + (f", submissions {', '.join(submissions)}" if submissions else "")
            + f" in store {store.uri!r} (it holds: {present}). Ingest logs with "
            f"`algoperf-ray ingest LOGS --store ... --ruleset {ruleset} --version {v.name}` "
            f"or run trials first.")
    _check_submissions(table, submissions, v, ruleset)
    return score_table(table, v, ruleset, strict=strict, rule=rule)


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
    encoded = column.unify_dictionaries().combine_chunks() if pa.types.is_dictionary(
        column.type) else column.combine_chunks().dictionary_encode()
    names = np.asarray(encoded.dictionary.to_pylist(), dtype=object)
    rank = np.empty(len(names), np.int64)
    order = np.argsort(names.astype(str), kind="stable")
    rank[order] = np.arange(len(names))
    return rank[encoded.indices.to_numpy()], names[order].tolist()


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


def _metric_values(table: pa.Table, metric_of_wl: list[str | None], wl: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Each row's target-metric value, and whether that column had a value (not null)."""
    n = table.num_rows
    values, present = np.full(n, np.nan), np.zeros(n, bool)
    metrics = sorted({m for m in metric_of_wl if m is not None})
    code = np.array([-1 if m is None else metrics.index(m) for m in metric_of_wl] or [-1])
    row_metric = code[wl]
    for j, metric in enumerate(metrics):  # a handful of metrics, never per trial
        if metric not in table.column_names:
            continue
        rows = row_metric == j
        col = table.column(metric)
        np.copyto(values, np.asarray(col.to_numpy(zero_copy_only=False), np.float64), where=rows)
        if col.null_count == 0:
            present |= rows
        else:
            np.copyto(present, np.asarray(col.is_valid().to_numpy(zero_copy_only=False)),
                      where=rows)
    return values, present


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
    """
    n = table.num_rows
    has_sub = "submission" in table.column_names
    sub, subs = _codes(table.column("submission")) if has_sub else (np.zeros(n, np.int64), [""])
    fw, fws = _codes(table.column("framework")) if "framework" in table.column_names else (
        np.zeros(n, np.int64), [""])
    wl, wls = _codes(table.column("workload"))
    known = [w in version.workloads for w in wls]
    tgt = [version.workloads[w] if k else None for w, k in zip(wls, known, strict=True)]
    target = np.array([t.validation_target if t else np.nan for t in tgt] or [np.nan])
    minimize = np.array([bool(t and t.minimize) for t in tgt] or [False])
    values, present = _metric_values(table, [t.metric_column if t else None for t in tgt], wl)
    with np.errstate(invalid="ignore"):
        reached = np.where(minimize[wl], values <= target[wl], values >= target[wl])
    study = table.column("study").to_numpy().astype(np.int64)
    trial = table.column("trial").to_numpy().astype(np.int64)
    s_max, t_max = (int(study.max()) + 1, int(trial.max()) + 1) if n else (1, 1)
    key = (((sub * len(fws) + fw) * len(wls) + wl) * s_max + study) * t_max + trial
    tkeys, tid = _dense_ids(key)
    eval_index = table.column("eval_index").to_numpy()
    time = table.column("accumulated_submission_time").to_numpy(zero_copy_only=False)
    hits = np.flatnonzero(reached)  # first hit: smallest (eval_index, row) among hits
    packed = np.full(len(tkeys), np.iinfo(np.int64).max)
    np.minimum.at(packed, tid[hits], (eval_index[hits].astype(np.int64) << 32) | hits)
    ids = np.flatnonzero(packed != np.iinfo(np.int64).max)
    rows = packed[ids] & 0xFFFFFFFF
    ttt, hit_index = np.full(len(tkeys), np.inf), np.full(len(tkeys), np.inf)
    ttt[ids], hit_index[ids] = time[rows], eval_index[rows]
    rest, t_trial = np.divmod(tkeys, t_max)
    rest, t_study = np.divmod(rest, s_max)
    rest, t_wl = np.divmod(rest, len(wls))
    t_sub, t_fw = np.divmod(rest, len(fws))
    cols = {"submission": np.array(subs, dtype=object)[t_sub]} if has_sub else {}
    cols.update({
        "framework": np.array(fws, dtype=object)[t_fw],
        "workload": np.array(wls, dtype=object)[t_wl],
        "study": t_study.astype(np.int32), "trial": t_trial.astype(np.int32),
        "n_evals": np.bincount(tid, minlength=len(tkeys)).astype(np.int32),
        "target": target[t_wl], "time_to_target": ttt, "hit_index": hit_index,
        "metric_present": np.bincount(tid, weights=present, minlength=len(tkeys)) > 0,
    })
    return pa.table(cols)


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
