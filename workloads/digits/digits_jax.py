"""digits in JAX/Flax: a one-hidden-layer ReLU MLP on 64 pixel features."""

from __future__ import annotations

from collections.abc import Sequence

from algoperf_ray.workloads._classifier_jax import JaxClassifier
from algoperf_ray.workloads.digits.workload import DigitsData
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


class DigitsJaxWorkload(DigitsData, JaxClassifier):
    def __init__(self, meta, data_mode: str = "real", hidden: Sequence[int] = (128,)) -> None:
        super().__init__(meta=meta, data_mode=data_mode, hidden=tuple(hidden))
        self.output_layer = f"Dense_{len(hidden)}"

    def build_model(self) -> nn.Module:
        return DigitsMLP(hidden=self.options["hidden"])
