"""Framework-neutral PRNG keys.

Keys are raw ``uint32[2]`` arrays, the layout of JAX's default (threefry) raw
keys. JAX code can pass them straight to ``jax.random``; PyTorch code turns
them into integer seeds with :func:`to_seed`. Splitting without JAX uses
numpy's SeedSequence, so PyTorch runs never import JAX.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _is_jax(key: Any) -> bool:
    return type(key).__module__.startswith(("jax", "jaxlib"))


def PRNGKey(seed: int) -> np.ndarray:  # noqa: N802 - public AlgoPerf name
    seed = int(seed)
    return np.array([(seed >> 32) & 0xFFFFFFFF, seed & 0xFFFFFFFF], dtype=np.uint32)


def split(key: Any, num: int = 2) -> Any:
    """``num`` independent child keys (shape ``(num, 2)``)."""
    if _is_jax(key):
        import jax

        return jax.random.split(key, num)
    state = np.random.SeedSequence([int(x) for x in np.asarray(key).ravel()])
    return state.generate_state(2 * num, dtype=np.uint32).reshape(num, 2)


def fold_in(key: Any, data: int) -> Any:
    if _is_jax(key):
        import jax

        return jax.random.fold_in(key, data)
    words = [int(x) for x in np.asarray(key).ravel()] + [int(data) & 0xFFFFFFFF]
    return np.random.SeedSequence(words).generate_state(2, dtype=np.uint32)


def to_seed(key: Any) -> int:
    """A non-negative int seed (< 2**31) derived from a key, for torch/numpy/tf."""
    words = np.asarray(key).astype(np.uint64).ravel()
    if words.size > 2:  # new-style typed jax keys expose key_data
        words = words[-2:]
    return int((int(words[0]) * 1_000_003 + int(words[-1])) % (2**31 - 1))
