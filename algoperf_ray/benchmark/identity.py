"""The one identity of an AlgoPerf trial: :class:`TrialKey`, and what runs it: :class:`TrialSpec`.

Every layer names a trial the same way: the planner, the runner, Ray Tune
(trial names and checkpoint folders), the results store (partitions and file
names) and the scorer. Nothing else builds a trial's id, file name or tuple
form by hand, so they can never drift apart. Framework-free: the store, the
runner and the planner all import it.

The records nest, so each fact has one home:

* :class:`TrialKey`: who the trial is (version, ruleset, submission,
  framework, workload, study, trial);
* :class:`TrialSpec`: a key plus what the trial runs (submission path, seed,
  hyperparameters); the planner's unit, one Ray Tune trial;
* ``algoperf_ray.runner.TrialConfig``: a spec plus how to run it (data,
  store, checkpoints, overrides).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, astuple, dataclass, field, fields
from typing import Any

from algoperf_ray.benchmark.versions import RULESETS

FRAMEWORKS = ("jax", "pytorch")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


class InvalidTrialKeyError(ValueError):
    """A trial identity that cannot name files and folders; the message names the field."""


def check_name(kind: str, value: Any) -> str:
    """Names become directory names: keep them to letters, digits, ``_.-``."""
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise InvalidTrialKeyError(
            f"{kind} {value!r} is not a valid name: use letters, digits, '_', '.' or '-' "
            f"(starting with a letter or digit)")
    return value


@dataclass(frozen=True, order=True)
class TrialKey:
    """Identity of one AlgoPerf trial: version, ruleset, submission, framework, workload, study, trial."""

    version: str
    ruleset: str
    submission: str
    framework: str
    workload: str
    study: int
    trial: int

    @property
    def trial_id(self) -> str:
        """Stable, human-readable id: names the Tune trial, its checkpoints and its Train run."""
        return f"{self.submission}-{self.framework}-{self.workload}-s{self.study}-t{self.trial}"

    @property
    def study_id(self) -> str:
        """The study this trial belongs to (pruning and tie-breaking work per study)."""
        return f"{self.submission}/{self.framework}/{self.workload}/s{self.study}"

    def as_tuple(self) -> tuple[str, str, str, str, str, int, int]:
        """The tuple form, in :data:`KEY_FIELD_NAMES` order (sets of completed trials)."""
        return astuple(self)

    @classmethod
    def from_mapping(cls, row: Mapping[str, Any]) -> TrialKey:
        """The key of a store row or a dict holding at least the key fields."""
        return cls(**{f: row[f] for f in KEY_FIELD_NAMES})

    def partition(self) -> tuple[str, str, str]:
        """The store's partition folders: version, ruleset, submission."""
        return self.version, self.ruleset, self.submission

    def file_name(self) -> str:
        """The store's per-trial file name (without a suffix's variants: ``.parquet``)."""
        return f"{self.framework}__{self.workload}__study{self.study}__trial{self.trial}.parquet"

    def file_fields(self) -> dict[str, Any]:
        """The identity columns stored inside each per-trial file."""
        return {"framework": self.framework, "workload": self.workload,
                "study": int(self.study), "trial": int(self.trial)}

    def validate(self) -> TrialKey:
        """Raise :class:`InvalidTrialKeyError` naming the first bad field."""
        for f in ("version", "ruleset", "submission", "framework", "workload"):
            check_name(f, getattr(self, f))
        if self.ruleset not in RULESETS:
            raise InvalidTrialKeyError(
                f"ruleset {self.ruleset!r} must be one of: {', '.join(RULESETS)}")
        if self.framework not in FRAMEWORKS:
            raise InvalidTrialKeyError(f"framework {self.framework!r} must be 'jax' or 'pytorch'")
        for f in ("study", "trial"):
            if int(getattr(self, f)) < 0:
                raise InvalidTrialKeyError(f"{f} {getattr(self, f)!r} must be >= 0")
        return self


KEY_FIELD_NAMES = tuple(f.name for f in fields(TrialKey))


@dataclass(frozen=True)
class TrialSpec:
    """One planned AlgoPerf trial: its key plus what it runs (one Ray Tune trial).

    Plain data (``to_dict``/``from_dict`` round-trip through JSON) because Ray
    ships it to the trial's process. ``hparams`` is None for self-tuning.
    """

    key: TrialKey
    submission_path: str
    seed: int = 0
    hparams: dict[str, Any] | None = field(default=None, hash=False, compare=True)

    @property
    def trial_id(self) -> str:
        return self.key.trial_id

    @property
    def study_id(self) -> str:
        return self.key.study_id

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrialSpec:
        return cls(**{**d, "key": TrialKey(**d["key"])})
