"""Run a plan of AlgoPerf trials on Ray Tune: one Tune trial per AlgoPerf trial.

Why Tune: it queues trials beyond the cluster's capacity, retries trials whose
node died (``FailureConfig``) and restores an interrupted experiment
(``Tuner.restore``). The AlgoPerf clock runs inside the trial (the runner), so
none of Ray's scheduling or startup cost is ever counted in a score.

Fault tolerance rests on one fact: a trial's checkpoints live under a path
derived from its stable AlgoPerf id (``TrialSpec.trial_id``), not from Ray's
attempt. Whether Tune retries a trial after a node loss or the experiment is
restored after a driver crash, the runner finds the newest checkpoint there,
resumes and counts one more preemption.

Only this module and :mod:`algoperf_ray.tune.train_ray` import Ray.
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any

from algoperf_ray.runner.checkpoint import join_path
from algoperf_ray.tune.plan import SELF_TUNING_BUDGET_FACTOR, TrialSpec

# Train V2's preemption watcher logs a noisy error on every local run.
RAY_ENV_DEFAULTS = {
    "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0",
    "RAY_TRAIN_ENABLE_STATE_TRACKING": "1",
    "RAY_AIR_NEW_OUTPUT": "0",
}
# A trial driver that only waits on Train workers must not hold a whole CPU,
# or a 2-CPU machine deadlocks (Ray rejects 0).
DRIVER_CPU = 0.01
PRUNE_BOARD_PREFIX = "algoperf-prune-board"
RAY_NAMESPACE = "algoperf"  # named actors live here, whatever the driver's namespace


@dataclass(frozen=True)
class TuneOptions:
    """How to run the trials of one experiment (all plain data: sent to trials)."""

    experiment: str
    storage_path: str
    store_uri: str | None = None
    data_mode: str = "real"
    data_dir: str | None = None
    cpus_per_trial: float = 1.0
    gpus_per_trial: int = 0
    workers_per_trial: int = 1  # Train workers (DDP ranks) on CPU-only clusters
    use_train: str = "auto"  # "auto": Train only for multi-worker trials; "always"; "never"
    max_failures: int = 2
    max_concurrent: int | None = None
    prune_dominated: bool = False
    max_global_steps: int | None = None
    max_runtime_sec: float | None = None
    eval_period_sec: float | None = None
    extra_config: dict[str, Any] = field(default_factory=dict)

    @property
    def experiment_path(self) -> str:
        return join_path(self.storage_path, self.experiment)

    def checkpoint_dir(self, spec: TrialSpec) -> str:
        """Stable per AlgoPerf trial, so every retry and restore resumes from it."""
        return join_path(self.experiment_path, "checkpoints", spec.trial_id)

    def num_workers(self, framework: str) -> int:
        """DDP ranks for PyTorch (one per GPU); JAX owns the host with one worker."""
        if framework != "pytorch":
            return 1
        return self.gpus_per_trial if self.gpus_per_trial > 0 else self.workers_per_trial

    def wants_train(self, framework: str) -> bool:
        if self.use_train not in ("auto", "always", "never"):
            raise ValueError(f"use_train must be auto, always or never, not {self.use_train!r}")
        if self.use_train == "auto":
            return self.num_workers(framework) > 1
        return self.use_train == "always"


def trial_config(spec: TrialSpec, opts: TuneOptions) -> Any:
    """The runner's :class:`TrialConfig` for ``spec``."""
    from algoperf_ray.runner import TrialConfig

    names = {f.name for f in dataclasses.fields(TrialConfig)}
    extra = {k: v for k, v in opts.extra_config.items() if k in names}
    return TrialConfig(
        workload=spec.workload, framework=spec.framework,
        submission_path=spec.submission_path, hparams=spec.hparams, ruleset=spec.ruleset,
        seed=spec.seed, key=spec.trial_key(), data_mode=opts.data_mode,
        data_dir=opts.data_dir, max_global_steps=opts.max_global_steps,
        store_uri=opts.store_uri, checkpoint_dir=opts.checkpoint_dir(spec),
        max_runtime_sec=opts.max_runtime_sec, eval_period_sec=opts.eval_period_sec, **extra)


def target_of(spec: TrialSpec) -> tuple[str, float, bool]:
    """(eval-row column, target value, minimise?) of the trial's workload."""
    from algoperf_ray.benchmark.registry import get_meta

    meta = get_meta(spec.workload)
    return f"validation/{meta.target_metric_name}", meta.validation_target, meta.minimize


def budget_sec(spec: TrialSpec, opts: TuneOptions) -> float:
    """The trial's runtime budget in submission seconds (self-tuning: x1.5)."""
    from algoperf_ray.benchmark.registry import get_meta

    base = opts.max_runtime_sec or get_meta(spec.workload).max_runtime_sec
    return base * (SELF_TUNING_BUDGET_FACTOR if spec.ruleset == "self" else 1.0)


def reached(value: Any, target: float, minimize: bool) -> bool:
    if value is None or not math.isfinite(float(value)):
        return False
    return float(value) <= target if minimize else float(value) >= target


def clean_row(row: dict[str, Any]) -> dict[str, Any]:
    """An eval row as Tune metrics: numbers only; missing, NaN and inf values left out.

    (Tune's loggers print a warning for every NaN they receive.)
    """
    return {k: v for k, v in row.items() if isinstance(v, int | float)
            and not (isinstance(v, float) and not math.isfinite(v))}


class LiveMetrics:
    """Custom Ray metrics for the dashboard, tagged with the trial's identity.

    Exported through Ray's metrics agent (Prometheus format); the Metrics tab
    charts them when Prometheus/Grafana are set up.
    """

    TAGS = ("submission", "workload", "study", "trial")

    def __init__(self, spec: TrialSpec) -> None:
        from ray.util.metrics import Gauge

        self.tags = {"submission": spec.submission, "workload": spec.workload,
                     "study": str(spec.study), "trial": str(spec.trial)}
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


def _board_class() -> Any:
    import ray

    @ray.remote(num_cpus=0, max_restarts=-1)
    class PruneBoard:
        """Best time-to-target reached so far in each study (score-preserving pruning)."""

        def __init__(self) -> None:
            self.best: dict[str, tuple[float, str]] = {}

        def reached(self, study_id: str, trial_id: str, time_to_target: float) -> None:
            if time_to_target < self.best.get(study_id, (math.inf, ""))[0]:
                self.best[study_id] = (time_to_target, trial_id)

        def best_other(self, study_id: str, trial_id: str) -> float:
            t, owner = self.best.get(study_id, (math.inf, ""))
            return math.inf if owner == trial_id else t

        def snapshot(self) -> dict[str, tuple[float, str]]:
            return dict(self.best)

    return PruneBoard


def prune_board(experiment: str, create: bool = False) -> Any:
    """The experiment's named board actor (created by the driver)."""
    import ray

    name = f"{PRUNE_BOARD_PREFIX}-{experiment}"
    if create:
        return _board_class().options(name=name, namespace=RAY_NAMESPACE,
                                      get_if_exists=True).remote()
    return ray.get_actor(name, namespace=RAY_NAMESPACE)


class TuneHooks:
    """RunnerHooks for a Tune trial: live reports, metrics and pruning.

    The runner calls these on rank 0 after each eval and checkpoint.
    ``report`` is ``ray.tune.report`` when the runner runs inside the Tune
    trial, or a forwarder when it runs in a Ray Train worker.
    """

    def __init__(self, spec: TrialSpec, opts: TuneOptions, report: Any) -> None:
        self.spec, self.opts, self.report = spec, opts, report
        self.target_column, self.target, self.minimize = target_of(spec)
        self.metrics = LiveMetrics(spec)
        self.board = prune_board(opts.experiment) if opts.prune_dominated else None
        self.time_to_target = math.inf
        self.pruned_at: float | None = None
        self.diverged: str | None = None

    def on_eval(self, row: dict[str, Any], checkpoint_dir: str | None = None) -> None:
        value = row.get(self.target_column)
        t = float(row["accumulated_submission_time"])
        if math.isinf(self.time_to_target) and reached(value, self.target, self.minimize):
            self.time_to_target = t
            if self.board is not None:
                self.board.reached.remote(self.spec.study_id, self.spec.trial_id, t)
        step_time = self.metrics.record(row, self.target_column)
        self.report({**clean_row({**row, "target_metric": value, "step_time": step_time,
                                  "time_to_target": self.time_to_target}),
                     "algoperf_status": "running"})

    def should_stop(self, row: dict[str, Any]) -> bool:
        """Stop a diverged trial, or one that can no longer change its study's time.

        Divergence is signalled here (not raised) because rank 0's answer is
        broadcast to every DDP rank; the trial is then recorded as failed.
        """
        bad = [k for k in DIVERGENCE_COLUMNS if _is_nan(row.get(k))]
        if bad:
            self.diverged = f"diverged: {', '.join(bad)} is NaN at step {row.get('global_step')}"
            return True
        if self.board is None or math.isfinite(self.time_to_target):
            return False
        import ray

        best = ray.get(self.board.best_other.remote(self.spec.study_id, self.spec.trial_id))
        if float(row["accumulated_submission_time"]) > best:
            self.pruned_at = float(row["accumulated_submission_time"])
            return True
        return False


DIVERGENCE_COLUMNS = ("train/loss", "validation/loss")


def _is_nan(v: Any) -> bool:
    return isinstance(v, float) and not math.isfinite(v)




# ---------------------------------------------------------------- in the trial

def run_in_process(spec: TrialSpec, opts: TuneOptions, report: Any) -> dict[str, Any]:
    """Run the trial with the runner in this process (single-worker trials)."""
    from algoperf_ray.runner import run_trial

    hooks = TuneHooks(spec, opts, report)
    try:
        result = run_trial(trial_config(spec, opts), hooks=hooks)
    except Exception as e:  # a raising submission is one failed trial, never the study
        error = f"{type(e).__name__}: {e}"
        record_failure(spec, opts, error)
        return summary(spec, opts, status="failed", error=error, hooks=hooks)
    return finish(spec, opts, result, hooks)


def finish(spec: TrialSpec, opts: TuneOptions, result: Any, hooks: TuneHooks) -> dict[str, Any]:
    """The summary of a trial the runner ended; a diverged one is recorded failed.

    Called as soon as the runner returned: with the loop's start it brackets
    the runner's work, so a driver can tell trial setup and teardown apart
    from training (``scripts/bench_tune.py``).
    """
    times = clean_row({"loop_start_time": result.start_time, "runner_end_time": time.time()})
    if hooks.diverged:
        record_failure(spec, opts, hooks.diverged)
        return {**summary(spec, opts, status="failed", error=hooks.diverged,
                          global_step=result.global_step,
                          preemption_count=result.preemption_count), **times}
    return {**summary(spec, opts, status=result.status, error=result.error, hooks=hooks,
                      time_to_target=result.time_to_target, global_step=result.global_step,
                      preemption_count=result.preemption_count), **times}


def summary(spec: TrialSpec, opts: TuneOptions, *, status: str, error: str | None,
            hooks: TuneHooks | None = None, time_to_target: float = math.inf,
            global_step: int = 0, preemption_count: int = 0) -> dict[str, Any]:
    """The trial's final Tune result (also the pruning accounting)."""
    pruned_at = hooks.pruned_at if hooks is not None else None
    saved = max(0.0, budget_sec(spec, opts) - pruned_at) if pruned_at is not None else 0.0
    return {"algoperf_status": status, "error": error or "",
            **clean_row({"time_to_target": float(time_to_target)}),  # absent: inf
            "global_step": int(global_step),
            "preemption_count": int(preemption_count),
            **({"pruned_at": pruned_at} if pruned_at is not None else {}),
            "saved_budget_sec": saved,
            "trial_id": spec.trial_id}


def record_failure(spec: TrialSpec, opts: TuneOptions, error: str) -> None:
    """Mark the trial failed in the store (time-to-target is then inf)."""
    if not opts.store_uri:
        return
    from algoperf_ray.store import Store

    Store(opts.store_uri).write_trial(spec.trial_key(), hparams=spec.hparams, status="failed",
                                      error=error[-4000:], seed=spec.seed)


def tune_trial(config: dict[str, Any]) -> None:
    """The Tune function trainable: one AlgoPerf trial, start to end."""
    from ray import tune

    for k, v in RAY_ENV_DEFAULTS.items():
        os.environ.setdefault(k, v)
    spec = TrialSpec.from_dict(config["spec"])
    opts = TuneOptions(**config["options"])
    if opts.wants_train(spec.framework):
        from algoperf_ray.tune.train_ray import run_with_train

        result = run_with_train(spec, opts, report=tune.report)
    else:
        result = run_in_process(spec, opts, report=tune.report)
    tune.report(result)


# ---------------------------------------------------------------- in the driver

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
    return res


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

    framework = specs[0].framework if specs else "jax"
    trainable = tune.with_resources(tune_trial, trial_resources(framework, opts))
    if resume and tune.Tuner.can_restore(opts.experiment_path):
        return tune.Tuner.restore(opts.experiment_path, trainable, resume_unfinished=True,
                                  resume_errored=True)
    return tune.Tuner(
        trainable,
        param_space={"spec": tune.grid_search([s.to_dict() for s in specs]),
                     "options": dataclasses.asdict(opts)},
        tune_config=tune.TuneConfig(max_concurrent_trials=max_concurrent(framework, opts),
                                    trial_name_creator=_trial_name,
                                    trial_dirname_creator=_trial_name),
        run_config=tune.RunConfig(name=opts.experiment, storage_path=opts.storage_path,
                                  failure_config=tune.FailureConfig(max_failures=opts.max_failures),
                                  callbacks=callbacks, verbose=verbose))


def completed_keys(store_uri: str | None) -> set[tuple]:
    """Store identities of finished trials (completed or pruned): never re-run."""
    if not store_uri:
        return set()
    from algoperf_ray.store import Store, keys_of

    table = Store(store_uri).read_trials(filters={"status": ["completed", "pruned"]})
    return {(k.version, k.ruleset, k.submission, k.framework, k.workload, k.study, k.trial)
            for k in keys_of(table)}


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


def seed_board(board: Any, specs: list[TrialSpec], store_uri: str | None) -> None:
    """Teach a fresh prune board the times-to-target already in the store (resume)."""
    if not store_uri or not specs:
        return
    from algoperf_ray.store import Store

    by_key = {s.key_tuple(): s for s in specs}
    table = Store(store_uri).read_evals()
    for row in table.to_pylist():
        key = tuple(row.get(c) for c in ("version", "ruleset", "submission", "framework",
                                         "workload", "study", "trial"))
        spec = by_key.get(key)
        if spec is None:
            continue
        column, target, minimize = target_of(spec)
        if reached(row.get(column), target, minimize):
            board.reached.remote(spec.study_id, spec.trial_id,
                                 float(row["accumulated_submission_time"]))


def _collect(grid: Any, opts: TuneOptions) -> list[dict[str, Any]]:
    """One summary per Tune trial; trials Tune gave up on are recorded failed."""
    out = []
    for result in grid:
        spec = TrialSpec.from_dict(result.config["spec"])
        metrics = dict(result.metrics or {})
        if result.error is not None or "algoperf_status" not in metrics:
            error = str(result.error or "trial ended without a final report")
            record_failure(spec, opts, error)
            metrics = summary(spec, opts, status="failed", error=error)
        elif metrics["algoperf_status"] == "running":  # stopped before its final report
            metrics["algoperf_status"] = "failed"
        out.append({"time_to_target": math.inf, **metrics, "trial_id": spec.trial_id,
                    "study_id": spec.study_id})
    return sorted(out, key=lambda m: m["trial_id"])


def run_experiment(specs: list[TrialSpec], opts: TuneOptions, *, address: str | None = None,
                   resume: bool = False, verbose: int = 1,
                   callbacks: list[Any] | None = None) -> ExperimentSummary:
    """Run (or resume) every spec on Ray Tune and return what happened.

    ``callbacks``: ``ray.tune.Callback`` s for a new experiment's driver
    (e.g. the per-trial timing of ``scripts/bench_tune.py``).
    """
    from ray import tune

    start = time.perf_counter()
    info = init_ray(address, job_name=f"algoperf-ray tune: {opts.experiment}")
    if verbose and info.get("dashboard_url"):
        print(f"Ray dashboard: {info['dashboard_url']} (localhost only)")
    restoring = resume and tune.Tuner.can_restore(opts.experiment_path)
    todo = specs if restoring else [
        s for s in specs if s.key_tuple() not in completed_keys(opts.store_uri)]
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
    return ExperimentSummary(trials, len(specs) - len(todo), opts.experiment_path,
                             time.perf_counter() - start)
