"""Benchmark versions as data: which workloads count, their targets and budgets.

The scorer, the runner and the CLI all read this one table, so a version's
numbers are written once. v0.5 is frozen: its targets come from the published
``workload_targets_v05.json`` (vendored under ``algoperf_ray/data``) and its
budgets are the first competition's. The current version (v0.6) is read from
the workload metadata in ``workloads/*/metadata.py``, the same objects the
runner trains with.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any

from algoperf_ray.spec import metric_is_minimized

CURRENT_VERSION = "0.6"
RULESETS = ("external", "self")

# The eight workloads every version scores.
_BASE_WORKLOADS = (
    "criteo1tb", "fastmri", "imagenet_resnet", "imagenet_vit",
    "librispeech_conformer", "librispeech_deepspeech", "ogbg", "wmt",
)

# v0.5 external-tuning budgets (seconds) of the first competition; the
# targets json predates a runtime field, so they are kept here.
_V05_MAX_RUNTIME_SEC = {
    "criteo1tb": 7703, "fastmri": 8859, "imagenet_resnet": 63_008,
    "imagenet_vit": 77_520, "librispeech_conformer": 61_068,
    "librispeech_deepspeech": 55_506, "ogbg": 18_477, "wmt": 48_151,
}


class UnknownVersionError(ValueError):
    """A benchmark version that this package does not describe."""


class UnknownVersionWorkloadError(KeyError):
    """A workload name the chosen version has no target for."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class WorkloadTarget:
    """The scoring facts of one workload under one benchmark version."""

    name: str
    target_metric_name: str
    validation_target: float
    max_runtime_sec: float | None
    step_hint: int
    base: str  # the base workload's name (itself for base workloads)

    @property
    def minimize(self) -> bool:
        return metric_is_minimized(self.target_metric_name)

    @property
    def metric_column(self) -> str:
        return f"validation/{self.target_metric_name}"


@dataclass(frozen=True)
class BenchmarkVersion:
    """One benchmark version: scored workloads, targets, budgets and counts."""

    name: str
    base_workloads: tuple[str, ...]
    held_out_workloads: tuple[str, ...]
    workloads: MappingProxyType  # name -> WorkloadTarget (incl. unscored variants)
    studies: dict[str, int]  # ruleset -> studies per workload
    trials: dict[str, int]  # ruleset -> trials per study
    self_tuning_budget_factor: float

    def target(self, workload: str) -> WorkloadTarget:
        """The target of ``workload``; the error lists the valid names."""
        if workload not in self.workloads:
            valid = ", ".join(sorted(self.workloads))
            raise UnknownVersionWorkloadError(
                f"unknown workload {workload!r} for benchmark version {self.name}. "
                f"Valid workloads: {valid}. Fix the workload name in the store or "
                f"score with the version the trials were run under.")
        return self.workloads[workload]

    def max_runtime_sec(self, workload: str, ruleset: str = "external") -> float:
        """The runtime budget; self-tuning gets ``self_tuning_budget_factor`` times it."""
        budget = self.target(workload).max_runtime_sec
        if budget is None:
            raise ValueError(f"version {self.name} records no runtime budget for {workload!r}")
        return budget * (self.self_tuning_budget_factor if ruleset == "self" else 1.0)

    # Convenience accessors used by the runner.
    def target_metric_name(self, workload: str) -> str:
        return self.target(workload).target_metric_name

    def validation_target(self, workload: str) -> float:
        return self.target(workload).validation_target

    def step_hint(self, workload: str) -> int:
        return self.target(workload).step_hint

    @property
    def scored_workloads(self) -> tuple[str, ...]:
        return self.base_workloads + self.held_out_workloads


def _base_of(name: str, bases: tuple[str, ...]) -> str:
    """The base workload a variant belongs to: the longest base-name prefix."""
    matches = [b for b in bases if name == b or name.startswith(b + "_")]
    return max(matches, key=len) if matches else name


def _v05() -> BenchmarkVersion:
    text = resources.files("algoperf_ray").joinpath("data/workload_targets_v05.json").read_text()
    raw: dict[str, Any] = json.loads(text)
    bases = tuple(raw["base_workloads"])
    table = {}
    for name, spec in raw["workloads"].items():
        base = _base_of(name, bases)
        table[name] = WorkloadTarget(
            name=name, target_metric_name=spec["target_metric_name"],
            validation_target=float(spec["validation_target_value"]),
            max_runtime_sec=_V05_MAX_RUNTIME_SEC.get(base), step_hint=int(spec["step_hint"]),
            base=base)
    return BenchmarkVersion(
        name="0.5", base_workloads=bases, held_out_workloads=tuple(raw["held_out_workloads"]),
        workloads=MappingProxyType(table), studies={"external": 5, "self": 5},
        trials={"external": 5, "self": 1}, self_tuning_budget_factor=3.0)


def _v06() -> BenchmarkVersion:
    from algoperf_ray.benchmark.registry import all_workloads

    table = {}
    for name, meta in all_workloads().items():
        table[name] = WorkloadTarget(
            name=name, target_metric_name=meta.target_metric_name,
            validation_target=float(meta.validation_target),
            max_runtime_sec=float(meta.max_runtime_sec), step_hint=int(meta.step_hint),
            base=meta.base or name)
    missing = [w for w in _BASE_WORKLOADS if w not in table]
    if missing:
        raise RuntimeError(f"workload metadata missing for v{CURRENT_VERSION} base workloads "
                           f"{missing}; add them to workloads/<family>/metadata.py")
    return BenchmarkVersion(
        name="0.6", base_workloads=_BASE_WORKLOADS, held_out_workloads=(),
        workloads=MappingProxyType(table), studies={"external": 3, "self": 3},
        trials={"external": 5, "self": 1}, self_tuning_budget_factor=1.5)


_BUILDERS = {"0.5": _v05, "0.6": _v06}
VERSIONS = tuple(_BUILDERS)


def get_version(name: str | None = None) -> BenchmarkVersion:
    """The version ``name`` (default: the current one); errors list valid versions."""
    key = CURRENT_VERSION if name is None else str(name).removeprefix("v")
    if key not in _BUILDERS:
        raise UnknownVersionError(
            f"unknown benchmark version {name!r}. Valid versions: {', '.join(VERSIONS)}.")
    return _build(key)


@functools.cache
def _build(key: str) -> BenchmarkVersion:
    return _BUILDERS[key]()


def check_ruleset(ruleset: str) -> str:
    if ruleset not in RULESETS:
        raise ValueError(f"unknown ruleset {ruleset!r}; choose one of: {', '.join(RULESETS)}.")
    return ruleset
