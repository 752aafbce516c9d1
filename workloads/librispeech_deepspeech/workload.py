"""Framework-neutral librispeech_deepspeech workload: options and model config.

Data, synthetic batches and the WER/CTC eval live in the shared
:class:`~algoperf_ray.workloads._librispeech_common.LibrispeechWorkload`.
The variants differ only in ``meta.model_kwargs`` (tanh, no residuals,
LayerNorm everywhere with stronger SpecAugment), so one class per framework
serves all four.
"""

from __future__ import annotations

import dataclasses

from algoperf_ray.workloads._librispeech_common import LibrispeechWorkload
from algoperf_ray.workloads.librispeech_deepspeech.models_jax import DeepspeechConfig

CONFIG_FIELDS = tuple(f.name for f in dataclasses.fields(DeepspeechConfig))


class LibrispeechDeepspeechWorkload(LibrispeechWorkload):
    """All four librispeech_deepspeech workloads, framework-neutral."""

    config_fields = CONFIG_FIELDS

    def is_output_params(self, param_key: object) -> bool:
        return param_key in ("Dense_0", "lin.weight", "lin.bias")
