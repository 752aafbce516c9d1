"""librispeech_conformer in PyTorch: the twin of the JAX model behind the AlgoPerf API.

Everything but the module comes from the shared LibriSpeech PyTorch leaf mixin.
"""

from __future__ import annotations

from torch import nn

from algoperf_ray.workloads._librispeech_common_leaf_torch import TorchLibrispeech
from algoperf_ray.workloads.librispeech_conformer import models_torch
from algoperf_ray.workloads.librispeech_conformer.workload import LibrispeechConformerWorkload


class LibrispeechConformerTorchWorkload(TorchLibrispeech, LibrispeechConformerWorkload):
    """All four librispeech_conformer workloads in PyTorch."""

    def build_model(self) -> nn.Module:
        return models_torch.ConformerEncoderDecoder(models_torch.ConformerConfig(**self.model_kwargs))
