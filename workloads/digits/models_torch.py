"""digits in PyTorch: the same MLP as :mod:`workloads.digits.models_jax`."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from algoperf_ray.workloads._classifier_torch import lecun_normal_


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
