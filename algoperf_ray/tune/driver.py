"""The driver side: run a plan of AlgoPerf trials on Ray Tune, one Tune trial each.

Why Tune: it queues trials beyond the cluster's capacity, retries trials whose
node died (``FailureConfig``) and restores an interrupted experiment
(``Tuner.restore``). The AlgoPerf clock runs inside the trial (the runner), so
none of Ray's scheduling or startup cost is ever counted in a score.

Resume never reruns finished work: a new experiment plans only the trials the
store does not hold as finished (:func:`~algoperf_ray.tune.plan.pending`, with
the store read once), and a restored one skips them inside the trial
(:func:`~algoperf_ray.tune.trial.stored_summary`).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from typing import Any

from algoperf_ray.benchmark.identity import TrialSpec
from algoperf_ray.tune.options import DRIVER_CPU, RAY_ENV_DEFAULTS, TuneOptions
from algoperf_ray.tune.plan import pending
from algoperf_ray.tune.train import trainable


def init_ray(address: str | None = None, job_name: str | None = None,
             **kwargs: Any) -> dict[str, Any]:
    """Connect to ``address`` (``auto`` on a cluster) or start a local Ray.

    The dashboard stays on: without it, Train's placement-group cleaner logs
    State-API errors in a loop. It binds to localhost only. ``job_name`` goes
    into the job's metadata, which the dashboard's Jobs view shows.
    """
    import ray

    for k, v in RAY_ENV_DEFAULTS.items():
        os.environ.setdefault(k, v)
    if job_name:
        kwargs.setdefault("job_config", ray.job_config.JobConfig(
            metadata={"job_name": job_name}))
    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=False, **kwargs)
        else:
            kwargs.setdefault("include_dashboard", True)
            kwargs.setdefault("dashboard_host", "127.0.0.1")
            ray.init(log_to_driver=False, **kwargs)
    return {"dashboard_url": _dashboard_url()}


def _dashboard_url() -> str | None:
    """The dashboard's URL as this driver sees it (None if Ray does not say)."""
    import ray

    try:
        url = ray._private.worker.global_worker.node.address_info.get("webui_url")
    except AttributeError:  # Ray's private layout changed: the URL is only a convenience
        return None
    return f"http://{url}" if url and not url.startswith("http") else url


def trial_resources(framework: str, opts: TuneOptions) -> dict[str, float]:
    """What one Tune trial holds: the whole trial, or a tiny driver for Train."""
    if opts.wants_train(framework):
        return {"CPU": DRIVER_CPU}
    res = {"CPU": opts.cpus_per_trial}
    if opts.gpus_per_trial:
        res["GPU"] = opts.gpus_per_trial
    return {**res, **opts.accelerator_resources()}


def max_concurrent(framework: str, opts: TuneOptions) -> int | None:
    """Cap Train trials by the workers they need, so drivers never starve workers."""
    if opts.max_concurrent:
        return opts.max_concurrent
    if not opts.wants_train(framework):
        return None  # Tune queues whole trials by their resources
    import ray

    total = ray.cluster_resources()
    n = opts.num_workers(framework)
    kind, per = ("GPU", float(n)) if opts.gpus_per_trial else ("CPU", n * opts.cpus_per_trial)
    return max(1, int(total.get(kind, 0.0) // per))


def _trial_name(trial: Any) -> str:
    return TrialSpec.from_dict(trial.config["spec"]).trial_id


def make_tuner(specs: list[TrialSpec], opts: TuneOptions, *, resume: bool,
               verbose: int = 1, callbacks: list[Any] | None = None) -> Any:
    """A new Tuner over ``specs``, or the restored one of the experiment.

    ``callbacks`` are ``ray.tune.Callback`` s run in the driver (new experiments only).
    """
    from ray import tune

    framework = specs[0].key.framework if specs else "jax"
    wrapped = tune.with_resources(trainable, trial_resources(framework, opts))
    if resume and tune.Tuner.can_restore(opts.experiment_path):
        return tune.Tuner.restore(opts.experiment_path, wrapped, resume_unfinished=True,
                                  resume_errored=True)
    return tune.Tuner(
        wrapped,
        param_space={"spec": tune.grid_search([s.to_dict() for s in specs]),
                     "options": opts.to_dict()},
        tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent(framework, opts),
                                    trial_name_creator=_trial_name,
                                    trial_dirname_creator=_trial_name),
        run_config=tune.RunConfig(name=opts.experiment, storage_path=opts.storage_path,
                                  failure_config=tune.FailureConfig(max_failures=opts.max_failures),
                                  callbacks=callbacks, verbose=verbose))


@dataclass
class ExperimentSummary:
    """What happened to each trial, and what pruning saved."""

    trials: list[dict[str, Any]]
    skipped: int
    experiment_path: str
    wall_s: float

    def count(self, status: str) -> int:
        return sum(t["algoperf_status"] == status for t in self.trials)

    @property
    def saved_budget_sec(self) -> float:
        return float(sum(t.get("saved_budget_sec") or 0.0 for t in self.trials))


def _collect(grid: Any, opts: TuneOptions) -> list[dict[str, Any]]:
    """One summary per Tune trial. A trial Tune gave up on is reported failed here;
    the store keeps what its runner recorded (only the runner writes trials)."""
    from algoperf_ray.tune.trial import summary

    out = []
    for result in grid:
        spec = TrialSpec.from_dict(result.config["spec"])
        metrics = dict(result.metrics or {})
        if result.error is not None or "algoperf_status" not in metrics:
            error = str(result.error or "trial ended without a final report")
            metrics = summary(spec, opts, status="failed", error=error)
        elif metrics["algoperf_status"] == "running":  # stopped before its final report
            metrics["algoperf_status"] = "failed"
        out.append({"time_to_target": math.inf, **metrics, "trial_id": spec.trial_id,
                    "study_id": spec.study_id})
    return sorted(out, key=lambda m: m["trial_id"])


def finished_keys(store_uri: str | None) -> set[Any]:
    """Keys the store holds as finished (``Store.completed_trials``): never re-run."""
    if not store_uri:
        return set()
    from algoperf_ray.store import Store

    return Store(store_uri).completed_trials()


def run_experiment(specs: list[TrialSpec], opts: TuneOptions, *, address: str | None = None,
                   resume: bool = False, verbose: int = 1,
                   callbacks: list[Any] | None = None) -> ExperimentSummary:
    """Run (or resume) every spec on Ray Tune and return what happened.

    ``callbacks``: ``ray.tune.Callback`` s for a new experiment's driver
    (e.g. the per-trial timing of ``scripts/bench_tune.py``).
    """
    from ray import tune

    from algoperf_ray.tune.prune import prune_board, seed_board

    start = time.perf_counter()
    info = init_ray(address, job_name=f"algoperf-ray tune: {opts.experiment}")
    if verbose and info.get("dashboard_url"):
        print(f"Ray dashboard: {info['dashboard_url']} (localhost only)")
    restoring = resume and tune.Tuner.can_restore(opts.experiment_path)
    todo = specs if restoring else pending(specs, finished_keys(opts.store_uri))
    # Keep the handle until fit() returns: an unreferenced actor is destroyed.
    board = prune_board(opts.experiment, create=True) if opts.prune_dominated else None
    if board is not None:
        seed_board(board, specs, opts.store_uri)
    if not todo:
        return ExperimentSummary([], len(specs), opts.experiment_path,
                                 time.perf_counter() - start)
    tuner = make_tuner(todo, opts, resume=restoring, verbose=verbose, callbacks=callbacks)
    trials = _collect(tuner.fit(), opts)
    del board
    skipped = sum(bool(t.get("already_done")) for t in trials) + len(specs) - len(todo)
    ran = [t for t in trials if not t.get("already_done")]
    return ExperimentSummary(ran, skipped, opts.experiment_path, time.perf_counter() - start)
