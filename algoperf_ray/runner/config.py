"""What one trial is (``TrialConfig``) and what it produced (``TrialResult``).

Both are plain data so that Ray can ship them between processes and the
planner can build them without importing torch or jax.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any

RULESETS = ("external", "self")
# AlgoPerf v0.6 gives self-tuning submissions 1.5x the workload budget
# (v0.5 used 3x); the runner runs the current rules.
SELF_TUNING_BUDGET_FACTOR = 1.5
TRIAL_STATUSES = ("pending", "running", "completed", "failed", "pruned")


@dataclass(frozen=True)
class TrialConfig:
    """Everything needed to run (or resume) one AlgoPerf trial.

    ``key`` is the trial's identity in the results store; when it is None a
    default key (study 0, trial 0, current version) is derived on use.
    ``max_runtime_sec`` / ``eval_period_sec`` override the workload's numbers
    (tests, quickstart); the self-tuning x1.5 is applied on top.
    """

    workload: str
    framework: str
    submission_path: str
    hparams: dict[str, Any] | None = None
    ruleset: str = "external"
    seed: int = 0
    key: Any = None  # algoperf_ray.store.TrialKey
    data_mode: str = "real"
    data_dir: str | None = None
    max_global_steps: int | None = None
    store_uri: str | None = None
    checkpoint_dir: str | None = None
    max_runtime_sec: float | None = None
    eval_period_sec: float | None = None
    # Extra constructor kwargs for the workload class (e.g. REDUCED_SIZE_KWARGS).
    workload_kwargs: dict[str, Any] = field(default_factory=dict)
    imagenet_v2_data_dir: str | None = None
    # Re-raise a failing trial's exception after recording it (Ray retries).
    raise_on_error: bool = False

    def __post_init__(self) -> None:
        if self.ruleset not in RULESETS:
            raise ValueError(f"ruleset must be one of {RULESETS}, got {self.ruleset!r}.")
        if self.ruleset == "self" and self.hparams is not None:
            raise ValueError("self-tuning trials get no hyperparameters (hparams must be None); "
                             "use ruleset='external' to pass hyperparameters.")
        if self.max_global_steps is not None and self.max_global_steps < 1:
            raise ValueError(f"max_global_steps must be >= 1, got {self.max_global_steps}.")

    def budget_sec(self, workload_budget: float) -> float:
        """The submission-time budget: the (overridden) workload budget, x1.5 if self-tuning."""
        base = self.max_runtime_sec if self.max_runtime_sec is not None else workload_budget
        return base * (SELF_TUNING_BUDGET_FACTOR if self.ruleset == "self" else 1.0)

    @property
    def submission_name(self) -> str:
        """The store's submission name (``submissions/nadamw/jax/submission.py`` -> nadamw)."""
        from algoperf_ray.submission.loader import submission_name

        return submission_name(os.path.abspath(self.submission_path))

    def trial_key(self) -> Any:
        """``self.key``, or a default one derived from the config."""
        if self.key is not None:
            return self.key
        from algoperf_ray.benchmark.versions import CURRENT_VERSION
        from algoperf_ray.store import TrialKey

        return TrialKey(version=CURRENT_VERSION, ruleset=self.ruleset,
                        submission=self.submission_name, framework=self.framework,
                        workload=self.workload, study=0, trial=0)


@dataclass
class TrialResult:
    """The outcome of :func:`algoperf_ray.runner.run_trial`.

    ``time_to_target`` is the submission time (``score``) of the first eval
    that met the validation target, ``inf`` when none did. ``start_time``
    is the clock reading at which the timed loop started (epoch seconds on the
    wall clock), just before the first ``data_selection``/``update_params``:
    drivers compare it with their own timestamps to measure trial setup.
    """

    status: str
    time_to_target: float = math.inf
    eval_rows: list[dict[str, Any]] = field(default_factory=list)
    global_step: int = 0
    preemption_count: int = 0
    error: str | None = None
    start_time: float | None = None

    @property
    def reached_target(self) -> bool:
        return math.isfinite(self.time_to_target)
