"""mnist in JAX: the reference MLP of ``models_jax`` on the shared Flax classifier code."""

from __future__ import annotations

from flax import linen as nn

from algoperf_ray.workloads._classifier_jax import JaxClassifier
from algoperf_ray.workloads.mnist import models_jax
from algoperf_ray.workloads.mnist.workload import MnistWorkload


class MnistJaxWorkload(JaxClassifier, MnistWorkload):
    output_layer = "Dense_1"

    def __init__(self, meta, data_mode: str = "real", num_hidden: int = 128) -> None:
        super().__init__(meta=meta, data_mode=data_mode, num_hidden=num_hidden)

    def build_model(self) -> nn.Module:
        return models_jax.MnistMLP(num_hidden=self.options["num_hidden"])
