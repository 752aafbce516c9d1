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

This module imports :mod:`algoperf_ray.tune.trial`, never the reverse.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from algoperf_ray.benchmark.identity import TrialSpec
from algoperf_ray.tune.options import DRIVER_CPU, RAY_ENV_DEFAULTS, TuneOptions
from algoperf_ray.tune.trial import run_here, stored_summary, summary


def _worker_loop(config: dict[str, Any]) -> dict[str, Any]:
    """Runs on every Train worker: the same trial code as a single-process trial."""
    return run_here(TrialSpec.from_dict(config["spec"]), TuneOptions(**config["options"]),
                    report=config["queue"].put)


def make_trainer(spec: TrialSpec, opts: TuneOptions, queue: Any) -> Any:
    """The framework's Trainer for one trial, named from the trial id."""
    import ray.train

    n = opts.num_workers(spec.key.framework)
    gpus = opts.gpus_per_trial
    # The Tune driver holds DRIVER_CPU: the workers leave it room, so one trial
    # needs exactly n * cpus_per_trial CPUs and never starves itself.
    cpu = max(DRIVER_CPU, opts.cpus_per_trial - DRIVER_CPU)
    if spec.key.framework == "pytorch":
        from ray.train.torch import TorchConfig, TorchTrainer

        per_worker = {"CPU": cpu, **({"GPU": 1} if gpus else {}), **opts.accelerator_resources()}
        cls, extra = TorchTrainer, {"torch_config": TorchConfig(backend="nccl" if gpus else "gloo")}
    else:
        from ray.train.v2.jax import JaxTrainer

        per_worker = {"CPU": cpu, **({"GPU": gpus} if gpus else {}), **opts.accelerator_resources()}
        cls, extra = JaxTrainer, {}
    return cls(
        _worker_loop,
        train_loop_config={"spec": spec.to_dict(), "options": opts.to_dict(), "queue": queue},
        scaling_config=ray.train.ScalingConfig(num_workers=n, use_gpu=bool(gpus),
                                               resources_per_worker=per_worker),
        run_config=ray.train.RunConfig(
            name=f"{opts.experiment}-{spec.trial_id}",
            storage_path=os.path.join(opts.experiment_path, "train"),
            failure_config=ray.train.FailureConfig(max_failures=opts.max_failures),
            worker_runtime_env={"env_vars": dict(RAY_ENV_DEFAULTS)}),
        **extra)


def run_with_train(spec: TrialSpec, opts: TuneOptions, report: Any) -> dict[str, Any]:
    """Run the trial on a Train worker group; forward rank 0's rows to ``report``.

    When Train gives up (workers lost beyond ``max_failures``) the summary
    says so; the store keeps what the runner last recorded (a trial row left
    ``running`` reads as interrupted), since only the runner records trials.
    """
    from ray.util.queue import Empty, Queue

    done = stored_summary(spec, opts)
    if done is not None:  # finished before the experiment was interrupted
        return done
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
        return summary(spec, opts, status="failed",
                       error=f"{type(box['error']).__name__}: {box['error']}")
    return box["result"].return_value


def trainable(config: dict[str, Any]) -> None:
    """The Tune function trainable: one AlgoPerf trial, here or on a Train worker group."""
    from ray import tune

    for k, v in RAY_ENV_DEFAULTS.items():
        os.environ.setdefault(k, v)
    spec, opts = TrialSpec.from_dict(config["spec"]), TuneOptions(**config["options"])
    if opts.wants_train(spec.key.framework):
        result = run_with_train(spec, opts, report=tune.report)
    else:
        result = run_here(spec, opts, report=tune.report)
    tune.report(result)
