"""Geometric-mean speedups of submissions over a reference submission."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from algoperf_ray.benchmark.hardware import budget_override
from algoperf_ray.benchmark.versions import get_version
from algoperf_ray.scoring.errors import ScoringError
from algoperf_ray.scoring.leaderboard import ScoreResult
from algoperf_ray.store.summary import name_codes


def speedups(result: ScoreResult, reference: str, hardware: str | None = None,
             budgets: dict[str, float] | None = None) -> pa.Table:
    """Geometric-mean time ratio of every submission to ``reference``.

    Uses each base workload's median time (before the held-out rules); a miss
    counts as the workload's budget (x the self-tuning factor) + 1 s, so a
    miss is never cheaper than the slowest hit. Below 1 means faster. The
    budget is the rulebook's on ``hardware`` (default: the version's class),
    replaced by a ``budgets`` table entry (``--budgets``), as for a trial.
    """
    from scipy.stats import gmean

    v = get_version(result.version)
    wt = result.workload_times
    sub, subs = name_codes(wt.column("submission"))
    names = wt.column("workload").to_pylist()
    col = np.array([v.base_workloads.index(w) if w in v.base_workloads else -1 for w in names])
    if reference not in subs:
        raise ScoringError(f"reference submission {reference!r} is not among the scored "
                           f"submissions: {', '.join(subs)}")
    base = col >= 0
    times = np.full((len(subs), len(v.base_workloads)), np.nan)
    times[sub[base], col[base]] = wt.column("time").to_numpy()[base]
    caps = np.array([v.max_runtime_sec(w, result.ruleset, hardware=hardware,
                                       runtime_sec=budget_override(w, None, budgets)) + 1
                     for w in v.base_workloads])
    filled = np.where(np.isfinite(times), times, caps)
    ratio = filled / filled[subs.index(reference)]
    return pa.table({"submission": subs, "speedup": gmean(ratio, axis=1)})
