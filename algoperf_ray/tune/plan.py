"""Turn a tuning request into a frozen list of :class:`TrialSpec`.

Planning is pure Python (no Ray, torch or jax) so it can be tested and
printed before anything starts: every error a user can make on the command
line (a missing submission, an unknown workload, a malformed search space) is
raised here, before the first trial is scheduled. The hyperparameter points
are drawn here, deterministically from the seed, so a resumed experiment
re-plans exactly the same trials.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from algoperf_ray.benchmark.identity import TrialKey, TrialSpec

SEARCH_SPACE_FILE = "tuning_search_space.json"


class PlanError(ValueError):
    """A tuning request that cannot be planned; the message says how to fix it."""


@dataclass(frozen=True)
class SubmissionRef:
    """A submission resolved for one framework: its file and its search space."""

    name: str
    path: str
    search_space: str | None = None


def trial_seed(base_seed: int, *parts: Any) -> int:
    """A 31-bit seed that depends only on ``base_seed`` and ``parts``.

    A hash (not ``hash()``, which is salted per process) so that every
    process, and every resumed run, derives the same seed.
    """
    text = json.dumps([int(base_seed), *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little") & 0x7FFFFFFF


def resolve_submission(path: str | Path, framework: str,
                       search_space: str | Path | None = None) -> SubmissionRef:
    """Find ``submission.py`` for ``framework`` under ``path`` and its search space.

    Accepts a submission folder (``submissions/nadamw`` holding
    ``jax/submission.py`` and ``pytorch/submission.py``), a framework folder,
    or the ``.py`` file itself. The search space is ``search_space`` when
    given, otherwise the nearest ``tuning_search_space.json`` next to the file
    or in the submission folder.
    """
    p = Path(path).expanduser().resolve()
    if not p.exists():
        raise PlanError(f"submission {str(path)!r} does not exist; pass a submission folder "
                        f"(e.g. submissions/nadamw) or a submission.py file")
    if p.is_dir():
        candidates = [p / framework / "submission.py", p / "submission.py"]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise PlanError(f"no submission for framework {framework!r} in {p}: expected "
                            f"{candidates[0]} or {candidates[1]}")
        p = found
    name_dir = p.parent.parent if p.parent.name in ("jax", "pytorch") else p.parent
    name = name_dir.name if p.name == "submission.py" else p.stem
    if search_space is None:
        nearby = [p.parent / SEARCH_SPACE_FILE, name_dir / SEARCH_SPACE_FILE]
        search_space = next((c for c in nearby if c.is_file()), None)
    elif not Path(search_space).is_file():
        raise PlanError(f"search space {str(search_space)!r} does not exist")
    return SubmissionRef(name=name, path=str(p),
                         search_space=str(search_space) if search_space else None)


def check_workloads(names: list[str], framework: str) -> list[str]:
    """Validate workload names against the registry and ``framework``."""
    from algoperf_ray.benchmark.registry import check_framework, get_meta

    check_framework(framework)
    if not names:
        raise PlanError("no workloads given; pass --workloads w1,w2")
    for name in names:
        meta = get_meta(name)  # unknown names: the error lists the valid ones
        if not meta.class_path(framework):
            raise PlanError(f"workload {name!r} has no {framework} implementation here; "
                            f"it has: {', '.join(meta.frameworks) or 'none'}")
    return list(dict.fromkeys(names))


def _hparam_studies(ref: SubmissionRef, ruleset: str, studies: int, trials: int,
                    seed: int) -> list[list[dict[str, Any] | None]]:
    """Hyperparameters per study and trial (``None`` for self-tuning)."""
    if ruleset == "self":
        return [[None] for _ in range(studies)]
    if ref.search_space is None:
        raise PlanError(f"submission {ref.name!r} ({ref.path}) has no {SEARCH_SPACE_FILE}; "
                        f"external tuning needs one: pass --search-space JSON")
    from algoperf_ray.submission.search_space import load_search_space, split_into_studies

    space = load_search_space(ref.search_space)  # malformed: clear error here
    return split_into_studies(space, studies, trials, seed)


def make_plan(*, ruleset: str, submissions: list[SubmissionRef], workloads: list[str],
              framework: str, studies: int | None = None, trials: int | None = None,
              seed: int = 0, version: str | None = None) -> list[TrialSpec]:
    """Every trial of every study of every workload, for every submission.

    ``studies`` / ``trials`` default to the version's numbers for the ruleset
    (self-tuning always runs one trial per study). Deterministic: the same
    arguments give the same specs (hyperparameters and seeds), which is what
    lets ``tune --resume`` and the store's completed-trial set skip finished work.
    """
    from algoperf_ray.benchmark.versions import RULESETS, get_version

    rules = get_version(version)
    if ruleset not in RULESETS:
        raise PlanError(f"unknown ruleset {ruleset!r}; choose one of: {', '.join(RULESETS)}")
    studies = rules.studies_per_workload(ruleset) if studies is None else studies
    trials = 1 if ruleset == "self" else (rules.trials_per_study(ruleset)
                                          if trials is None else trials)
    if studies < 1 or trials < 1:
        raise PlanError(f"--studies and --trials must be >= 1 (got {studies}, {trials})")
    if not submissions:
        raise PlanError("no submission given; pass --submission PATH")
    names = [s.name for s in submissions]
    if len(set(names)) != len(names):
        raise PlanError(f"two submissions share a name: {names}; rename one folder")
    workloads = check_workloads(workloads, framework)
    specs: list[TrialSpec] = []
    for ref in submissions:
        points = _hparam_studies(ref, ruleset, studies, trials, seed)
        for workload in workloads:
            for study, study_points in enumerate(points):
                for trial, hp in enumerate(study_points):
                    key = TrialKey(version=rules.name, ruleset=ruleset, submission=ref.name,
                                   framework=framework, workload=workload, study=study,
                                   trial=trial).validate()
                    specs.append(TrialSpec(key=key, submission_path=ref.path, hparams=hp,
                                           seed=trial_seed(seed, ref.name, workload, study,
                                                           trial)))
    return specs


def pending(specs: list[TrialSpec], done: Iterable[TrialKey]) -> list[TrialSpec]:
    """The specs whose key is not in ``done`` (the store's finished trials).

    ``done`` is read once by the caller, so this is linear in the plan.
    """
    finished = set(done)
    return [s for s in specs if s.key not in finished]
