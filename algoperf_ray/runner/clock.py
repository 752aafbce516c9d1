"""Clocks the runner reads time from; injectable so timing tests are exact.

The runner never reads a clock directly: it asks its backend to sync the
device first (and, under DDP, to take the max across ranks), then reads
``clock.now()``. Tests pass a :class:`FakeClock` that only moves when the
scripted submission or workload advances it.
"""

from __future__ import annotations

import time
from typing import Protocol, runtime_checkable


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
