"""digits in JAX: the MLP of ``models_jax`` on the shared Flax classifier code."""

from __future__ import annotations

from collections.abc import Sequence

from flax import linen as nn

from algoperf_ray.workloads._classifier_jax import JaxClassifier
from algoperf_ray.workloads.digits import models_jax
from algoperf_ray.workloads.digits.workload import DigitsWorkload


class DigitsJaxWorkload(JaxClassifier, DigitsWorkload):
    def __init__(self, meta, data_mode: str = "real", hidden: Sequence[int] = (128,)) -> None:
        super().__init__(meta=meta, data_mode=data_mode, hidden=tuple(hidden))
        self.output_layer = f"Dense_{len(hidden)}"

    def build_model(self) -> nn.Module:
        return models_jax.DigitsMLP(hidden=self.options["hidden"])
