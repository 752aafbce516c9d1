"""Per-step PRNG keys, derived ahead of time in untimed windows.

Each step's keys are ``split(fold_in(loop_rng, step), 4)`` as in the
reference runner: a pure function of the seed and the step, so deriving
them early changes no value. Deriving them costs a few us per step with
numpy keys, up to a few percent of a tiny workload's step, so the runner
fills this cache before the clock starts and after each eval (both
untimed), sized to the steps run since the previous eval. A step the cache
does not cover is derived on demand, inside the timed step, as the
reference does.
"""

from __future__ import annotations

from typing import Any

from algoperf_ray.workload import rng as rng_lib

MIN_AHEAD, FIRST_AHEAD, MAX_AHEAD = 64, 4096, 8192


def derive(loop_rng: Any, step: int) -> tuple[Any, Any, Any, Any]:
    """(data_selection, update, prepare_for_eval, eval) keys of ``step``."""
    select, update, prep, evaluate = rng_lib.split(rng_lib.fold_in(loop_rng, step), 4)
    return select, update, prep, evaluate


class StepKeys:
    def __init__(self, loop_rng: Any) -> None:
        self.loop_rng = loop_rng
        self._cache: dict[int, tuple[Any, Any, Any, Any]] = {}

    def get(self, step: int) -> tuple[Any, Any, Any, Any]:
        keys = self._cache.pop(step, None)
        return keys if keys is not None else derive(self.loop_rng, step)

    def fill(self, start: int, steps_since_last_fill: int | None,
             last_step: int | None = None) -> None:
        """Derive keys for the next steps (call only in untimed windows).

        ``steps_since_last_fill`` None means the first fill; ``last_step``
        (max_global_steps) caps the window.
        """
        if steps_since_last_fill is None:
            ahead = FIRST_AHEAD
        else:
            ahead = min(MAX_AHEAD, max(MIN_AHEAD, int(1.25 * steps_since_last_fill)))
        if last_step is not None:
            ahead = max(0, min(ahead, last_step - start))
        # keep keys already derived for later steps; never shrink the window
        kept = {s: k for s, k in self._cache.items() if s >= start}
        end = max(start + ahead, max(kept, default=start - 1) + 1)
        self._cache = {s: kept[s] if s in kept else derive(self.loop_rng, s)
                       for s in range(start, end)}
