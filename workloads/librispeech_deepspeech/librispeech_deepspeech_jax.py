"""librispeech_deepspeech in JAX: the Flax DeepSpeech model behind the AlgoPerf API.

Everything but the module comes from the shared LibriSpeech JAX leaf mixin.
"""

from __future__ import annotations

from flax import linen as nn

from algoperf_ray.workloads._librispeech_common_leaf_jax import JaxLibrispeech
from algoperf_ray.workloads.librispeech_deepspeech import models_jax
from algoperf_ray.workloads.librispeech_deepspeech.workload import LibrispeechDeepspeechWorkload


class LibrispeechDeepspeechJaxWorkload(JaxLibrispeech, LibrispeechDeepspeechWorkload):
    """All four librispeech_deepspeech workloads in JAX."""

    def build_model(self) -> nn.Module:
        return models_jax.Deepspeech(models_jax.DeepspeechConfig(**self.model_kwargs))
