"""What one trial is (``TrialConfig``) and what it produced (``TrialResult``).

``TrialConfig`` is a :class:`~algoperf_ray.benchmark.identity.TrialSpec`
(the trial's key, submission, seed and hyperparameters) plus how to run it.
The rules (budget, eval period, targets) are never stored here: they are
asked of the benchmark version named by the trial's key, so a v0.5 trial runs
under v0.5's rules wherever it runs. Both records are plain data so Ray can
ship them and the planner can build them without importing torch or jax.
"""

from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from typing import Any

from algoperf_ray.benchmark.identity import TrialKey, TrialSpec

# Keywords that describe the trial itself (they build its spec), accepted by
# ``TrialConfig.build`` and, for existing callers, by the constructor.
_SPEC_KEYWORDS = ("workload", "framework", "submission_path", "hparams", "ruleset", "seed",
                  "key", "version", "study", "trial")


@dataclass(frozen=True, init=False)
class TrialConfig:
    """A trial's spec plus its run options.

    ``max_runtime_sec`` / ``eval_period_sec`` override the version's numbers
    (tests, quickstart); the version's self-tuning factor still applies.
    Build one from a spec (``TrialConfig(spec, data_mode=...)``) or from
    names (``TrialConfig.build(workload=..., framework=..., ...)``).
    """

    spec: TrialSpec
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
    # End the trial after this many consecutive evals with a NaN loss or target
    # metric (None: train to the budget, as the reference and official runs do).
    stop_on_nan: int | None = None
    # torch.compile the model (and some losses) as the reference's runner does.
    torch_compile: bool = False
    # GPUs this trial was given (Ray resources, --gpus): checked at its start.
    gpus: int = 0
    # Benchmark hardware class (--hardware); None: the class the version's budgets
    # were measured on. Another class needs max_runtime_sec (a --budgets entry).
    hardware: str | None = None

    def __init__(self, spec: TrialSpec | None = None, **kwargs: Any) -> None:
        named = {k: kwargs.pop(k) for k in _SPEC_KEYWORDS if k in kwargs}
        if spec is None:
            spec = _spec_from_names(**named)
        elif named:
            raise TypeError(f"TrialConfig: pass either a spec or {sorted(named)}, not both")
        options = {f.name: f for f in dataclasses.fields(self) if f.name != "spec"}
        unknown = sorted(set(kwargs) - set(options))
        if unknown:
            raise TypeError(f"TrialConfig got unknown options {unknown}; valid: {sorted(options)}")
        object.__setattr__(self, "spec", spec)
        for name, f in options.items():
            default = f.default_factory() if f.default is dataclasses.MISSING else f.default
            object.__setattr__(self, name, kwargs.get(name, default))
        self._validate()

    @classmethod
    def build(cls, **kwargs: Any) -> TrialConfig:
        """A config from names: ``workload``, ``framework``, ``submission_path``, and
        optionally ``hparams``, ``ruleset``, ``seed``, ``version``, ``study``, ``trial``
        (or a ready ``key``), plus any run option."""
        return cls(None, **kwargs)

    def _validate(self) -> None:
        from algoperf_ray.benchmark.versions import get_version

        get_version(self.key.version)  # an unknown version fails here, naming the valid ones
        self.key.validate()
        if self.ruleset == "self" and self.hparams is not None:
            raise ValueError("self-tuning trials get no hyperparameters (hparams must be None); "
                             "use ruleset='external' to pass hyperparameters.")
        if self.stop_on_nan is not None and self.stop_on_nan < 1:
            raise ValueError(f"stop_on_nan must be >= 1 evals (or None: off), got "
                             f"{self.stop_on_nan}.")
        if self.gpus < 0:
            raise ValueError(f"gpus must be >= 0, got {self.gpus}.")
        if self.max_global_steps is not None and self.max_global_steps < 1:
            raise ValueError(f"max_global_steps must be >= 1, got {self.max_global_steps}.")
        for name in ("max_runtime_sec", "eval_period_sec"):
            value = getattr(self, name)
            if value is not None and not value >= 0:
                raise ValueError(f"{name} must be >= 0 seconds, got {value}.")

    # ---- the spec's facts -----------------------------------------------------------
    @property
    def key(self) -> TrialKey:
        return self.spec.key

    @property
    def workload(self) -> str:
        return self.spec.key.workload

    @property
    def framework(self) -> str:
        return self.spec.key.framework

    @property
    def ruleset(self) -> str:
        return self.spec.key.ruleset

    @property
    def seed(self) -> int:
        return self.spec.seed

    @property
    def hparams(self) -> dict[str, Any] | None:
        return self.spec.hparams

    @property
    def submission_path(self) -> str:
        return self.spec.submission_path

    # ---- the rules, asked of the trial's version ----------------------------------------
    @property
    def version(self) -> Any:
        """The :class:`~algoperf_ray.benchmark.versions.BenchmarkVersion` of this trial."""
        from algoperf_ray.benchmark.versions import get_version

        return get_version(self.key.version)

    def budget_sec(self, workload_runtime_sec: float | None = None) -> float:
        """Submission-time budget: the version's (or overridden) budget x the ruleset factor.

        ``workload_runtime_sec`` (the workload object's own number) is used only
        for a workload the version does not list, such as a test's fake.
        """
        runtime = self.max_runtime_sec
        if runtime is None and self.workload not in self.version.workloads:
            runtime = workload_runtime_sec
        return self.version.max_runtime_sec(self.workload, self.ruleset, runtime_sec=runtime,
                                            hardware=self.hardware)

    def eval_period(self, workload_period_sec: float | None = None) -> float:
        """Seconds between evals: the override, else the version's, else the workload's own."""
        if self.eval_period_sec is not None:
            return float(self.eval_period_sec)
        return self.version.eval_period_sec(self.workload, default=workload_period_sec)


def _spec_from_names(*, submission_path: str, workload: str | None = None,
                     framework: str | None = None, hparams: dict[str, Any] | None = None,
                     ruleset: str | None = None, seed: int = 0, key: TrialKey | None = None,
                     version: str | None = None, study: int = 0, trial: int = 0) -> TrialSpec:
    """A spec from plain names; the key's submission is the submission's folder name."""
    from algoperf_ray.benchmark.versions import get_version

    version = get_version(version).name if version is not None else None
    if key is None:
        if workload is None or framework is None:
            raise TypeError("TrialConfig needs workload= and framework= (or a key=/spec)")
        from algoperf_ray.submission.loader import submission_name

        key = TrialKey(version=version or get_version().name,
                       ruleset=ruleset or "external",
                       submission=submission_name(os.path.abspath(submission_path)),
                       framework=framework, workload=workload, study=study, trial=trial)
    given = {"workload": workload, "framework": framework, "ruleset": ruleset, "version": version}
    clash = {k: v for k, v in given.items() if v is not None and getattr(key, k) != v}
    if clash:
        raise ValueError(f"TrialConfig: key {key} disagrees with {clash}; pass one or the other")
    return TrialSpec(key=key, submission_path=submission_path, seed=seed, hparams=hparams)


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
