"""What runs inside one Tune trial: the runner, with live reports, metrics and pruning.

:func:`run_here` is the one way a trial runs, whether in the Tune trial's own
process or on each Ray Train worker (:mod:`algoperf_ray.tune.train` calls it
with a queue as ``report``). The runner records every outcome in the store,
failures included; this module only reports to Tune and decides pruning.

Fault tolerance rests on one fact: a trial's checkpoints live under a path
derived from its stable id (``TrialSpec.trial_id``), not from Ray's attempt,
so a retried or restored trial resumes there and counts one more preemption.
"""

from __future__ import annotations

import math
import time
from typing import Any

from algoperf_ray.benchmark.identity import KEY_FIELD_NAMES, TrialSpec
from algoperf_ray.tune.options import TuneOptions, trial_config


def clean_row(row: dict[str, Any]) -> dict[str, Any]:
    """An eval row as Tune metrics: numbers only; missing, NaN and inf values left out.

    (Tune's loggers print a warning for every NaN they receive.)
    """
    return {k: v for k, v in row.items() if isinstance(v, int | float)
            and not (isinstance(v, float) and not math.isfinite(v))}


def rules_of(spec: TrialSpec) -> Any:
    """The trial's workload row in its own benchmark version (target, budget)."""
    from algoperf_ray.benchmark.versions import get_version

    return get_version(spec.key.version).rules_for(spec.key.workload)


class LiveMetrics:
    """Custom Ray metrics for the dashboard, tagged with the trial's identity.

    Exported through Ray's metrics agent (Prometheus format); the Metrics tab
    charts them when Prometheus/Grafana are set up.
    """

    TAGS = ("submission", "workload", "study", "trial")

    def __init__(self, spec: TrialSpec) -> None:
        from ray.util.metrics import Gauge

        k = spec.key
        self.tags = {"submission": k.submission, "workload": k.workload,
                     "study": str(k.study), "trial": str(k.trial)}
        self.step_time = Gauge("algoperf_step_time_s", "Mean submission seconds per step "
                               "since the previous eval", tag_keys=self.TAGS)
        self.submission_time = Gauge("algoperf_accumulated_submission_time_s",
                                     "Accumulated submission time (the AlgoPerf score)",
                                     tag_keys=self.TAGS)
        self.target = Gauge("algoperf_target_metric", "Validation target metric",
                            tag_keys=self.TAGS)
        self._last = (0, 0.0)

    def record(self, row: dict[str, Any], target_column: str) -> float | None:
        step, t = int(row.get("global_step", 0)), float(row["accumulated_submission_time"])
        step_time = None
        if step > self._last[0]:
            step_time = (t - self._last[1]) / (step - self._last[0])
            self.step_time.set(step_time, tags=self.tags)
        self._last = (step, t)
        self.submission_time.set(t, tags=self.tags)
        value = row.get(target_column)
        if value is not None and math.isfinite(float(value)):
            self.target.set(float(value), tags=self.tags)
        return step_time


class TuneHooks:
    """RunnerHooks for a Tune trial: live reports, metrics and pruning.

    The runner calls these on rank 0 after each eval and checkpoint.
    ``report`` is ``ray.tune.report`` when the runner runs inside the Tune
    trial, or a queue's ``put`` when it runs on a Ray Train worker.
    """

    all_ranks = False

    def __init__(self, spec: TrialSpec, opts: TuneOptions, report: Any) -> None:
        from algoperf_ray.tune.prune import prune_board

        self.spec, self.opts, self.report = spec, opts, report
        self.target = rules_of(spec)
        self.metrics = LiveMetrics(spec)
        self.board = prune_board(opts.experiment) if opts.prune_dominated else None
        self.time_to_target = math.inf
        self.pruned_at: float | None = None

    def on_eval(self, row: dict[str, Any], checkpoint_dir: str | None = None) -> None:
        column = self.target.metric_column
        value, t = row.get(column), float(row["accumulated_submission_time"])
        if math.isinf(self.time_to_target) and self.target.is_met(value):
            self.time_to_target = t
            if self.board is not None:
                self.board.reached.remote(self.spec.study_id, self.spec.trial_id, t)
        step_time = self.metrics.record(row, column)
        self.report({**clean_row({**row, "target_metric": value, "step_time": step_time,
                                  "time_to_target": self.time_to_target}),
                     "algoperf_status": "running"})

    def should_stop(self, row: dict[str, Any]) -> bool:
        """Stop a trial that can no longer change its study's time (pruning).

        NaN trials are the runner's business (one rule for run and tune:
        :mod:`algoperf_ray.runner.outcome`), not this hook's.
        """
        if self.board is None or math.isfinite(self.time_to_target):
            return False
        import ray

        best = ray.get(self.board.best_other.remote(self.spec.study_id, self.spec.trial_id))
        if float(row["accumulated_submission_time"]) > best:
            self.pruned_at = float(row["accumulated_submission_time"])
            return True
        return False


def summary(spec: TrialSpec, opts: TuneOptions, *, status: str, error: str | None,
            hooks: TuneHooks | None = None, time_to_target: float = math.inf,
            global_step: int = 0, preemption_count: int = 0) -> dict[str, Any]:
    """The trial's final Tune result (also the pruning accounting)."""
    pruned_at = hooks.pruned_at if hooks is not None else None
    saved = 0.0
    if pruned_at is not None:
        budget = trial_config(spec, opts).budget_sec(rules_of(spec).max_runtime_sec)
        saved = max(0.0, budget - pruned_at)
    return {"algoperf_status": status, "error": error or "",
            **clean_row({"time_to_target": float(time_to_target)}),  # absent: inf
            "global_step": int(global_step),
            "preemption_count": int(preemption_count),
            **({"pruned_at": pruned_at} if pruned_at is not None else {}),
            "saved_budget_sec": saved,
            "trial_id": spec.trial_id}


def stored_summary(spec: TrialSpec, opts: TuneOptions) -> dict[str, Any] | None:
    """The summary of a trial the store already holds as finished, else None.

    A restored experiment re-launches every trial Tune had not seen finish,
    including ones whose runner finished just before the driver died: those
    must not run again (their rows would be rewritten as a preempted rerun).
    "Finished" is exactly :meth:`Store.completed_trials`.
    """
    if not opts.store_uri:
        return None
    import json

    from algoperf_ray.store import Store

    store = Store(opts.store_uri)
    if spec.key not in store.completed_trials():
        return None
    rows = store.read_trials(filters=dict(zip(KEY_FIELD_NAMES, spec.key.as_tuple(),
                                              strict=True))).to_pylist()
    row = rows[-1] if rows else {}
    extra = json.loads(row.get("extra") or "{}")
    ttt = extra.get("time_to_target")
    return {**summary(spec, opts, status=str(row.get("status") or "completed"), error=None,
                      time_to_target=math.inf if ttt is None else float(ttt),
                      global_step=int(extra.get("global_step") or 0),
                      preemption_count=int(extra.get("preemption_count") or 0)),
            "already_done": True}


def run_here(spec: TrialSpec, opts: TuneOptions, report: Any) -> dict[str, Any]:
    """Run the trial with the runner in this process (or this Train worker).

    ``run_trial`` catches and records every failure itself, so a raising
    submission is one failed trial, never the study. The summary is built as
    soon as the runner returns: with the loop's start it brackets the runner's
    work, so a driver can tell trial setup and teardown from training
    (``scripts/bench_tune.py``).
    """
    from algoperf_ray.runner import run_trial

    done = stored_summary(spec, opts)
    if done is not None:
        return done
    hooks = TuneHooks(spec, opts, report)
    result = run_trial(trial_config(spec, opts), hooks=hooks)
    times = clean_row({"loop_start_time": result.start_time, "runner_end_time": time.time()})
    return {**summary(spec, opts, status=result.status, error=result.error, hooks=hooks,
                      time_to_target=result.time_to_target, global_step=result.global_step,
                      preemption_count=result.preemption_count), **times}
