"""librispeech_deepspeech in PyTorch: the twin of the JAX model behind the AlgoPerf API.

Everything but the module comes from the shared LibriSpeech PyTorch leaf mixin.
"""

from __future__ import annotations

from torch import nn

from algoperf_ray.workloads._librispeech_common_leaf_torch import TorchLibrispeech
from algoperf_ray.workloads.librispeech_deepspeech import models_torch
from algoperf_ray.workloads.librispeech_deepspeech.workload import LibrispeechDeepspeechWorkload


class LibrispeechDeepspeechTorchWorkload(TorchLibrispeech, LibrispeechDeepspeechWorkload):
    """All four librispeech_deepspeech workloads in PyTorch."""

    def build_model(self) -> nn.Module:
        return models_torch.DeepspeechEncoderDecoder(models_torch.DeepspeechConfig(**self.model_kwargs))
