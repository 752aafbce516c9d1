"""Score-preserving pruning: a per-experiment board of each study's best time-to-target.

A study's time is the minimum over its trials, so once a sibling has reached
the target at time ``t``, a trial still short of it at submission time ``t``
can no longer change the study's time: stopping it loses nothing. The board
is a named Ray actor so every trial of the experiment (and a restored driver)
finds it; a resumed experiment re-teaches it from the store (:func:`seed_board`).
"""

from __future__ import annotations

import math
from typing import Any

from algoperf_ray.benchmark.identity import TrialKey, TrialSpec
from algoperf_ray.tune.options import RAY_NAMESPACE

PRUNE_BOARD_PREFIX = "algoperf-prune-board"


def _board_class() -> Any:
    import ray

    @ray.remote(num_cpus=0, max_restarts=-1)
    class PruneBoard:
        """Best time-to-target reached so far in each study."""

        def __init__(self) -> None:
            self.best: dict[str, tuple[float, str]] = {}

        def reached(self, study_id: str, trial_id: str, time_to_target: float) -> None:
            if time_to_target < self.best.get(study_id, (math.inf, ""))[0]:
                self.best[study_id] = (time_to_target, trial_id)

        def best_other(self, study_id: str, trial_id: str) -> float:
            t, owner = self.best.get(study_id, (math.inf, ""))
            return math.inf if owner == trial_id else t

        def snapshot(self) -> dict[str, tuple[float, str]]:
            return dict(self.best)

    return PruneBoard


def prune_board(experiment: str, create: bool = False) -> Any:
    """The experiment's named board actor (created by the driver)."""
    import ray

    name = f"{PRUNE_BOARD_PREFIX}-{experiment}"
    if create:
        return _board_class().options(name=name, namespace=RAY_NAMESPACE,
                                      get_if_exists=True).remote()
    return ray.get_actor(name, namespace=RAY_NAMESPACE)


def seed_board(board: Any, specs: list[TrialSpec], store_uri: str | None) -> None:
    """Teach a fresh board the times-to-target already in the store (resume).

    Each stored trial's first eval meeting its version's target counts, judged
    by the same inclusive rule as the score.
    """
    if not store_uri or not specs:
        return
    from algoperf_ray.benchmark.versions import get_version
    from algoperf_ray.store import Store

    by_key = {s.key: s for s in specs}
    for row in Store(store_uri).read_evals().to_pylist():
        spec = by_key.get(TrialKey.from_mapping(row))
        if spec is None:
            continue
        target = get_version(spec.key.version).rules_for(spec.key.workload)
        if target.is_met(row.get(target.metric_column)):
            board.reached.remote(spec.study_id, spec.trial_id,
                                 float(row["accumulated_submission_time"]))
