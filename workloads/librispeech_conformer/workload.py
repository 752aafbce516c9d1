"""Framework-neutral librispeech_conformer workload: options and model config.

Data, synthetic batches and the WER/CTC eval live in the shared
:class:`~algoperf_ray.workloads._librispeech_common.LibrispeechWorkload`.
The variants differ only in ``meta.model_kwargs`` (attention temperature,
post-block LayerNorm, GELU), so one class per framework serves all four.
"""

from __future__ import annotations

import dataclasses

from algoperf_ray.workloads._librispeech_common import LibrispeechWorkload
from algoperf_ray.workloads.librispeech_conformer.models_jax import ConformerConfig

CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(ConformerConfig))


class LibrispeechConformerWorkload(LibrispeechWorkload):
    """All four librispeech_conformer workloads, framework-neutral."""

    config_fields = CONFIG_FIELDS

    def is_output_params(self, param_key: object) -> bool:
        return param_key in ("Dense_0", "lin.weight", "lin.bias")
