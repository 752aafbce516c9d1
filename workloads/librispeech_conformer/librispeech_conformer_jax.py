"""librispeech_conformer in JAX: the Flax Conformer behind the AlgoPerf API.

Everything but the module comes from the shared LibriSpeech JAX leaf mixin.
"""

from __future__ import annotations

from flax import linen as nn

from algoperf_ray.workloads._librispeech_common_leaf_jax import JaxLibrispeech
from algoperf_ray.workloads.librispeech_conformer import models_jax
from algoperf_ray.workloads.librispeech_conformer.workload import LibrispeechConformerWorkload


class LibrispeechConformerJaxWorkload(JaxLibrispeech, LibrispeechConformerWorkload):
    """All four librispeech_conformer workloads in JAX."""

    def build_model(self) -> nn.Module:
        return models_jax.Conformer(models_jax.ConformerConfig(**self.model_kwargs))
