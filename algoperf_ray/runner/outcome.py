"""How a trial ends: the one divergence rule, the NaN stop, interrupted rows.

``run`` and ``tune`` both go through :func:`algoperf_ray.runner.run_trial`,
so a NaN trial is judged here once and recorded the same way by both: status
``failed`` with an error that starts with ``diverged:`` (the store's schema
has no separate status; the prefix is what readers match), and an infinite
time-to-target. Training itself is not cut short unless the user asked for it
with ``stop_on_nan``: the reference trains a NaN trial to its budget, and a
stop that the reference does not make could change a score.
"""

from __future__ import annotations

import logging
import math
from typing import Any

log = logging.getLogger(__name__)

DIVERGED_PREFIX = "diverged:"
# Losses checked besides the target metric: a NaN train or validation loss is
# the classic sign of divergence even when the metric itself stays finite.
LOSS_COLUMNS = ("train/loss", "validation/loss")


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and math.isnan(value)


def nan_columns(row: dict[str, Any], target_column: str | None) -> list[str]:
    """The loss and target-metric columns of ``row`` that are NaN, in a stable order."""
    columns = [*LOSS_COLUMNS, *([target_column] if target_column else [])]
    return [c for c in dict.fromkeys(columns) if _is_nan(row.get(c))]


def divergence(rows: list[dict[str, Any]], target_column: str | None) -> str | None:
    """Why the trial counts as diverged (its last eval has a NaN), else None."""
    if not rows:
        return None
    last = rows[-1]
    bad = nan_columns(last, target_column)
    if not bad:
        return None
    return f"{DIVERGED_PREFIX} {', '.join(bad)} is NaN at the last eval (step " \
           f"{last.get('global_step')})"


def is_diverged(error: str | None) -> bool:
    """Whether a failed trial's error records a divergence (see :func:`divergence`)."""
    return bool(error) and str(error).startswith(DIVERGED_PREFIX)


class NanStreak:
    """Counts consecutive NaN evals; says when ``limit`` of them ended the trial."""

    def __init__(self, limit: int | None, target_column: str | None) -> None:
        self.limit, self.target_column, self.count = limit, target_column, 0
        self.stopped = False

    def should_stop(self, row: dict[str, Any]) -> bool:
        self.count = self.count + 1 if nan_columns(row, self.target_column) else 0
        if self.limit is not None and self.count >= self.limit:
            self.stopped = True
        return self.stopped


def previous_status(store: Any, key: Any) -> str | None:
    """The status of ``key``'s trial row in ``store`` before this run (None: no row)."""
    from algoperf_ray.benchmark.identity import KEY_FIELD_NAMES

    filters = dict(zip(KEY_FIELD_NAMES, key.as_tuple(), strict=True))
    rows = store.read_trials(filters=filters).column("status").to_pylist()
    return rows[-1] if rows else None


def was_interrupted(store: Any, key: Any) -> bool:
    """True when the store holds this trial as ``running``: an earlier run was killed.

    A live run of the same trial elsewhere would look the same; the store
    cannot tell the two apart, so the message says "interrupted or running".
    """
    if store is None:
        return False
    try:
        return previous_status(store, key) == "running"
    except Exception as e:  # noqa: BLE001 - a status read must never stop the trial
        log.warning("could not read the previous status of %s: %s", key.trial_id, e)
        return False


def interrupted_message(key: Any) -> str:
    return (f"trial {key.trial_id} was left 'running' in the store by an earlier run that "
            f"was interrupted (killed) or is still running elsewhere; starting it again "
            f"(it resumes from its checkpoint when --checkpoint-dir has one)")
