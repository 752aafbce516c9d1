"""AlgoPerf scoring of a results store: the entry point and the public names.

The work is split by stage, each module doing one job:

* :mod:`algoperf_ray.store.summary` -- eval rows to one summary row per trial
  (shared with the store, which caches it next to every eval file);
* :mod:`algoperf_ray.scoring.trials` -- the store's files to trial summaries,
  recomputing stale or damaged caches, as a typed record (``TrialTimes``);
* :mod:`algoperf_ray.scoring.leaderboard` -- trials to study winners, medians,
  the held-out rules, performance profiles and scores;
* :mod:`algoperf_ray.scoring.speedups` and :mod:`algoperf_ray.scoring.details`
  -- the speedup table and the per-workload detail.

This module ties them to a store (:func:`score_store`) and re-exports the
names callers use, so ``from algoperf_ray.scoring.scoring import ...`` stays
the one import.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from algoperf_ray.benchmark.identity import TrialKey
from algoperf_ray.benchmark.versions import BenchmarkVersion, check_ruleset, get_version
from algoperf_ray.scoring.errors import (
    ScoringError,
    ScoringWarning,
    StaleSummaryError,
    SummaryCacheWarning,
)
from algoperf_ray.scoring.leaderboard import (
    RULES,
    TAUS,
    ScoreResult,
    performance_profile,
    score_summaries,
    score_table,
)
from algoperf_ray.scoring.speedups import speedups
from algoperf_ray.scoring.trials import TrialTimes, collect_summaries, summarize_eval_files
from algoperf_ray.store.io import SEGMENT_PREFIX
from algoperf_ray.store.summary import summarize

if TYPE_CHECKING:
    from algoperf_ray.store import Store

__all__ = ["RULES", "TAUS", "ScoreResult", "ScoringError", "ScoringWarning",
           "StaleSummaryError", "SummaryCacheWarning", "TrialTimes", "interrupted_trials",
           "performance_profile", "score_store", "score_summaries", "score_table", "speedups",
           "summarize", "summarize_eval_files"]


def score_store(store: Store, ruleset: str, version: str | None,
                submissions: Sequence[str] | None = None, strict: bool = False,
                rule: str = "published", use_summaries: bool = True,
                workers: int | None = None) -> ScoreResult:
    """Score (version, ruleset) of ``store``.

    Reads the per-trial summaries the store keeps (one row per trial); eval
    files whose summary is missing, stale or damaged are recomputed from their
    eval rows, and only those (``use_summaries=False`` recomputes every file),
    in ``workers`` threads. Trials the store still holds as ``running`` (a
    killed run) are reported by a :class:`ScoringWarning` and in
    ``ScoreResult.interrupted``; under ``strict`` they fail the score. Only
    trials of submissions with per-trial eval files can be ``running``: a
    trial killed before its first eval has no rows, so it is not scored, and
    the count check reports it missing.
    """
    v = get_version(version)
    check_ruleset(ruleset)
    files = store.eval_files(v.name, ruleset, submissions)
    if not files:
        raise _no_rows_error(store, v, ruleset, submissions)
    table = collect_summaries(store, files, v, ruleset, use_summaries, workers)
    _check_submissions(table, submissions, v, ruleset)
    # Ingest writes only completed trials; 'running' rows come from run/tune, which
    # write per-trial eval files. So only submissions with such files need the
    # trial rows read (an ingested store pays nothing for the check).
    written = sorted({f.submission for f in files
                      if not f.path.rpartition("/")[2].startswith(SEGMENT_PREFIX)})
    rows = _trial_rows(store, v.name, ruleset, written) if written else None
    interrupted = interrupted_trials(rows) if rows is not None else []
    hardware = recorded_hardware(rows) if rows is not None else {}
    problems = [_interrupted_message(interrupted)] if interrupted else []
    result = score_summaries(table, v, ruleset, strict=strict, rule=rule, problems=problems)
    if problems:
        warnings.warn(problems[0], ScoringWarning, stacklevel=2)
    result.interrupted = interrupted
    result.hardware = hardware
    return result


def _trial_rows(store: Store, version: str, ruleset: str,
                submissions: Sequence[str]) -> pa.Table:
    """The trial rows of ``submissions`` (one read serves every check below)."""
    return store.read_trials(filters={"version": version, "ruleset": ruleset,
                                      "submission": list(submissions)})


def recorded_hardware(rows: pa.Table) -> dict[str, list[str]]:
    """Hardware class -> the submissions with trials recorded on it.

    ``run`` and ``tune`` record the class whose budget applied in each trial
    row (``extra.hardware``); ingested logs and older rows have none and are
    left out. Times from different classes are not comparable.
    """
    if rows.num_rows == 0 or "extra" not in rows.column_names:
        return {}
    found: dict[str, set[str]] = {}
    for sub, extra in zip(rows.column("submission").to_pylist(),
                          rows.column("extra").to_pylist(), strict=True):
        try:
            hw = json.loads(extra).get("hardware") if extra else None
        except (ValueError, AttributeError):
            hw = None  # a damaged extra says nothing about the class
        if isinstance(hw, str):
            found.setdefault(hw, set()).add(sub)
    return {hw: sorted(subs) for hw, subs in sorted(found.items())}


def interrupted_trials(rows: pa.Table) -> list[str]:
    """Trial ids held as ``running``: a run that was killed (or still runs)."""
    running = rows.filter(pc.equal(rows.column("status"), "running"))
    return sorted(TrialKey.from_mapping(r).trial_id for r in running.select(
        ["version", "ruleset", "submission", "framework", "workload", "study", "trial"]
    ).to_pylist())


def _interrupted_message(ids: list[str]) -> str:
    shown = ", ".join(ids[:10]) + (f", ... {len(ids) - 10} more" if len(ids) > 10 else "")
    return (f"{len(ids)} interrupted trial(s) (status 'running' in the store: the run was "
            f"killed, or is still running): {shown}. Their eval rows so far are scored as "
            "they are; rerun them (the same `algoperf-ray run` or `tune --resume`) to "
            "finish them.")


def _no_rows_error(store: Store, v: BenchmarkVersion, ruleset: str,
                   submissions: Sequence[str] | None) -> ScoringError:
    present = ", ".join(f"v{a}/{b}" for a, b in store.versions()) or "nothing"
    return ScoringError(
        f"no eval rows for version {v.name}, ruleset {ruleset!r}"
        + (f", submissions {', '.join(submissions)}" if submissions else "")
        + f" in store {store.uri!r} (it holds: {present}). Ingest logs with "
        f"`algoperf-ray ingest LOGS --store ... --ruleset {ruleset} --version {v.name}` "
        f"or run trials first.")


def _check_submissions(table: pa.Table, submissions: Sequence[str] | None,
                       v: BenchmarkVersion, ruleset: str) -> None:
    if not submissions:
        return
    found = set(table.column("submission").unique().to_pylist())
    if missing := [s for s in submissions if s not in found]:
        raise ScoringError(f"submissions not in the store for v{v.name}/{ruleset}: "
                           f"{', '.join(missing)}; found: {', '.join(sorted(found))}")
