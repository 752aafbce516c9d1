"""PyTorch leaf code of the LibriSpeech families, written once for Conformer and DeepSpeech.

The two PyTorch leaves differ only in their ``nn.Module``, so init (device and
DDP through the placement), the forward pass with the batch-norm update switch,
the CTC loss (``torch.nn.functional.ctc_loss``) and the eval outputs live in
:class:`TorchLibrispeech`, a mixin put before the family class.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from algoperf_ray import spec
from algoperf_ray.compat import param_utils
from algoperf_ray.workload import rng as rng_lib
from algoperf_ray.workloads._librispeech_common_torch import set_batch_norm_update


class TorchLibrispeech:
    """The AlgoPerf model API of a LibriSpeech family in PyTorch; leaves build the module.

    Params are the ``nn.Module`` (DDP-wrapped when distributed); batch-norm running
    statistics are module buffers, so the model state is None.
    """

    framework = "pytorch"

    def build_model(self) -> nn.Module:
        raise NotImplementedError

    def init_model_fn(self, rng: spec.RandomState, dropout_rate: float | None = None,
                      aux_dropout_rate: float | None = None) -> tuple[nn.Module, None]:
        del aux_dropout_rate  # one rate for every dropout site (both references)
        if dropout_rate is not None:
            self._dropout_rate = dropout_rate
        torch.manual_seed(rng_lib.to_seed(rng))
        model = self.build_model()
        self._param_shapes = param_utils.pytorch_param_shapes(model)
        self._param_types = param_utils.pytorch_param_types(self._param_shapes)
        return self.placement.place_model(model), None

    def model_fn(self, params: nn.Module, augmented_and_preprocessed_input_batch: dict[str, Any],
                 model_state: Any, mode: spec.ForwardPassMode, rng: spec.RandomState,
                 update_batch_norm: bool, dropout_rate: float | None = None
                 ) -> tuple[Any, None]:
        """((logits, logit_paddings), None); train mode only when ``mode`` is TRAIN."""
        del model_state, rng  # BN stats are buffers; torch's global RNG drives dropout
        batch = augmented_and_preprocessed_input_batch
        train = mode == spec.ForwardPassMode.TRAIN
        params.train(train)
        set_batch_norm_update(params, bool(update_batch_norm))
        with torch.set_grad_enabled(train and torch.is_grad_enabled()):
            out = params(batch["inputs"], batch["input_paddings"],
                         dropout_rate=float(self._rate(dropout_rate)))
        return out, None

    def loss_fn(self, label_batch: Any, logits_batch: Any, mask_batch: Any = None,
                label_smoothing: float = 0.0) -> dict[str, Any]:
        """Per-utterance CTC (blank 0, no reduction); ``n_valid_examples`` counts target tokens."""
        del label_smoothing  # CTC has none (reference)
        targets, target_paddings = self._label_parts(label_batch)
        if target_paddings is None:
            target_paddings = (targets == 0).float()
        if isinstance(logits_batch, (tuple, list)):
            logits, logit_paddings = logits_batch
        else:
            logits = logits_batch
            logit_paddings = torch.zeros(logits.shape[:2], device=logits.device)
        log_probs = torch.log_softmax(logits.float(), dim=-1).transpose(0, 1)
        input_lengths = (1 - logit_paddings).sum(dim=-1).long()
        target_lengths = (1 - target_paddings).sum(dim=-1).long()
        per_example = F.ctc_loss(log_probs, targets.long(), input_lengths, target_lengths,
                                 blank=0, reduction="none")
        tokens = target_lengths.float()
        if mask_batch is not None:
            per_example = per_example * mask_batch
            tokens = tokens * mask_batch
        return {"summed": per_example.sum(), "n_valid_examples": tokens.sum().clamp(min=1.0),
                "per_example": per_example}

    def _eval_outputs(self, params: nn.Module, model_state: Any, batch: dict[str, Any],
                      rng: Any) -> dict[str, Any]:
        """Per-row argmax frames, logit paddings and CTC loss of this rank's rows."""
        (logits, paddings), _ = self.model_fn(params, batch, model_state,
                                              spec.ForwardPassMode.EVAL, rng, False)
        losses = self.loss_fn((batch["targets"], batch["target_paddings"]),
                              (logits, paddings))["per_example"]
        return {"frames": logits.argmax(dim=-1).int(), "logit_paddings": paddings,
                "per_example_loss": losses}
