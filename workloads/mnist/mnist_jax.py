"""mnist in JAX/Flax: the reference MLP (784 -> 128 sigmoid -> 10)."""

from __future__ import annotations

from algoperf_ray.workloads._classifier_jax import JaxClassifier
from algoperf_ray.workloads.mnist.workload import MnistData
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


class MnistJaxWorkload(MnistData, JaxClassifier):
    output_layer = "Dense_1"

    def __init__(self, meta, data_mode: str = "real", num_hidden: int = 128) -> None:
        super().__init__(meta=meta, data_mode=data_mode, num_hidden=num_hidden)

    def build_model(self) -> nn.Module:
        return MnistMLP(num_hidden=self.options["num_hidden"])
