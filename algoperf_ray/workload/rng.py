"""Framework-neutral PRNG keys.

Keys are raw ``uint32[2]`` arrays, the layout of JAX's default (threefry) raw
keys. JAX code can pass them straight to ``jax.random``; PyTorch code turns
them into integer seeds with :func:`to_seed`. Splitting without JAX uses a
splitmix64 counter hash in plain Python integers (about 2 us, against 22 us
for numpy's SeedSequence), so PyTorch runs never import JAX and per-step key
derivation stays negligible inside the timed loop.
"""

from __future__ import annotations

from typing import Any

import numpy as np

_MASK32 = 0xFFFFFFFF
_MASK64 = 0xFFFFFFFFFFFFFFFF


def _mix64(x: int) -> int:
    """splitmix64's finaliser: a bijective, well-mixed 64-bit hash."""
    x = (x + 0x9E3779B97F4A7C15) & _MASK64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK64
    return x ^ (x >> 31)


def _key_int(key: Any) -> int:
    hi, lo = (int(v) for v in np.asarray(key).ravel()[-2:])
    return (hi << 32) | lo


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
    base = _key_int(key)
    words = [_mix64(base ^ _mix64(i + 1)) for i in range(num)]
    return np.array([[w >> 32, w & _MASK32] for w in words], dtype=np.uint32)


def fold_in(key: Any, data: int) -> Any:
    if _is_jax(key):
        import jax

        return jax.random.fold_in(key, data)
    w = _mix64(_key_int(key) ^ _mix64((int(data) & _MASK32) | (1 << 40)))
    return np.array([w >> 32, w & _MASK32], dtype=np.uint32)


def to_seed(key: Any) -> int:
    """A non-negative int seed (< 2**31) derived from a key, for torch/numpy/tf."""
    words = np.asarray(key).astype(np.uint64).ravel()
    if words.size > 2:  # new-style typed jax keys expose key_data
        words = words[-2:]
    return int((int(words[0]) * 1_000_003 + int(words[-1])) % (2**31 - 1))
