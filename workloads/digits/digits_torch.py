"""digits in PyTorch: the MLP of ``models_torch`` on the shared classifier code."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from algoperf_ray.workloads._classifier_torch import TorchClassifier
from algoperf_ray.workloads.digits import models_torch
from algoperf_ray.workloads.digits.workload import DigitsWorkload


class DigitsTorchWorkload(TorchClassifier, DigitsWorkload):
    def __init__(self, meta, data_mode: str = "real", hidden: Sequence[int] = (128,)) -> None:
        super().__init__(meta=meta, data_mode=data_mode, hidden=tuple(hidden))
        last = 2 * len(hidden)
        self.output_layer = (f"net.{last}.weight", f"net.{last}.bias")

    def build_model(self) -> nn.Module:
        return models_torch.DigitsMLP(hidden=self.options["hidden"])

    @staticmethod
    def jax_path(module_name: str) -> tuple[str, ...]:
        """Flax path of a Linear: ``net.<2i>`` is ``Dense_<i>``."""
        return (f"Dense_{int(module_name.split('.')[1]) // 2}",)
