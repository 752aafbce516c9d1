"""mnist in PyTorch: the reference MLP, parameter names as the reference's."""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

from algoperf_ray.workloads._classifier_torch import lecun_normal_


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
