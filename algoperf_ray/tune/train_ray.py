"""Ray Train wrappers: a trial's workers, launched from its Tune trial.

* PyTorch: ``TorchTrainer`` with one DDP worker per GPU (gloo on CPU).
* JAX: ``JaxTrainer`` with one worker per host that owns all the host's
  devices and shards with jit (on CPU, Train skips ``jax.distributed``).

The Train run is named from the AlgoPerf trial id, and the runner's
checkpoints live under the same stable path, so a worker group restarted by
Train's ``FailureConfig`` -- or a Tune retry, or a restored experiment --
resumes from the newest checkpoint and counts one more preemption.

Why eval rows go through a queue, not ``ray.train.report``: the runner calls
its hooks on rank 0 only, while ``ray.train.report`` is a barrier on every
rank. Rank 0 instead puts each row on a Ray queue, which the Tune trial
drains into ``ray.tune.report`` while ``fit`` runs in a thread.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from algoperf_ray.tune.plan import TrialSpec
from algoperf_ray.tune.tuning import (
    DRIVER_CPU,
    RAY_ENV_DEFAULTS,
    TuneHooks,
    TuneOptions,
    finish,
    record_failure,
    summary,
    trial_config,
)


def _worker_loop(config: dict[str, Any]) -> dict[str, Any]:
    """Runs on every Train worker; only rank 0 writes and reports."""
    from algoperf_ray.runner import run_trial

    spec, opts = TrialSpec.from_dict(config["spec"]), TuneOptions(**config["options"])
    queue = config["queue"]
    hooks = TuneHooks(spec, opts, report=queue.put)
    try:
        result = run_trial(trial_config(spec, opts), hooks=hooks)
    except Exception as e:  # a raising submission: one failed trial
        error = f"{type(e).__name__}: {e}"
        record_failure(spec, opts, error)
        return summary(spec, opts, status="failed", error=error, hooks=hooks)
    return finish(spec, opts, result, hooks)


def make_trainer(spec: TrialSpec, opts: TuneOptions, queue: Any) -> Any:
    """The framework's Trainer for one trial, named from the trial id."""
    import ray.train

    n = opts.num_workers(spec.framework)
    gpus = opts.gpus_per_trial
    # The Tune driver holds DRIVER_CPU: the workers leave it room, so one trial
    # needs exactly n * cpus_per_trial CPUs and never starves itself.
    cpu = max(DRIVER_CPU, opts.cpus_per_trial - DRIVER_CPU)
    if spec.framework == "pytorch":
        from ray.train.torch import TorchConfig, TorchTrainer

        per_worker = {"CPU": cpu, **({"GPU": 1} if gpus else {})}
        cls, extra = TorchTrainer, {"torch_config": TorchConfig(backend="nccl" if gpus else "gloo")}
    else:
        from ray.train.v2.jax import JaxTrainer

        per_worker = {"CPU": cpu, **({"GPU": gpus} if gpus else {})}
        cls, extra = JaxTrainer, {}
    return cls(
        _worker_loop,
        train_loop_config={"spec": spec.to_dict(), "options": _asdict(opts), "queue": queue},
        scaling_config=ray.train.ScalingConfig(num_workers=n, use_gpu=bool(gpus),
                                               resources_per_worker=per_worker),
        run_config=ray.train.RunConfig(
            name=f"{opts.experiment}-{spec.trial_id}",
            storage_path=os.path.join(opts.experiment_path, "train"),
            failure_config=ray.train.FailureConfig(max_failures=opts.max_failures),
            worker_runtime_env={"env_vars": dict(RAY_ENV_DEFAULTS)}),
        **extra)


def _asdict(opts: TuneOptions) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(opts)


def run_with_train(spec: TrialSpec, opts: TuneOptions, report: Any) -> dict[str, Any]:
    """Run the trial on a Train worker group; forward rank 0's rows to ``report``."""
    from ray.util.queue import Empty, Queue

    queue = Queue(actor_options={"num_cpus": 0})
    box: dict[str, Any] = {}

    def fit() -> None:
        try:
            box["result"] = make_trainer(spec, opts, queue).fit()
        except Exception as e:  # Train gave up after its retries
            box["error"] = e

    thread = threading.Thread(target=fit, name=f"train-{spec.trial_id}", daemon=True)
    thread.start()
    while thread.is_alive() or not queue.empty():
        try:
            report(queue.get(timeout=0.5))
        except Empty:
            continue
    if "error" in box:
        error = f"{type(box['error']).__name__}: {box['error']}"
        record_failure(spec, opts, error)
        return summary(spec, opts, status="failed", error=error)
    return box["result"].return_value
