"""cifar in JAX: the ResNet-18 of ``models_jax`` on the shared Flax classifier code."""

from __future__ import annotations

from flax import linen as nn

from algoperf_ray.workloads._classifier_jax import JaxClassifier
from algoperf_ray.workloads.cifar import models_jax
from algoperf_ray.workloads.cifar.workload import CifarWorkload


class CifarJaxWorkload(JaxClassifier, CifarWorkload):
    output_layer = "Dense_0"

    def __init__(self, meta, data_mode: str = "real", num_filters: int = 64) -> None:
        super().__init__(meta=meta, data_mode=data_mode, num_filters=num_filters)

    def build_model(self) -> nn.Module:
        return models_jax.CifarResNet(num_filters=self.options["num_filters"])
