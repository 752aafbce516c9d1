"""mnist in PyTorch: the reference MLP of ``models_torch`` on the shared classifier code."""

from __future__ import annotations

from torch import nn

from algoperf_ray.workloads._classifier_torch import TorchClassifier
from algoperf_ray.workloads.mnist import models_torch
from algoperf_ray.workloads.mnist.workload import MnistWorkload


class MnistTorchWorkload(TorchClassifier, MnistWorkload):
    output_layer = ("net.layer2.weight", "net.layer2.bias")

    def __init__(self, meta, data_mode: str = "real", num_hidden: int = 128) -> None:
        super().__init__(meta=meta, data_mode=data_mode, num_hidden=num_hidden)

    def build_model(self) -> nn.Module:
        return models_torch.MnistMLP(num_hidden=self.options["num_hidden"])

    @staticmethod
    def jax_path(module_name: str) -> tuple[str, ...]:
        """Flax path of a Linear: ``net.layer<k>`` is ``Dense_<k-1>``."""
        return (f"Dense_{int(module_name.removeprefix('net.layer')) - 1}",)
