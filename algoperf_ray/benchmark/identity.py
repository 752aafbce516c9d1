"""The one identity of an AlgoPerf trial: :class:`TrialKey`.

Every layer names a trial the same way: the planner, the runner, Ray Tune
(trial names and checkpoint folders), the results store (partitions and file
names) and the scorer. Nothing else builds a trial's id, file name or tuple
form by hand, so they can never drift apart. Framework-free and
dependency-free: the store and the planner both import it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import astuple, dataclass, fields
from typing import Any

RULESETS = ("external", "self")
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
            raise InvalidTrialKeyError(f"ruleset {self.ruleset!r} must be 'external' or 'self'")
        if self.framework not in FRAMEWORKS:
            raise InvalidTrialKeyError(f"framework {self.framework!r} must be 'jax' or 'pytorch'")
        for f in ("study", "trial"):
            if int(getattr(self, f)) < 0:
                raise InvalidTrialKeyError(f"{f} {getattr(self, f)!r} must be >= 0")
        return self


KEY_FIELD_NAMES = tuple(f.name for f in fields(TrialKey))
