"""What a driver injects into the timed loop: callbacks (``RunnerHooks``) and the clock.

Hooks are called from the untimed logging window (Ray Tune/Train, the CLI).
Clocks: the runner never reads a clock directly. It asks its backend to sync
the device first (and, under DDP, to take the max across ranks), then reads
``clock.now()``. Tests pass a :class:`FakeClock` that only moves when the
scripted submission or workload advances it, so timing tests are exact.
"""


from __future__ import annotations

import time
from typing import Any, Protocol, runtime_checkable


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


@runtime_checkable
class Clock(Protocol):
    def now(self) -> float:
        """Seconds, on any fixed origin (only differences and eval gaps matter)."""
        ...


class WallClock:
    """Wall-clock seconds since the epoch, like the reference runner's ``time.time()``.

    The epoch origin matters for one rule: ``last_eval_time`` starts at 0, so
    the first step is always followed by an eval, as in the reference.
    """

    def now(self) -> float:
        return time.time()


class FakeClock:
    """A clock that only moves when told; starts far from 0 like wall time."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.t = float(start)
        self.reads = 0

    def now(self) -> float:
        self.reads += 1
        return self.t

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock cannot go backwards")
        self.t += float(seconds)
