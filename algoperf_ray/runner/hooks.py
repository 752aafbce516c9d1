"""Callbacks from the timed loop to its driver (Ray Tune/Train, the CLI)."""

from __future__ import annotations

from typing import Any


class RunnerHooks:
    """No-op hooks; subclass and override what you need.

    Both run inside the untimed logging window, after the eval row was
    written to the store and the checkpoint saved. They run on rank 0 only,
    unless ``all_ranks`` is True (``ray.train.report`` must be called on
    every rank). ``should_stop`` returning True ends the trial as "pruned";
    rank 0's answer is broadcast to all ranks.
    """

    all_ranks: bool = False

    def on_eval(self, row: dict[str, Any], checkpoint_dir: str | None) -> None:
        """Called after each eval + checkpoint (e.g. ``tune.report``)."""

    def should_stop(self, row: dict[str, Any]) -> bool:
        """Return True to stop the trial now (pruning)."""
        return False

    def failure(self) -> str | None:
        """Why a trial this driver stopped must be recorded as failed (None: it did not)."""
        return None
