"""digits in PyTorch: the same MLP as :mod:`workloads.digits.digits_jax`."""

from __future__ import annotations

from collections.abc import Sequence

from algoperf_ray.workloads._classifier_torch import TorchClassifier, lecun_normal_
from algoperf_ray.workloads.digits.workload import DigitsData
from torch import nn


class DigitsMLP(nn.Module):
    def __init__(self, hidden: Sequence[int] = (128,), num_classes: int = 10,
                 in_features: int = 64) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for width in hidden:
            layers += [nn.Linear(in_features, width), nn.ReLU()]
            in_features = width
        layers.append(nn.Linear(in_features, num_classes))
        self.net = nn.Sequential(*layers)
        for m in self.net:
            if isinstance(m, nn.Linear):
                lecun_normal_(m)

    def forward(self, x):
        return self.net(x.reshape(x.shape[0], -1))


class DigitsTorchWorkload(DigitsData, TorchClassifier):
    def __init__(self, meta, data_mode: str = "real", hidden: Sequence[int] = (128,)) -> None:
        super().__init__(meta=meta, data_mode=data_mode, hidden=tuple(hidden))
        last = 2 * len(hidden)
        self.output_layer = (f"net.{last}.weight", f"net.{last}.bias")

    def build_model(self) -> nn.Module:
        return DigitsMLP(hidden=self.options["hidden"])

    @staticmethod
    def jax_path(module_name: str) -> tuple[str, ...]:
        """Flax path of a Linear: ``net.<2i>`` is ``Dense_<i>``."""
        return (f"Dense_{int(module_name.split('.')[1]) // 2}",)
