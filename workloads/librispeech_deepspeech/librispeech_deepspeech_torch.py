"""librispeech_deepspeech in PyTorch: the DeepSpeech twin behind the AlgoPerf API.

Params are the ``nn.Module`` (DDP-wrapped when distributed); batch-norm running
statistics are module buffers, so the model state is None.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from algoperf_ray import spec
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads import _librispeech_common_leaf_torch as leaf
from algoperf_ray.workloads.librispeech_deepspeech import models_torch
from algoperf_ray.workloads.librispeech_deepspeech.workload import LibrispeechDeepspeechWorkload


class LibrispeechDeepspeechTorchWorkload(LibrispeechDeepspeechWorkload):
    """All four librispeech_deepspeech workloads in PyTorch."""

    framework = "pytorch"

    def init_model_fn(self, rng: spec.RandomState, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[nn.Module, None]:
        del aux_dropout_rate  # one rate for input and FF dropout (reference)
        if dropout_rate is not None:
            self._dropout_rate = dropout_rate
        torch.manual_seed(rng_lib.to_seed(rng))
        model = models_torch.DeepspeechEncoderDecoder(
            models_torch.DeepspeechConfig(**self.model_kwargs))
        return leaf.place_model(self, model), None

    def model_fn(self, params: nn.Module, augmented_and_preprocessed_input_batch: dict[str, Any],
                 model_state: Any, mode: spec.ForwardPassMode, rng: spec.RandomState,
                 update_batch_norm: bool, dropout_rate: float | None = None
                 ) -> tuple[Any, None]:
        del model_state, rng  # BN stats are buffers; torch's global RNG drives dropout
        out = leaf.forward(self, params, augmented_and_preprocessed_input_batch, mode,
                           update_batch_norm, dropout_rate)
        return out, None

    def loss_fn(self, label_batch: Any, logits_batch: Any, mask_batch: Any = None,
                label_smoothing: float = 0.0) -> dict[str, Any]:
        del label_smoothing  # CTC has none (reference)
        return leaf.ctc_loss(self, label_batch, logits_batch, mask_batch)

    def _eval_outputs(self, params: nn.Module, model_state: Any, batch: dict[str, Any],
                      rng: Any) -> dict[str, Any]:
        return leaf.eval_outputs(self, params, batch)
