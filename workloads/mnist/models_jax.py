"""mnist in JAX/Flax: the reference MLP (784 -> 128 sigmoid -> 10)."""

from __future__ import annotations

from flax import linen as nn


class MnistMLP(nn.Module):
    """Flatten, Dense(128) + sigmoid, Dense(10); Flax default (LeCun) init."""

    num_hidden: int = 128
    num_classes: int = 10

    @nn.compact
    def __call__(self, x, train: bool = False):
        del train
        x = x.reshape((x.shape[0], -1))
        x = nn.sigmoid(nn.Dense(self.num_hidden)(x))
        return nn.Dense(self.num_classes)(x)
