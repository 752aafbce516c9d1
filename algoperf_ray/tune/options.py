"""How to run the trials of one experiment: :class:`TuneOptions` (plain data, no Ray).

Options are what is the same for every trial of an experiment (storage, data,
resources, retries, overrides); what differs per trial is its
:class:`~algoperf_ray.benchmark.identity.TrialSpec`. A trial's runner config
is exactly the two together (:func:`trial_config`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from algoperf_ray.benchmark.identity import TrialSpec
from algoperf_ray.runner.checkpoint import join_path

# Train V2's preemption watcher logs a noisy error on every local run.
RAY_ENV_DEFAULTS = {
    "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0",
    "RAY_TRAIN_ENABLE_STATE_TRACKING": "1",
    "RAY_AIR_NEW_OUTPUT": "0",
}
# A trial driver that only waits on Train workers must not hold a whole CPU,
# or a 2-CPU machine deadlocks (Ray rejects 0).
DRIVER_CPU = 0.01
RAY_NAMESPACE = "algoperf"  # named actors live here, whatever the driver's namespace
USE_TRAIN_CHOICES = ("auto", "always", "never")


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
    ddp: bool = False  # PyTorch: even one-worker trials get a process group (Train)
    stop_on_nan: int | None = None  # see TrialConfig.stop_on_nan (None: off, as official)
    torch_compile: bool = False
    hardware: str | None = None  # benchmark hardware class (None: the budgets' own)
    budgets: dict[str, float] | None = None  # --budgets table: workload -> seconds
    extra_config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.use_train not in USE_TRAIN_CHOICES:
            raise ValueError(f"use_train must be auto, always or never, not {self.use_train!r}")
        if self.ddp and self.use_train == "never":
            raise ValueError("ddp needs Ray Train workers: drop --use-train never")
        if self.stop_on_nan is not None and self.stop_on_nan < 1:
            raise ValueError(f"stop_on_nan must be >= 1 evals, got {self.stop_on_nan}")

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
        """Ray Train only where a trial needs more than one worker (or when forced)."""
        if self.use_train == "auto":
            return self.num_workers(framework) > 1 or (self.ddp and framework == "pytorch")
        return self.use_train == "always"

    def runtime_override(self, spec: TrialSpec) -> float | None:
        """--max-runtime-sec for every trial, else this workload's --budgets entry."""
        from algoperf_ray.benchmark.hardware import budget_override

        return budget_override(spec.key.workload, self.max_runtime_sec, self.budgets)

    def accelerator_resources(self) -> dict[str, float]:
        """Pins a GPU trial to its hardware class's node type (cluster.yaml resources)."""
        if not self.gpus_per_trial or self.hardware is None:
            return {}
        from algoperf_ray.benchmark.hardware import get_hardware

        return {get_hardware(self.hardware).ray_resource: 0.001}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def trial_config(spec: TrialSpec, opts: TuneOptions) -> Any:
    """The runner's :class:`~algoperf_ray.runner.TrialConfig`: the spec plus these options."""
    from algoperf_ray.runner import TrialConfig

    names = {f.name for f in dataclasses.fields(TrialConfig)}
    extra = {k: v for k, v in opts.extra_config.items() if k in names and k != "spec"}
    return TrialConfig(
        spec, data_mode=opts.data_mode, data_dir=opts.data_dir,
        max_global_steps=opts.max_global_steps, store_uri=opts.store_uri,
        checkpoint_dir=opts.checkpoint_dir(spec), max_runtime_sec=opts.runtime_override(spec),
        eval_period_sec=opts.eval_period_sec, stop_on_nan=opts.stop_on_nan,
        torch_compile=opts.torch_compile, gpus=_gpus_per_process(spec, opts),
        hardware=opts.hardware, **extra)


def _gpus_per_process(spec: TrialSpec, opts: TuneOptions) -> int:
    """GPUs one runner process was given: 1 per DDP worker (PyTorch), all of them for JAX."""
    if opts.gpus_per_trial <= 0:
        return 0
    return 1 if spec.key.framework == "pytorch" else opts.gpus_per_trial
