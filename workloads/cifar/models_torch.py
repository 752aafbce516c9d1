"""cifar in PyTorch: the reference ResNet-18 for 32x32 inputs.

Same network and init as :mod:`workloads.cifar.models_jax`, with the
reference's PyTorch parameter names (``conv1``, ``bn1``, ``layer1.0.conv1``,
``layer2.0.downsample.conv``, ``fc``, ...). Batch-norm buffers live in the
module, so ``model_state`` is ``None`` as in the reference.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
from torch import nn

from algoperf_ray.workloads._classifier_torch import lecun_normal_


def _conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel_size=k, stride=stride, padding=k // 2, bias=False)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = _conv(cin, cout, 3, stride)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = _conv(cout, cout, 3)
        self.bn2 = nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = nn.Sequential(OrderedDict(
                [("conv", _conv(cin, cout, 1, stride)), ("bn", nn.BatchNorm2d(cout))]))

    def forward(self, x):
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return torch.relu(out + identity)


class CifarResNet(nn.Module):
    def __init__(self, stage_sizes=(2, 2, 2, 2), num_filters: int = 64,
                 num_classes: int = 10) -> None:
        super().__init__()
        self.conv1 = _conv(3, num_filters, 3)
        self.bn1 = nn.BatchNorm2d(num_filters)
        cin = num_filters
        for i, blocks in enumerate(stage_sizes):
            cout = num_filters * 2**i
            layer = []
            for j in range(blocks):
                layer.append(BasicBlock(cin, cout, 2 if i > 0 and j == 0 else 1))
                cin = cout
            self.add_module(f"layer{i + 1}", nn.Sequential(*layer))
        self.num_stages = len(stage_sizes)
        self.fc = nn.Linear(cin, num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                lecun_normal_(m)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.modules():
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)  # residual branch starts as zero
        nn.init.normal_(self.fc.weight, std=1e-2)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x):
        x = torch.relu(self.bn1(self.conv1(x)))
        for i in range(self.num_stages):
            x = getattr(self, f"layer{i + 1}")(x)
        x = nn.functional.avg_pool2d(x, 4)
        return self.fc(torch.flatten(x, 1))
