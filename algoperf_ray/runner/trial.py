"""``run_trial``: build a trial from its config, run the timed loop, record it.

:func:`run_trial` resolves names (workload class, submission file, store)
and :func:`run_loaded_trial` runs already-built objects; tests and the
overhead benchmark use the latter with their own workloads.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import traceback
from typing import Any

from algoperf_ray.runner import loop, outcome
from algoperf_ray.runner.backend import Backend, get_backend
from algoperf_ray.runner.config import TrialConfig, TrialResult
from algoperf_ray.runner.hooks import Clock, RunnerHooks, WallClock

log = logging.getLogger(__name__)


def _hparams(config: TrialConfig) -> Any:
    if config.hparams is None:
        return None
    from algoperf_ray.submission.search_space import make_hparams

    return make_hparams(config.hparams)


def _open_store(config: TrialConfig, backend: Backend) -> tuple[Any, Any]:
    if config.store_uri is None or backend.rank != 0:
        return None, None
    from algoperf_ray.store import Store

    return Store(config.store_uri), config.key


def _batch_sizes(config: TrialConfig, workload: Any, submission: Any,
                 backend: Backend) -> tuple[int, int]:
    """Global train/eval batch sizes, checked against the number of batch shards."""
    batch = int(submission.get_batch_size(config.workload))
    eval_batch = int(workload.eval_batch_size)
    checks = [("batch size from get_batch_size", batch)]
    if not backend.pads_eval_batches:
        checks.append(("eval batch size", eval_batch))
    for name, size in checks:
        if size % backend.num_batch_shards:
            raise ValueError(
                f"the global {name} ({size}) of workload {config.workload!r} is not "
                f"divisible by the {backend.num_batch_shards} devices/processes it is split over.")
    return batch, eval_batch


def build_context(config: TrialConfig, workload: Any, submission: Any, *,
                  hooks: RunnerHooks | None = None, clock: Clock | None = None,
                  backend: Backend | None = None) -> loop.TrialContext:
    backend = backend or get_backend(config.framework)
    batch, eval_batch = _batch_sizes(config, workload, submission, backend)
    store, key = _open_store(config, backend)
    return loop.TrialContext(
        config=config, workload=workload, submission=submission, backend=backend,
        clock=clock or WallClock(), hooks=hooks or RunnerHooks(), hparams=_hparams(config),
        # The trial's version sets the rules; the workload's own numbers only
        # stand in for a workload that no version lists (a test's fake).
        budget_sec=config.budget_sec(workload.max_allowed_runtime_sec),
        eval_period_sec=config.eval_period(workload.eval_period_time_sec),
        global_batch_size=batch,
        eval_batch_size=eval_batch, store=store, store_key=key)


def _write_trial(ctx: loop.TrialContext | None, config: TrialConfig, status: str,
                 error: str | None = None, extra: dict[str, Any] | None = None) -> None:
    if ctx is None or ctx.store is None:
        return
    ctx.store.write_trial(ctx.store_key, hparams=config.hparams, status=status, error=error,
                          seed=config.seed, extra=extra)


def run_facts(ctx: loop.TrialContext) -> dict[str, Any]:
    """What the trial ran under, kept in its trial row: the hardware class whose
    budget applied (scoring compares classes) and that budget in seconds."""
    return {"hardware": ctx.config.hardware or ctx.config.version.hardware,
            "budget_sec": ctx.budget_sec}


def _finish(ctx: loop.TrialContext) -> TrialResult:
    """Record the ended trial once: its eval rows and trial row in one store transaction.

    The status follows one rule for every driver: a last eval with a NaN loss
    or target metric is a divergence (``failed``, ``diverged: ...``, time-to-
    target inf); a driver may also report a failure through ``hooks.failure()``.
    """
    failure = getattr(ctx.hooks, "failure", lambda: None)() or outcome.divergence(
        ctx.rows, loop.target_column(ctx))
    status = "failed" if failure else ("pruned" if ctx.pruned else "completed")
    if failure:
        log.warning("trial %s: %s", ctx.config.key.trial_id, failure)
    loop.save_checkpoint(ctx)
    result = TrialResult(status=status,
                         time_to_target=math.inf if failure else time_to_target(ctx),
                         eval_rows=list(ctx.rows), global_step=ctx.global_step,
                         preemption_count=ctx.preemption_count, error=failure,
                         start_time=ctx.global_start_time)
    extra = {**run_facts(ctx), "global_step": ctx.global_step,
             "preemption_count": ctx.preemption_count,
             "time_to_target": result.time_to_target,
             "train_state": {k: v for k, v in ctx.train_state.items()
                             if k != "last_step_end_time"}}
    if ctx.store is not None:
        ctx.store.publish_trial(ctx.store_key, ctx.rows, trial={
            "hparams": ctx.config.hparams, "status": status, "error": failure,
            "seed": ctx.config.seed, "extra": extra})
    return result


def time_to_target(ctx: loop.TrialContext) -> float:
    """Submission time of the first eval meeting the target of the trial's version.

    A workload the version does not list (a test's fake) is judged by its own
    target, through the same inclusive rule.
    """
    version, name = ctx.config.version, ctx.config.workload
    if name not in version.workloads:
        return loop.time_to_target(ctx)
    target = version.target(name)
    for _, row in ctx.eval_results:
        if target.is_met(row.get(target.metric_column)):
            return float(row["accumulated_submission_time"])
    return math.inf


def run_loaded_trial(config: TrialConfig, workload: Any, submission: Any,
                     hooks: RunnerHooks | None = None, clock: Clock | None = None,
                     backend: Backend | None = None) -> TrialResult:
    """Run one trial with a built workload and a loaded submission."""
    backend = backend or get_backend(config.framework)
    backend.check_devices(config.gpus)
    ctx = build_context(config, workload, submission, hooks=hooks, clock=clock,
                        backend=backend)
    if outcome.was_interrupted(ctx.store, ctx.store_key):
        log.warning(outcome.interrupted_message(config.key))
    _write_trial(ctx, config, "running", extra=run_facts(ctx))
    loop.initialize(ctx)
    if loop.maybe_restore(ctx):
        log.info("resumed %s at step %d (preemption %d)", config.workload, ctx.global_step,
                 ctx.preemption_count)
    loop.train_loop(ctx)
    return _finish(ctx)


def load_trial_objects(config: TrialConfig) -> tuple[Any, Any]:
    """The workload instance and the loaded submission named by ``config``."""
    from algoperf_ray.benchmark.registry import load_workload
    from algoperf_ray.compat import legacy_pmap
    from algoperf_ray.submission.loader import load_submission

    submission = load_submission(config.submission_path, config.framework)
    kwargs = dict(config.workload_kwargs)
    legacy = kwargs.pop(legacy_pmap.OPTION, None)  # not a model option: see legacy_pmap
    workload = load_workload(config.workload, config.framework, data_mode=config.data_mode,
                             **kwargs)
    return legacy_pmap.configure(workload, submission, config.framework, legacy), submission


def run_trial(config: TrialConfig, hooks: RunnerHooks | None = None,
              clock: Clock | None = None) -> TrialResult:
    """Run (or resume) one trial in this process / DDP rank; record it in the store.

    Errors are recorded as a "failed" trial row and returned in the result
    (re-raised after recording when ``config.raise_on_error``).
    """
    try:
        get_backend(config.framework).check_devices(config.gpus)  # before any data loads
        workload, submission = load_trial_objects(config)
        return run_loaded_trial(config, workload, submission, hooks=hooks, clock=clock)
    except Exception as e:
        message = f"{type(e).__name__}: {e}"
        log.error("trial failed: %s\n%s", message, traceback.format_exc())
        _record_failure(config, message)
        if config.raise_on_error:
            raise
        return TrialResult(status="failed", error=message)


def _record_failure(config: TrialConfig, message: str) -> None:
    """Best effort: a failed trial row on rank 0 (the store may itself be the problem)."""
    if config.store_uri is None or _rank() != 0:
        return
    try:
        from algoperf_ray.store import Store

        Store(config.store_uri).write_trial(config.key, hparams=config.hparams,
                                            status="failed", error=message, seed=config.seed)
    except Exception as e:  # noqa: BLE001 - keep the original error visible
        log.error("could not record the failure in the store: %s", e)


def _rank() -> int:
    """This process's DDP rank, without importing torch when it is not in use."""
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        return int(dist.get_rank())
    return int(os.environ.get("RANK", "0"))
