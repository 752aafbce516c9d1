"""cifar in PyTorch: the ResNet-18 of ``models_torch`` on the shared classifier code."""

from __future__ import annotations

from torch import nn

from algoperf_ray.workloads._classifier_torch import TorchClassifier
from algoperf_ray.workloads.cifar import models_torch
from algoperf_ray.workloads.cifar.workload import CifarWorkload


class CifarTorchWorkload(TorchClassifier, CifarWorkload):
    output_layer = ("fc.weight", "fc.bias")

    def __init__(self, meta, data_mode: str = "real", num_filters: int = 64) -> None:
        super().__init__(meta=meta, data_mode=data_mode, num_filters=num_filters)

    def build_model(self) -> nn.Module:
        return models_torch.CifarResNet(num_filters=self.options["num_filters"])

    @staticmethod
    def jax_path(module_name: str) -> tuple[str, ...]:
        """Flax path of a PyTorch module (blocks are numbered across stages)."""
        top = {"conv1": "Conv_init", "bn1": "BatchNorm_init", "fc": "Dense_0"}
        if module_name in top:
            return (top[module_name],)
        layer, block, *rest = module_name.split(".")
        index = 2 * (int(layer.removeprefix("layer")) - 1) + int(block)
        inner = {"conv1": "Conv_0", "bn1": "BatchNorm_0", "conv2": "Conv_1", "bn2": "BatchNorm_1",
                 "downsample.conv": "Conv_proj", "downsample.bn": "BatchNorm_proj"}
        return (f"ResNetBlock_{index}", inner[".".join(rest)])
