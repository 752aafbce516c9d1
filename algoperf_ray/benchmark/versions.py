"""The rulebook: every rules question is answered by one :class:`BenchmarkVersion`.

Ruleset names, studies and trials per ruleset, a workload's runtime budget
under a ruleset (the self-tuning factor included), targets and the target
test, the eval period and the step hint are all read from the version a trial
was planned under. The planner, the runner, ``run``, ``tune``, ``ingest`` and
the scorer ask it; nothing else spells a rule.

Versions:

* ``0.5``: frozen. Targets from the published ``workload_targets_v05.json``
  (vendored under ``algoperf_ray/data``), the first competition's budgets,
  5 studies and a 3x self-tuning budget.
* ``0.6`` (current): the eight base workloads of the published v0.6
  leaderboard, read from ``workloads/*/metadata.py`` (the objects the runner
  trains with); 3 studies, a 1.5x self-tuning budget.
* ``0.6-lm``: the reference's current scoring table (``submissions_algorithms``
  ``scoring/workload_targets.json``), which adds ``finewebedu_lm`` as a ninth
  base workload. The reference labels that table "0.6" too, but the
  published v0.6 leaderboard was scored over eight workloads, so reusing the
  name would silently change every v0.6 score; the suffix says what it adds.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any

from algoperf_ray.benchmark.hardware import DEFAULT_HARDWARE, get_hardware
from algoperf_ray.spec import meets_target, metric_is_minimized

CURRENT_VERSION = "0.6"
RULESETS = ("external", "self")

# The eight workloads every version scores.
_BASE_WORKLOADS = (
    "criteo1tb", "fastmri", "imagenet_resnet", "imagenet_vit",
    "librispeech_conformer", "librispeech_deepspeech", "ogbg", "wmt",
)

# v0.5 budgets (seconds) of the first competition (reference tag v0.5.0); the
# targets json predates a runtime field, so they are kept here.
_V05_MAX_RUNTIME_SEC = {
    "criteo1tb": 7703, "fastmri": 8859, "imagenet_resnet": 63_008,
    "imagenet_vit": 77_520, "librispeech_conformer": 61_068,
    "librispeech_deepspeech": 55_506, "ogbg": 18_477, "wmt": 48_151,
    "mnist": 60, "cifar": 3600,
}
# v0.5 eval periods (seconds, reference tag v0.5.0): the same as v0.6's.
_V05_EVAL_PERIOD_SEC = {
    "criteo1tb": 120, "fastmri": 80, "imagenet_resnet": 510, "imagenet_vit": 420,
    "librispeech_conformer": 1440, "librispeech_deepspeech": 1440, "ogbg": 240,
    "wmt": 840, "mnist": 10, "cifar": 600,
}


class UnknownVersionError(ValueError):
    """A benchmark version that this package does not describe."""


class UnknownVersionWorkloadError(KeyError):
    """A workload name the chosen version has no target for."""

    def __str__(self) -> str:
        return str(self.args[0])


class NoHardwareBudgetError(ValueError):
    """A budget asked for on a hardware class the version's table was not measured on."""


@dataclass(frozen=True)
class WorkloadTarget:
    """The scoring facts of one workload under one benchmark version."""

    name: str
    target_metric_name: str
    validation_target: float
    max_runtime_sec: float | None
    step_hint: int
    base: str  # the base workload's name (itself for base workloads)
    eval_period_sec: float | None = None

    @property
    def minimize(self) -> bool:
        return metric_is_minimized(self.target_metric_name)

    @property
    def metric_column(self) -> str:
        return f"validation/{self.target_metric_name}"

    def is_met(self, value: float | None) -> bool:
        """The scoring test: does a validation value count as reaching the target?"""
        return meets_target(self.target_metric_name, value, self.validation_target)


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
    hardware: str = DEFAULT_HARDWARE  # the class the budgets were measured on

    @property
    def rulesets(self) -> tuple[str, ...]:
        return RULESETS

    @property
    def scored_workloads(self) -> tuple[str, ...]:
        """Every workload a submission must have run to be scored completely."""
        return self.base_workloads + self.held_out_workloads

    def target(self, workload: str) -> WorkloadTarget:
        """The target of ``workload``; the error lists the valid names."""
        if workload not in self.workloads:
            valid = ", ".join(sorted(self.workloads))
            raise UnknownVersionWorkloadError(
                f"unknown workload {workload!r} for benchmark version {self.name}. "
                f"Valid workloads: {valid}. Fix the workload name in the store or "
                f"score with the version the trials were run under.")
        return self.workloads[workload]

    def rules_for(self, workload: str) -> WorkloadTarget:
        """The version's row for ``workload``, else the registered workload's own numbers.

        Dev workloads a version does not list (``digits`` under 0.5) still run
        and prune by their metadata, under this version's ruleset factors.
        """
        if workload in self.workloads:
            return self.workloads[workload]
        from algoperf_ray.benchmark.registry import get_meta

        return _target_of_meta(get_meta(workload))  # unknown names: lists the valid ones

    def budget_factor(self, ruleset: str) -> float:
        """How many times the workload budget a ruleset gets (self-tuning: more)."""
        check_ruleset(ruleset)
        return self.self_tuning_budget_factor if ruleset == "self" else 1.0

    def max_runtime_sec(self, workload: str, ruleset: str = "external", *,
                        runtime_sec: float | None = None, hardware: str | None = None) -> float:
        """The runtime budget of ``workload`` under ``ruleset``: the one budget rule.

        ``runtime_sec`` replaces the table's budget before the ruleset factor
        is applied: a test's or quickstart's override, a ``--budgets`` table's
        entry, or the workload's own number for a workload outside every
        version (a test's fake). On a ``hardware`` class other than the one
        the table was measured on, the table does not apply: without
        ``runtime_sec`` that is an error naming the fix.
        """
        hw = get_hardware(hardware).name if hardware is not None else self.hardware
        if runtime_sec is None and hw != self.hardware:
            raise NoHardwareBudgetError(
                f"version {self.name} publishes budgets for {self.hardware} only, so {workload!r} "
                f"has no budget on {hw}; pass --budgets FILE (JSON {{\"{workload}\": seconds}}) "
                f"or --max-runtime, or run on --hardware {self.hardware}")
        base = runtime_sec if runtime_sec is not None else self.target(workload).max_runtime_sec
        if base is None:
            raise ValueError(f"version {self.name} records no runtime budget for {workload!r}; "
                             f"pass an explicit runtime budget (--max-runtime)")
        return float(base) * self.budget_factor(ruleset)

    def eval_period_sec(self, workload: str, *, default: float | None = None) -> float:
        """Seconds of submission time between evals; ``default`` outside the table."""
        known = self.workloads.get(workload)
        period = known.eval_period_sec if known is not None else None
        period = default if period is None else period
        if period is None:
            raise ValueError(f"version {self.name} records no eval period for {workload!r}")
        return float(period)

    def studies_per_workload(self, ruleset: str) -> int:
        return self.studies[check_ruleset(ruleset)]

    def trials_per_study(self, ruleset: str) -> int:
        return self.trials[check_ruleset(ruleset)]

    def scoring_only(self, workloads: tuple[str, ...] | list[str], *,
                     studies: dict[str, int] | None = None,
                     trials: dict[str, int] | None = None) -> BenchmarkVersion:
        """This version's rules, scoring only ``workloads`` (a dev run such as the quickstart).

        Dev workloads the version does not list come with their own numbers
        (:meth:`rules_for`), so ``tune`` on ``digits`` still gets a real score.
        """
        names = tuple(sorted(workloads))
        table = {**self.workloads, **{w: self.rules_for(w) for w in names}}
        return dataclasses.replace(
            self, base_workloads=names, held_out_workloads=(),
            workloads=MappingProxyType(table), studies={**self.studies, **(studies or {})},
            trials={**self.trials, **(trials or {})})

    def missing_workloads(self, present: set[str] | frozenset[str]) -> tuple[str, ...]:
        """Scored workloads absent from ``present`` (a submission's runs): warn on these."""
        return tuple(w for w in self.scored_workloads if w not in present)


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
            base=base, eval_period_sec=_V05_EVAL_PERIOD_SEC.get(base))
    return BenchmarkVersion(
        name="0.5", base_workloads=bases, held_out_workloads=tuple(raw["held_out_workloads"]),
        workloads=MappingProxyType(table), studies={"external": 5, "self": 5},
        trials={"external": 5, "self": 1}, self_tuning_budget_factor=3.0)


def _target_of_meta(meta: Any) -> WorkloadTarget:
    return WorkloadTarget(
        name=meta.name, target_metric_name=meta.target_metric_name,
        validation_target=float(meta.validation_target),
        max_runtime_sec=float(meta.max_runtime_sec), step_hint=int(meta.step_hint),
        base=meta.base or meta.name, eval_period_sec=float(meta.eval_period_sec))


def _metadata_table() -> dict[str, WorkloadTarget]:
    """Every registered workload's numbers, as the runner trains it."""
    from algoperf_ray.benchmark.registry import all_workloads

    return {name: _target_of_meta(meta) for name, meta in all_workloads().items()}


def _v06() -> BenchmarkVersion:
    table = _metadata_table()
    missing = [w for w in _BASE_WORKLOADS if w not in table]
    if missing:
        raise RuntimeError(f"workload metadata missing for v{CURRENT_VERSION} base workloads "
                           f"{missing}; add them to workloads/<family>/metadata.py")
    return BenchmarkVersion(
        name="0.6", base_workloads=_BASE_WORKLOADS, held_out_workloads=(),
        workloads=MappingProxyType(table), studies={"external": 3, "self": 3},
        trials={"external": 5, "self": 1}, self_tuning_budget_factor=1.5)


# finewebedu_lm as the reference scores it: target and step hint from
# submissions_algorithms scoring/workload_targets.json; budget and eval period
# from algorithmic-efficiency algoperf/workloads/finewebedu_lm/workload.py.
# Pinned here (not read from the family's metadata) so the version cannot
# drift when the workload's code changes; a test checks the two agree.
FINEWEBEDU_LM_V06_LM = WorkloadTarget(
    name="finewebedu_lm", target_metric_name="ppl", validation_target=22.2995,
    max_runtime_sec=31_967.0, step_hint=72_000, base="finewebedu_lm",
    eval_period_sec=2_571.0)


def _v06_lm() -> BenchmarkVersion:
    v06 = _v06()
    table = {**v06.workloads, FINEWEBEDU_LM_V06_LM.name: FINEWEBEDU_LM_V06_LM}
    bases = (*_BASE_WORKLOADS[:6], FINEWEBEDU_LM_V06_LM.name, *_BASE_WORKLOADS[6:])
    return dataclasses.replace(v06, name="0.6-lm", base_workloads=bases,
                               workloads=MappingProxyType(table))


_BUILDERS = {"0.5": _v05, "0.6": _v06, "0.6-lm": _v06_lm}
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
    """``ruleset`` if it is one the rules define; the error lists them."""
    if ruleset not in RULESETS:
        raise ValueError(f"unknown ruleset {ruleset!r}; choose one of: {', '.join(RULESETS)}.")
    return ruleset
