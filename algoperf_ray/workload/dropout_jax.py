"""One Flax dropout layer whose rate may be a traced value, for every JAX model.

Public AlgoPerf submissions pass ``dropout_rate`` through ``model_fn`` inside
their jitted train step, so the rate reaches the model as a tracer. Flax's
``nn.Dropout`` branches in Python on ``rate == 0`` and fails there
(``TracerBoolConversionError``). This layer takes the rate at call time and
never branches on its value: the mask is drawn with ``keep = 1 - rate`` and
applied with a ``select``, so one compiled step serves every rate. It is also
what ``algoperf.jax_utils.Dropout`` resolves to for submissions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
from flax.linen.module import merge_param


def _is_concrete_zero(rate: Any) -> bool:
    """True only for a Python/numpy number equal to 0 (never inspects a tracer)."""
    return isinstance(rate, int | float) and float(rate) == 0.0


class Dropout(nn.Module):
    """Inverted dropout with a call-time, possibly traced, rate.

    Attributes:
      rate: default drop probability, used when ``__call__`` gets none.
      broadcast_dims: dimensions that share one mask entry (e.g. the time axis).
      deterministic: default for ``__call__``; True returns the inputs unchanged.
      rng_collection: the Flax rng stream the mask is drawn from.
    """

    rate: float | None = None
    broadcast_dims: Sequence[int] = ()
    deterministic: bool | None = None
    rng_collection: str = "dropout"

    @nn.compact
    def __call__(self, inputs: jax.Array, deterministic: bool | None = None,
                 rate: Any = None, rng: jax.Array | None = None) -> jax.Array:
        """Drop each entry with probability ``rate`` and scale the rest by ``1/(1-rate)``.

        ``deterministic`` must be a Python bool (it picks train or eval code);
        ``rate`` may be a float, an array or a tracer.
        """
        deterministic = merge_param("deterministic", self.deterministic, deterministic)
        rate = self.rate if rate is None else rate
        if deterministic:
            return inputs
        if rate is None:
            raise ValueError("Dropout: no rate given; pass rate= at construction or call time "
                             "(the workload's model_fn forwards its dropout_rate).")
        if rng is None:
            if not self.has_rng(self.rng_collection):
                if _is_concrete_zero(rate):
                    return inputs  # nothing to drop, and no key was provided for it
                raise ValueError(f"Dropout in training mode needs a {self.rng_collection!r} "
                                 "rng: call apply(..., rngs={'dropout': key}).")
            rng = self.make_rng(self.rng_collection)
        keep = 1.0 - jnp.asarray(rate, jnp.float32)
        shape = list(inputs.shape)
        for dim in self.broadcast_dims:
            shape[dim] = 1
        mask = jnp.broadcast_to(jax.random.bernoulli(rng, p=keep, shape=shape), inputs.shape)
        # keep == 0 (rate 1) would divide by zero and poison gradients with NaN.
        safe_keep = jnp.where(keep > 0, keep, 1.0).astype(inputs.dtype)
        return jax.lax.select(mask, inputs / safe_keep, jnp.zeros_like(inputs))
