"""Scoring, stage 2: from per-trial times to the leaderboard.

1. per study, the winning trial (``rule``, below); per workload, the median
   time over studies (inf takes part);
2. held-out variants (v0.5): a variant is inf where its base is inf/NaN; any
   time over 4x the best submission's becomes inf; a base is inf where its
   variant is inf/NaN; only base workloads enter the profile;
3. ratios to the best submission per workload; rho(tau) on
   ``linspace(1, 4, 100)``; score = trapezoid integral / 3.

``rule="published"`` picks, per study, the trial that reaches the target at
the earliest *eval index* (what the reference code does, and what produced
the published leaderboards); ``rule="documented"`` picks the trial with the
smallest time-to-target (what the written rules say). Ties are broken the
same way under both rules, so that the result never depends on file order:
first the smaller time-to-target, then the lower trial number. (The reference
takes whichever trial its directory listing returns first, which differs
between filesystems.)

All of it is vectorized: sorted groups, one lexsort per stage, broadcasting
over tau; nothing loops per trial.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from algoperf_ray.benchmark.versions import BenchmarkVersion, get_version
from algoperf_ray.scoring.errors import ScoringError, ScoringWarning
from algoperf_ray.scoring.trials import TrialTimes, trial_times
from algoperf_ray.store.summary import summarize

RULES = ("published", "documented")
TAUS = np.linspace(1.0, 4.0, 100)


@dataclass
class ScoreResult:
    """Everything the scorer computed, as Arrow tables (``.to_pandas()`` works)."""

    version: str
    ruleset: str
    rule: str
    scores: pa.Table  # submission, score, one column per base workload (seconds, inf=missed)
    profiles: pa.Table  # submission, tau, rho
    workload_times: pa.Table  # submission, workload, time (median over studies, raw)
    trial_times: pa.Table  # per trial: time_to_target, hit_index, winner (of its study)
    warnings: list[str] = field(default_factory=list)
    interrupted: list[str] = field(default_factory=list)  # trial ids left as 'running'
    hardware: dict[str, list[str]] = field(default_factory=dict)  # class -> submissions

    def score_of(self, submission: str) -> float:
        subs = self.scores.column("submission").to_pylist()
        return float(self.scores.column("score")[subs.index(submission)].as_py())


def study_winners(tt: TrialTimes, rule: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per study: its group (``sub * n_wl + wl``), the winning trial's row and its time.

    The winner row is -1 where no trial of the study reached the target.
    """
    if rule not in RULES:
        raise ScoringError(f"unknown rule {rule!r}; choose one of: {', '.join(RULES)}")
    ttt = tt.time_to_target
    primary = tt.hit_index if rule == "published" else ttt
    skeys, sid = np.unique(tt.study_key, return_inverse=True)
    order = np.lexsort((tt.trial, ttt, primary, sid))  # ties: faster, then lower trial
    ids, first = np.unique(sid[order], return_index=True)
    winner = np.full(len(skeys), -1)
    winner[ids] = order[first]
    study_time = np.full(len(skeys), np.inf)
    hit = winner >= 0
    study_time[hit] = ttt[winner[hit]]
    winner[~np.isfinite(study_time)] = -1
    return skeys // tt.study_max, winner, study_time


def _count_checks(tt: TrialTimes, study_sw: np.ndarray, version: BenchmarkVersion,
                  ruleset: str) -> list[str]:
    """Messages where workloads, studies or trials differ from the rules."""
    subs, wls, n_wl, col = tt.submissions, tt.workloads, tt.n_wl, tt.scored_col
    msgs = []
    scored = version.scored_workloads
    scored_sw = np.unique(study_sw[col[study_sw % n_wl] >= 0])
    have = np.zeros((len(subs), len(scored)), bool)
    have[scored_sw // n_wl, col[scored_sw % n_wl]] = True
    for s in np.flatnonzero(~have.all(axis=1)):  # Python only for incomplete submissions
        ran = {w for j, w in enumerate(scored) if have[s, j]}
        missing = version.missing_workloads(ran)
        kind = "base" if set(missing) <= set(version.base_workloads) else "scored"
        msgs.append(f"{subs[s]}: expected {len(scored)} workloads, found {len(ran)} "
                    f"(missing {kind} workload(s) of v{version.name}: {', '.join(missing)}; "
                    "scored as not reaching the target)")
    want_studies = version.studies_per_workload(ruleset)
    studies = np.bincount(study_sw, minlength=len(subs) * n_wl)
    for g in np.flatnonzero((studies != want_studies) & (studies > 0)
                            & (col[np.arange(len(studies)) % n_wl] >= 0)):
        msgs.append(f"{subs[g // n_wl]}/{wls[g % n_wl]}: expected {want_studies} studies, "
                    f"found {studies[g]}")
    if ruleset == "external":
        want = version.trials_per_study(ruleset)
        skeys, per_study = np.unique(tt.study_key, return_counts=True)
        for k in np.flatnonzero(per_study != want):
            g, st = divmod(int(skeys[k]), tt.study_max)
            if col[g % n_wl] >= 0:
                msgs.append(f"{subs[g // n_wl]}/{wls[g % n_wl]} study {st}: expected {want} "
                            f"trials, found {per_study[k]}")
    return msgs


def median_by_group(group: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
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


def score_table(table: pa.Table, version: BenchmarkVersion | str, ruleset: str,
                strict: bool = False, rule: str = "published") -> ScoreResult:
    """Score eval rows (with a ``submission`` column) of one version/ruleset."""
    v = get_version(version) if isinstance(version, str) else version
    return score_summaries(summarize(table, v), v, ruleset, strict=strict, rule=rule)


def score_summaries(summ: pa.Table, version: BenchmarkVersion | str, ruleset: str,
                    strict: bool = False, rule: str = "published",
                    problems: Sequence[str] = ()) -> ScoreResult:
    """Score per-trial summaries: study winners, medians, held-out rules, profile.

    ``problems``: findings of earlier stages (e.g. interrupted trials) that,
    like count mismatches, warn, or fail under ``strict``.
    """
    v = get_version(version) if isinstance(version, str) else version
    tt = trial_times(summ, v)
    study_sw, winner, study_time = study_winners(tt, rule)
    msgs = _count_checks(tt, study_sw, v, ruleset)
    _report(msgs, list(problems), v, ruleset, strict)
    subs, n_wl = tt.submissions, tt.n_wl
    medians = median_by_group(study_sw, study_time, len(subs) * n_wl)
    scored = v.scored_workloads
    times = np.full((len(subs), len(scored)), np.nan)
    groups = np.flatnonzero(~np.isnan(medians))
    keep = groups[tt.scored_col[groups % n_wl] >= 0]
    times[keep // n_wl, tt.scored_col[keep % n_wl]] = medians[keep]
    base = _apply_held_out_rules(times, v)[:, : len(v.base_workloads)]
    rho, scores = performance_profile(base, len(v.base_workloads))
    return ScoreResult(
        version=v.name, ruleset=ruleset, rule=rule,
        scores=_scores_table(list(subs), scores, base, v.base_workloads),
        profiles=pa.table({"submission": np.repeat(subs, len(TAUS)),
                           "tau": np.tile(TAUS, len(subs)), "rho": rho.ravel()}),
        workload_times=pa.table({"submission": np.repeat(subs, len(scored)),
                                 "workload": np.tile(np.array(scored), len(subs)),
                                 "time": times.ravel()}),
        trial_times=_trial_table(tt, winner), warnings=msgs)


def _report(msgs: list[str], problems: list[str], v: BenchmarkVersion, ruleset: str,
            strict: bool) -> None:
    """Raise under ``strict``, else warn (at most 20 messages)."""
    every = problems + msgs
    if every and strict:
        raise ScoringError(f"--strict: the logs do not meet the v{v.name} {ruleset} rules "
                           f"({len(every)} problems): " + "; ".join(every[:10])
                           + ". Run the missing workloads/studies/trials, or score without "
                           "--strict.")
    for m in msgs[:20]:
        warnings.warn(m, ScoringWarning, stacklevel=3)


def _scores_table(subs: list[str], scores: np.ndarray, base: np.ndarray,
                  names: Sequence[str]) -> pa.Table:
    order = np.lexsort((np.array(subs), -scores))
    cols = {"submission": np.array(subs)[order], "score": scores[order]}
    # A workload a submission never ran counts as missed (inf), as in the profile.
    filled = np.where(np.isnan(base), np.inf, base)[order]
    cols.update({w: filled[:, j] for j, w in enumerate(names)})
    return pa.table(cols)


def _trial_table(tt: TrialTimes, winner: np.ndarray) -> pa.Table:
    won = np.zeros(len(tt.trial), bool)
    won[winner[winner >= 0]] = True
    return pa.table({
        "submission": _names(tt.submissions, tt.sub), "workload": _names(tt.workloads, tt.wl),
        "study": tt.study.astype(np.int32), "trial": tt.trial.astype(np.int32),
        "time_to_target": tt.time_to_target, "hit_index": tt.hit_index, "winner": won})


def _names(names: Sequence[str], codes: np.ndarray) -> pa.Array:
    """A string column from codes into ``names`` (Arrow's take: no Python objects)."""
    return pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()),
                                          pa.array(names, pa.string())).cast(pa.string())
