"""digits in JAX/Flax: a one-hidden-layer ReLU MLP on 64 pixel features."""

from __future__ import annotations

from collections.abc import Sequence

from flax import linen as nn


class DigitsMLP(nn.Module):
    """Dense(hidden) + ReLU layers, then Dense(10); Flax default (LeCun) init."""

    hidden: Sequence[int] = (128,)
    num_classes: int = 10

    @nn.compact
    def __call__(self, x, train: bool = False):
        del train
        x = x.reshape((x.shape[0], -1))
        for width in self.hidden:
            x = nn.relu(nn.Dense(width)(x))
        return nn.Dense(self.num_classes)(x)
