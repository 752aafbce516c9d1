"""Generated eval rows with a realistic shape, for scaling benchmarks and tests.

Every trial's validation metric moves from a bad start towards (and maybe
past) its workload's target, with some NaN evals, so time-to-target, misses
and ties all occur. Generation is vectorized: 12 M rows take a few seconds.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from algoperf_ray.benchmark.versions import BenchmarkVersion


def synthetic_evals(version: BenchmarkVersion, n_submissions: int, *, studies: int = 3,
                    trials: int = 5, evals: int = 100, nan_fraction: float = 0.01,
                    seed: int = 0, workloads: tuple[str, ...] | None = None) -> pa.Table:
    """Eval rows (the columns the scorer reads) for ``n_submissions`` submissions."""
    rng = np.random.default_rng(seed)
    names = workloads or version.scored_workloads
    n_trials = n_submissions * len(names) * studies * trials
    trial_ids = np.arange(n_trials)
    sub, rest = np.divmod(trial_ids, len(names) * studies * trials)
    wl, rest = np.divmod(rest, studies * trials)
    study, trial = np.divmod(rest, trials)
    # Per trial: seconds per eval and a progress rate; reached where progress >= 1.
    step_time = rng.uniform(50, 150, n_trials)
    rate = rng.uniform(0.3, 1.6, n_trials) / evals
    eval_index = np.tile(np.arange(evals, dtype=np.int32), n_trials)
    rows_trial = np.repeat(trial_ids, evals)
    time = (eval_index + 1) * step_time[rows_trial]
    progress = (eval_index + 1) * rate[rows_trial]
    targets = [version.target(w) for w in names]
    goal = np.array([t.validation_target for t in targets])[wl][rows_trial]
    minimize = np.array([t.minimize for t in targets])[wl][rows_trial]
    scale = np.abs(goal) * 0.5 + 0.1
    value = np.where(minimize, goal + scale * (1 - progress), goal - scale * (1 - progress))
    value[rng.random(value.size) < nan_fraction] = np.nan
    cols = {
        "submission": pa.DictionaryArray.from_arrays(
            pa.array(np.repeat(sub, evals).astype(np.int32)),
            pa.array([f"sub{i:04d}" for i in range(n_submissions)])),
        "workload": pa.DictionaryArray.from_arrays(
            pa.array(np.repeat(wl, evals).astype(np.int32)), pa.array(list(names))),
        "study": pa.array(np.repeat(study, evals).astype(np.int32)),
        "trial": pa.array(np.repeat(trial, evals).astype(np.int32)),
        "eval_index": pa.array(eval_index),
        "accumulated_submission_time": pa.array(time),
    }
    metrics = sorted({t.metric_column for t in targets})
    metric_code = np.array([metrics.index(t.metric_column) for t in targets])[wl]
    metric_of_row = np.repeat(metric_code, evals)
    for j, metric in enumerate(metrics):
        mask = metric_of_row != j
        cols[metric] = pa.array(value, mask=mask)
    return pa.table(cols)


def write_synthetic_store(store, version: BenchmarkVersion, ruleset: str, n_submissions: int,
                          **kwargs) -> int:
    """Write ``synthetic_evals`` into ``store`` (one segment per submission); returns rows."""
    from algoperf_ray.store import schema as S

    table = synthetic_evals(version, n_submissions, **kwargs)
    subs = table.column("submission").combine_chunks()
    names = subs.dictionary.to_pylist()
    codes = subs.indices.to_numpy()
    bounds = np.searchsorted(codes, np.arange(len(names) + 1))  # rows are submission-major
    metrics = [c for c in table.column_names if S.is_metric(c)]
    n = table.num_rows
    full = table.drop_columns(["submission"]).append_column(
        "framework", pa.array(np.full(n, "jax", dtype=object), pa.string()))
    for f in S.TIMING_FIELDS:
        if f.name not in full.column_names:
            full = full.append_column(f.name, pa.nulls(n, f.type))
    full = full.select(S.eval_schema(metrics).names).cast(S.eval_schema(metrics))
    for i, name in enumerate(names):
        part = full.slice(bounds[i], bounds[i + 1] - bounds[i])
        keys = part.select(["framework", "workload", "study", "trial"]).group_by(
            ["framework", "workload", "study", "trial"]).aggregate([])
        trials = pa.table({
            **{c: keys.column(c) for c in keys.column_names},
            "status": pa.array(["completed"] * keys.num_rows),
            "hparams": pa.nulls(keys.num_rows, pa.string()),
            "error": pa.nulls(keys.num_rows, pa.string()), "seed": pa.nulls(keys.num_rows,
                                                                             pa.int64()),
            "extra": pa.nulls(keys.num_rows, pa.string()),
            "schema_version": pa.array([S.SCHEMA_VERSION] * keys.num_rows, pa.int32()),
        }).cast(S.TRIALS_SCHEMA)
        store.write_submission_segment(version.name, ruleset, name, part, trials)
    return n
