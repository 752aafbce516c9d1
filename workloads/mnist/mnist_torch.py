"""mnist in PyTorch: the reference MLP, parameter names as the reference's."""

from __future__ import annotations

from collections import OrderedDict

from algoperf_ray.workloads._classifier_torch import TorchClassifier, lecun_normal_
from algoperf_ray.workloads.mnist.workload import MnistData
from torch import nn


class MnistMLP(nn.Module):
    def __init__(self, num_hidden: int = 128, num_classes: int = 10) -> None:
        super().__init__()
        self.net = nn.Sequential(OrderedDict([
            ("layer1", nn.Linear(28 * 28, num_hidden)),
            ("layer1_sig", nn.Sigmoid()),
            ("layer2", nn.Linear(num_hidden, num_classes)),
        ]))
        for m in self.net:
            if isinstance(m, nn.Linear):
                lecun_normal_(m)

    def forward(self, x):
        return self.net(x.reshape(x.shape[0], -1))


class MnistTorchWorkload(MnistData, TorchClassifier):
    output_layer = ("net.layer2.weight", "net.layer2.bias")

    def __init__(self, meta, data_mode: str = "real", num_hidden: int = 128) -> None:
        super().__init__(meta=meta, data_mode=data_mode, num_hidden=num_hidden)

    def build_model(self) -> nn.Module:
        return MnistMLP(num_hidden=self.options["num_hidden"])

    @staticmethod
    def jax_path(module_name: str) -> tuple[str, ...]:
        """Flax path of a Linear: ``net.layer<k>`` is ``Dense_<k-1>``."""
        return (f"Dense_{int(module_name.removeprefix('net.layer')) - 1}",)
